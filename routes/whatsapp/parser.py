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
:data:`~routes.whatsapp.fields.ID_MAX` characters, or the message or status carrying it is dropped
(noted in ``Notification.rejected``); a timestamp must be below 10**18.
What a customer wrote is kept, bounded: lone surrogates become U+FFFD and
texts are cut to WhatsApp's 4,096 characters, pin names and addresses to
300 like typed addresses, so no value can outgrow a conversation snapshot.
"""

from __future__ import annotations

from typing import Any, Final

from routes.conversation.messages import TEXT_BODY_MAX, Inbound, Location
from routes.whatsapp.fields import (
    NAME_MAX,
    NOTE_MAX,
    PIN_LABEL_MAX,
    TITLE_MAX,
    Invalid,
    coordinate_in,
    error_code,
    for_log,
    get_path,
    identifier,
    short_text,
    storable,
    unix_seconds,
)
from routes.whatsapp.notification import (
    InboundMessage,
    Notification,
    StatusUpdate,
    WebhookError,
)

WEBHOOK_OBJECT: Final = "whatsapp_business_account"

_TAPS: Final = ("button_reply", "list_reply")


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
        phone_number_id = short_text(get_path(value, "metadata", "phone_number_id"))
        where = f"{where}.value"
        contacts: list[dict[str, Any]] = []
        for index, contact in enumerate(self.items(value, "contacts", where)):
            if not isinstance(contact, dict):
                continue
            try:
                user_id, wa_id = identifier(contact, "user_id"), identifier(contact, "wa_id")
            except Invalid as invalid:
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
        except Invalid as invalid:
            self.rejected.append(f"{where}: {invalid}; message dropped")

    def valid_message(self, where: str, message: dict[str, Any], phone_number_id: str | None,
                      contacts: list[dict[str, Any]]) -> None:
        message_id = identifier(message, "id")
        if message_id is None:
            self.ignored.append(f"{where} has no id")
            return
        where = f"{where} ({message_id})"
        kind = short_text(message.get("type")) or "unknown"
        self.error_list(message, where, phone_number_id)
        if kind == "reaction":
            self.ignored.append(f"{where}: reaction ignored")
            return
        if phone_number_id is None:
            self.ignored.append(f"{where}: no metadata.phone_number_id to route it by")
            return
        wa_id, user_id = identifier(message, "from"), identifier(message, "from_user_id")
        contact = _contact_for(contacts, wa_id, user_id)
        if contact is not None:
            wa_id = wa_id or short_text(contact.get("wa_id"))
            user_id = user_id or short_text(contact.get("user_id"))
        if wa_id is None and user_id is None:
            self.ignored.append(f"{where}: neither from nor from_user_id")
            return
        timestamp = unix_seconds(message.get("timestamp"))
        if timestamp is None:
            self.ignored.append(f"{where}: timestamp {for_log(message.get('timestamp'))} is "
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
            context_id=short_text(get_path(message, "context", "id")),
            profile_name=storable(get_path(contact, "profile", "name"), NAME_MAX) or None,
        ))

    def status(self, where: str, status: object, phone_number_id: str | None) -> None:
        if not isinstance(status, dict):
            self.ignored.append(f"{where} is not an object")
            return
        try:
            message_id, state = identifier(status, "id"), identifier(status, "status")
            recipient_id = identifier(status, "recipient_id")
            recipient_user_id = identifier(status, "recipient_user_id")
        except Invalid as invalid:
            self.rejected.append(f"{where}: {invalid}; status dropped")
            return
        timestamp = unix_seconds(status.get("timestamp"))
        if phone_number_id is None or message_id is None or state is None or timestamp is None:
            self.ignored.append(f"{where}: needs id, status, timestamp and "
                                "metadata.phone_number_id")
            return
        self.pair(recipient_user_id, recipient_id)
        errors = status.get("errors")
        codes = [error_code(error) for error in errors] if isinstance(errors, list) else []
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
                code=error_code(error),
                title=(storable(error.get("title"), NOTE_MAX)
                       or storable(error.get("message"), NOTE_MAX)),
                details=storable(get_path(error, "error_data", "details"), NOTE_MAX) or None,
            ))

    def pair(self, user_id: str | None, wa_id: str | None) -> None:
        if user_id is not None and wa_id is not None:
            self.identities[(user_id, wa_id)] = None


def _inbound(kind: str, content: object) -> Inbound | None:
    """A message as the flow reads it; None when its content is malformed."""
    if kind == "text":
        body = get_path(content, "body")
        return Inbound.typed(storable(body, TEXT_BODY_MAX)) if isinstance(body, str) else None
    if kind == "button":
        # A template quick reply: its payload is the template's, not one of
        # our option ids, so the button's text is read as typed.
        label = get_path(content, "text")
        return Inbound.typed(storable(label, TEXT_BODY_MAX)) if isinstance(label, str) else None
    if kind == "location":
        return _pin(content)
    if kind in NOTICE_TYPES:  # nobody typed these: no reply, no cart change
        return _notice(kind, content)
    tap_type = get_path(content, "type")
    if kind != "interactive" or tap_type not in _TAPS:  # images, voice notes, flow replies…
        # The type goes along so the bot can say what it cannot read ("voice" notes apart).
        media = "voice" if kind == "audio" and get_path(content, "voice") is True else kind
        return Inbound("unsupported", text=media[:_TYPE_MAX])
    # None of our ids is invalid or over ID_MAX: one that is cannot be ours.
    choice_id = short_text(get_path(content, tap_type, "id"))
    if choice_id is None:
        return None
    return Inbound.tapped(choice_id, storable(get_path(content, tap_type, "title"), TITLE_MAX))


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
    system_type = short_text(get_path(content, "type")) or "unknown"
    new_wa_id = ""
    if system_type in NUMBER_CHANGED:
        wa_id = (short_text(get_path(content, "wa_id"))
                 or short_text(get_path(content, "new_wa_id")) or "")
        new_wa_id = wa_id if wa_id.isascii() and wa_id.isdigit() else ""
        system_type = NUMBER_CHANGED[0]
    return Inbound("notice", text=new_wa_id, choice_id=f"system:{system_type}"[:_TYPE_MAX])


def _contact_for(contacts: list[dict[str, Any]], wa_id: str | None,
                 user_id: str | None) -> dict[str, Any] | None:
    """The contact describing a message's sender, or None when none clearly does."""
    for contact in contacts:
        if (wa_id is not None and short_text(contact.get("wa_id")) == wa_id) or (
                user_id is not None and short_text(contact.get("user_id")) == user_id):
            return contact
    if len(contacts) != 1:
        return None
    # A lone contact is the sender unless one of its ids says otherwise.
    only = contacts[0]
    other_wa_id, other_user_id = short_text(only.get("wa_id")), short_text(only.get("user_id"))
    conflicts = (None not in (wa_id, other_wa_id) and wa_id != other_wa_id) or (
        None not in (user_id, other_user_id) and user_id != other_user_id)
    return None if conflicts else only


def _pin(content: object) -> Inbound | None:
    latitude = coordinate_in(get_path(content, "latitude"), 90)
    longitude = coordinate_in(get_path(content, "longitude"), 180)
    if latitude is None or longitude is None:
        return None
    return Inbound.pin(Location(latitude, longitude,
                                storable(get_path(content, "name"), PIN_LABEL_MAX) or None,
                                storable(get_path(content, "address"), PIN_LABEL_MAX) or None))
