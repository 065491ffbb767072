"""The restaurants and their menus, as read from ``config.yaml``.

A :class:`Restaurant` has pickup :class:`Branch` es and a menu of :class:`Category`
lists of :class:`Item` s, each with optional :class:`Addon` s. Every model is frozen
and rejects unknown keys. Prices are written as decimal strings in major units
(``"9.50"``) and held as integer minor units of the restaurant's currency (``950``);
see :mod:`fsm.money`. A model built by validating the file's shape, e.g.
``Restaurant.model_validate(mapping)``, raises :class:`pydantic.ValidationError`;
:func:`fsm.config.parse_config` turns that into a :class:`~fsm.errors.ConfigError`.

Ids that must be unique across entries (items across categories, restaurants
across the file) are checked by :func:`fsm.config.parse_config`, not here.
"""

from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fsm.frozen import Frozen
from fsm.hours import TimeZoneName, WeeklyHours, local_time
from fsm.languages import LANGUAGES, SOURCE_LANGUAGE
from fsm.menu_fields import (
    TEXT_LIMITS,
    CurrencyCode,
    Description,
    Identifier,
    Language,
    Latitude,
    Longitude,
    OrderType,
    PhoneNumberId,
    Price,
    Title,
    polygon,
    prices_in,
)
from fsm.money import format_money
from fsm.translated import Translated, default_language

__all__ = ["TEXT_LIMITS", "Addon", "Branch", "Category", "Item", "MinimumOrder", "OrderType",
           "Restaurant"]
from fsm.zones import distance_km, in_polygon


class Branch(Translated):
    """A place where pickup orders are collected: ``id``, ``name`` and an optional ``address``.

    Its delivery zone (optional, see :mod:`fsm.zones`): ``delivery_radius_km`` around
    its ``latitude``/``longitude``, and/or ``delivery_area``, a polygon of at least 3
    ``[latitude, longitude]`` corners.
    """

    TEXTS: ClassVar[tuple[str, ...]] = ("name", "address")
    id: Identifier
    name: Title
    address: Description | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    delivery_radius_km: Annotated[float, Field(gt=0, le=1000)] | None = None
    delivery_area: Annotated[tuple[tuple[Latitude, Longitude], ...],
                             AfterValidator(polygon)] | None = None
    # When this branch hands out pickup orders, in the restaurant's time zone (see
    # fsm.hours); the restaurant's own hours apply too. Always, if absent.
    hours: WeeklyHours | None = None

    @model_validator(mode="after")
    def _radius_has_a_centre(self) -> Self:
        if self.delivery_radius_km is not None and (self.latitude is None
                                                    or self.longitude is None):
            raise PydanticCustomError("radius_without_centre",
                                      "delivery_radius_km needs the branch's latitude and "
                                      "longitude")
        return self

    @property
    def has_zone(self) -> bool:
        return self.delivery_radius_km is not None or self.delivery_area is not None

    def delivers_to(self, latitude: float, longitude: float) -> bool:
        """Whether the point is in this branch's delivery zone (``False`` if it has none)."""
        if (self.delivery_radius_km is not None and self.latitude is not None
                and self.longitude is not None
                and distance_km(self.latitude, self.longitude, latitude, longitude)
                <= self.delivery_radius_km):
            return True
        return self.delivery_area is not None and in_polygon(latitude, longitude,
                                                             self.delivery_area)


class MinimumOrder(Frozen):
    """The smallest cart subtotal (minor units, before the delivery fee) each order type
    accepts; ``0``, the default, is no minimum."""

    delivery: Price = 0
    pickup: Price = 0

    def for_order_type(self, order_type: str | None) -> int:
        return {"delivery": self.delivery, "pickup": self.pickup}.get(order_type or "", 0)


class Addon(Translated):
    """An optional extra for one item, such as burrata on a calzone; ``price`` in minor units."""

    TEXTS: ClassVar[tuple[str, ...]] = ("name",)

    id: Identifier
    name: Title
    price: Price


class Item(Translated):
    """Something a customer can order; ``price`` is in minor units, without add-ons."""

    TEXTS: ClassVar[tuple[str, ...]] = ("name", "description")

    id: Identifier
    name: Title
    price: Price
    description: Description | None = None
    addons: tuple[Addon, ...] = ()

    def addon(self, addon_id: str) -> Addon | None:
        """The add-on with this id, or ``None``."""
        return next((addon for addon in self.addons if addon.id == addon_id), None)


class Category(Translated):
    """A section of the menu, shown as one list: at least one item."""

    TEXTS: ClassVar[tuple[str, ...]] = ("title", "description")

    id: Identifier
    title: Title
    description: Description | None = None
    items: Annotated[tuple[Item, ...], Field(min_length=1)]


class Restaurant(Translated):
    """One restaurant, reached on its own WhatsApp ``phone_number_id``.

    ``currency`` is a 3-letter code; ``delivery_fee`` and every price in ``menu``
    are integer minor units of it. ``order_types`` and ``payment_methods`` are
    non-empty; offering pickup requires at least one branch. ``minimum_order`` is the
    smallest subtotal each order type takes (none by default); ``hours`` in ``timezone``
    when it takes orders (always by default; see :mod:`fsm.hours`). ``languages`` are the
    languages it speaks to customers, the first the default (``[en]`` if not given);
    names, titles and descriptions may be given per language (see :class:`Translated`).
    """

    TEXTS: ClassVar[tuple[str, ...]] = ("name", "away_message")
    id: Identifier
    languages: Annotated[tuple[Language, ...], Field(min_length=1)] = (SOURCE_LANGUAGE,)
    name: Title
    phone_number_id: PhoneNumberId
    currency: CurrencyCode
    order_types: Annotated[tuple[OrderType, ...], Field(min_length=1)]
    payment_methods: Annotated[tuple[Identifier, ...], Field(min_length=1)]
    delivery_fee: Price = 0
    # The smallest subtotal each order type takes: {delivery: "15.00", pickup: "0"}.
    minimum_order: MinimumOrder = Field(default_factory=MinimumOrder)
    # When orders are taken, in ``timezone`` (see fsm.hours); always, if ``hours`` is absent.
    timezone: TimeZoneName = "UTC"
    hours: WeeklyHours | None = None
    # Whether a typed delivery address is accepted; false: a location pin only (which can be
    # checked against the branches' delivery zones).
    typed_addresses: bool = True
    branches: Annotated[tuple[Branch, ...], Field(validate_default=True)] = ()
    menu: Annotated[tuple[Category, ...], Field(min_length=1)]
    # Sent once per conversation while staff have the bot switched off.
    away_message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=1000)] = (
        "Sorry, we're not taking orders on WhatsApp right now. Please try again later.")

    @model_validator(mode="wrap")
    @classmethod
    def _prices_in_its_currency(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Read every price inside in this restaurant's currency, as written in the file.

        The raw value is used so that prices are still checked when the currency
        itself is rejected; one that cannot be read counts as 2 decimal places.
        """
        languages = data.get("languages") if isinstance(data, dict) else None
        default = (languages[0] if isinstance(languages, list) and languages
                   and isinstance(languages[0], str) else SOURCE_LANGUAGE)
        token = default_language.set(default)
        try:
            with prices_in(data.get("currency") if isinstance(data, dict) else None):
                return handler(data)
        finally:
            default_language.reset(token)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [language for language in languages if language not in LANGUAGES]
        if unknown:
            raise PydanticCustomError(
                "language", "unsupported language {unknown} (supported: {supported})",
                {"unknown": ", ".join(unknown), "supported": ", ".join(LANGUAGES)})
        return languages

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def in_language(self, language: str) -> Self:
        """This restaurant with every name, title and description in ``language``, as a
        customer speaking it sees it (the default language's text where none is given,
        which :func:`fsm.config.parse_config` allows only for text given once for all).
        Built once per language."""
        if len(self.languages) == 1:
            return self
        if language not in self.languages:
            language = self.default_language
        cached = self._languages_shown.get(language)
        if cached is None:
            def item(it: Item) -> Item:
                return it.model_copy(update=it._in(language, addons=tuple(
                    addon.model_copy(update=addon._in(language)) for addon in it.addons)))

            menu = tuple(category.model_copy(update=category._in(
                language, items=tuple(item(it) for it in category.items)))
                for category in self.menu)
            branches = tuple(branch.model_copy(update=branch._in(language))
                             for branch in self.branches)
            fields = {name: getattr(self, name) for name in type(self).model_fields}
            cached = type(self).model_construct(**{
                **fields, **self._in(language, menu=menu, branches=branches)})
            self._languages_shown[language] = cached
        return cached

    @cached_property
    def _languages_shown(self) -> dict[str, Self]:
        return {}

    @field_validator("branches")
    @classmethod
    def _pickup_has_a_branch(
        cls, branches: tuple[Branch, ...], info: ValidationInfo
    ) -> tuple[Branch, ...]:
        if "pickup" in info.data.get("order_types", ()) and not branches:
            raise PydanticCustomError("pickup_without_branch", "pickup needs at least one branch")
        return branches

    @cached_property
    def _categories(self) -> dict[str, Category]:
        return {category.id: category for category in self.menu}

    @cached_property
    def _items(self) -> dict[str, tuple[Category, Item]]:
        return {item.id: (category, item) for category in self.menu for item in category.items}

    @cached_property
    def _branches(self) -> dict[str, Branch]:
        return {branch.id: branch for branch in self.branches}

    def without(self, sold_out: frozenset[str]) -> Self:
        """This restaurant with the items in ``sold_out`` off its menu, as customers see it.

        A category left with no item goes too; if nothing at all is left the
        menu stays as it is (each item then answers that it is sold out).
        Built once per set of sold-out items.
        """
        if not sold_out or sold_out.isdisjoint(self._items):
            return self
        cached = self._sold_out_menus.get(sold_out)
        if cached is None:
            menu = tuple(
                category.model_copy(update={"items": items})
                for category in self.menu
                if (items := tuple(item for item in category.items if item.id not in sold_out)))
            # model_construct, not model_copy: a copy would keep this one's cached lookups.
            fields = {name: getattr(self, name) for name in type(self).model_fields}
            cached = type(self).model_construct(**{**fields, "menu": menu}) if menu else self
            self._sold_out_menus[sold_out] = cached
        return cached

    @cached_property
    def _sold_out_menus(self) -> dict[frozenset[str], Self]:
        return {}

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

    def missing_for_minimum(self, order_type: str | None, subtotal: int) -> int:
        """How much (minor units) ``subtotal`` lacks to reach the minimum order of
        ``order_type``; ``0`` when it reaches it or there is none."""
        return max(0, self.minimum_order.for_order_type(order_type) - subtotal)

    def delivers_to(self, latitude: float, longitude: float) -> bool:
        """Whether a pin is in some branch's delivery zone; anywhere if no branch has one."""
        zoned = [branch for branch in self.branches if branch.has_zone]
        return not zoned or any(branch.delivers_to(latitude, longitude) for branch in zoned)

    def is_open(self, timestamp: float) -> bool:
        """Whether the restaurant takes orders at ``timestamp`` (Unix seconds)."""
        return self.hours is None or self.hours.is_open(local_time(timestamp, self.timezone))

    def branch_open(self, branch_id: str | None, timestamp: float) -> bool:
        """Whether the pickup branch hands out orders at ``timestamp`` (its own ``hours``;
        a branch without them, or no branch, always does)."""
        branch = self.branch(branch_id) if branch_id else None
        return branch is None or branch.hours is None or branch.hours.is_open(
            local_time(timestamp, self.timezone))

    def branch_next_opening(self, branch_id: str, timestamp: float) -> datetime | None:
        """When the branch next opens after ``timestamp``, in the restaurant's time zone."""
        branch = self.branch(branch_id)
        if branch is None or branch.hours is None:
            return None
        return branch.hours.next_opening(local_time(timestamp, self.timezone))

    def next_opening(self, timestamp: float) -> datetime | None:
        """When it next opens after ``timestamp``, in its time zone; ``None`` if it never does
        (or has no ``hours``, and so never closes)."""
        if self.hours is None:
            return None
        return self.hours.next_opening(local_time(timestamp, self.timezone))

    def format_money(self, minor: int) -> str:
        """Minor units as a customer reads them: ``£9.50``, ``¥950``, ``9.50 CHF``."""
        return format_money(minor, self.currency)

    def payment_title(self, method: str) -> str:
        """A payment method id as a button title: ``bank_transfer`` → ``Bank transfer``."""
        return method.replace("_", " ").capitalize()
