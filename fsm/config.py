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
from fsm.languages import SOURCE_LANGUAGE
from fsm.menu import TEXT_LIMITS, Addon, Branch, Category, Item, OrderType, Restaurant
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
    values and prices, pickup without a branch, repeated ids, a text given per
    language without one of the restaurant's ``languages`` (path ending in that
    language, ``restaurants[0].menu[0].items[1].name.ar``). The key path is
    ``""`` for a problem with the whole file.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(source, [("", _yaml_problem(error))]) from None
    if not isinstance(document, dict):
        found = "an empty file" if document is None else type(document).__name__
        raise ConfigError(source, [("", f"expected a mapping of settings, got {found}")])

    problems = _duplicate_problems(document) + _translation_problems(document)
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


def _translation_problems(document: dict[str, Any]) -> list[Problem]:
    """Every text given per language that misses one of its restaurant's languages, names
    one it does not declare, or is not text within the field's limit.

    Walked over the raw document, like the duplicates, so that the path can name the
    language itself (``…items[1].name.ar``).
    """
    problems: list[Problem] = []
    for path, restaurant in _entries(document.get("restaurants"), "restaurants"):
        declared = restaurant.get("languages", [SOURCE_LANGUAGE])
        if not isinstance(declared, list) or not all(isinstance(x, str) for x in declared):
            continue  # the schema reports it
        seen = _FirstSeen("language", problems)
        for index, language in enumerate(declared):
            seen.check(language, f"{path}.languages[{index}]")
        for text_path, key, texts in _translated_texts(restaurant, path):
            for language in declared:
                if language not in texts:
                    problems.append((f"{text_path}.{language}",
                                     f"missing: {path}.languages has {language}"))
            for language, text in texts.items():
                if language not in declared:
                    problems.append((f"{text_path}.{language}",
                                     f"{language} is not one of {path}.languages"))
                elif not isinstance(text, str) or not text.strip():
                    problems.append((f"{text_path}.{language}", "expected non-empty text"))
                elif len(text.strip()) > TEXT_LIMITS[key]:
                    problems.append((f"{text_path}.{language}",
                                     f"at most {TEXT_LIMITS[key]} characters"))
    return problems


def _translated_texts(restaurant: dict[str, Any],
                      path: str) -> Iterator[tuple[str, str, dict[Any, Any]]]:
    """``(path, field, {language: text})`` for each text of ``restaurant`` given per language."""
    def texts(entry: dict[str, Any], entry_path: str,
              keys: tuple[str, ...]) -> Iterator[tuple[str, str, dict[Any, Any]]]:
        for key in keys:
            value = entry.get(key)
            if isinstance(value, dict):
                yield f"{entry_path}.{key}", key, value

    yield from texts(restaurant, path, Restaurant.TEXTS)
    for branch_path, branch in _entries(restaurant.get("branches"), f"{path}.branches"):
        yield from texts(branch, branch_path, Branch.TEXTS)
    for category_path, category in _entries(restaurant.get("menu"), f"{path}.menu"):
        yield from texts(category, category_path, Category.TEXTS)
        for item_path, item in _entries(category.get("items"), f"{category_path}.items"):
            yield from texts(item, item_path, Item.TEXTS)
            for addon_path, addon in _entries(item.get("addons"), f"{item_path}.addons"):
                yield from texts(addon, addon_path, Addon.TEXTS)
