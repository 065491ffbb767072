from typing import Any

import pytest
from pydantic import ValidationError

from fsm.menu import Item, Restaurant


def restaurant(**changes: Any) -> dict[str, Any]:
    """A small restaurant mapping as it is written in config.yaml."""
    return {
        "id": "tokyo",
        "name": "Tokyo Diner",
        "phone_number_id": "1234",
        "currency": "JPY",
        "order_types": ["delivery"],
        "payment_methods": ["cash"],
        "delivery_fee": "300",
        "menu": [
            {
                "id": "ramen",
                "title": "Ramen",
                "items": [
                    {
                        "id": "shoyu",
                        "name": "Shoyu",
                        "price": "1200",
                        "addons": [{"id": "egg", "name": "Egg", "price": 150}],
                    }
                ],
            }
        ],
        **changes,
    }


def problems(error: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    return [(tuple(d["loc"]), d["msg"]) for d in error.errors()]


def test_prices_are_read_in_the_restaurants_currency() -> None:
    tokyo = Restaurant.model_validate(restaurant())

    assert tokyo.delivery_fee == 300
    shoyu = tokyo.item("shoyu")
    assert shoyu is not None
    assert shoyu.price == 1200
    assert [addon.price for addon in shoyu.addons] == [150]
    assert tokyo.format_money(shoyu.price) == "¥1200"


def test_the_currency_does_not_outlive_its_restaurant() -> None:
    with pytest.raises(ValidationError):
        Restaurant.model_validate(restaurant(name=""))
    Restaurant.model_validate(restaurant())

    item = Item.model_validate({"id": "tea", "name": "Tea", "price": "2.50"})

    assert item.price == 250


def test_a_price_error_names_the_price() -> None:
    with pytest.raises(ValidationError) as caught:
        Restaurant.model_validate(restaurant(currency="KWD", delivery_fee="1.2345"))

    assert problems(caught.value) == [(("delivery_fee",), "KWD allows at most 3 decimal places")]


def test_prices_are_checked_when_the_currency_is_rejected() -> None:
    menu = restaurant()["menu"]
    menu[0]["items"][0]["price"] = "12.345"

    with pytest.raises(ValidationError) as caught:
        Restaurant.model_validate(restaurant(currency="yen", menu=menu))

    found = problems(caught.value)
    assert (("currency",), "expected a 3-letter currency code such as GBP, got 'yen'") in found
    assert (("menu", 0, "items", 0, "price"), "yen allows at most 2 decimal places") in found


def test_pickup_needs_a_branch() -> None:
    with pytest.raises(ValidationError) as caught:
        Restaurant.model_validate(restaurant(order_types=["delivery", "pickup"]))

    assert problems(caught.value) == [(("branches",), "pickup needs at least one branch")]


def test_pickup_with_a_branch() -> None:
    tokyo = Restaurant.model_validate(
        restaurant(order_types=["pickup"], branches=[{"id": "shibuya", "name": "Shibuya"}])
    )

    branch = tokyo.branch("shibuya")
    assert branch is not None
    assert branch.address is None
