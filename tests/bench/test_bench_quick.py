"""`make bench-quick` works: it writes a report with every figure beside its limit.
Speed is never asserted here, only that each figure was measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testkit import ROOT

pytestmark = pytest.mark.e2e


def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "testkit.bench", "--mode", "quick", "--report-dir", str(tmp_path)],
        check=True,
        cwd=ROOT,
        env=os.environ,
        timeout=1200,
    )
    [path] = tmp_path.glob("bench-quick-*.json")
    report = json.loads(path.read_text())
    assert report["machine"]["cpus"] and report["machine"]["loadavg_end"]
    for figure in (
        "batched_produce_msgs_per_s",
        "one_at_a_time_produce_msgs_per_s",
        "consume_msgs_per_s",
        "produce_consume_p50_ms",
        "produce_consume_p99_ms",
    ):
        assert report["transport"][figure] > 0, figure
    assert report["bare_app"]["req_per_s"] > 0
    saturation = report["saturation"]
    assert saturation["lifecycles"] == 60 and saturation["failed"] == 0
    # Measured after a warm-up of its own, reported apart.
    assert saturation["warm_up"]["lifecycles"] == 30
    assert saturation["warm_up"]["services_cpu_ms_per_lifecycle"] > 0
    assert saturation["driver_cpu_s"] > 0
    # Every lifecycle polls at least once: the status page until it shows PLACED.
    assert saturation["driver_polls_per_lifecycle"] >= 1
    assert set(saturation["cpu_s"]) >= {"order-service-api", "mypage-service-worker"}
    assert all(v > 0 for v in saturation["rss_mb_after"].values())
    assert report["hop"]["p50_ms"] > 0 and report["hop"]["p99_ms"] > 0
    for name in ("mypage_order", "order"):
        assert report["gets"][name]["req_per_s"] > 0 and report["gets"][name]["non_2xx"] == 0
    rows = report["table"]
    assert len(rows) == 11
    assert all(row["value"] is not None for row in rows)
    assert all(row["ratio"] is not None for row in rows if row["limit"] is not None)
