"""`python -m fooddelivery_ops topics`: how it creates topics, without a broker."""

from __future__ import annotations

import pytest

from fooddelivery_ops.topics import TopicSettings, main, parser
from shared_events.topics import PARTITIONS


def test_defaults_suit_the_single_embedded_broker() -> None:
    args = parser().parse_args([])
    assert (args.replication_factor, args.min_insync_replicas) == (1, 1)
    topic = TopicSettings().new_topic("t")
    assert (topic.num_partitions, topic.replication_factor) == (PARTITIONS, 1)
    assert topic.topic_configs == {"min.insync.replicas": "1"}


def test_a_cluster_passes_its_replication_and_min_insync_replicas() -> None:
    args = parser().parse_args(["--replication-factor", "3", "--min-insync-replicas", "2"])
    topic = TopicSettings(args.replication_factor, args.min_insync_replicas).new_topic("t")
    assert (topic.num_partitions, topic.replication_factor) == (PARTITIONS, 3)
    assert topic.topic_configs == {"min.insync.replicas": "2"}


@pytest.mark.parametrize(
    "flags",
    [
        ["--replication-factor", "2", "--min-insync-replicas", "3"],
        ["--replication-factor", "0", "--min-insync-replicas", "0"],
    ],
)
def test_impossible_settings_are_refused_before_any_broker_is_asked(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--bootstrap", "127.0.0.1:1", *flags])
    assert exit_.value.code == 2
    assert "min.insync.replicas" in capsys.readouterr().err
