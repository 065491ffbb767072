"""Every message the bot builds is within Meta's limits, and nothing the customer must
read before deciding is cut (issue 14, item 3).

The question of every state (and every confirmation, order notification and
help text) goes through the builders to the Graph API body Meta receives, and
is checked against Meta's limits for the Cloud API "Messages" endpoint: text
body ≤ 4,096; interactive body ≤ 1,024; ≤ 3 reply buttons, titles ≤ 20; list
rows ≤ 10, titles ≤ 24, descriptions ≤ 72; list button and section titles ≤ 20
and ≤ 24.

Every one of them in every language (issue 15): the restaurants are made to
speak every language there is a catalog for, and right-to-left marks count.

How characters are counted: in UTF-16 code units, as WhatsApp's clients and
Meta's validators count (an emoji outside the Basic Multilingual Plane such as
📍 counts 2). Counted here independently of the product's own ``wa_len``, with
``len(s.encode("utf-16-le")) // 2``; it is never below the count of code
points, so a message within a limit by it is within it by either reading.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from fsm.cart import MAX_LINES, MAX_QUANTITY, Cart
from fsm.config import Restaurant, parse_config
from fsm.languages import LANGUAGES
from fsm.machine import ORDER_FLOW
from fsm.order_lifecycle import OrderStatus
from fsm.session import Address, PendingItem, Session
from fsm.states import States
from routes.conversation import i18n
from routes.conversation.handlers.commands import HELP_TEXT, help_text
from routes.conversation.messages import Outgoing, TextMessage, text, with_preamble
from routes.conversation.order_news import order_news
from routes.conversation.questions import question_messages, render_order_summary
from routes.whatsapp.payloads import message_payload
from storage.base import OrderRecord
from tests.conftest import REPO, Customer, load_demo_config

TEXT_BODY = 4096
INTERACTIVE_BODY = 1024
BUTTONS, BUTTON_TITLE = 3, 20
ROWS, ROW_TITLE, ROW_DESCRIPTION = 10, 24, 72
LIST_BUTTON, SECTION_TITLE, SECTIONS = 20, 24, 10
# A 300-character address with a pin (📍 counts 2) and an emoji outside the BMP.
LONG_ADDRESS = ("Flat 12 🏠, " + "Very Long Building Name " * 12)[:280] + " London T1 1TT"


def chars(value: str) -> int:
    """Characters as WhatsApp counts them: UTF-16 code units."""
    return len(value.encode("utf-16-le")) // 2


def check_payload(message: Outgoing) -> dict[str, Any]:
    """The Graph API body for ``message``, asserted within Meta's limits."""
    payload = message_payload(message, wa_id="447700900123", user_id=None)
    if payload["type"] == "text":
        body = payload["text"]["body"]
        assert 1 <= chars(body) <= TEXT_BODY, chars(body)
        return payload
    interactive = payload["interactive"]
    body = interactive["body"]["text"]
    assert 1 <= chars(body) <= INTERACTIVE_BODY, chars(body)
    action = interactive["action"]
    if interactive["type"] == "button":
        buttons = action["buttons"]
        assert 1 <= len(buttons) <= BUTTONS
        assert all(1 <= chars(b["reply"]["title"]) <= BUTTON_TITLE for b in buttons), buttons
    elif interactive["type"] == "list":
        assert 1 <= chars(action["button"]) <= LIST_BUTTON
        sections = action["sections"]
        assert 1 <= len(sections) <= SECTIONS
        rows = [row for section in sections for row in section["rows"]]
        assert 1 <= len(rows) <= ROWS
        assert all(1 <= chars(row["title"]) <= ROW_TITLE for row in rows), rows
        assert all(chars(row.get("description", "")) <= ROW_DESCRIPTION for row in rows), rows
        if len(sections) > 1:
            assert all(1 <= chars(s["title"]) <= SECTION_TITLE for s in sections), sections
    return payload


def long_names_config() -> Restaurant:
    """Luigi's with every name and title stretched to the 60 characters config allows."""
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")

    def stretch(match: re.Match[str]) -> str:
        padding = " with a very long name indeed and longer still and more"
        name = (match.group(2) + padding)[:60].strip()
        return f"{match.group(1)}{name}"

    yaml = re.sub(r"((?:name|title): )([A-Z][^,}\n\"]*)", stretch, yaml)
    # Names given per language ({en: Margherita, ar: مارغريتا}) are stretched in each.
    yaml = re.sub(r"((?:name|title): \{en: \"?)([^,}\n\"]+)", stretch, yaml)
    yaml = re.sub(r"((?:name|title): \{en: [^}\n]*, ar: \"?)([^,}\n\"]+)", stretch, yaml)
    restaurant = parse_config(yaml).restaurant("luigis")
    assert restaurant is not None
    assert len(restaurant.in_language("ar").menu[0].items[1].name) == 60
    return speaking_all(restaurant)


def speaking_all(restaurant: Restaurant) -> Restaurant:
    """``restaurant`` speaking every language there is a catalog for (names it does not
    translate are shown in its default language)."""
    fields = {name: getattr(restaurant, name) for name in type(restaurant).model_fields}
    return Restaurant.model_construct(**{**fields, "languages": LANGUAGES})


def demo(restaurant_id: str) -> Restaurant:
    restaurant = load_demo_config().restaurant(restaurant_id)
    assert restaurant is not None
    return speaking_all(restaurant)


RESTAURANTS = {"luigis": lambda: demo("luigis"), "sakura": lambda: demo("sakura"),
               "long-names": long_names_config}


def full_cart(restaurant: Restaurant) -> Cart:
    """``MAX_LINES`` lines, each of ``MAX_QUANTITY``, with every add-on there is."""
    cart = Cart()
    items = [item for category in restaurant.menu for item in category.items]
    combos = [(item, addons) for item in items
              for addons in ([], list(item.addons), *([a] for a in item.addons))]
    for item, addons in combos[:MAX_LINES]:
        cart.add(item, addons, MAX_QUANTITY)
    return cart


def session_in(state: str, restaurant: Restaurant, cart: Cart, order_type: str,
               language: str = "en") -> Session:
    with_addons = next(i for c in restaurant.menu for i in c.items if i.addons)
    return Session(
        language=language,
        state=state, cart=cart, order_type=order_type,
        branch_id=restaurant.branches[0].id if order_type == "pickup" else None,
        address=Address(LONG_ADDRESS, 51.5, -0.12) if order_type == "delivery" else None,
        payment_method=restaurant.payment_methods[-1],
        category_id=restaurant.menu[0].id,
        pending=PendingItem(with_addons.id, [with_addons.addons[0].id]),
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("restaurant_name", sorted(RESTAURANTS))
@pytest.mark.parametrize("cart_size", ["empty", "one", "full"])
@pytest.mark.parametrize("order_type", ["delivery", "pickup"])
@pytest.mark.parametrize("state", ORDER_FLOW.state_names)
def test_the_question_of_every_state_is_within_metas_limits(
        state: str, order_type: str, cart_size: str, restaurant_name: str,
        language: str) -> None:
    restaurant = RESTAURANTS[restaurant_name]()
    cart = Cart()
    if cart_size == "one":
        cart.add(restaurant.menu[0].items[0])
    elif cart_size == "full":
        cart = full_cart(restaurant)
    session = session_in(state, restaurant, cart, order_type, language)
    messages = question_messages(session, restaurant)
    for message in messages:
        check_payload(message)
    if language != "en":  # really in that language (a missing catalog would be English)
        with i18n.speaking(language):
            assert i18n._("Checkout") != "Checkout"
    # Only the last message carries options; any before it are plain text.
    assert all(isinstance(message, TextMessage) for message in messages[:-1])
    # With the longest preamble a note can bring, still within the limits.
    for message in messages:
        # A preamble that does not fit raises: Context.send then sends it as its own text.
        with contextlib.suppress(ValueError):
            check_payload(with_preamble("Delivering to: " + LONG_ADDRESS, message))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("restaurant_name", sorted(RESTAURANTS))
@pytest.mark.parametrize("order_type", ["delivery", "pickup"])
def test_the_whole_order_summary_is_seen_before_the_confirm_button(
        restaurant_name: str, order_type: str, language: str) -> None:
    restaurant = RESTAURANTS[restaurant_name]()
    session = session_in(States.CHECKOUT_CONFIRMATION, restaurant, full_cart(restaurant),
                         order_type, language)
    messages = question_messages(session, restaurant)
    shown = "\n".join(check_payload(m)["text"]["body"] for m in messages[:-1]) \
        if len(messages) > 1 else messages[0].body
    with i18n.speaking(language):
        summary = render_order_summary(session, restaurant.in_language(language))
        check = i18n._("Please check your order:")
    rlm = i18n.RLM
    # Right-to-left marks start every line shown; the summary is compared without them.
    assert summary.replace(rlm, "") in shown.replace(rlm, "").replace(f"{check}\n", "", 1)
    assert "…" not in shown
    last = check_payload(messages[-1])
    assert last["type"] == "interactive"
    buttons = last["interactive"]["action"]["buttons"]
    assert buttons[0]["reply"]["id"] == "action:confirm"


async def test_the_long_confirmation_of_the_failing_case_is_text_then_a_short_prompt(
        amira: Customer) -> None:
    """30 cart lines and a 300-character address: the address and payment line are seen."""
    await amira.tap("order_type:delivery")
    restaurant = amira.restaurant
    for item in [i for c in restaurant.menu for i in c.items][:MAX_LINES]:
        await amira.tap(f"item:{item.id}")
        if item.addons:
            await amira.tap(f"addon:{item.addons[-1].id}")
            if len(item.addons) > 1:
                await amira.tap("action:no_addons")
    await amira.tap("action:checkout")
    address = ("Flat 12, " + "Very Long Building Name " * 11)[:270] + " 99 Test St, T1 1TT"
    await amira.type(address)
    await amira.tap("payment:card")
    *summary, _prompt = amira.replies
    assert summary and all(isinstance(reply, TextMessage) for reply in summary)
    seen = "\n".join(reply.body for reply in summary)
    assert address in seen and "Payment: Card" in seen and "Total: £" in seen
    assert "action:confirm" in amira.option_ids
    for reply in amira.replies:
        check_payload(reply)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", OrderStatus.ALL)
def test_every_order_notification_is_within_metas_limits(status: str, language: str) -> None:
    restaurant = long_names_config()
    order = OrderRecord(reference="LU-ABCDEFGH", restaurant_id=restaurant.id,
                        customer_id="447700900123", status=status, order_type="pickup",
                        branch_id=restaurant.branches[0].id, address=None,
                        payment_method="card", currency="GBP", total_minor=57170,
                        delivery_fee_minor=0, lines=(), created_at=0.0)
    with i18n.speaking(language):
        check_payload(text(order_news(order, restaurant, reason="x" * 5000,
                                      language=language)))


@pytest.mark.parametrize("language", LANGUAGES)
def test_help_and_long_notes_are_within_metas_limits(language: str) -> None:
    check_payload(text(HELP_TEXT))
    with i18n.speaking(language):
        check_payload(text(help_text()))
    for message in [text("note " * 2000), *[text(line) for line in ("📍" * 3000,)]]:
        check_payload(message)
