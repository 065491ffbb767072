"""The cart: lines of items with add-ons, in integer minor units.

A line records the name and unit price at the moment it was added, so a
cart restored after a deploy that changed the menu still adds up to what
the customer was shown.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from fsm.config import Addon, Item, Restaurant
from fsm.errors import CartFull

MAX_LINES: Final = 30
MAX_QUANTITY: Final = 99
NOTE_MAX: Final = 200  # characters of a note on a line or on the whole order


@dataclass(frozen=True, slots=True)
class CartLine:
    """``quantity`` (1 to ``MAX_QUANTITY``) of one item with its add-ons.

    ``name``, ``addon_names`` and ``unit_price`` (item plus add-ons, integer
    minor units) are copied from the menu when the line is added. ``note`` is
    the customer's (``"no onions"``), at most ``NOTE_MAX`` characters.
    """

    item_id: str
    name: str
    addon_ids: tuple[str, ...]
    addon_names: tuple[str, ...]
    unit_price: int
    quantity: int
    note: str | None = None

    @property
    def key(self) -> str:
        """Stable identity of the line: the item and its sorted add-ons."""
        return "+".join((self.item_id, *sorted(self.addon_ids)))

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def title(self) -> str:
        if not self.addon_names:
            return self.name
        return f"{self.name} + {', '.join(self.addon_names)}"

    def to_plain(self) -> list[Any]:
        plain = [self.item_id, self.name, list(self.addon_ids), list(self.addon_names),
                 self.unit_price, self.quantity]
        # A note is a seventh field only when there is one: lines without stay readable
        # by builds from before notes.
        return plain if self.note is None else [*plain, self.note]

    @classmethod
    def from_plain(cls, plain: Sequence[Any]) -> CartLine:
        item_id, name, addon_ids, addon_names, unit_price, quantity, *rest = plain
        if len(rest) > 1 or (rest and not isinstance(rest[0], str | None)):
            raise ValueError(f"cart line has an unknown field: {plain!r}")
        line = cls(str(item_id), str(name), tuple(map(str, addon_ids)),
                   tuple(map(str, addon_names)), int(unit_price), int(quantity),
                   rest[0] if rest else None)
        if (line.unit_price < 0 or not 1 <= line.quantity <= MAX_QUANTITY
                or len(line.note or "") > NOTE_MAX):
            raise ValueError(f"cart line out of range: {plain!r}")
        return line


@dataclass(frozen=True, slots=True)
class CartChange:
    """What :meth:`Cart.reconcile` changed in one line to match the menu.

    ``kind``: ``"removed"`` (the item left the menu), ``"sold_out"``,
    ``"addons_removed"`` (``addons`` names the add-ons dropped; the line stays,
    priced as ``after``) or ``"price"`` (``after`` holds the new unit price).
    ``before`` is the line as it was.
    """

    kind: Literal["removed", "sold_out", "addons_removed", "price"]
    before: CartLine
    after: CartLine | None = None
    addons: tuple[str, ...] = ()


@dataclass(slots=True)
class Cart:
    """The lines of an order being put together, in the order they were added.

    At most ``MAX_LINES`` distinct lines (:meth:`add` raises
    :class:`~fsm.errors.CartFull` past it); the same item with the same
    add-ons merges into one line. Amounts (``subtotal``, :meth:`total`) are
    integer minor units of the restaurant's currency.
    """

    lines: list[CartLine] = field(default_factory=list)

    def __iter__(self) -> Iterator[CartLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> int:
        return sum(line.total for line in self.lines)

    def total(self, delivery_fee: int = 0) -> int:
        """The subtotal plus ``delivery_fee`` (minor units), which an empty cart does not pay."""
        return self.subtotal + (delivery_fee if self.lines else 0)

    def line(self, key: str) -> CartLine | None:
        return next((line for line in self.lines if line.key == key), None)

    def add(self, item: Item, addons: Sequence[Addon] = (), quantity: int = 1) -> CartLine:
        """Add ``quantity`` of ``item`` with ``addons``; same item and add-ons merge."""
        unique_addons = list({addon.id: addon for addon in addons}.values())
        new = CartLine(
            item_id=item.id,
            name=item.name,
            addon_ids=tuple(addon.id for addon in unique_addons),
            addon_names=tuple(addon.name for addon in unique_addons),
            unit_price=item.price + sum(addon.price for addon in unique_addons),
            quantity=quantity,
        )
        existing = self.line(new.key)
        if existing is not None:
            return self.set_quantity(new.key, existing.quantity + quantity) or existing
        if len(self.lines) >= MAX_LINES:
            raise CartFull(MAX_LINES)
        new = replace(new, quantity=min(quantity, MAX_QUANTITY))
        self.lines.append(new)
        return new

    def set_quantity(self, key: str, quantity: int) -> CartLine | None:
        """Set a line's quantity (capped at MAX_QUANTITY); 0 or less removes it."""
        for index, line in enumerate(self.lines):
            if line.key == key:
                if quantity <= 0:
                    del self.lines[index]
                    return None
                self.lines[index] = replace(line, quantity=min(quantity, MAX_QUANTITY))
                return self.lines[index]
        return None

    def set_note(self, key: str, note: str | None) -> CartLine | None:
        """Put ``note`` (``None``: none) on the line ``key``; the line, or ``None`` if gone."""
        for index, line in enumerate(self.lines):
            if line.key == key:
                self.lines[index] = replace(line, note=note)
                return self.lines[index]
        return None

    def remove(self, key: str) -> bool:
        before = len(self.lines)
        self.lines = [line for line in self.lines if line.key != key]
        return len(self.lines) != before

    def clear(self) -> None:
        self.lines.clear()

    def reconcile(self, restaurant: Restaurant,
                  sold_out: frozenset[str] = frozenset()) -> list[CartChange]:
        """Make every line what ``restaurant``'s menu sells now; return what changed.

        A line whose item left the menu or is in ``sold_out`` goes; an add-on
        the item no longer offers is dropped from its line; names and unit
        prices are taken from the menu. Lines that become the same merge (up
        to ``MAX_QUANTITY``). After this, every line's item, add-ons and price
        are the menu's. A rename alone is applied without a change reported.
        """
        changes: list[CartChange] = []
        kept: list[CartLine] = []
        for line in self.lines:
            item = restaurant.item(line.item_id)
            if item is None or item.id in sold_out:
                changes.append(CartChange("removed" if item is None else "sold_out", line))
                continue
            addons = [addon for addon_id in line.addon_ids
                      if (addon := item.addon(addon_id)) is not None]
            gone = tuple(name for addon_id, name in zip(line.addon_ids, line.addon_names,
                                                        strict=False)
                         if item.addon(addon_id) is None)
            now = CartLine(item.id, item.name, tuple(addon.id for addon in addons),
                           tuple(addon.name for addon in addons),
                           item.price + sum(addon.price for addon in addons), line.quantity,
                           line.note)
            if gone:
                changes.append(CartChange("addons_removed", line, now, gone))
            elif now.unit_price != line.unit_price:
                changes.append(CartChange("price", line, now))
            same = next((index for index, other in enumerate(kept) if other.key == now.key),
                        None)
            if same is None:
                kept.append(now)
            else:
                kept[same] = replace(kept[same], quantity=min(
                    kept[same].quantity + now.quantity, MAX_QUANTITY),
                    note=kept[same].note or now.note)
        self.lines = kept
        return changes

    def to_plain(self) -> list[list[Any]]:
        return [line.to_plain() for line in self.lines]

    @classmethod
    def from_plain(cls, plain: Sequence[Any]) -> Cart:
        return cls([CartLine.from_plain(line) for line in plain])

    def describe(self) -> Mapping[str, Any]:
        """The cart as plain data for records (abandoned drafts, orders)."""
        return {"lines": [_described(line) for line in self.lines], "subtotal": self.subtotal}

    @classmethod
    def from_order_lines(cls, lines: Sequence[Mapping[str, Any]]) -> Cart:
        """A cart holding the lines of a past order (as :meth:`describe` wrote them).

        Names and prices are the order's: :meth:`reconcile` makes them the
        menu's. Lines that cannot be read are skipped.
        """
        cart = cls()
        for plain in lines:
            try:
                addon_ids = tuple(map(str, plain.get("addons") or ()))
                names = tuple(map(str, plain.get("addon_names") or addon_ids))
                note = plain.get("note")
                line = CartLine(str(plain["item_id"]), str(plain["name"]), addon_ids,
                                names if len(names) == len(addon_ids) else addon_ids,
                                int(plain["unit_price"]),
                                max(1, min(int(plain["quantity"]), MAX_QUANTITY)),
                                note[:NOTE_MAX] if isinstance(note, str) else None)
            except (KeyError, TypeError, ValueError):
                continue
            if len(cart.lines) < MAX_LINES and cart.line(line.key) is None:
                cart.lines.append(line)
        return cart


def _described(line: CartLine) -> dict[str, Any]:
    described: dict[str, Any] = {
        "item_id": line.item_id, "name": line.name, "addons": list(line.addon_ids),
        "addon_names": list(line.addon_names), "unit_price": line.unit_price,
        "quantity": line.quantity}
    if line.note is not None:
        described["note"] = line.note
    return described

