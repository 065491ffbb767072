"""Languages (issue 15): choosing one at any step, Arabic end to end, money per locale.

Luigi's (the demo config) speaks ``[en, ar]`` with its menu in both; a French
restaurant is built here from Sakura with ``languages: [fr, en]`` and its
names given once for all, to show the third language needs nothing of its own.
"""

from __future__ import annotations

import json

import pytest

from fsm.config import AppConfig, Restaurant, parse_config
from fsm.session import Session
from routes.app import STORE
from routes.conversation import i18n
from routes.conversation.matching import normalize
from routes.conversation.messages import ButtonsMessage, ListMessage, options_of
from routes.conversation.questions import question_messages
from storage.base import SessionKey, SessionStore
from tests.conftest import REPO, Customer, FakeClock, make_dispatcher
from tests.whatsapp_support import (
    Client,
    bodies_to,
    notification,
    post,
    session_of,
    settle,
    text_message,
)

RLM = "\u200f"


def french_config() -> AppConfig:
    yaml = (REPO / "config.yaml").read_text(encoding="utf-8")
    yaml = yaml.replace("    currency: EUR\n", "    currency: EUR\n    languages: [fr, en]\n", 1)
    return parse_config(yaml)


@pytest.fixture
def sakura_fr() -> Restaurant:
    restaurant = french_config().restaurant("sakura")
    assert restaurant is not None
    return restaurant


async def test_switching_language_mid_order_keeps_the_cart_and_survives_a_restart(
        amira: Customer, store: SessionStore, config: AppConfig, clock: FakeClock) -> None:
    await amira.tap("order_type:pickup")
    await amira.tap("branch:soho")
    await amira.type("2 marinara")
    assert "Subtotal: £16.00" in amira.text

    await amira.type("عربي")  # the language's own name, typed at the cart

    assert amira.text.startswith(f"{RLM}حسنًا، لنكمل بالعربية.")
    assert "2 × مارينارا — \u200f16.00\xa0UK£" in amira.text  # the same cart, in Arabic
    assert "action:checkout" in amira.option_ids
    # A restart: a new dispatcher on the same store reads the language back.
    again = Customer(make_dispatcher(config, store, clock, cache_size=0), amira.restaurant,
                     amira.customer_id)
    await again.type("السلة")  # "cart" in Arabic
    assert "الإجمالي: \u200f16.00\xa0UK£" in again.text
    await again.type("language")  # the English word works in Arabic too
    assert again.option_titles == [f"{RLM}English", f"{RLM}العربية"]
    await again.tap("language:en")
    assert again.text.startswith("OK, let's carry on in English.")
    assert "2 × Marinara — £16.00" in again.text


async def test_a_side_question_open_when_switching_is_asked_again(amira: Customer) -> None:
    await amira.tap("order_type:delivery")
    await amira.tap("item:diavola")  # waits for its add-ons
    await amira.type("cart")  # asks whether the pepperoni goes in first
    assert "action:finish_add" in amira.option_ids
    await amira.type("العربية")
    assert "action:finish_add" in amira.option_ids
    assert "لم تنته من إضافة ديافولا" in amira.text


async def test_arabic_commands_letter_variants_and_indic_digits(amira: Customer) -> None:
    await amira.type("عربي")
    await amira.type("مساعده")  # help, teh marbuta typed as heh
    assert "• القائمة — عرض القائمة" in amira.text
    assert "• اللغة — اختيار لغتك" in amira.text
    await amira.type("توصيل")
    await amira.type("٢ مارينارا")  # Arabic-Indic 2
    assert "2 × مارينارا" in amira.text
    await amira.type("القائمه")  # the menu command, teh marbuta typed as heh
    await amira.type("اطباق جانبيه")  # أطباق جانبية without hamza or teh marbuta
    assert "item:garlic_bread" in amira.option_ids


def test_normalize_folds_alef_yeh_and_teh_marbuta_variants() -> None:
    assert normalize("احمر") == normalize("أحمر") == normalize("إحمر") == normalize("آحمر")
    assert normalize("سلطه") == normalize("سلطة")
    assert normalize("حلوي") == normalize("حلوى")
    assert normalize("ٱلقائمة") == normalize("القائمه")
    assert normalize("مـارغـريـتا") == normalize("مَارْغَرِيتَا") == "مارغريتا"


async def test_the_cart_and_confirmation_show_money_as_each_locale_writes_it(
        store: SessionStore, clock: FakeClock, sakura_fr: Restaurant) -> None:
    config = french_config()
    marie = Customer(make_dispatcher(config, store, clock), sakura_fr, "33612345678")
    await marie.type("bonjour")
    assert "Bienvenue chez Sakura Ramen !" in marie.text
    await marie.tap("order_type:delivery")
    await marie.type("2 tonkotsu")
    await marie.type("non")  # no extras, in French
    assert "2 × Tonkotsu — 29,00\xa0€" in marie.text
    assert "Livraison : 3,00\xa0€" in marie.text and "Total : 32,00\xa0€" in marie.text
    await marie.type("commander")  # checkout
    await marie.type("12 rue de Rivoli, 75001 Paris")
    await marie.type("espèces")
    assert "Paiement : Espèces" in marie.text
    await marie.type("oui")
    assert "Votre commande SA-" in marie.text and "Total : 32,00\xa0€." in marie.text


async def test_arabic_money_in_the_cart_and_the_confirmation(amira: Customer) -> None:
    await amira.type("عربي")
    await amira.tap("order_type:pickup")
    await amira.tap("branch:camden")
    await amira.tap("item:tiramisu")
    assert "المجموع الفرعي: \u200f5.50\xa0UK£" in amira.text
    await amira.tap("action:checkout")
    await amira.tap("payment:card")
    assert "الدفع: بطاقة" in amira.text and "الاستلام من: كامدن" in amira.text
    await amira.tap("action:confirm")
    assert "الإجمالي: \u200f5.50\xa0UK£." in amira.text
    assert "سنخبرك عندما يصبح جاهزًا للاستلام من فرع كامدن." in amira.text


def test_every_arabic_line_title_and_description_reads_right_to_left(luigis: Restaurant) -> None:
    session = Session(state="choosing_category", language="ar")
    [message] = question_messages(session, luigis)
    assert isinstance(message, ListMessage)
    assert all(line.startswith(RLM) for line in message.body.split("\n"))
    for option in options_of(message):
        assert option.title.startswith(RLM)
        assert option.description is None or option.description.startswith(RLM)
    english = question_messages(Session(state="choosing_category"), luigis)[0]
    assert RLM not in json.dumps([english.body, *(o.title for o in options_of(english))])


def test_money_stays_integer_until_it_is_rendered() -> None:
    with i18n.speaking("fr"):
        assert i18n.money(123456789, "EUR") == "1\u202f234\u202f567,89\xa0€"
        assert i18n.money(1, "KWD") == "0,001\xa0KWD"
    with i18n.speaking("en"):
        assert i18n.money(950, "GBP") == "£9.50" and i18n.money(980, "JPY") == "¥980"


async def test_chat_lang_starts_a_new_customer_in_that_language(
        dispatcher: object, luigis: Restaurant) -> None:
    from routes.conversation.dispatcher import Dispatcher
    from routes.conversation.messages import Inbound

    assert isinstance(dispatcher, Dispatcher)
    [reply] = await dispatcher.feed(luigis, "447700900999", Inbound.typed("hi"), language="ar")
    assert isinstance(reply, ButtonsMessage) and "أهلًا بك في بيتزيريا لويجي!" in reply.body
    # Once chosen, the customer's own choice wins over the channel's.
    await dispatcher.feed(luigis, "447700900999", Inbound.typed("English"), language="ar")
    [reply] = await dispatcher.feed(luigis, "447700900999", Inbound.typed("help"),
                                    language="ar")
    assert reply.body.startswith("Tap a button")


async def test_a_whole_order_in_arabic_through_the_signed_webhook(client: Client,
                                                                 graph: object) -> None:
    from tests.fake_graph import FakeGraph

    assert isinstance(graph, FakeGraph)
    customer = "966500000001"
    typed = ["مرحبا", "عربي", "توصيل", "٢ مارينارا", "الدفع",
             "١٢ شارع الملك فهد، الرياض ١٢٣٤٥", "نقدا", "نعم"]
    for number, body in enumerate(typed):
        assert await post(client, notification([text_message(customer, f"wamid.ar{number}",
                                                              body)])) == 200
        await settle(client)
    bodies = bodies_to(graph, f"+{customer}")
    assert bodies[0].startswith("Welcome to Luigi's Pizzeria!")  # the default, until asked
    assert all(body.startswith(RLM) for body in bodies[1:])
    assert "كيف تفضّل استلام طلبك؟" in bodies[1]
    assert "أُضيف 2 × مارينارا" in bodies[3]
    assert "إلى أين نوصل طلبك؟" in bodies[4]
    assert "الدفع: نقدًا" in bodies[6] and "التوصيل إلى: ١٢ شارع الملك فهد" in bodies[6]
    assert "تم تأكيد طلبك LU-" in bodies[7] and "الإجمالي: \u200f18.50\xa0UK£." in bodies[7]
    [order] = await client.app[STORE].list_orders(SessionKey("luigis", customer))
    assert order.total_minor == 1850 and order.lines[0]["name"] == "Marinara"  # for staff
    session = await session_of(client, SessionKey("luigis", customer))
    assert session.language == "ar" and session.cart.is_empty
    for sent in graph.sends:  # within Meta's limits, marks included
        message = sent.body
        if message.get("type") == "interactive":
            interactive = message["interactive"]
            assert len(interactive["body"]["text"].encode("utf-16-le")) // 2 <= 1024
            for button in interactive["action"].get("buttons", []):
                assert len(button["reply"]["title"].encode("utf-16-le")) // 2 <= 20
