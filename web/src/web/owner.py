"""The store owner's pages: register a store, edit its menu, the live inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from web import i18n
from web.pages import Api, Owner, back_to, flash, flash_reply, refused, render, render_fragment

router = APIRouter(prefix="/owner")
Text = Annotated[str, Form(max_length=1024)]


@router.get("", response_class=HTMLResponse)
async def owner_home(request: Request, me: Owner) -> Response:
    return render(request, "owner.html")


@router.post("/stores")
async def register_store(
    request: Request, api: Api, me: Owner, store_id: Text = "", name: Text = "", region: Text = ""
) -> Response:
    store_id = store_id.strip()
    reply = await api.call(
        me, "PUT", "store", f"/stores/{store_id}", json={"name": name, "region": region}
    )
    if not reply.ok:
        flash(request, refused(reply))
        return back_to("/owner")
    _remember(me.stores, store_id)
    flash(request, i18n.gettext_("Your store is registered."), "ok")
    return back_to(f"/owner/stores/{store_id}")


@router.post("/open")
async def open_store(me: Owner, store_id: Text = "") -> Response:
    return back_to(f"/owner/stores/{store_id.strip()}")


def _remember(stores: list[str], store_id: str) -> None:
    if store_id and store_id not in stores:
        stores.append(store_id)


@router.get("/stores/{store_id}", response_class=HTMLResponse)
async def store_page(request: Request, api: Api, me: Owner, store_id: str) -> Response:
    reply = await api.call(None, "GET", "store", f"/stores/{store_id}/menu")
    if not reply.ok:
        return render(request, "owner.html", reply.status, messages=[("error", refused(reply))])
    _remember(me.stores, store_id)
    return render(request, "owner_store.html", menu=reply.data, store_id=store_id)


@router.post("/stores/{store_id}/menu")
async def set_menu_item(
    request: Request,
    api: Api,
    me: Owner,
    store_id: str,
    item_id: Text = "",
    name: Text = "",
    price: Text = "",
    stock: Text = "",
) -> Response:
    body = {"name": name, "price": _number(price), "stock": _number(stock)}
    path = f"/stores/{store_id}/menu/{item_id.strip()}"
    reply = await api.call(me, "PUT", "store", path, json=body)
    flash_reply(request, reply, i18n.gettext_("The menu is saved."))
    return back_to(f"/owner/stores/{store_id}")


def _number(text: str) -> int | str:
    """A whole number as typed; anything else goes to the service as is, which refuses it."""
    text = text.strip().replace(",", "")
    return int(text) if text.isdigit() else text


@router.get("/stores/{store_id}/inbox", response_class=HTMLResponse)
async def inbox(request: Request, api: Api, me: Owner, store_id: str) -> Response:
    """The inbox fragment the store page polls (new tickets show within the poll)."""
    reply = await api.call(me, "GET", "store", f"/stores/{store_id}/orders")
    tickets = reply.data.get("orders", []) if reply.ok else []
    messages = [] if reply.ok else [("error", refused(reply))]
    return render_fragment(
        request, "_inbox.html", tickets=tickets, store_id=store_id, errors=messages
    )


ACTIONS: dict[str, tuple[str, dict[str, object] | None]] = {
    "accept": ("acceptance", {"accepted": True}),
    "start": ("cooking-start", None),
    "finish": ("cooking-finish", None),
}


@router.post("/stores/{store_id}/orders/{order_id}/{action}")
async def act(
    request: Request,
    api: Api,
    me: Owner,
    store_id: str,
    order_id: str,
    action: str,
    reason: Text = "",
) -> Response:
    body: dict[str, object] | None
    if action == "reject":
        path, body = "acceptance", {"accepted": False, "reason": reason}
    elif action in ACTIONS:
        path, body = ACTIONS[action]
    else:
        flash(request, i18n.gettext_("Unknown action."))
        return back_to(f"/owner/stores/{store_id}")
    reply = await api.call(me, "PUT", "store", f"/store-orders/{order_id}/{path}", json=body)
    flash_reply(request, reply, i18n.gettext_("Done."))
    return back_to(f"/owner/stores/{store_id}")
