"""One mypage API on its own, `GET /mypage/orders/{id}` under wrk: requests/s, p99 and
the API process's CPU per request (/proc), on whatever DATABASE_URL names (PostgreSQL:
`infra/postgres/postgres.sh url mypage_service`; its read model is emptied first).

    DATABASE_URL=... uv run python bench/status_page.py --seconds 15

No broker is needed: the relay only retries in the background. Run it twice with
different code (e.g. PYTHONPATH pointing at another checkout's service-kit/src) and
alternate the runs to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert

from mypage_service.adapters.orm import notifications, order_status, order_timeline
from mypage_service.bootstrap import MIGRATIONS
from service_kit.db import create_engine
from service_kit.migrations import upgrade
from testkit.bench import cpu_seconds, wrk
from testkit.waiting import eventually

ORDER = "00000000-0000-4000-8000-00000000b001"
CUSTOMER = "c-bench"

SERVER = """
import os, uvicorn
from mypage_service.bootstrap import bootstrap
from mypage_service.entrypoints.api import create_app
from service_kit.http import UVICORN_OPTIONS, read_timeout_protocol
from service_kit.runtime import freeze_built_objects
from testkit import tokens
app = create_app(bootstrap(), resource_server=tokens.resource_server())
# The test issuer's key is made per process: the token comes from here.
with open(os.environ["BENCH_TOKEN_FILE"], "w") as out:
    out.write(tokens.token("c-bench", "customer", expires_in=3600))
freeze_built_objects()
uvicorn.run(app, host="127.0.0.1", port=int(os.environ["HTTP_PORT"]),
            **{**UVICORN_OPTIONS, "log_level": "warning"}, http=read_timeout_protocol(30))
"""


async def seed(url: str) -> None:
    await upgrade(MIGRATIONS, url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(notifications.delete())
        await conn.execute(order_timeline.delete())
        await conn.execute(order_status.delete())
        await conn.execute(
            insert(order_status).values(
                order_id=ORDER,
                customer_id=CUSTOMER,
                store_id="s-bench",
                status="PLACED",
                total_amount=12000,
                items=[],
                placed_at=now,
                updated_at=now,
                version=1,
            )
        )
        await conn.execute(
            insert(order_timeline).values(
                order_id=ORDER,
                status="PLACED",
                at=now,
                event_type="OrderPlaced",
                event_id="00000000-0000-4000-8000-00000000e001",
            )
        )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    offset = int(os.environ.get("E2E_PORT_OFFSET", 0))
    parser.add_argument("--port", type=int, default=offset + 8384)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    asyncio.run(seed(url))
    token_file = Path(tempfile.mkdtemp()) / "token"
    env = {
        **os.environ,
        "HTTP_PORT": str(args.port),
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "BENCH_TOKEN_FILE": str(token_file),
    }
    server = subprocess.Popen([sys.executable, "-c", SERVER], env=env)
    base = f"http://127.0.0.1:{args.port}"
    headers: dict[str, str] = {}
    try:

        async def up() -> bool:
            try:
                if not token_file.exists():
                    return False
                headers["Authorization"] = f"Bearer {token_file.read_text()}"
                async with httpx.AsyncClient() as http:
                    got = await http.get(f"{base}/mypage/orders/{ORDER}", headers=headers)
                return got.status_code == 200
            except httpx.HTTPError:
                return False

        asyncio.run(eventually(up, within=60, what="the API answering"))
        wrk(f"{base}/mypage/orders/{ORDER}", 3, headers)  # warm-up
        before, started = cpu_seconds(server.pid), time.monotonic()
        result = wrk(f"{base}/mypage/orders/{ORDER}", args.seconds, headers)
        cpu = cpu_seconds(server.pid) - before
        requests = result["req_per_s"] * (time.monotonic() - started)
        result["cpu_us_per_request"] = round(cpu / requests * 1e6, 1) if requests else None
        print(json.dumps(result))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
