"""The rider's pages: offers in my region (live), my current delivery."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from web import i18n
from web.pages import Api, Rider, back_to, flash, flash_reply, refused, render, render_fragment
from web.sessions import Session

router = APIRouter(prefix="/rider")
Text = Annotated[str, Form(max_length=1024)]


@router.get("", response_class=HTMLResponse)
async def rider_home(request: Request, me: Rider) -> Response:
    return render(request, "rider.html")


async def _listed(api: Api, me: Session, status: str) -> tuple[list[dict[str, Any]], list[Any]]:
    params = {"region": me.region or "", "status": status}
    reply = await api.call(me, "GET", "delivery", "/deliveries", params=params)
    if not reply.ok:
        return [], [("error", refused(reply))]
    return reply.data.get("deliveries", []), []


@router.get("/work", response_class=HTMLResponse)
async def work(request: Request, api: Api, me: Rider) -> Response:
    """The fragment the rider page polls: offers in my region and what I picked."""
    offers, errors = await _listed(api, me, "WAITING")
    mine = []
    for order_id in list(me.deliveries):
        reply = await api.call(me, "GET", "delivery", f"/deliveries/{order_id}")
        if reply.ok and reply.data.get("status") in STILL_MINE:
            mine.append(reply.data)
        elif reply.ok or reply.status == 404:
            me.deliveries.remove(order_id)  # finished: no longer "current"
    return render_fragment(request, "_work.html", offers=offers, mine=mine, errors=errors)


# What "my current delivery" keeps showing; Return is possible from both (the service decides).
STILL_MINE = {"PICKED", "DELIVERED"}

ACTIONS = {
    "pick": lambda: i18n.gettext_("Picked up."),
    "confirm": lambda: i18n.gettext_("Delivery confirmed."),
    "return": lambda: i18n.gettext_("Returned."),
}


@router.post("/deliveries/{order_id}/{action}")
async def act(
    request: Request, api: Api, me: Rider, order_id: str, action: str, reason: Text = ""
) -> Response:
    if action not in ACTIONS:
        flash(request, i18n.gettext_("Unknown action."))
        return back_to("/rider")
    body = {"reason": reason} if action == "return" else None
    reply = await api.call(me, "PUT", "delivery", f"/deliveries/{order_id}/{action}", json=body)
    if reply.ok and action == "pick" and order_id not in me.deliveries:
        me.deliveries[:] = [*me.deliveries[-9:], order_id]  # what I picked here, the last 10
    flash_reply(request, reply, ACTIONS[action]())
    return back_to("/rider")
