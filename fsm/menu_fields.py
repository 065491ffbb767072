"""The value types of the menu's fields: ids, titles, prices, coordinates, languages.

Each is an annotated type that pydantic checks when ``config.yaml`` is read, with
an error a person can act on. Prices are read in the currency :func:`prices_in`
sets (the restaurant's, around the validation of its menu).
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from fsm.money import to_minor_units

OrderType = Literal["delivery", "pickup"]


def matching(pattern: str, expected: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            message = f"expected {expected}, got {{value}}"
            raise PydanticCustomError("pattern", message, {"value": repr(value)})
        return value

    return AfterValidator(check)


# Ids end up inside WhatsApp interactive ids such as "item:margherita".
Identifier = Annotated[
    str,
    matching(r"[a-z0-9][a-z0-9_-]{0,63}", "an id of a-z, 0-9, '_' or '-' (at most 64 characters)"),
]
PhoneNumberId = Annotated[str, matching(r"[0-9]+", "digits only")]
CurrencyCode = Annotated[str, matching(r"[A-Z]{3}", "a 3-letter currency code such as GBP")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]

# The currency the prices being validated are written in; set by Restaurant for its menu.
_currency: ContextVar[str] = ContextVar("fsm.menu currency", default="")

Language = Annotated[str, matching(r"[a-z]{2,3}", "a language code such as en or ar")]
# The longest text a translated field may hold, by field name (checked per language by
# fsm.config, which names the path of each translation).
TEXT_LIMITS: Final = {"name": 60, "title": 60, "description": 200, "address": 200,
                      "away_message": 1000}


@contextmanager
def prices_in(currency: object) -> Iterator[None]:
    token = _currency.set(currency if isinstance(currency, str) else "")
    try:
        yield
    finally:
        _currency.reset(token)


def _price(value: object) -> int:
    try:
        return to_minor_units(value, _currency.get())
    except ValueError as error:
        raise PydanticCustomError("price", str(error)) from None


# Written as a decimal string in major units ("9.50"), held as integer minor units (950).
Price = Annotated[int, BeforeValidator(_price)]


Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def polygon(corners: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    if len(corners) < 3:
        raise PydanticCustomError("polygon", "a delivery area needs at least 3 corners "
                                  "([latitude, longitude] each), got {count}",
                                  {"count": len(corners)})
    return corners
