"""The JSON API under ``/api/v1``: every route names its restaurant, ``/restaurants/{rid}/…``.

Each call carries ``Authorization: Bearer <token>``: missing or unknown is
``401``; a staff token asking about another restaurant's data (or a
restaurant that does not exist) is ``404``, so nobody learns what exists
beyond their own. Bodies are JSON validated with pydantic (``400`` naming
the field, bad JSON ``400`` naming ``body``); ``409`` says why a change
cannot be made (with ``allowed`` statuses for an order). Writes answer
once their commit is durable. Times are Unix seconds, money minor units.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from fsm.order_lifecycle import OrderStatus
from routes.staff.auth import Authenticator, Principal
from routes.staff.bodies import (
    AvailabilityBody,
    BotBody,
    ReplyBody,
    StatusBody,
    query_limit,
    query_number,
    read_body,
)
from routes.staff.events import EventHub, stream
from routes.staff.serialize import Json, message_json, order_json
from routes.staff.service import Conflict, Invalid, NotFound, StaffService, controls_json

PREFIX: Final = "/api/v1"

SERVICE: Final = web.AppKey("staff_service", StaffService)
AUTHENTICATOR: Final = web.AppKey("staff_authenticator", Authenticator)
EVENTS: Final = web.AppKey("staff_events", EventHub)


class Reloader:
    """Re-reads the file serve was started with into the live config; ``False`` if refused.

    ``reload`` is set by the command line, which knows the path (SIGHUP calls it
    too); ``None`` for an app not started from a file.
    """

    def __init__(self) -> None:
        self.reload: Callable[[], bool] | None = None


RELOADER: Final = web.AppKey("reloader", Reloader)

@dataclass(frozen=True, slots=True)
class Call:
    """An authorised request for one restaurant."""

    request: web.Request
    principal: Principal
    restaurant_id: str
    service: StaffService

    def arg(self, name: str) -> str:
        return self.request.match_info[name]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def not_found() -> web.Response:
    return error(404, "not found")


async def authenticate(request: web.Request) -> Principal | web.Response:
    if SERVICE not in request.app:
        return error(503, "starting")
    principal = await request.app[AUTHENTICATOR].principal(request.headers.get("Authorization"))
    if principal is None:
        response = error(401, "a valid token is required: Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="orderbot"'
        return response
    return principal


def endpoint(handle: Callable[[Call], Awaitable[web.StreamResponse]]) -> Handler:
    """Authenticate, scope to the restaurant of the path, and turn errors into answers."""
    async def run(request: web.Request) -> web.StreamResponse:
        principal = await authenticate(request)
        if isinstance(principal, web.Response):
            return principal
        service = request.app[SERVICE]
        restaurant_id = request.match_info["rid"]
        if not principal.may_act_for(restaurant_id) or \
                service.config.restaurant(restaurant_id) is None:
            return not_found()
        try:
            return await handle(Call(request, principal, restaurant_id, service))
        except NotFound:
            return not_found()
        except Invalid as exc:
            return error(400, str(exc), field=exc.field)
        except Conflict as exc:
            extra = {} if exc.allowed is None else {"allowed": list(exc.allowed)}
            return error(409, str(exc), **extra)
    return run


# Orders

@endpoint
async def list_orders(call: Call) -> web.Response:
    status = call.request.query.get("status")
    if status is not None and status not in OrderStatus.ALL:
        raise Invalid("status", f"one of {', '.join(OrderStatus.ALL)}")
    limit = query_limit(call.request)
    orders = await call.service.store.orders(call.restaurant_id, status=status, limit=limit,
                                             before=query_number(call.request, "before"))
    restaurant = call.service.restaurant(call.restaurant_id)
    return web.json_response({
        "orders": [order_json(order, restaurant) for order in orders],
        "next_before": orders[-1].created_at if len(orders) == limit else None})


@endpoint
async def show_order(call: Call) -> web.Response:
    return web.json_response(await _order_with_history(call, call.arg("reference")))


@endpoint
async def move_order(call: Call) -> web.Response:
    body = await read_body(call.request, StatusBody)
    order, notified = await call.service.move_order(
        call.restaurant_id, call.arg("reference"), body.status, body.reason,
        call.principal.name)
    view = await _order_with_history(call, order.reference)
    view["customer_notified"] = notified
    return web.json_response(view)


async def _order_with_history(call: Call, reference: str) -> Json:
    order = await call.service.order(call.restaurant_id, reference)
    history = await call.service.store.order_history(call.restaurant_id, reference)
    return order_json(order, call.service.restaurant(call.restaurant_id), history)


# Conversations

@endpoint
async def list_conversations(call: Call) -> web.Response:
    limit = query_limit(call.request)
    records = await call.service.store.conversations(
        call.restaurant_id, limit=limit, before=query_number(call.request, "before"))
    views = await call.service.conversation_views(records)
    return web.json_response({
        "conversations": views,
        "next_before": records[-1].last_message_at if len(records) == limit else None})


@endpoint
async def list_messages(call: Call) -> web.Response:
    record = await call.service.conversation(call.restaurant_id, call.arg("customer"))
    before = query_number(call.request, "before")
    if before is not None and before != int(before):
        raise Invalid("before", "a message id")
    limit = query_limit(call.request)
    messages = await call.service.store.messages(
        record.key, limit=limit, before=None if before is None else int(before))
    return web.json_response({
        "messages": [message_json(message) for message in messages],
        "next_before": messages[0].id if len(messages) == limit else None})


@endpoint
async def take_over(call: Call) -> web.Response:
    return web.json_response(
        await call.service.set_paused(call.restaurant_id, call.arg("customer"), True))


@endpoint
async def hand_back(call: Call) -> web.Response:
    return web.json_response(
        await call.service.set_paused(call.restaurant_id, call.arg("customer"), False))


@endpoint
async def mark_read(call: Call) -> web.Response:
    return web.json_response(
        await call.service.mark_read(call.restaurant_id, call.arg("customer")))


@endpoint
async def reply(call: Call) -> web.Response:
    body = await read_body(call.request, ReplyBody)
    outbox_id = await call.service.reply(call.restaurant_id, call.arg("customer"), body.text,
                                         call.principal.name)
    return web.json_response({"queued": True, "outbox_id": outbox_id}, status=202)


# The restaurant

@endpoint
async def show_restaurant(call: Call) -> web.Response:
    restaurant = call.service.restaurant(call.restaurant_id)
    controls = await call.service.controls.get(restaurant.id)
    items = [{"id": item.id, "name": item.name, "category": category.id,
              "available": item.id not in controls.sold_out}
             for category in restaurant.menu for item in category.items]
    return web.json_response({"id": restaurant.id, "name": restaurant.name,
                              "currency": restaurant.currency, **controls_json(controls),
                              "items": items})


@endpoint
async def set_bot(call: Call) -> web.Response:
    body = await read_body(call.request, BotBody)
    controls = await call.service.set_bot_enabled(call.restaurant_id, body.enabled)
    return web.json_response(controls_json(controls))


@endpoint
async def set_availability(call: Call) -> web.Response:
    body = await read_body(call.request, AvailabilityBody)
    controls = await call.service.set_item_available(call.restaurant_id, call.arg("item_id"),
                                                     body.available)
    return web.json_response(controls_json(controls))


@endpoint
async def events(call: Call) -> web.StreamResponse:
    request = call.request

    async def allowed() -> bool:  # the token still valid for the restaurant (not revoked)
        principal = await request.app[AUTHENTICATOR].principal(
            request.headers.get("Authorization"))
        return principal is not None and principal.may_act_for(call.restaurant_id)

    return await stream(request, request.app[EVENTS], call.restaurant_id, allowed)


async def list_restaurants(request: web.Request) -> web.Response:
    """The restaurants the token may act for."""
    principal = await authenticate(request)
    if isinstance(principal, web.Response):
        return principal
    config = request.app[SERVICE].config
    return web.json_response({"restaurants": [
        {"id": r.id, "name": r.name} for r in config.restaurants
        if principal.may_act_for(r.id)]})


async def reload(request: web.Request) -> web.Response:
    """``POST /api/v1/reload`` (the admin token only): re-read ``config.yaml``, as SIGHUP does.

    200 ``{"reloaded": true}``; 400 when the file is refused (the running menu
    stays; the precise error is in serve's log); 403 for a staff token.
    """
    principal = await authenticate(request)
    if isinstance(principal, web.Response):
        return principal
    if principal.restaurant_id is not None:
        return error(403, "only the admin token may reload the configuration")
    reload = request.app[RELOADER].reload
    if reload is None:
        return error(404, "this server was not started from a config file")
    if not reload():
        return error(400, "the config file was refused; the running one stays "
                          "(serve's log names the problem)", reloaded=False)
    return web.json_response({"reloaded": True})


def add_routes(app: web.Application) -> None:
    """Mount ``/api/v1``; the service and authenticator are set when the store opens."""
    base = f"{PREFIX}/restaurants/{{rid}}"
    conversation = f"{base}/conversations/{{customer}}"
    app[RELOADER] = Reloader()
    app.router.add_get(f"{PREFIX}/restaurants", list_restaurants)
    app.router.add_post(f"{PREFIX}/reload", reload)
    app.router.add_get(base, show_restaurant)
    app.router.add_get(f"{base}/orders", list_orders)
    app.router.add_get(f"{base}/orders/{{reference}}", show_order)
    app.router.add_post(f"{base}/orders/{{reference}}/status", move_order)
    app.router.add_get(f"{base}/conversations", list_conversations)
    app.router.add_get(f"{conversation}/messages", list_messages)
    app.router.add_post(f"{conversation}/messages", reply)
    app.router.add_post(f"{conversation}/takeover", take_over)
    app.router.add_post(f"{conversation}/handback", hand_back)
    app.router.add_post(f"{conversation}/read", mark_read)
    app.router.add_put(f"{base}/bot", set_bot)
    app.router.add_put(f"{base}/items/{{item_id}}/availability", set_availability)
    app.router.add_get(f"{base}/events", events)
