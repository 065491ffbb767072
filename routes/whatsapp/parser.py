"""WhatsApp Cloud API webhook notifications, read into channel-neutral messages.

``parse_notification`` takes the JSON-decoded body of a ``POST /webhook``
and returns every customer message, delivery status and error in it, across
every entry and change (one POST may batch up to 1000 updates for many
restaurants, Meta: WhatsApp Cloud API webhook reference). It never raises on the body's shape: an
element it cannot use is skipped and described in ``Notification.ignored``,
because an exception would become a 5xx that Meta re-delivers for 7 days
(Meta: webhooks, retries for up to 7 days).

Every value that is stored or reaches a conversation is checked here, at the
edge, against what storage can hold: an id (message, sender, contact,
status) must be valid Unicode (encodable as UTF-8: no lone surrogate such as
``"\\ud800"``, which JSON's escapes can carry) and at most
:data:`ID_MAX` characters, or the message or status carrying it is dropped
(noted in ``Notification.rejected``); a timestamp must be below 10**18.
What a customer wrote is kept, bounded: lone surrogates become U+FFFD and
texts are cut to WhatsApp's 4,096 characters, pin names and addresses to
300 like typed addresses, so no value can outgrow a conversation snapshot.
"""

from __future__ import annotations

import math
from typing import Any, Final

from routes.conversation.messages import TEXT_BODY_MAX, Inbound, Location
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
_TIMESTAMP_MAX: Final = 10**_TIMESTAMP_DIGITS_MAX  # far below SQLite's 2**63
ID_MAX: Final = 256  # wamids, phone numbers and user ids are far shorter
PIN_LABEL_MAX: Final = 300  # as a typed address (handlers.checkout.ADDRESS_MAX_LENGTH)
TITLE_MAX: Final = 256  # a tapped button's or row's title (ours are at most 24)
NAME_MAX: Final = 256  # a profile name
NOTE_MAX: Final = 1024  # an error's title or details, logged only
_CODE_MAX: Final = 2**63


class _Invalid(Exception):
    """A value storage could not hold: the element carrying it is dropped."""


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
        rejected=tuple(reader.rejected),
    )


class _Reader:
    """Collects what a body holds while walking it, noting what it skips."""

    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.statuses: list[StatusUpdate] = []
        self.errors: list[WebhookError] = []
        self.identities: dict[tuple[str, str], None] = {}  # ordered set
        self.ignored: list[str] = []
        self.rejected: list[str] = []  # dropped for a value storage could not hold

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
        contacts: list[dict[str, Any]] = []
        for index, contact in enumerate(self.items(value, "contacts", where)):
            if not isinstance(contact, dict):
                continue
            try:
                user_id, wa_id = _id(contact, "user_id"), _id(contact, "wa_id")
            except _Invalid as invalid:
                self.rejected.append(f"{where}.contacts[{index}]: {invalid}")
                continue
            contacts.append(contact)
            self.pair(user_id, wa_id)
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
        try:
            self.valid_message(where, message, phone_number_id, contacts)
        except _Invalid as invalid:
            self.rejected.append(f"{where}: {invalid}; message dropped")

    def valid_message(self, where: str, message: dict[str, Any], phone_number_id: str | None,
                      contacts: list[dict[str, Any]]) -> None:
        message_id = _id(message, "id")
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
        wa_id, user_id = _id(message, "from"), _id(message, "from_user_id")
        contact = _contact_for(contacts, wa_id, user_id)
        if contact is not None:
            wa_id = wa_id or _text(contact.get("wa_id"))
            user_id = user_id or _text(contact.get("user_id"))
        if wa_id is None and user_id is None:
            self.ignored.append(f"{where}: neither from nor from_user_id")
            return
        timestamp = _timestamp(message.get("timestamp"))
        if timestamp is None:
            self.ignored.append(f"{where}: timestamp {_shown(message.get('timestamp'))} is "
                                "not Unix seconds below 10**18")
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
            profile_name=_content(_get(contact, "profile", "name"), NAME_MAX) or None,
        ))

    def status(self, where: str, status: object, phone_number_id: str | None) -> None:
        if not isinstance(status, dict):
            self.ignored.append(f"{where} is not an object")
            return
        try:
            message_id, state = _id(status, "id"), _id(status, "status")
            recipient_id = _id(status, "recipient_id")
            recipient_user_id = _id(status, "recipient_user_id")
        except _Invalid as invalid:
            self.rejected.append(f"{where}: {invalid}; status dropped")
            return
        timestamp = _timestamp(status.get("timestamp"))
        if phone_number_id is None or message_id is None or state is None or timestamp is None:
            self.ignored.append(f"{where}: needs id, status, timestamp and "
                                "metadata.phone_number_id")
            return
        self.pair(recipient_user_id, recipient_id)
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
                title=(_content(error.get("title"), NOTE_MAX)
                       or _content(error.get("message"), NOTE_MAX)),
                details=_content(_get(error, "error_data", "details"), NOTE_MAX) or None,
            ))

    def pair(self, user_id: str | None, wa_id: str | None) -> None:
        if user_id is not None and wa_id is not None:
            self.identities[(user_id, wa_id)] = None


def _inbound(kind: str, content: object) -> Inbound | None:
    """A message as the flow reads it; None when its content is malformed."""
    if kind == "text":
        body = _get(content, "body")
        return Inbound.typed(_content(body, TEXT_BODY_MAX)) if isinstance(body, str) else None
    if kind == "button":
        # A template quick reply: its payload is the template's, not one of
        # our option ids, so the button's text is read as typed.
        label = _get(content, "text")
        return Inbound.typed(_content(label, TEXT_BODY_MAX)) if isinstance(label, str) else None
    if kind == "location":
        return _pin(content)
    if kind in NOTICE_TYPES:  # nobody typed these: no reply, no cart change
        return _notice(kind, content)
    tap_type = _get(content, "type")
    if kind != "interactive" or tap_type not in _TAPS:  # images, voice notes, flow replies…
        # The type goes along so the bot can say what it cannot read ("voice" notes apart).
        media = "voice" if kind == "audio" and _get(content, "voice") is True else kind
        return Inbound("unsupported", text=media[:_TYPE_MAX])
    choice_id = _text(_get(content, tap_type, "id"))  # none of ours is invalid or over ID_MAX
    if choice_id is None:
        return None
    return Inbound.tapped(choice_id, _content(_get(content, tap_type, "title"), TITLE_MAX))


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
    return Inbound.pin(Location(latitude, longitude,
                                _content(_get(content, "name"), PIN_LABEL_MAX) or None,
                                _content(_get(content, "address"), PIN_LABEL_MAX) or None))


def _get(value: object, *path: str) -> Any:
    """``value[path[0]][path[1]]…``, or None where the path leads through a non-object."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: object) -> str | None:
    """A non-empty string storage can hold (see :func:`_id`), else None."""
    if not isinstance(value, str) or not value or len(value) > ID_MAX:
        return None
    return value if _encodable(value) else None


def _id(container: dict[str, Any], key: str) -> str | None:
    """``container[key]`` as an id: None when absent, not a string or empty.

    Raises :class:`_Invalid` for a string storage could not hold (not
    encodable as UTF-8, or over :data:`ID_MAX` characters).
    """
    value = container.get(key)
    if not isinstance(value, str) or not value:
        return None
    if len(value) > ID_MAX:
        raise _Invalid(f"{key} is {len(value)} characters, over {ID_MAX}")
    if not _encodable(value):
        raise _Invalid(f"{key} {_shown(value)} is not valid Unicode")
    return value


def _content(value: object, limit: int) -> str:
    """What a customer (or Meta) wrote, made storable: lone surrogates become U+FFFD,
    then it is cut to ``limit`` characters; "" for anything but a string."""
    if not isinstance(value, str):
        return ""
    value = value[:limit]
    if not _encodable(value):
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")[:limit]
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: object) -> str:
    """``value`` for a log line: escaped (repr) and short."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _coordinate(value: object, bound: float) -> float | None:
    # json.loads accepts NaN and Infinity, and bool is an int subclass.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and -bound <= value <= bound else None


def _code(error: object) -> int | None:
    code = _get(error, "code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    return code if -_CODE_MAX < code < _CODE_MAX else None


def _timestamp(value: object) -> int | None:
    """Unix seconds, sent by Meta as a string of digits (Meta's webhook reference)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < _TIMESTAMP_MAX else None
    if (isinstance(value, str) and value.isascii() and value.isdigit()
            and len(value) <= _TIMESTAMP_DIGITS_MAX):
        return int(value)
    return None
