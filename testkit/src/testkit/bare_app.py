"""The HTTP limit of the bench: a FastAPI app that does nothing but answer, served by
the same uvicorn settings as the services (`service_kit.http.serve`), so the bench can
set a service's GET beside what the framework alone manages on the same box.

    uv run python -m testkit.bare_app PORT
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

from service_kit.http import UVICORN_OPTIONS
from service_kit.limits import read_timeout_protocol

app = FastAPI()

# About the size of a mypage order page, so serialising costs the same.
_PAGE = {
    "status": "DELIVERED",
    "store_id": "load-0000-0",
    "total": 13500,
    "timeline": [{"status": s, "at": "2026-01-01T00:00:00+00:00"} for s in ("PLACED", "ACCEPTED")],
}


@app.get("/bare/orders/{order_id}")
async def order(order_id: str) -> dict[str, Any]:
    return {"order_id": order_id, **_PAGE}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        http=read_timeout_protocol(10.0),  # as the services' (HTTP_READ_TIMEOUT_S)
        **UVICORN_OPTIONS,
    )
