"""HTTP edge of the Customer context: a customer's order status page, order list and
the KakaoTalk messages sent about their orders.

Ownership: until real authentication lands, X-Actor-Id names the viewer and is
optional here. When it is sent and is not the order's customer the answer is
403; without it the page is shown (the status page carries no phone number and
no address). A required header would be one line: `Depends(acting_user)`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query

from mypage_service import views
from mypage_service.bootstrap import Container, bootstrap
from mypage_service.domain.model import OrderNotFound, ensure_visible_to
from service_kit.http import serve, service_app, viewing_user

PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


Viewer = Annotated[
    str | None,
    Depends(viewing_user("The viewing customer; when sent, only their own orders are shown")),
]


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    platform = container.platform

    app = service_app(
        platform, summary="Customer context: order status, timeline, order list and notifications"
    )

    @app.get("/mypage/orders/{order_id}", tags=["mypage"])
    async def get_order(order_id: PathId, viewer: Viewer) -> dict[str, Any]:
        found = await views.order(platform.reads, order_id)
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
            platform.reads, customer_id, limit=limit, offset=offset
        )
        return {"customer_id": customer_id, "limit": limit, "offset": offset, "orders": orders}

    @app.get("/mypage/customers/{customer_id}/notifications", tags=["mypage"])
    async def list_notifications(customer_id: PathId, viewer: Viewer) -> dict[str, Any]:
        ensure_visible_to(customer_id, viewer)
        found = await views.customer_notifications(platform.reads, customer_id)
        return {"customer_id": customer_id, "notifications": found}

    return app


def main() -> None:
    serve(bootstrap(), create_app)


if __name__ == "__main__":
    main()
