"""The console's writes (``POST``): sign in and out, pick a restaurant, and the staff operations.

Signing in checks the token exactly as the API does (the admin token in
constant time, a staff token by its hash) and opens a session in the store
(:mod:`routes.console.sessions`), which every instance then recognises; a
wrong token is ``401`` with the form again. Every other write goes through
:func:`~routes.console.guard.action` (origin, session, CSRF) and then the
same :class:`~routes.staff.service.StaffService` operation the API calls,
under the signed-in name: one durable commit each, the customer told
through the outbox, the change announced on the events.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fsm.order_lifecycle import OrderStatus
from routes.console.guard import BOOK, LOGIN, PICK, PREFIX, Visit, action, same_origin, see_other
from routes.console.pages import order_card, render
from routes.console.sessions import clear_cookie, set_cookie
from routes.staff.api import AUTHENTICATOR
from routes.staff.auth import hash_token
from routes.staff.bodies import TEXT_MAX
from routes.staff.service import Invalid, NotFound
from routes.staff.service import controls_json as controls_body

Json = dict[str, Any]


async def sign_in(request: web.Request) -> web.StreamResponse:
    """``POST /console/login`` with the form field ``token``."""
    if not same_origin(request):
        return web.json_response({"error": "cross-origin request refused"}, status=403)
    if BOOK not in request.app:
        return web.Response(status=503, text="starting")
    form = await request.post()
    raw = form.get("token")
    token = raw.strip() if isinstance(raw, str) else ""
    principal = await request.app[AUTHENTICATOR].principal(f"Bearer {token}") if token else None
    if principal is None:
        return await render(None, request, "login.html", status=401, page="login",
                            error="That token is not valid. Check it and try again.")
    is_staff = principal.restaurant_id is not None
    authenticator = request.app[AUTHENTICATOR]

    def admin_binding(session_id: str) -> str:
        binding = authenticator.admin_binding(session_id)
        assert binding is not None  # the admin token just matched: it is set
        return binding

    session_id, _ = await request.app[BOOK].open(
        principal, hash_token(token) if is_staff else admin_binding)
    response = see_other(PREFIX if is_staff else PICK)
    set_cookie(response, request, session_id)
    return response


async def _sign_out(visit: Visit, form: dict[str, str]) -> web.StreamResponse:
    await visit.request.app[BOOK].close(visit.session)
    response = see_other(LOGIN)
    clear_cookie(response, visit.request)
    return response


sign_out = action(_sign_out, lambda visit: LOGIN, needs_restaurant=False)


async def _pick(visit: Visit, form: dict[str, str]) -> web.StreamResponse:
    rid = form.get("restaurant", "")
    if not visit.session.principal.may_act_for(rid) or \
            visit.service.config.restaurant(rid) is None:
        raise NotFound(rid)
    if not await visit.request.app[BOOK].pick(visit.session, rid):
        return see_other(LOGIN)  # signed out meanwhile, from another tab or instance
    return see_other(PREFIX)


pick = action(_pick, lambda visit: PICK, needs_restaurant=False)


def _to_board(visit: Visit) -> str:
    return PREFIX


def _to_order(visit: Visit) -> str:
    return f"{PREFIX}/orders/{visit.arg('reference')}"


def _to_thread(visit: Visit) -> str:
    return f"{PREFIX}/conversations/{visit.arg('customer')}"


def _to_controls(visit: Visit) -> str:
    return f"{PREFIX}/controls"


async def _move(visit: Visit, form: dict[str, str]) -> Json:
    status = form.get("status", "")
    if status not in OrderStatus.ALL:
        raise Invalid("status", f"one of {', '.join(OrderStatus.ALL)}")
    order, notified = await visit.service.move_order(
        visit.restaurant_id, visit.arg("reference"), status, form.get("reason") or None,
        visit.session.principal.name)
    card: Json = await order_card(visit, order)
    card["customer_notified"] = notified
    return card


def _back_from_move(visit: Visit) -> str:
    # From the board a move goes back to the board; from the order page, to the order.
    referer = visit.request.headers.get("Referer", "")
    return _to_order(visit) if "/console/orders/" in referer else _to_board(visit)


move = action(_move, _back_from_move)


async def _take_over(visit: Visit, form: dict[str, str]) -> Json:
    return await visit.service.set_paused(visit.restaurant_id, visit.arg("customer"), True)


async def _hand_back(visit: Visit, form: dict[str, str]) -> Json:
    return await visit.service.set_paused(visit.restaurant_id, visit.arg("customer"), False)


async def _read(visit: Visit, form: dict[str, str]) -> Json:
    return await visit.service.mark_read(visit.restaurant_id, visit.arg("customer"))


async def _reply(visit: Visit, form: dict[str, str]) -> Json:
    text = form.get("text", "").strip()
    if not text or len(text) > TEXT_MAX:
        raise Invalid("text", f"write a message of 1 to {TEXT_MAX} characters")
    outbox_id = await visit.service.reply(visit.restaurant_id, visit.arg("customer"), text,
                                          visit.session.principal.name)
    return {"queued": True, "outbox_id": outbox_id}


take_over = action(_take_over, _to_thread)
hand_back = action(_hand_back, _to_thread)
mark_read = action(_read, _to_thread)
reply = action(_reply, _to_thread)


def _flag(form: dict[str, str], name: str) -> bool:
    value = form.get(name, "")
    if value not in ("true", "false"):
        raise Invalid(name, "true or false")
    return value == "true"


async def _set_bot(visit: Visit, form: dict[str, str]) -> Json:
    controls = await visit.service.set_bot_enabled(visit.restaurant_id, _flag(form, "enabled"))
    return controls_body(controls)


async def _set_item(visit: Visit, form: dict[str, str]) -> Json:
    controls = await visit.service.set_item_available(
        visit.restaurant_id, visit.arg("item_id"), _flag(form, "available"))
    return controls_body(controls)


set_bot = action(_set_bot, _to_controls)
set_item = action(_set_item, _to_controls)
