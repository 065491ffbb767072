"""Graph API request bodies for outbound messages and read receipts.

``message_payload`` turns a channel-neutral ``Outgoing`` into the JSON body of
``POST {graph_url}/{phone_number_id}/messages`` (Meta's "Messages" reference
of the Cloud API); the limits were already applied by the constructors in
``routes.conversation.messages``.
"""

from __future__ import annotations

from typing import Any, Final

from routes.conversation.messages import (
    ButtonsMessage,
    ListMessage,
    LocationRequest,
    Option,
    Outgoing,
    Section,
    TextMessage,
)

MESSAGING_PRODUCT: Final = "whatsapp"


def message_payload(message: Outgoing, *, wa_id: str | None,
                    user_id: str | None) -> dict[str, Any]:
    """The JSON body sending ``message`` to a customer.

    Addressed ``"to": "+<wa_id>"`` when the phone number is known, else
    ``"recipient": "<user_id>"`` (business-scoped ids, Meta: WhatsApp Cloud API webhook reference).
    Raises ValueError when neither is given.
    """
    payload: dict[str, Any] = {"messaging_product": MESSAGING_PRODUCT,
                               "recipient_type": "individual"}
    if wa_id:
        payload["to"] = "+" + wa_id.removeprefix("+")
    elif user_id:
        payload["recipient"] = user_id
    else:
        raise ValueError("a message needs a wa_id or a user_id to be sent to")
    if isinstance(message, TextMessage):
        # Links in menus and receipts would otherwise grow preview cards.
        payload.update(type="text", text={"body": message.body, "preview_url": False})
    else:
        payload.update(type="interactive", interactive=_interactive(message))
    return payload


def read_receipt_payload(message_id: str) -> dict[str, Any]:
    """The JSON body marking an inbound message (its wamid) as read."""
    return {"messaging_product": MESSAGING_PRODUCT, "status": "read", "message_id": message_id}


def _interactive(message: ButtonsMessage | ListMessage | LocationRequest) -> dict[str, Any]:
    if isinstance(message, LocationRequest):
        return {"type": "location_request_message", "body": {"text": message.body},
                "action": {"name": "send_location"}}
    interactive: dict[str, Any] = {}
    if isinstance(message, ButtonsMessage):
        interactive["type"] = "button"
        action: dict[str, Any] = {"buttons": [
            {"type": "reply", "reply": {"id": option.id, "title": option.title}}
            for option in message.buttons]}
    else:
        interactive["type"] = "list"
        action = {"button": message.button,
                  "sections": [_section(section) for section in message.sections]}
    if message.header is not None:
        interactive["header"] = {"type": "text", "text": message.header}
    interactive["body"] = {"text": message.body}
    if message.footer is not None:
        interactive["footer"] = {"text": message.footer}
    interactive["action"] = action
    return interactive


def _section(section: Section) -> dict[str, Any]:
    rendered: dict[str, Any] = {} if section.title is None else {"title": section.title}
    rendered["rows"] = [_row(row) for row in section.rows]
    return rendered


def _row(option: Option) -> dict[str, str]:
    row = {"id": option.id, "title": option.title}
    if option.description is not None:
        row["description"] = option.description
    return row


