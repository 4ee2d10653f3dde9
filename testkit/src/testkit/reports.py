"""Where bench and fault reports go: `.local/reports/` (ignored by git) unless the
caller names a directory on purpose (`--report-dir`, or `REPORT_DIR` for the fault
tests), e.g. `bench/reports/` to refresh the committed record."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from testkit import ROOT

DEFAULT = ROOT / ".local" / "reports"


def report_dir(chosen: Path | None = None) -> Path:
    """The directory asked for, else `REPORT_DIR`, else `.local/reports/`."""
    env = os.environ.get("REPORT_DIR")
    return chosen or (Path(env) if env else DEFAULT)


def write_report(name: str, report: dict[str, Any], directory: Path | None = None) -> Path:
    """Write `report` as `<directory>/<name>.json` and return the path."""
    out = report_dir(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
