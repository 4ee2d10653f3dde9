"""Helpers around the probe workers (`testkit.probe_worker`) the chassis tests run."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def applied_rows(db: Path) -> list[tuple[str, str]]:
    """What the probe's idempotent policy applied: (order_id, event_id) rows."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT order_id, event_id FROM applied").fetchall()
        except sqlite3.OperationalError:
            return []
