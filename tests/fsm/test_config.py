from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fsm.config import AppConfig, parse_config
from fsm.errors import ConfigError

CONFIG_TEXT = (Path(__file__).parents[2] / "config.yaml").read_text(encoding="utf-8")


def shipped() -> AppConfig:
    return parse_config(CONFIG_TEXT)


def problems_after(change: Callable[[dict[str, Any]], None]) -> str:
    """The rendered ConfigError for the shipped config.yaml with ``change`` applied."""
    document = yaml.safe_load(CONFIG_TEXT)
    change(document)
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(document, allow_unicode=True))
    return str(caught.value)


# The shipped config.yaml


def test_shipped_config_has_both_demo_restaurants() -> None:
    config = shipped()

    assert [r.id for r in config.restaurants] == ["luigis", "sakura"]
    assert [r.phone_number_id for r in config.restaurants] == ["109876543210001", "109876543210002"]
    assert config.server.port == 8080
    assert config.session.ttl_minutes == 30
    assert config.whatsapp.graph_url == "https://graph.facebook.com/v23.0"


def test_shipped_menu_pages_and_prices() -> None:
    luigis = shipped().restaurants[0]

    pizza = luigis.category("pizza")
    assert pizza is not None
    assert len(pizza.items) > 10
    margherita = luigis.item("margherita")
    assert margherita is not None
    assert margherita.price == 950
    assert margherita.addons == ()
    assert luigis.delivery_fee == 250
    assert [b.id for b in luigis.branches] == ["soho", "camden"]


def test_shipped_calzone_addons() -> None:
    calzone = shipped().restaurants[0].item("calzone")

    assert calzone is not None
    assert [(a.id, a.name, a.price) for a in calzone.addons] == [
        ("chilli", "Chilli oil", 50),
        ("burrata", "Burrata", 250),
    ]
    burrata = calzone.addon("burrata")
    assert burrata is not None
    assert burrata.price == 250
    assert calzone.addon("pineapple") is None


def test_shipped_titles_fit_whatsapp_rows() -> None:
    for restaurant in shipped().restaurants:
        for category in restaurant.menu:
            assert len(category.title) <= 24, category.title
            for item in category.items:
                assert len(item.name) <= 24, item.name


def test_lookups() -> None:
    config = shipped()

    sakura = config.restaurant_for_phone_number("109876543210002")
    assert sakura is not None
    assert sakura.name == "Sakura Ramen"
    assert config.restaurant("sakura") is sakura
    assert config.restaurant("nope") is None
    assert config.restaurant_for_phone_number("109876543210999") is None
    category = sakura.category_of("tonkotsu")
    assert category is not None
    assert category.id == "ramen"
    assert sakura.category_of("margherita") is None
    assert sakura.item("margherita") is None
    branch = sakura.branch("kreuzberg")
    assert branch is not None
    assert branch.name == "Kreuzberg"
    assert sakura.branch("soho") is None


def test_format_money_and_payment_titles() -> None:
    luigis, sakura = shipped().restaurants

    assert luigis.format_money(950) == "£9.50"
    assert luigis.format_money(5) == "£0.05"
    assert sakura.format_money(1450) == "€14.50"
    yen = luigis.model_copy(update={"currency": "JPY"})
    assert yen.format_money(950) == "¥950"
    francs = luigis.model_copy(update={"currency": "CHF"})
    assert francs.format_money(950) == "9.50 CHF"
    dinars = luigis.model_copy(update={"currency": "KWD"})
    assert dinars.format_money(1500) == "1.500 KWD"
    assert [luigis.payment_title(m) for m in luigis.payment_methods] == ["Cash", "Card"]
    assert luigis.payment_title("bank_transfer") == "Bank transfer"


def test_config_is_frozen() -> None:
    config = shipped()

    with pytest.raises(ValueError, match="frozen"):
        config.restaurants[0].name = "Mario's"


# Prices


def test_prices_follow_the_currency_exponent() -> None:
    document = yaml.safe_load(CONFIG_TEXT)
    luigis = document["restaurants"][0]
    luigis["currency"] = "JPY"
    luigis["delivery_fee"] = "300"
    luigis["minimum_order"] = {"delivery": "1500"}
    for category in luigis["menu"]:
        for item in category["items"]:
            item["price"] = "1200"
            for addon in item.get("addons", []):
                addon["price"] = "100"
    luigis["menu"][0]["items"][0]["price"] = 980  # an unquoted whole number is fine

    restaurant = parse_config(yaml.safe_dump(document)).restaurants[0]

    assert restaurant.delivery_fee == 300
    assert restaurant.minimum_order.delivery == 1500 and restaurant.minimum_order.pickup == 0
    assert [i.price for i in restaurant.menu[0].items[:2]] == [980, 1200]
    assert restaurant.format_money(980) == "¥980"


def test_bad_price_string() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][0]["menu"][2]["items"][1]["price"] = "five pounds"

    assert problems_after(change) == (
        "config.yaml: restaurants[0].menu[2].items[1].price: "
        'expected a decimal string such as "9.50"'
    )


def test_unquoted_float_price_asks_for_quotes() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][0]["menu"][0]["items"][0]["price"] = 9.5

    message = problems_after(change)

    assert message.startswith("config.yaml: restaurants[0].menu[0].items[0].price: ")
    assert "quotes" in message
    assert '"9.5"' in message


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("-1.00", "must not be negative"),
        ("9.505", "GBP allows at most 2 decimal places"),
        ("1000000.01", "must be at most 1000000"),
        ("£9.50", 'expected a decimal string such as "9.50"'),
        (True, 'expected a decimal string such as "9.50"'),
    ],
)
def test_rejected_addon_prices(price: object, expected: str) -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][0]["menu"][0]["items"][11]["addons"][1]["price"] = price

    assert problems_after(change) == (
        f"config.yaml: restaurants[0].menu[0].items[11].addons[1].price: {expected}"
    )


def test_bad_delivery_fee() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][1]["delivery_fee"] = "3,00"

    assert "restaurants[1].delivery_fee: expected a decimal string" in problems_after(change)


# Shape and values


def test_unknown_key() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][0]["colour"] = "red"

    assert problems_after(change) == "config.yaml: restaurants[0].colour: unknown key"


def test_missing_key() -> None:
    def change(document: dict[str, Any]) -> None:
        del document["restaurants"][1]["menu"][0]["items"][2]["name"]

    assert problems_after(change) == (
        "config.yaml: restaurants[1].menu[0].items[2].name: required key is missing"
    )


def test_bad_identifier() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][0]["menu"][1]["items"][0]["id"] = "Garlic Bread"

    message = problems_after(change)

    assert message.startswith("config.yaml: restaurants[0].menu[1].items[0].id: expected an id")
    assert "'Garlic Bread'" in message


def test_unquoted_phone_number_id() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][0]["phone_number_id"] = 109876543210001

    assert problems_after(change) == (
        "config.yaml: restaurants[0].phone_number_id: "
        "expected text, got 109876543210001; put it in quotes"
    )


def test_long_name_empty_title_and_bad_order_type() -> None:
    def change(document: dict[str, Any]) -> None:
        sakura = document["restaurants"][1]
        sakura["name"] = "S" * 61
        sakura["menu"][2]["title"] = "  "
        sakura["order_types"] = ["delivery", "dine_in"]

    message = problems_after(change)

    assert "restaurants[1].name: String should have at most 60 characters" in message
    assert "restaurants[1].menu[2].title: must not be empty" in message
    assert "restaurants[1].order_types[1]: Input should be 'delivery' or 'pickup'" in message


def test_pickup_without_branches() -> None:
    def change(document: dict[str, Any]) -> None:
        del document["restaurants"][1]["branches"]

    assert problems_after(change) == (
        "config.yaml: restaurants[1].branches: pickup needs at least one branch"
    )


def test_delivery_only_needs_no_branches() -> None:
    document = yaml.safe_load(CONFIG_TEXT)
    del document["restaurants"][1]["branches"]
    document["restaurants"][1]["order_types"] = ["delivery"]

    sakura = parse_config(yaml.safe_dump(document, allow_unicode=True)).restaurants[1]

    assert sakura.branches == ()
    assert sakura.order_types == ("delivery",)


def test_empty_restaurants() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"] = []

    assert problems_after(change) == "config.yaml: restaurants: must not be empty"


def test_yaml_syntax_error_names_line_and_column() -> None:
    text = "server:\n  host: 127.0.0.1\n  port: [8080\nrestaurants: []\n"

    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="broken.yaml")

    assert str(caught.value).startswith("broken.yaml: invalid YAML at line 4, column ")


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "hello\n"])
def test_document_must_be_a_mapping(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^config\.yaml: expected a mapping of settings"):
        parse_config(text)


# Duplicates


def test_duplicate_item_id_across_categories() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][0]["menu"][3]["items"][1]["id"] = "margherita"

    assert problems_after(change) == (
        "config.yaml: restaurants[0].menu[3].items[1].id: "
        "duplicate id 'margherita' (first at restaurants[0].menu[0].items[0])"
    )


def test_same_addon_id_on_different_items_is_fine() -> None:
    pepperoni = shipped().restaurants[0].item("pepperoni")
    diavola = shipped().restaurants[0].item("diavola")

    assert pepperoni is not None and diavola is not None
    assert pepperoni.addon("extra_cheese") is not None
    assert diavola.addon("extra_cheese") is not None


def test_duplicate_phone_number_id() -> None:
    def change(document: dict[str, Any]) -> None:
        document["restaurants"][1]["phone_number_id"] = "109876543210001"

    assert problems_after(change) == (
        "config.yaml: restaurants[1].phone_number_id: "
        "duplicate phone_number_id '109876543210001' (first at restaurants[0])"
    )


def test_duplicate_ids_of_every_kind() -> None:
    def change(document: dict[str, Any]) -> None:
        luigis, sakura = document["restaurants"]
        sakura["id"] = "luigis"
        luigis["menu"][1]["id"] = "pizza"
        luigis["branches"][1]["id"] = "soho"
        luigis["payment_methods"] = ["cash", "card", "cash"]
        luigis["order_types"] = ["pickup", "pickup"]
        calzone_addons = luigis["menu"][0]["items"][11]["addons"]
        calzone_addons[1]["id"] = "chilli"

    assert problems_after(change).splitlines() == [
        "config.yaml: restaurants[0].order_types[1]: "
        "duplicate order type 'pickup' (first at restaurants[0].order_types[0])",
        "config.yaml: restaurants[0].payment_methods[2]: "
        "duplicate payment method 'cash' (first at restaurants[0].payment_methods[0])",
        "config.yaml: restaurants[0].branches[1].id: "
        "duplicate id 'soho' (first at restaurants[0].branches[0])",
        "config.yaml: restaurants[0].menu[0].items[11].addons[1].id: "
        "duplicate id 'chilli' (first at restaurants[0].menu[0].items[11].addons[0])",
        "config.yaml: restaurants[0].menu[1].id: "
        "duplicate id 'pizza' (first at restaurants[0].menu[0])",
        "config.yaml: restaurants[1].id: duplicate id 'luigis' (first at restaurants[0])",
    ]


# Several problems at once


def test_every_problem_is_reported() -> None:
    def change(document: dict[str, Any]) -> None:
        luigis, sakura = document["restaurants"]
        luigis["menu"][0]["items"][0]["price"] = 9.5
        luigis["menu"][1]["items"][0]["id"] = "margherita"
        luigis["colour"] = "red"
        sakura["currency"] = "euro"
        sakura["menu"][0]["items"][0]["addons"][0]["price"] = "-1"
        document["server"]["port"] = 70000

    with pytest.raises(ConfigError) as caught:
        document = yaml.safe_load(CONFIG_TEXT)
        change(document)
        parse_config(yaml.safe_dump(document, allow_unicode=True))

    paths = [path for path, _ in caught.value.problems]
    assert sorted(paths) == sorted(
        [
            "server.port",
            "restaurants[0].colour",
            "restaurants[1].currency",
            "restaurants[0].menu[0].items[0].price",
            "restaurants[1].menu[0].items[0].addons[0].price",
            "restaurants[0].menu[1].items[0].id",
        ]
    )
    assert len(str(caught.value).splitlines()) == 6
