"""HTTP edge of the Customer context: a customer's order status page, order list and
the KakaoTalk messages sent about their orders.

Ownership: every route needs a customer's bearer token (401 without one) and
answers only the order's own customer (403 for anyone else).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header
from sse_starlette import EventSourceResponse

from mypage_service import views
from mypage_service.bootstrap import Container, bootstrap
from mypage_service.domain.model import OrderNotFound, ensure_visible_to
from mypage_service.entrypoints.stream import StreamSettings, order_events
from service_kit.auth import ResourceServer
from service_kit.http import Customer, Page, PathId, declare, paging, serve, service_app
from service_kit.problems import ACTOR

Paging = Annotated[Page, paging(default=20, most=100)]
# Another customer's page is 403.
OWN = declare(*ACTOR, 403)


def create_app(
    container: Container | None = None, *, resource_server: ResourceServer | None = None
) -> FastAPI:
    """The app; `resource_server` verifies the bearer tokens (default: the AUTH_* settings)."""
    container = container or bootstrap()
    platform = container.platform

    app = service_app(
        platform,
        summary="Customer context: order status, timeline, order list and notifications",
        resource_server=resource_server,
    )

    @app.get(
        "/mypage/orders/{order_id}",
        tags=["mypage"],
        response_model=views.OrderPage,
        responses={**OWN, **declare(404)},
    )
    async def get_order(order_id: PathId, viewer: Customer) -> dict[str, Any]:
        found = await views.order(platform.sessions, order_id)
        if found is None:
            raise OrderNotFound(order_id)
        ensure_visible_to(found["customer_id"], viewer.sub)
        return found

    stream_settings = StreamSettings.from_env()

    @app.get(
        "/mypage/orders/{order_id}/stream",
        tags=["mypage"],
        response_class=EventSourceResponse,
        responses={**OWN, **declare(404), 200: {"content": {"text/event-stream": {}}}},
    )
    async def stream_order(
        order_id: PathId,
        viewer: Customer,
        last_event_id: Annotated[str | None, Header(max_length=64)] = None,
    ) -> EventSourceResponse:
        """The status page as Server-Sent Events: event `order` with the same body as
        `GET /mypage/orders/{order_id}`, now and after every change; the `id` lets a
        reconnect (`Last-Event-ID`) resume; comments as heartbeats. See stream.py."""
        found = await views.order(platform.sessions, order_id)
        if found is None:
            raise OrderNotFound(order_id)
        ensure_visible_to(found["customer_id"], viewer.sub)
        events = order_events(platform.sessions, order_id, last_event_id, stream_settings)
        return EventSourceResponse(events, ping=stream_settings.heartbeat_s)

    @app.get(
        "/mypage/customers/{customer_id}/orders",
        tags=["mypage"],
        response_model=views.CustomerOrders,
        responses=OWN,
    )
    async def list_orders(customer_id: PathId, viewer: Customer, page: Paging) -> dict[str, Any]:
        ensure_visible_to(customer_id, viewer.sub)
        orders = await views.customer_orders(platform.sessions, customer_id, page)
        return {
            "customer_id": customer_id,
            "limit": page.limit,
            "offset": page.offset,
            "orders": orders,
        }

    @app.get(
        "/mypage/customers/{customer_id}/notifications",
        tags=["mypage"],
        response_model=views.CustomerNotifications,
        responses=OWN,
    )
    async def list_notifications(customer_id: PathId, viewer: Customer) -> dict[str, Any]:
        ensure_visible_to(customer_id, viewer.sub)
        found = await views.customer_notifications(platform.sessions, customer_id)
        return {"customer_id": customer_id, "notifications": found}

    return app


def main() -> None:
    serve(bootstrap(), create_app)


if __name__ == "__main__":
    main()
