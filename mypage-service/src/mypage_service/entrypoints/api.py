"""HTTP edge of the Customer context: a customer's order status page and order list.

Ownership: until real authentication lands, X-Actor-Id names the viewer and is
optional here. When it is sent and is not the order's customer the answer is
403; without it the page is shown (the status page carries no phone number and
no address). A required header would be one line: `Depends(acting_user)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Header, Path, Query

from mypage_service import views
from mypage_service.bootstrap import Container, bootstrap
from mypage_service.domain.model import OrderNotFound, ensure_visible_to
from shared_events.http import acting_user, health_router, install_error_handlers
from shared_events.runtime import configure_logging

PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def viewing_user(
    x_actor_id: Annotated[
        str | None,
        Header(description="The viewing customer; when sent, only their own orders are shown"),
    ] = None,
) -> str | None:
    if x_actor_id is None or not x_actor_id.strip():
        return None
    return acting_user(x_actor_id)  # same validation as everywhere else


Viewer = Annotated[str | None, Depends(viewing_user)]


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    platform = container.platform

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The API publishes nothing; the relay it starts simply finds no outbox rows.
        async with platform.lifespan():
            yield

    app = FastAPI(
        title="mypage-service",
        summary="Customer context: order status, timeline and order list (read side)",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(
        health_router({"database": platform.database_ready, "broker": platform.broker_ready})
    )

    @app.get("/mypage/orders/{order_id}", tags=["mypage"])
    async def get_order(order_id: PathId, viewer: Viewer) -> dict[str, Any]:
        found = await views.order(platform.sessions, order_id)
        if found is None:
            raise OrderNotFound(order_id)
        ensure_visible_to(found["customer_id"], viewer)
        return found

    @app.get("/mypage/customers/{customer_id}/orders", tags=["mypage"])
    async def list_orders(
        customer_id: PathId,
        viewer: Viewer,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        ensure_visible_to(customer_id, viewer)
        orders = await views.customer_orders(
            platform.sessions, customer_id, limit=limit, offset=offset
        )
        return {"customer_id": customer_id, "limit": limit, "offset": offset, "orders": orders}

    return app


def main() -> None:
    container = bootstrap()
    configure_logging(container.settings.service)
    uvicorn.run(
        create_app(container),
        host=container.settings.http_host,
        port=container.settings.http_port,
        log_level="info",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
