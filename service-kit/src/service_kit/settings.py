"""Settings every service reads from its environment (twelve-factor)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from service_kit.db import DB_POOL_OVERFLOW, DB_POOL_SIZE, default_sqlite_url


@dataclass(frozen=True)
class ServiceSettings:
    service: str
    http_host: str
    http_port: int
    worker_web_port: int
    database_url: str
    kafka_bootstrap_servers: str
    # A request must arrive whole within this many seconds (see limits.py).
    http_read_timeout_s: float = 10.0
    # On PostgreSQL, the connections a process keeps (and may open beyond, in a burst):
    # a deployment sizes them so that every replica at its most fits the server's
    # max_connections (tests/deploy checks the manifests' budget).
    db_pool_size: int = DB_POOL_SIZE
    db_pool_overflow: int = DB_POOL_OVERFLOW

    @classmethod
    def from_env(cls, service: str, *, http_port: int, worker_web_port: int) -> ServiceSettings:
        env = os.environ
        return cls(
            service=service,
            http_host=env.get("HTTP_HOST", "127.0.0.1"),
            http_port=int(env.get("HTTP_PORT", http_port)),
            worker_web_port=int(env.get("WORKER_WEB_PORT", worker_web_port)),
            database_url=env.get("DATABASE_URL") or default_sqlite_url(service),
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            http_read_timeout_s=float(env.get("HTTP_READ_TIMEOUT_S", "10")),
            db_pool_size=int(env.get("DB_POOL_SIZE", DB_POOL_SIZE)),
            db_pool_overflow=int(env.get("DB_POOL_OVERFLOW", DB_POOL_OVERFLOW)),
        )
