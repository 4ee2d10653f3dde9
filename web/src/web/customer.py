"""The customer's pages: stores in a region, a menu, the cart, placing an order,
my orders, the live order status page, my notifications."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from httpx_sse import aconnect_sse
from sse_starlette import EventSourceResponse, ServerSentEvent

from web import i18n
from web.pages import Api, Customer, back_to, flash, flash_reply, refused, render, templates

router = APIRouter()
Text = Annotated[str, Form(max_length=1024)]
# The statuses in which the board lets a customer cancel (the service still decides).
CANCELLABLE = {"PLACED", "ACCEPTED"}


@router.get("/stores", response_class=HTMLResponse)
async def stores(request: Request, api: Api, me: Customer, region: str = "") -> Response:
    region = region.strip()[:64]
    found: list[dict[str, Any]] = []
    messages = []
    if region:
        reply = await api.call(None, "GET", "store", "/stores", params={"region": region})
        if reply.ok:
            found = reply.data.get("stores", []) if isinstance(reply.data, dict) else reply.data
        else:
            messages.append(("error", refused(reply)))
    return render(request, "stores.html", region=region, stores=found, messages=messages)


@router.get("/stores/{store_id}", response_class=HTMLResponse)
async def menu(request: Request, api: Api, me: Customer, store_id: str) -> Response:
    reply = await api.call(None, "GET", "store", f"/stores/{store_id}/menu")
    if not reply.ok:
        return render(
            request, "menu.html", reply.status, menu=None, messages=[("error", refused(reply))]
        )
    return render(request, "menu.html", menu=reply.data)


@router.post("/cart")
async def add_to_cart(request: Request, me: Customer) -> Response:
    """Quantities from the menu form (`qty_<item id>`); a cart holds one store's items."""
    form = await request.form()
    store_id = str(form.get("store_id", ""))[:64]
    if me.cart_store != store_id:
        me.cart_store, me.cart = store_id, {}
    for key, value in form.items():
        if key.startswith("qty_") and str(value).strip().isdigit() and int(str(value)) > 0:
            me.cart[key.removeprefix("qty_")[:64]] = min(int(str(value)), 1000)
    return back_to("/cart")


@router.get("/cart", response_class=HTMLResponse)
async def cart(request: Request, api: Api, me: Customer) -> Response:
    return await _cart_page(request, api, me)


async def _cart_page(
    request: Request, api: Api, me: Customer, status: int = 200, **context: Any
) -> Response:
    lines: list[dict[str, Any]] = []
    menu: dict[str, Any] | None = None
    if me.cart_store and me.cart:
        reply = await api.call(None, "GET", "store", f"/stores/{me.cart_store}/menu")
        menu = reply.data if reply.ok else None
        names = {i["item_id"]: i for i in (menu or {}).get("items", [])}
        lines = [
            {"item_id": item_id, "quantity": qty, **names.get(item_id, {"name": item_id})}
            for item_id, qty in me.cart.items()
        ]
    return render(
        request,
        "cart.html",
        status,
        lines=lines,
        menu=menu,
        idempotency_key=str(uuid.uuid4()),
        **context,
    )


@router.post("/cart/clear")
async def clear_cart(me: Customer) -> Response:
    me.cart_store, me.cart = None, {}
    return back_to("/cart")


@router.post("/orders", response_class=HTMLResponse)
async def place_order(
    request: Request,
    api: Api,
    me: Customer,
    line: Text = "",
    region: Text = "",
    phone: Text = "",
    card_token: Text = "tok_ok",
    idempotency_key: Text = "",
) -> Response:
    body = {
        "store_id": me.cart_store or "",
        "items": [{"menu_item_id": i, "quantity": q} for i, q in me.cart.items()],
        "delivery_address": {"line": line, "region": region},
        "phone": phone,
        "payment": {"card_token": card_token},
    }
    # One key per cart page: a double click places one order.
    key = idempotency_key[:64] or str(uuid.uuid4())
    reply = await api.call(
        me, "POST", "order", "/orders", json=body, headers={"Idempotency-Key": key}
    )
    if not reply.ok:
        form = {"line": line, "region": region, "card_token": card_token}
        return await _cart_page(
            request, api, me, 400, form=form, messages=[("error", refused(reply))]
        )
    me.cart_store, me.cart = None, {}
    flash(request, i18n.gettext_("Your order is placed."), "ok")
    return back_to(f"/orders/{reply.data['order_id']}")


@router.get("/orders", response_class=HTMLResponse)
async def my_orders(request: Request, api: Api, me: Customer) -> Response:
    reply = await api.call(me, "GET", "mypage", f"/mypage/customers/{me.account_id}/orders")
    orders = reply.data.get("orders", []) if reply.ok else []
    messages = [] if reply.ok else [("error", refused(reply))]
    return render(request, "orders.html", orders=orders, cancellable=CANCELLABLE, messages=messages)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def status_page(request: Request, api: Api, me: Customer, order_id: str) -> Response:
    reply = await api.call(me, "GET", "mypage", f"/mypage/orders/{order_id}")
    if reply.status in (403, 422):
        return render(
            request,
            "status.html",
            reply.status,
            order_id=order_id,
            view=None,
            messages=[("error", refused(reply))],
        )
    # 404: the order is placed but its first event has not reached mypage yet; the
    # stream below shows it as soon as it does.
    view = reply.data if reply.ok else None
    return render(request, "status.html", order_id=order_id, view=view, cancellable=CANCELLABLE)


@router.get("/orders/{order_id}/events")
async def status_events(request: Request, api: Api, me: Customer, order_id: str) -> Response:
    """The status page's live feed: mypage's stream relayed with the person's token
    (the browser never holds it), each view rendered to the page's fragment."""
    last_id = request.headers.get("last-event-id")
    csrftoken = request.scope["csrftoken"]()
    language = i18n.current.get()

    async def events() -> AsyncIterator[ServerSentEvent]:
        i18n.current.set(language)
        headers = {"Authorization": f"Bearer {await api.fresh_token(me)}"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        url = f"{api.urls['mypage']}/mypage/orders/{order_id}/stream"
        try:
            async with aconnect_sse(
                api.http, "GET", url, headers=headers, timeout=httpx.Timeout(10, read=None)
            ) as source:
                if source.response.status_code != 200:
                    return
                async for event in source.aiter_sse():
                    if event.event != "order":
                        continue
                    view = json.loads(event.data)
                    html = templates.get_template("_status.html").render(
                        view=view,
                        cancellable=CANCELLABLE,
                        csrftoken=csrftoken,
                        order_id=order_id,
                    )
                    yield ServerSentEvent(data=html, event="order", id=event.id or None)
        except httpx.HTTPError:
            return  # the browser reconnects with Last-Event-ID

    return EventSourceResponse(events(), ping=15)


@router.post("/orders/{order_id}/cancel")
async def cancel(
    request: Request, api: Api, me: Customer, order_id: str, next: Text = ""
) -> Response:
    reply = await api.call(me, "DELETE", "order", f"/orders/{order_id}")
    flash_reply(request, reply, i18n.gettext_("Your order is cancelled."))
    return back_to(next or f"/orders/{order_id}")


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(request: Request, api: Api, me: Customer) -> Response:
    path = f"/mypage/customers/{me.account_id}/notifications"
    reply = await api.call(me, "GET", "mypage", path)
    found = reply.data.get("notifications", []) if reply.ok else []
    messages = [] if reply.ok else [("error", refused(reply))]
    return render(request, "notifications.html", notifications=found, messages=messages)
