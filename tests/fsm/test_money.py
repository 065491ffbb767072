import pytest

from fsm.money import format_money, minor_unit_digits, to_minor_units


@pytest.mark.parametrize(
    ("currency", "digits"), [("GBP", 2), ("EUR", 2), ("CHF", 2), ("JPY", 0), ("KWD", 3), ("", 2)]
)
def test_minor_unit_digits(currency: str, digits: int) -> None:
    assert minor_unit_digits(currency) == digits


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("9.50", "GBP", 950),
        ("9.5", "GBP", 950),
        (" 12 ", "GBP", 1200),
        (12, "EUR", 1200),
        ("0", "GBP", 0),
        ("980", "JPY", 980),
        ("1.5", "KWD", 1500),
        ("1.234", "KWD", 1234),
        ("1000000", "GBP", 100_000_000),
        ("9.50", "", 950),
    ],
)
def test_to_minor_units(value: object, currency: str, minor: int) -> None:
    assert to_minor_units(value, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        (9.5, "GBP", 'got the number 9.5; write prices in quotes, e.g. "9.5"'),
        (True, "GBP", 'expected a decimal string such as "9.50"'),
        (None, "GBP", 'expected a decimal string such as "9.50"'),
        ("1e3", "GBP", 'expected a decimal string such as "9.50"'),
        ("-0.50", "GBP", "must not be negative"),
        ("1000000.01", "GBP", "must be at most 1000000"),
        ("9.505", "GBP", "GBP allows at most 2 decimal places"),
        ("9.5", "JPY", "JPY allows at most 0 decimal places"),
        ("9.505", "", "the currency allows at most 2 decimal places"),
    ],
)
def test_to_minor_units_rejects(value: object, currency: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        to_minor_units(value, currency)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (950, "GBP", "£9.50"),
        (0, "USD", "$0.00"),
        (-50, "GBP", "-£0.50"),
        (950, "JPY", "¥950"),
        (1500, "KWD", "1.500 KWD"),
        (950, "CHF", "9.50 CHF"),
    ],
)
def test_format_money(minor: int, currency: str, text: str) -> None:
    assert format_money(minor, currency) == text
