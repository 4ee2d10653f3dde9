"""How long `POST /auth/token` (password grant) takes: slow by design (Argon2id).

Against a running identity-service (`make run` in another terminal):

    uv run python bench/login.py --logins 30

Signs up its own account, logs in N times one after another, then measures a few
wrong-password and unknown-email answers (fewer than the failed-login limits), so
their times can be compared. Prints the medians and writes a JSON report to
.local/reports/ (or --report-dir).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from testkit.reports import write_report

FAILURES_EACH = 4  # 2 x 4 failures stay under both the per-account and per-address limit


async def timed_login(http: httpx.AsyncClient, url: str, email: str, password: str) -> float:
    form = {"grant_type": "password", "username": email, "password": password}
    started = time.perf_counter()
    response = await http.post(f"{url}/auth/token", data=form)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code not in (200, 400):
        raise SystemExit(f"unexpected answer {response.status_code}: {response.text}")
    return elapsed


async def run(args: argparse.Namespace) -> dict:
    tag = uuid.uuid4().hex[:8]
    email, password = f"bench-{tag}@example.com", f"bench-password-{tag}"
    async with httpx.AsyncClient(timeout=30) as http:
        account = {"email": email, "password": password, "role": "customer", "name": "Bench"}
        (await http.post(f"{args.identity}/auth/accounts", json=account)).raise_for_status()
        ok = [await timed_login(http, args.identity, email, password) for _ in range(args.logins)]
        wrong = [
            await timed_login(http, args.identity, email, "not-the-password")
            for _ in range(FAILURES_EACH)
        ]
        unknown = [
            await timed_login(http, args.identity, f"nobody-{tag}-{n}@example.com", password)
            for n in range(FAILURES_EACH)
        ]

    def summary(samples: list[float]) -> dict:
        return {
            "n": len(samples),
            "median_ms": round(statistics.median(samples), 1),
            "min_ms": round(min(samples), 1),
            "max_ms": round(max(samples), 1),
        }

    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "what": "POST /auth/token grant_type=password, sequential, one client",
        "success": summary(ok),
        "wrong_password": summary(wrong),
        "unknown_email": summary(unknown),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identity", default="http://127.0.0.1:8085")
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument(
        "--report-dir", type=Path, help="where the JSON report goes (default: .local/reports/)"
    )
    args = parser.parse_args()
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=2))
    stamp = report["measured_at"][:19].replace(":", "")
    print(write_report(f"login-{stamp}", report, args.report_dir))


if __name__ == "__main__":
    main()
