"""HTTP edge of the Customer context: a customer's order status page, order list and
the KakaoTalk messages sent about their orders.

Ownership: every route needs a customer's bearer token (401 without one) and
answers only the order's own customer (403 for anyone else).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse

from mypage_service import views
from mypage_service.bootstrap import Container, bootstrap
from mypage_service.domain.model import OrderNotFound, ensure_visible_to
from mypage_service.entrypoints.stream import StreamSettings, order_events
from service_kit.http import Customer, Page, PathId, Shaped, declare, paging, service_api
from service_kit.problems import ACTOR

Paging = Annotated[Page, paging(default=20, most=100)]
# Another customer's page is 403.
OWN = declare(*ACTOR, 403)


def routes(container: Container) -> APIRouter:
    reads = container.platform.reads
    router = APIRouter(tags=["mypage"])

    @router.get(
        "/mypage/orders/{order_id}",
        response_model=views.OrderPage,
        responses={**OWN, **declare(404)},
    )
    async def get_order(order_id: PathId, viewer: Customer) -> Shaped:
        found = await reads(views.order, order_id)
        if found is None:
            raise OrderNotFound(order_id)
        ensure_visible_to(found["customer_id"], viewer.sub)
        return Shaped(found)  # the most read page: views.order shapes it as OrderPage

    stream_settings = StreamSettings.from_env()
    # This process serves the streams and sends the messages: the worker's commits
    # wake both (stream.py, service_layer.dispatcher).
    hub = container.streams
    dispatcher = container.dispatcher

    def changed(keys: list[str]) -> None:
        hub.changed(keys)
        dispatcher.wake()

    container.platform.on_changed = changed

    @router.get(
        "/mypage/orders/{order_id}/stream",
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
        customer_id = await reads(views.order_customer, order_id)
        if customer_id is None:
            raise OrderNotFound(order_id)
        ensure_visible_to(customer_id, viewer.sub)  # the feed's first read is the page
        events = order_events(reads, hub, order_id, last_event_id, stream_settings)
        return EventSourceResponse(events, ping=stream_settings.heartbeat_s)

    @router.get(
        "/mypage/customers/{customer_id}/orders",
        response_model=views.CustomerOrders,
        responses=OWN,
    )
    async def list_orders(customer_id: PathId, viewer: Customer, page: Paging) -> dict[str, Any]:
        ensure_visible_to(customer_id, viewer.sub)
        orders = await reads(views.customer_orders, customer_id, page)
        return {
            "customer_id": customer_id,
            "limit": page.limit,
            "offset": page.offset,
            "orders": orders,
        }

    @router.get(
        "/mypage/customers/{customer_id}/notifications",
        response_model=views.CustomerNotifications,
        responses=OWN,
    )
    async def list_notifications(customer_id: PathId, viewer: Customer) -> dict[str, Any]:
        ensure_visible_to(customer_id, viewer.sub)
        found = await reads(views.customer_notifications, customer_id)
        return {"customer_id": customer_id, "notifications": found}

    return router


create_app, main = service_api(
    bootstrap, routes, "Customer context: order status, timeline, order list and notifications"
)


if __name__ == "__main__":
    main()
