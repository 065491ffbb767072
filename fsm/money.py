"""Money as the bot holds it: integer minor units (pence, cents, yen) of one currency.

``config.yaml`` writes prices as decimal strings in major units (``"9.50"``);
:func:`to_minor_units` turns them into minor units and :func:`format_money` turns
minor units back into what a customer reads. How many minor units make a major
one depends on the currency (:func:`minor_unit_digits`). Nothing here knows about
pydantic; :mod:`fsm.menu` plugs :func:`to_minor_units` into its price fields.
"""

import re
from decimal import Decimal
from typing import Final

PRICE_EXPECTED: Final = 'expected a decimal string such as "9.50"'
MAX_PRICE: Final = Decimal(1_000_000)  # in major units; anything above is a typo

_DECIMAL: Final = re.compile(r"-?[0-9]+(?:\.(?P<fraction>[0-9]+))?")
# ISO 4217 minor-unit digits where they differ from the usual 2.
_MINOR_UNIT_DIGITS: Final = {
    **dict.fromkeys(("JPY", "KRW", "VND", "CLP", "ISK", "UGX"), 0),
    **dict.fromkeys(("BHD", "KWD", "JOD", "OMR", "TND"), 3),
}
_SYMBOLS: Final = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥"}


def minor_unit_digits(currency: str) -> int:
    """Decimal places of ``currency`` (3-letter code): 0 for JPY, 3 for KWD, 2 otherwise."""
    return _MINOR_UNIT_DIGITS.get(currency, 2)


def to_minor_units(value: object, currency: str) -> int:
    """A price as written in YAML (``"9.50"``, ``"12"`` or ``12``) in minor units of ``currency``.

    ``value`` is in major units: ``to_minor_units("9.50", "GBP") == 950`` and
    ``to_minor_units("980", "JPY") == 980``. ``currency`` may be ``""`` when the
    file gives none that can be read; prices then have the usual 2 decimal places.

    Raises :class:`ValueError` whose message is meant for the file's author: not a
    decimal string (an unquoted float asks for quotes), negative, above
    :data:`MAX_PRICE`, or more decimal places than the currency has.
    """
    if isinstance(value, float):
        raise ValueError(f'got the number {value!r}; write prices in quotes, e.g. "{value!r}"')
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(PRICE_EXPECTED)
    text = str(value).strip()
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise ValueError(PRICE_EXPECTED)
    amount = Decimal(text)
    if amount < 0:
        raise ValueError("must not be negative")
    if amount > MAX_PRICE:
        raise ValueError(f"must be at most {MAX_PRICE}")
    digits = minor_unit_digits(currency)
    if len(match["fraction"] or "") > digits:
        raise ValueError(f"{currency or 'the currency'} allows at most {digits} decimal places")
    return int(amount.scaleb(digits))


def format_money(minor: int, currency: str) -> str:
    """Minor units of ``currency`` as a customer reads them: ``£9.50``, ``¥950``, ``9.50 CHF``.

    Negative amounts keep their sign in front (``-£0.50``); a currency without a
    known symbol is written as its code after the amount.
    """
    digits = minor_unit_digits(currency)
    units, fraction = divmod(abs(minor), 10**digits)
    amount = f"{units}.{fraction:0{digits}d}" if digits else str(units)
    sign = "-" if minor < 0 else ""
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"
