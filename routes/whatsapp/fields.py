"""Reading one field of Meta's webhook JSON into a value storage can hold.

Ids must be valid Unicode (encodable as UTF-8: no lone surrogate, which
JSON's escapes can carry) and at most :data:`ID_MAX` characters, or
:class:`Invalid` is raised and the parser drops the element carrying them;
what a customer wrote is made storable and bounded instead (:func:`storable`);
numbers are bounded so that no later ``int()`` or SQLite column overflows.
"""

from __future__ import annotations

import math
from typing import Any, Final

# Unix seconds have 10 digits until the year 2286; the bound keeps int() from
# raising on an absurd string (Python refuses to parse over 4300 digits).
TIMESTAMP_DIGITS_MAX: Final = 18
TIMESTAMP_MAX: Final = 10**TIMESTAMP_DIGITS_MAX  # far below SQLite's 2**63
ID_MAX: Final = 256  # wamids, phone numbers and user ids are far shorter
PIN_LABEL_MAX: Final = 300  # as a typed address (handlers.checkout.ADDRESS_MAX_LENGTH)
TITLE_MAX: Final = 256  # a tapped button's or row's title (ours are at most 24)
NAME_MAX: Final = 256  # a profile name
NOTE_MAX: Final = 1024  # an error's title or details, logged only
CODE_MAX: Final = 2**63


class Invalid(Exception):
    """A value storage could not hold: the element carrying it is dropped."""


def get_path(value: object, *path: str) -> Any:
    """``value[path[0]][path[1]]…``, or None where the path leads through a non-object."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def short_text(value: object) -> str | None:
    """A non-empty string storage can hold (see :func:`identifier`), else None."""
    if not isinstance(value, str) or not value or len(value) > ID_MAX:
        return None
    return value if is_encodable(value) else None


def identifier(container: dict[str, Any], key: str) -> str | None:
    """``container[key]`` as an id: None when absent, not a string or empty.

    Raises :class:`Invalid` for a string storage could not hold (not
    encodable as UTF-8, or over :data:`ID_MAX` characters).
    """
    value = container.get(key)
    if not isinstance(value, str) or not value:
        return None
    if len(value) > ID_MAX:
        raise Invalid(f"{key} is {len(value)} characters, over {ID_MAX}")
    if not is_encodable(value):
        raise Invalid(f"{key} {for_log(value)} is not valid Unicode")
    return value


def storable(value: object, limit: int) -> str:
    """What a customer (or Meta) wrote, made storable: lone surrogates become U+FFFD,
    then it is cut to ``limit`` characters; "" for anything but a string."""
    if not isinstance(value, str):
        return ""
    value = value[:limit]
    if not is_encodable(value):
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")[:limit]
    return value


def is_encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def for_log(value: object) -> str:
    """``value`` for a log line: escaped (repr) and short."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def coordinate_in(value: object, bound: float) -> float | None:
    # json.loads accepts NaN and Infinity, and bool is an int subclass.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and -bound <= value <= bound else None


def error_code(error: object) -> int | None:
    code = get_path(error, "code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    return code if -CODE_MAX < code < CODE_MAX else None


def unix_seconds(value: object) -> int | None:
    """Unix seconds, sent by Meta as a string of digits (Meta's webhook reference)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < TIMESTAMP_MAX else None
    if (isinstance(value, str) and value.isascii() and value.isdigit()
            and len(value) <= TIMESTAMP_DIGITS_MAX):
        return int(value)
    return None
