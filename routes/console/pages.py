"""The console's pages (``GET``, server-rendered) and the JSON its script re-reads live.

Pages: the orders board (``/console``), one order, the conversations, one
thread, the restaurant's controls, the sign-in form and the admin's
restaurant picker. ``/console/data/…`` answers the same views as JSON for
the page's script, which redraws with ``textContent`` when an event says
something changed; ``/console/events`` is the restaurant's live events
(the API's hub, under the session cookie instead of a token).
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from fsm.order_lifecycle import OrderStatus
from routes.console.guard import BOOK, Visit, current_session, page, see_other
from routes.console.present import (
    COLUMNS,
    STATUS_LABELS,
    conversation_view,
    conversations_in_order,
    menu_view,
    message_view,
    order_view,
)
from routes.staff.api import EVENTS
from routes.staff.events import stream
from storage.base import SessionKey
from storage.records import OrderRecord

OPEN_LIMIT = 50     # orders shown per open column
CLOSED_LIMIT = 10   # the most recent completed / cancelled
THREAD_LIMIT = 100  # the last messages of a thread


async def render(visit: Visit | None, request: web.Request, template: str, status: int = 200,
                 **context: Any) -> web.Response:
    """A template with what every page needs: the session's CSRF token, restaurant, flash.

    The flash (the error of the last form post) is taken: shown on this page only.
    """
    if visit is not None:
        session = visit.session
        restaurant = visit.service.config.restaurant(session.restaurant_id or "")
        context.update(csrf=session.csrf, who=session.principal.name,
                       since=request.app[EVENTS].last_id,
                       is_admin=session.is_admin, restaurant=restaurant,
                       flash=await request.app[BOOK].take_flash(session))
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    return response


async def order_card(visit: Visit, order: OrderRecord, with_history: bool = False) -> Any:
    service = visit.service
    restaurant = service.restaurant(visit.restaurant_id)
    record = await service.store.conversation(SessionKey(restaurant.id, order.customer_id))
    allowed = await service.lifecycle.allowed(order.status, order.order_type)
    history = (await service.store.order_history(restaurant.id, order.reference)
               if with_history else None)
    return order_view(order, restaurant, record.name if record else None, allowed, history)


async def _board_columns(visit: Visit) -> list[dict[str, Any]]:
    columns = []
    for status in COLUMNS:
        limit = OPEN_LIMIT if status in OrderStatus.OPEN else CLOSED_LIMIT
        orders = await visit.service.store.orders(visit.restaurant_id, status=status, limit=limit)
        columns.append({"status": status, "label": STATUS_LABELS[status],
                        "orders": [await order_card(visit, order) for order in orders]})
    return columns


@page
async def board(visit: Visit) -> web.StreamResponse:
    return await render(visit, visit.request, "board.html", page="board",
                        columns=await _board_columns(visit))


@page
async def order_page(visit: Visit) -> web.StreamResponse:
    order = await visit.service.order(visit.restaurant_id, visit.arg("reference"))
    return await render(visit, visit.request, "order.html", page="order",
                        order=await order_card(visit, order, with_history=True))


@page
async def order_data(visit: Visit) -> web.StreamResponse:
    order = await visit.service.order(visit.restaurant_id, visit.arg("reference"))
    return web.json_response(await order_card(visit, order))


async def _conversations(visit: Visit) -> list[dict[str, Any]]:
    records = await visit.service.store.conversations(visit.restaurant_id, limit=100)
    return conversations_in_order(records, visit.service.clock())


@page
async def conversations_page(visit: Visit) -> web.StreamResponse:
    return await render(visit, visit.request, "conversations.html", page="conversations",
                        conversations=await _conversations(visit))


@page
async def conversations_data(visit: Visit) -> web.StreamResponse:
    return web.json_response({"conversations": await _conversations(visit)})


async def _thread(visit: Visit) -> dict[str, Any]:
    record = await visit.service.conversation(visit.restaurant_id, visit.arg("customer"))
    messages = await visit.service.store.messages(record.key, limit=THREAD_LIMIT)
    return {"conversation": conversation_view(record, visit.service.clock()),
            "messages": [message_view(message) for message in messages]}


@page
async def thread_page(visit: Visit) -> web.StreamResponse:
    return await render(visit, visit.request, "thread.html", page="thread",
                        **await _thread(visit))


@page
async def thread_data(visit: Visit) -> web.StreamResponse:
    return web.json_response(await _thread(visit))


@page
async def controls_page(visit: Visit) -> web.StreamResponse:
    restaurant = visit.service.restaurant(visit.restaurant_id)
    controls = await visit.service.controls.get(restaurant.id)
    return await render(visit, visit.request, "controls.html", page="controls",
                        bot_enabled=controls.bot_enabled, away_message=restaurant.away_message,
                        categories=menu_view(restaurant, controls.sold_out))


async def _events(visit: Visit) -> web.StreamResponse:
    """The live events; ``?since=`` (the hub's last id when the page was drawn) stands in for
    ``Last-Event-ID`` on the first connection, so nothing between drawing and connecting is lost.
    """
    request = visit.request
    since = request.query.get("since")
    if since and "Last-Event-ID" not in request.headers:
        headers = request.headers.copy()
        headers["Last-Event-ID"] = since
        request = request.clone(headers=headers)

    async def allowed() -> bool:  # the session not signed out, expired or revoked since
        session = await current_session(visit.request)
        return session is not None and session.principal.may_act_for(visit.restaurant_id)

    return await stream(request, request.app[EVENTS], visit.restaurant_id, allowed)


events = page(_events)


async def _pick(visit: Visit) -> web.StreamResponse:
    principal = visit.session.principal
    choices = [r for r in visit.service.config.restaurants if principal.may_act_for(r.id)]
    return await render(visit, visit.request, "pick.html", page="pick", choices=choices)


pick_page = page(_pick, needs_restaurant=False)


async def login_page(request: web.Request) -> web.StreamResponse:
    if await current_session(request) is not None:
        return see_other("/console")
    return await render(None, request, "login.html", page="login", error=None)
