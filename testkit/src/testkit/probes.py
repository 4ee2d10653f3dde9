"""Helpers around the probe workers (`testkit.probe_worker`) the chassis tests run."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared_events.topics import dead_letter_topic


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


async def probe_topics(bootstrap: str, prefix: str = "probe") -> tuple[str, str]:
    """A fresh probe's name (its consumer group) and topic, made on the broker with
    the probe's dead-letter topic, three partitions each."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    topic = f"fooddelivery.{name}.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1), NewTopic(dead_letter_topic(name), 3, 1)])
    finally:
        await admin.close()
    return name, topic
