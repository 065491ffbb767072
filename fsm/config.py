"""The bot's configuration: ``config.yaml`` parsed into frozen, typed objects.

:func:`parse_config` is the one way in. It turns YAML text into an :class:`AppConfig`
or raises :class:`~fsm.errors.ConfigError` listing every problem with its key path,
such as ``restaurants[0].menu[2].items[1].price``. Prices are decimal strings in the
file and integer minor units (pence, cents) in every model.
"""

import re
from collections.abc import Iterator
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from fsm.errors import ConfigError

Problem = tuple[str, str]
OrderType = Literal["delivery", "pickup"]

_DECIMAL: Final = re.compile(r"-?[0-9]+(?:\.(?P<fraction>[0-9]+))?")
_PRICE_EXPECTED: Final = 'expected a decimal string such as "9.50"'
_MAX_PRICE: Final = Decimal(1_000_000)  # in major units; anything above is a typo
# ISO 4217 minor-unit digits where they differ from the usual 2.
_MINOR_UNIT_DIGITS: Final = {
    **dict.fromkeys(("JPY", "KRW", "VND", "CLP", "ISK", "UGX"), 0),
    **dict.fromkeys(("BHD", "KWD", "JOD", "OMR", "TND"), 3),
}
# Plainer words for the pydantic errors a YAML author meets most.
_MESSAGES: Final = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "model_type": "expected a mapping of keys",
    "tuple_type": "expected a list",
}
_SYMBOLS: Final = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥"}


def _matching(pattern: str, expected: str) -> AfterValidator:
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
    _matching(r"[a-z0-9][a-z0-9_-]{0,63}", "an id of a-z, 0-9, '_' or '-' (at most 64 characters)"),
]
PhoneNumberId = Annotated[str, _matching(r"[0-9]+", "digits only")]
CurrencyCode = Annotated[str, _matching(r"[A-Z]{3}", "a 3-letter currency code such as GBP")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
MinorUnits = Annotated[int, Field(strict=True, ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Frozen):
    """Where the webhook server listens."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] = 8080


class StorageConfig(_Frozen):
    """The database file and how many conversations to keep in memory."""

    path: Annotated[str, Field(min_length=1)] = "orderbot.db"
    cache_size: Annotated[int, Field(strict=True, ge=0)] = 10_000


class SessionConfig(_Frozen):
    """How long an idle conversation keeps its state."""

    ttl_minutes: Annotated[int, Field(strict=True, ge=1)] = 30


class WhatsAppConfig(_Frozen):
    """Non-secret Graph API settings; tokens come from ``WHATSAPP_*`` variables."""

    graph_url: Annotated[str, Field(min_length=1)] = "https://graph.facebook.com/v23.0"


class Branch(_Frozen):
    """A place where pickup orders are collected."""

    id: Identifier
    name: Title
    address: Description | None = None


class Addon(_Frozen):
    """An optional extra for one item, such as burrata on a calzone."""

    id: Identifier
    name: Title
    price: MinorUnits


class Item(_Frozen):
    """Something a customer can order; ``price`` is in minor units."""

    id: Identifier
    name: Title
    price: MinorUnits
    description: Description | None = None
    addons: tuple[Addon, ...] = ()

    def addon(self, addon_id: str) -> Addon | None:
        """The add-on with this id, or ``None``."""
        return next((addon for addon in self.addons if addon.id == addon_id), None)


class Category(_Frozen):
    """A section of the menu, shown as one list."""

    id: Identifier
    title: Title
    description: Description | None = None
    items: Annotated[tuple[Item, ...], Field(min_length=1)]


class Restaurant(_Frozen):
    """One restaurant, reached on its own WhatsApp ``phone_number_id``."""

    id: Identifier
    name: Title
    phone_number_id: PhoneNumberId
    currency: CurrencyCode
    order_types: Annotated[tuple[OrderType, ...], Field(min_length=1)]
    payment_methods: Annotated[tuple[Identifier, ...], Field(min_length=1)]
    delivery_fee: MinorUnits = 0
    branches: tuple[Branch, ...] = ()
    menu: Annotated[tuple[Category, ...], Field(min_length=1)]

    @cached_property
    def _categories(self) -> dict[str, Category]:
        return {category.id: category for category in self.menu}

    @cached_property
    def _items(self) -> dict[str, tuple[Category, Item]]:
        return {item.id: (category, item) for category in self.menu for item in category.items}

    @cached_property
    def _branches(self) -> dict[str, Branch]:
        return {branch.id: branch for branch in self.branches}

    def category(self, category_id: str) -> Category | None:
        """The menu category with this id, or ``None``."""
        return self._categories.get(category_id)

    def item(self, item_id: str) -> Item | None:
        """The item with this id from any category, or ``None``."""
        found = self._items.get(item_id)
        return found[1] if found else None

    def category_of(self, item_id: str) -> Category | None:
        """The category holding this item, or ``None``."""
        found = self._items.get(item_id)
        return found[0] if found else None

    def branch(self, branch_id: str) -> Branch | None:
        """The pickup branch with this id, or ``None``."""
        return self._branches.get(branch_id)

    def format_money(self, minor: int) -> str:
        """Minor units as a customer reads them: ``£9.50``, ``¥950``, ``9.50 CHF``."""
        digits = _MINOR_UNIT_DIGITS.get(self.currency, 2)
        units, fraction = divmod(abs(minor), 10**digits)
        amount = f"{units}.{fraction:0{digits}d}" if digits else str(units)
        sign = "-" if minor < 0 else ""
        symbol = _SYMBOLS.get(self.currency)
        return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {self.currency}"

    def payment_title(self, method: str) -> str:
        """A payment method id as a button title: ``bank_transfer`` → ``Bank transfer``."""
        return method.replace("_", " ").capitalize()


class AppConfig(_Frozen):
    """Everything in ``config.yaml``: build it with :func:`parse_config`."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    whatsapp: WhatsAppConfig = Field(default_factory=WhatsAppConfig)
    restaurants: Annotated[tuple[Restaurant, ...], Field(min_length=1)]

    @cached_property
    def _by_id(self) -> dict[str, Restaurant]:
        return {restaurant.id: restaurant for restaurant in self.restaurants}

    @cached_property
    def _by_phone_number(self) -> dict[str, Restaurant]:
        return {restaurant.phone_number_id: restaurant for restaurant in self.restaurants}

    def restaurant(self, restaurant_id: str) -> Restaurant | None:
        """The restaurant with this id, or ``None``."""
        return self._by_id.get(restaurant_id)

    def restaurant_for_phone_number(self, phone_number_id: str) -> Restaurant | None:
        """The restaurant a webhook's ``metadata.phone_number_id`` belongs to, or ``None``."""
        return self._by_phone_number.get(phone_number_id)


def parse_config(text: str, source: str = "config.yaml") -> AppConfig:
    """Parse and validate the YAML text of a config file.

    Raises :class:`~fsm.errors.ConfigError` naming ``source`` and every problem
    found (YAML syntax, unknown or missing keys, bad values, duplicate ids).
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(source, [("", _yaml_problem(error))]) from None
    if not isinstance(document, dict):
        found = "an empty file" if document is None else type(document).__name__
        raise ConfigError(source, [("", f"expected a mapping of settings, got {found}")])

    problems = _convert_prices(document) + _duplicate_problems(document)
    try:
        config = AppConfig.model_validate(document)
    except ValidationError as error:
        # pydantic also calls a list too short when every entry in it failed: noise here
        details = [d for d in error.errors() if d["type"] != "too_short" or not d["input"]]
        problems = [_schema_problem(d) for d in details] + problems
    else:
        if not problems:
            return config
    raise ConfigError(source, problems)


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {error.problem}"
    return f"invalid YAML: {error}"


def _schema_problem(details: ErrorDetails) -> Problem:
    path = ""
    for key in details["loc"]:
        path += f"[{key}]" if isinstance(key, int) else f".{key}" if path else key
    kind, given = details["type"], details["input"]
    if kind == "string_type" and isinstance(given, int | float):
        return path, f"expected text, got {given!r}; put it in quotes"
    return path, _MESSAGES.get(kind, details["msg"])


def _entries(value: object, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each mapping in a YAML list, with its path; other shapes are the schema's to report."""
    if isinstance(value, list):
        for index, entry in enumerate(value):
            if isinstance(entry, dict):
                yield f"{path}[{index}]", entry


def _minor_units(value: object, currency: str) -> int:
    """A price as written in YAML ("9.50", "12" or 12) in minor units of ``currency``."""
    if isinstance(value, float):
        raise ValueError(f'got the number {value!r}; write prices in quotes, e.g. "{value!r}"')
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(_PRICE_EXPECTED)
    text = str(value).strip()
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise ValueError(_PRICE_EXPECTED)
    amount = Decimal(text)
    if amount < 0:
        raise ValueError("must not be negative")
    if amount > _MAX_PRICE:
        raise ValueError(f"must be at most {_MAX_PRICE}")
    digits = _MINOR_UNIT_DIGITS.get(currency, 2)
    if len(match["fraction"] or "") > digits:
        raise ValueError(f"{currency or 'the currency'} allows at most {digits} decimal places")
    return int(amount.scaleb(digits))


def _convert_prices(document: dict[str, Any]) -> list[Problem]:
    """Replace every price in ``document`` by minor units, in place; return what failed."""
    problems: list[Problem] = []
    for path, restaurant in _entries(document.get("restaurants"), "restaurants"):
        currency = restaurant.get("currency")
        priced: list[tuple[str, dict[str, Any], str]] = [(path, restaurant, "delivery_fee")]
        for category_path, category in _entries(restaurant.get("menu"), f"{path}.menu"):
            for item_path, item in _entries(category.get("items"), f"{category_path}.items"):
                priced.append((item_path, item, "price"))
                addons = _entries(item.get("addons"), f"{item_path}.addons")
                priced += [(addon_path, addon, "price") for addon_path, addon in addons]
        for owner_path, owner, key in priced:
            if key not in owner:
                continue
            try:
                owner[key] = _minor_units(owner[key], currency if isinstance(currency, str) else "")
            except ValueError as error:
                problems.append((f"{owner_path}.{key}", str(error)))
                owner[key] = 0  # reported once, here; the schema sees a valid placeholder
    return problems


class _FirstSeen:
    """Reports each repeat of a value, pointing back at where it first appeared."""

    def __init__(self, what: str, problems: list[Problem]) -> None:
        self._what = what
        self._problems = problems
        self._first: dict[str, str] = {}

    def check(self, value: object, path: str, owner: str | None = None) -> None:
        if not isinstance(value, str):
            return  # a missing or mistyped value is the schema's to report
        first = self._first.setdefault(value, owner or path)
        if first != (owner or path):
            self._problems.append((path, f"duplicate {self._what} {value!r} (first at {first})"))


def _duplicate_problems(document: dict[str, Any]) -> list[Problem]:
    """Repeated ids, and pickup offered without a branch to pick up from."""
    problems: list[Problem] = []
    restaurant_ids = _FirstSeen("id", problems)
    phone_numbers = _FirstSeen("phone_number_id", problems)
    for path, restaurant in _entries(document.get("restaurants"), "restaurants"):
        restaurant_ids.check(restaurant.get("id"), f"{path}.id", path)
        phone_numbers.check(restaurant.get("phone_number_id"), f"{path}.phone_number_id", path)
        for key, what in (("order_types", "order type"), ("payment_methods", "payment method")):
            values, seen = restaurant.get(key), _FirstSeen(what, problems)
            for index, value in enumerate(values if isinstance(values, list) else []):
                seen.check(value, f"{path}.{key}[{index}]")
        branch_ids = _FirstSeen("id", problems)
        for branch_path, branch in _entries(restaurant.get("branches"), f"{path}.branches"):
            branch_ids.check(branch.get("id"), f"{branch_path}.id", branch_path)
        category_ids, item_ids = _FirstSeen("id", problems), _FirstSeen("id", problems)
        for category_path, category in _entries(restaurant.get("menu"), f"{path}.menu"):
            category_ids.check(category.get("id"), f"{category_path}.id", category_path)
            for item_path, item in _entries(category.get("items"), f"{category_path}.items"):
                item_ids.check(item.get("id"), f"{item_path}.id", item_path)
                addon_ids = _FirstSeen("id", problems)
                for addon_path, addon in _entries(item.get("addons"), f"{item_path}.addons"):
                    addon_ids.check(addon.get("id"), f"{addon_path}.id", addon_path)
        order_types = restaurant.get("order_types")
        needs_branch = isinstance(order_types, list) and "pickup" in order_types
        if needs_branch and not restaurant.get("branches"):
            problems.append((f"{path}.branches", "pickup needs at least one branch"))
    return problems
