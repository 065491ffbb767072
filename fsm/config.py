"""The bot's configuration: ``config.yaml`` parsed into frozen, typed objects.

:func:`parse_config` is the one way in. It turns YAML text into an :class:`AppConfig`
or raises :class:`~fsm.errors.ConfigError` listing every problem with its key path,
such as ``restaurants[0].menu[2].items[1].price``. Prices are decimal strings in the
file and integer minor units (pence, cents) in every model.

The models live by idea: the menus in :mod:`fsm.menu`, the deployment settings in
:mod:`fsm.settings`, money in :mod:`fsm.money`. Their names are re-exported here.
"""

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Any, Final

import yaml
from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails

from fsm.errors import ConfigError
from fsm.frozen import Frozen
from fsm.menu import Addon, Branch, Category, Item, OrderType, Restaurant
from fsm.settings import ServerConfig, SessionConfig, StorageConfig, WhatsAppConfig

__all__ = [
    "Addon",
    "AppConfig",
    "Branch",
    "Category",
    "Item",
    "OrderType",
    "Problem",
    "Restaurant",
    "ServerConfig",
    "SessionConfig",
    "StorageConfig",
    "WhatsAppConfig",
    "parse_config",
]

Problem = tuple[str, str]  # (key path such as "restaurants[0].id", message)

# Plainer words for the pydantic errors a YAML author meets most.
_MESSAGES: Final = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "model_type": "expected a mapping of keys",
    "tuple_type": "expected a list",
}


class AppConfig(Frozen):
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
    """Parse and validate the YAML text of a config file into an :class:`AppConfig`.

    Raises :class:`~fsm.errors.ConfigError` naming ``source``; its ``problems`` lists
    every problem found at once as ``(key path, message)`` pairs, such as
    ``("restaurants[0].menu[2].items[1].price", 'expected a decimal string such as "9.50"')``:
    YAML syntax, a document that is not a mapping, unknown or missing keys, bad
    values and prices, pickup without a branch, repeated ids. The key path is
    ``""`` for a problem with the whole file.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(source, [("", _yaml_problem(error))]) from None
    if not isinstance(document, dict):
        found = "an empty file" if document is None else type(document).__name__
        raise ConfigError(source, [("", f"expected a mapping of settings, got {found}")])

    problems = _duplicate_problems(document)
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
    """Every repeated id, phone number id, order type and payment method in ``document``.

    A walk over the raw document rather than pydantic validators, for two reasons:
    a repeat is reported even next to entries the schema rejects (a validator on a
    list runs only once every entry in it is valid), and each message names where
    the value first appeared by its full key path, which a validator does not know.
    """
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
    return problems
