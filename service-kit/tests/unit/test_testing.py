from service_kit.testing import interleavings, twice


def test_interleavings_keep_each_streams_order_and_cover_every_merge():
    merges = list(interleavings("ab", "xy"))
    assert len(merges) == 6  # C(4, 2)
    assert len({"".join(m) for m in merges}) == 6
    for merge in merges:
        s = "".join(merge)
        assert s.index("a") < s.index("b") and s.index("x") < s.index("y")


def test_twice_redelivers_each_event():
    assert twice([1, 2]) == [1, 1, 2, 2]
