"""WhatsApp Cloud API webhook notifications, read into channel-neutral messages.

``parse_notification`` takes the JSON-decoded body of a ``POST /webhook``
and returns every customer message, delivery status and error in it, across
every entry and change (one POST may batch up to 1000 updates for many
restaurants, Meta: WhatsApp Cloud API webhook reference). It never raises on the body's shape: an
element it cannot use is skipped and described in ``Notification.ignored``,
because an exception would become a 5xx that Meta re-delivers for 7 days
(Meta: webhooks, retries for up to 7 days).
"""

from __future__ import annotations

import math
from typing import Any, Final

from routes.conversation.messages import Inbound, Location
from routes.whatsapp.notification import (
    InboundMessage,
    Notification,
    StatusUpdate,
    WebhookError,
)

WEBHOOK_OBJECT: Final = "whatsapp_business_account"

_TAPS: Final = ("button_reply", "list_reply")
# Unix seconds have 10 digits until the year 2286; the bound keeps int() from
# raising on an absurd string (Python refuses to parse over 4300 digits).
_TIMESTAMP_DIGITS_MAX: Final = 18


def parse_notification(body: object) -> Notification:
    """Read a decoded webhook body; never raises, whatever its shape."""
    reader = _Reader()
    if not isinstance(body, dict):
        reader.ignored.append(f"body is a {type(body).__name__}, not a JSON object")
    elif body.get("object") != WEBHOOK_OBJECT:
        reader.ignored.append(f"body object is {body.get('object')!r}, not {WEBHOOK_OBJECT!r}")
    else:
        for index, entry in enumerate(reader.items(body, "entry", "body")):
            reader.entry(f"entry[{index}]", entry)
    return Notification(
        messages=tuple(reader.messages),
        statuses=tuple(reader.statuses),
        errors=tuple(reader.errors),
        identities=tuple(reader.identities),
        ignored=tuple(reader.ignored),
    )


class _Reader:
    """Collects what a body holds while walking it, noting what it skips."""

    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.statuses: list[StatusUpdate] = []
        self.errors: list[WebhookError] = []
        self.identities: dict[tuple[str, str], None] = {}  # ordered set
        self.ignored: list[str] = []

    def items(self, container: dict[str, Any], key: str, where: str) -> list[Any]:
        value = container.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.ignored.append(f"{where}.{key} is not a list")
            return []
        return value

    def entry(self, where: str, entry: object) -> None:
        if not isinstance(entry, dict):
            self.ignored.append(f"{where} is not an object")
            return
        for index, change in enumerate(self.items(entry, "changes", where)):
            self.change(f"{where}.changes[{index}]", change)

    def change(self, where: str, change: object) -> None:
        if not isinstance(change, dict):
            self.ignored.append(f"{where} is not an object")
            return
        if change.get("field") != "messages":
            self.ignored.append(f"{where}: field {change.get('field')!r} is not handled")
            return
        value = change.get("value")
        if not isinstance(value, dict):
            self.ignored.append(f"{where}.value is not an object")
            return
        phone_number_id = _text(_get(value, "metadata", "phone_number_id"))
        where = f"{where}.value"
        contacts = [contact for contact in self.items(value, "contacts", where)
                    if isinstance(contact, dict)]
        for contact in contacts:
            self.pair(_text(contact.get("user_id")), _text(contact.get("wa_id")))
        for index, message in enumerate(self.items(value, "messages", where)):
            self.message(f"{where}.messages[{index}]", message, phone_number_id, contacts)
        for index, status in enumerate(self.items(value, "statuses", where)):
            self.status(f"{where}.statuses[{index}]", status, phone_number_id)
        self.error_list(value, where, phone_number_id)

    def message(self, where: str, message: object, phone_number_id: str | None,
                contacts: list[dict[str, Any]]) -> None:
        if not isinstance(message, dict):
            self.ignored.append(f"{where} is not an object")
            return
        message_id = _text(message.get("id"))
        if message_id is None:
            self.ignored.append(f"{where} has no id")
            return
        where = f"{where} ({message_id})"
        kind = _text(message.get("type")) or "unknown"
        self.error_list(message, where, phone_number_id)
        if kind == "reaction":
            self.ignored.append(f"{where}: reaction ignored")
            return
        if phone_number_id is None:
            self.ignored.append(f"{where}: no metadata.phone_number_id to route it by")
            return
        wa_id, user_id = _text(message.get("from")), _text(message.get("from_user_id"))
        contact = _contact_for(contacts, wa_id, user_id)
        if contact is not None:
            wa_id = wa_id or _text(contact.get("wa_id"))
            user_id = user_id or _text(contact.get("user_id"))
        if wa_id is None and user_id is None:
            self.ignored.append(f"{where}: neither from nor from_user_id")
            return
        timestamp = _timestamp(message.get("timestamp"))
        if timestamp is None:
            self.ignored.append(f"{where}: timestamp {message.get('timestamp')!r} is not "
                                "Unix seconds")
            return
        inbound = _inbound(kind, message.get(kind))
        if inbound is None:
            self.ignored.append(f"{where}: malformed {kind} content, read as unsupported")
            inbound = Inbound("unsupported")
        self.pair(user_id, wa_id)
        self.messages.append(InboundMessage(
            message_id=message_id,
            phone_number_id=phone_number_id,
            wa_id=wa_id,
            user_id=user_id,
            timestamp=timestamp,
            type=kind,
            inbound=inbound,
            context_id=_text(_get(message, "context", "id")),
            profile_name=_text(_get(contact, "profile", "name")),
        ))

    def status(self, where: str, status: object, phone_number_id: str | None) -> None:
        if not isinstance(status, dict):
            self.ignored.append(f"{where} is not an object")
            return
        message_id, state = _text(status.get("id")), _text(status.get("status"))
        timestamp = _timestamp(status.get("timestamp"))
        if phone_number_id is None or message_id is None or state is None or timestamp is None:
            self.ignored.append(f"{where}: needs id, status, timestamp and "
                                "metadata.phone_number_id")
            return
        recipient_id = _text(status.get("recipient_id"))
        self.pair(_text(status.get("recipient_user_id")), recipient_id)
        errors = status.get("errors")
        codes = [_code(error) for error in errors] if isinstance(errors, list) else []
        self.statuses.append(StatusUpdate(
            message_id=message_id,
            phone_number_id=phone_number_id,
            status=state,
            timestamp=timestamp,
            recipient_id=recipient_id,
            error_codes=tuple(code for code in codes if code is not None),
        ))

    def error_list(self, container: dict[str, Any], where: str,
                   phone_number_id: str | None) -> None:
        for index, error in enumerate(self.items(container, "errors", where)):
            if not isinstance(error, dict):
                self.ignored.append(f"{where}.errors[{index}] is not an object")
                continue
            self.errors.append(WebhookError(
                phone_number_id=phone_number_id,
                code=_code(error),
                title=_text(error.get("title")) or _text(error.get("message")) or "",
                details=_text(_get(error, "error_data", "details")),
            ))

    def pair(self, user_id: str | None, wa_id: str | None) -> None:
        if user_id is not None and wa_id is not None:
            self.identities[(user_id, wa_id)] = None


def _inbound(kind: str, content: object) -> Inbound | None:
    """A message as the flow reads it; None when its content is malformed."""
    if kind == "text":
        body = _get(content, "body")
        return Inbound.typed(body) if isinstance(body, str) else None
    if kind == "button":
        # A template quick reply: its payload is the template's, not one of
        # our option ids, so the button's text is read as typed.
        label = _get(content, "text")
        return Inbound.typed(label) if isinstance(label, str) else None
    if kind == "location":
        return _pin(content)
    if kind in NOTICE_TYPES:  # nobody typed these: no reply, no cart change
        return _notice(kind, content)
    tap_type = _get(content, "type")
    if kind != "interactive" or tap_type not in _TAPS:  # images, voice notes, flow replies…
        # The type goes along so the bot can say what it cannot read ("voice" notes apart).
        media = "voice" if kind == "audio" and _get(content, "voice") is True else kind
        return Inbound("unsupported", text=media[:_TYPE_MAX])
    choice_id, title = _text(_get(content, tap_type, "id")), _get(content, tap_type, "title")
    if choice_id is None:
        return None
    return Inbound.tapped(choice_id, title if isinstance(title, str) else "")


# Message types that are notices, not something the customer wrote or sent (Meta's
# webhook reference, messages: "system" — a number or user id changed —, "request_welcome"
# — a first chat opened —, "ephemeral", "order" — a catalogue cart, not our flow's).
# Reactions are ignored above and never stored.
NOTICE_TYPES: Final = frozenset(("system", "request_welcome", "ephemeral", "order"))
NUMBER_CHANGED: Final = ("user_changed_number", "customer_changed_number")
_TYPE_MAX: Final = 64  # a message or notice type as carried to the conversation


def _notice(kind: str, content: object) -> Inbound:
    """A notice: ``choice_id`` names it (``system:user_changed_number``), ``text`` carries the
    new wa_id of a number change (digits only, else empty)."""
    if kind != "system":
        return Inbound("notice", choice_id=kind)
    system_type = _text(_get(content, "type")) or "unknown"
    new_wa_id = ""
    if system_type in NUMBER_CHANGED:
        wa_id = _text(_get(content, "wa_id")) or _text(_get(content, "new_wa_id")) or ""
        new_wa_id = wa_id if wa_id.isascii() and wa_id.isdigit() else ""
        system_type = NUMBER_CHANGED[0]
    return Inbound("notice", text=new_wa_id, choice_id=f"system:{system_type}"[:_TYPE_MAX])


def _contact_for(contacts: list[dict[str, Any]], wa_id: str | None,
                 user_id: str | None) -> dict[str, Any] | None:
    """The contact describing a message's sender, or None when none clearly does."""
    for contact in contacts:
        if (wa_id is not None and _text(contact.get("wa_id")) == wa_id) or (
                user_id is not None and _text(contact.get("user_id")) == user_id):
            return contact
    if len(contacts) != 1:
        return None
    # A lone contact is the sender unless one of its ids says otherwise.
    only = contacts[0]
    other_wa_id, other_user_id = _text(only.get("wa_id")), _text(only.get("user_id"))
    conflicts = (None not in (wa_id, other_wa_id) and wa_id != other_wa_id) or (
        None not in (user_id, other_user_id) and user_id != other_user_id)
    return None if conflicts else only


def _pin(content: object) -> Inbound | None:
    latitude = _coordinate(_get(content, "latitude"), 90)
    longitude = _coordinate(_get(content, "longitude"), 180)
    if latitude is None or longitude is None:
        return None
    return Inbound.pin(Location(latitude, longitude, _text(_get(content, "name")),
                                _text(_get(content, "address"))))


def _get(value: object, *path: str) -> Any:
    """``value[path[0]][path[1]]…``, or None where the path leads through a non-object."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: object) -> str | None:
    """A non-empty string, else None: an empty id is as good as no id."""
    return value if isinstance(value, str) and value else None


def _coordinate(value: object, bound: float) -> float | None:
    # json.loads accepts NaN and Infinity, and bool is an int subclass.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and -bound <= value <= bound else None


def _code(error: object) -> int | None:
    code = _get(error, "code")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _timestamp(value: object) -> int | None:
    """Unix seconds, sent by Meta as a string of digits (Meta's webhook reference)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if (isinstance(value, str) and value.isascii() and value.isdigit()
            and len(value) <= _TIMESTAMP_DIGITS_MAX):
        return int(value)
    return None
