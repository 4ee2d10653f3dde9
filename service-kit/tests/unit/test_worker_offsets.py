"""What the worker commits: the offset after the last message done with, for
partitions it owns, once (again only when it moved), and nothing of partitions handed
to another worker."""

from aiokafka import TopicPartition

from service_kit.worker import Offsets, by_topic

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


def test_the_offset_after_the_last_done_is_due_for_owned_partitions_only():
    offsets = Offsets()
    offsets.done(A, 4)
    offsets.done(A, 7)
    offsets.done(B, 2)
    assert offsets.due({A, B}) == {A: 8, B: 3}
    assert offsets.due({A}) == {A: 8}  # B went elsewhere in a rebalance


def test_what_the_broker_took_is_not_due_again_until_it_moves():
    offsets = Offsets()
    offsets.done(A, 4)
    offsets.committed({A: 5})
    assert offsets.due({A}) == {}
    assert offsets.committed_at(A) == 5
    offsets.done(A, 5)
    assert offsets.due({A}) == {A: 6}


def test_a_partition_handed_over_is_forgotten():
    offsets = Offsets()
    offsets.done(A, 4)
    offsets.committed({A: 5})
    offsets.done(B, 1)
    offsets.forget({A, B})
    assert offsets.due({A, B}) == {}
    assert offsets.committed_at(A) is None


def test_partitions_by_topic_are_sorted():
    assert by_topic({TopicPartition("u", 2), B, A}) == {"t": [0, 1], "u": [2]}
