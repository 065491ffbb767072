"""The session: everything the bot remembers about one conversation.

A session is plain data.  It is persisted as a snapshot (a dict of
primitives, see :meth:`Session.to_snapshot`) and restored with
:meth:`Session.from_snapshot`, which applies the declared migrations and
sets the state directly — restoring never fires machine callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from fsm.cart import MAX_QUANTITY, Cart
from fsm.errors import SnapshotError
from fsm.machine import ORDER_FLOW
from fsm.migrations import SCHEMA_VERSION, migrate_snapshot

DELIVERY: Final = "delivery"
PICKUP: Final = "pickup"


@dataclass(frozen=True, slots=True)
class Address:
    """A delivery address: typed text, a shared location pin, or both."""

    text: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    def describe(self) -> str:
        if self.latitude is not None and self.longitude is not None:
            pin = f"📍 {self.latitude:.5f}, {self.longitude:.5f}"
            return f"{self.text} ({pin})" if self.text else pin
        return self.text or ""

    def to_plain(self) -> list[Any]:
        return [self.text, self.latitude, self.longitude]

    @classmethod
    def from_plain(cls, plain: Any) -> Address | None:
        if plain is None:
            return None
        text, latitude, longitude = plain
        return cls(None if text is None else str(text),
                   None if latitude is None else float(latitude),
                   None if longitude is None else float(longitude))


@dataclass(slots=True)
class PendingItem:
    """The item whose add-ons are being chosen."""

    item_id: str
    addon_ids: list[str] = field(default_factory=list)
    quantity: int = 1
    # What the customer asked for while the add-ons were still open (an option id and
    # its quantity): done once they say whether this item goes in the cart first.
    then: str | None = None
    then_quantity: int = 1

    def to_plain(self) -> list[Any]:
        plain: list[Any] = [self.item_id, list(self.addon_ids), self.quantity]
        if self.then is not None:
            plain += [self.then, self.then_quantity]
        return plain


@dataclass(slots=True)
class Session:
    """One customer's conversation with one restaurant: the step, the cart, the choices.

    - ``state``: a name from :class:`fsm.states.States`, moved only by the
      machine's triggers (or :meth:`start_over`).
    - ``cart``: the :class:`~fsm.cart.Cart`, prices in integer minor units.
    - ``order_type`` (``"delivery"`` / ``"pickup"``), ``branch_id``, ``address``
      and ``payment_method``: the current order's choices, ``None`` until made.
    - ``welcomed``: the greeting was sent once.
    - ``last_activity``: Unix seconds of the last message handled (0: never);
      the session TTL counts from it.
    - ``category_id`` / ``page``: the list being browsed and its page (0-based).
    - ``pending``: the item whose add-ons are being chosen.
    - ``asking``: a side question put before the step's own (``"greeting"``,
      ``"switch:delivery"``, ``"finish"``, ``"line:<key>"``, ``"note:<key>"``,
      ``"note:order"``, ``"reorder:<reference>"``); ``None`` when only the step asks.
    - ``order_note``: the customer's note for the whole order (allergies…).
    - ``language``: the language the customer chose (``"ar"``); ``None`` until they
      choose, which means the restaurant's default. Kept across orders.

    Persisted with :meth:`to_snapshot` after every message and restored with
    :meth:`from_snapshot`, which raises :class:`~fsm.errors.SnapshotError` for
    a snapshot it cannot understand.
    """

    state: str = ORDER_FLOW.initial
    cart: Cart = field(default_factory=Cart)
    order_type: str | None = None
    branch_id: str | None = None
    address: Address | None = None
    payment_method: str | None = None
    welcomed: bool = False
    last_activity: float = 0.0
    category_id: str | None = None
    page: int = 0
    pending: PendingItem | None = None
    asking: str | None = None
    order_note: str | None = None
    language: str | None = None

    # Guards named in fsm.machine; the machine reads them from the session.
    @property
    def cart_not_empty(self) -> bool:
        return not self.cart.is_empty

    @property
    def is_delivery(self) -> bool:
        return self.order_type == DELIVERY

    @property
    def is_pickup(self) -> bool:
        return self.order_type == PICKUP

    @property
    def has_address(self) -> bool:
        return self.address is not None

    def start_over(self) -> None:
        """Back to the first step with an empty cart, without firing any callback.

        Used where the conversation is restarted from outside the flow (expiry,
        an unreadable snapshot); the customer stays welcomed.
        """
        self.state = ORDER_FLOW.initial
        self.clear_order()

    def clear_order(self) -> None:
        """Forget the cart and every choice made for the current order."""
        self.cart = Cart()
        self.order_type = None
        self.branch_id = None
        self.address = None
        self.payment_method = None
        self.category_id = None
        self.page = 0
        self.pending = None
        self.asking = None
        self.order_note = None

    def to_snapshot(self) -> dict[str, Any]:
        """The session as msgpack-able primitives, tagged with ``SCHEMA_VERSION`` as ``"v"``."""
        return {
            "v": SCHEMA_VERSION,
            "state": self.state,
            "cart": self.cart.to_plain(),
            "order_type": self.order_type,
            "branch": self.branch_id,
            "address": None if self.address is None else self.address.to_plain(),
            "payment": self.payment_method,
            "welcomed": self.welcomed,
            "last_activity": self.last_activity,
            "category": self.category_id,
            "page": self.page,
            "pending": None if self.pending is None else self.pending.to_plain(),
            "asking": self.asking,
            "note": self.order_note,
            "lang": self.language,
        }

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> Session:
        """Restore a session; :class:`SnapshotError` if it cannot be understood."""
        try:
            data = migrate_snapshot(snapshot)
            state = data.get("state")
            if state not in ORDER_FLOW.state_names:
                raise SnapshotError(f"unknown state {state!r}")
            pending = data.get("pending")
            return cls(
                state=state,
                cart=Cart.from_plain(data.get("cart") or []),
                order_type=_optional_str(data.get("order_type")),
                branch_id=_optional_str(data.get("branch")),
                address=Address.from_plain(data.get("address")),
                payment_method=_optional_str(data.get("payment")),
                welcomed=bool(data.get("welcomed", False)),
                last_activity=float(data.get("last_activity") or 0.0),
                category_id=_optional_str(data.get("category")),
                page=int(data.get("page") or 0),
                pending=None if pending is None else _pending_item(pending),
                asking=_optional_str(data.get("asking")),
                order_note=_optional_str(data.get("note")),
                language=_optional_str(data.get("lang")),
            )
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
            # Whatever a stored snapshot holds, an unreadable one is quarantined (G6).
            raise SnapshotError(f"malformed snapshot: {exc!r}") from exc


def _pending_item(plain: Sequence[Any]) -> PendingItem:
    # [item, add-ons] before quantities were understood; [item, add-ons, quantity] now,
    # then [what was asked for meanwhile, its quantity] while that waits.
    quantity = int(plain[2]) if len(plain) > 2 else 1
    then_quantity = int(plain[4]) if len(plain) > 4 else 1
    if not 1 <= quantity <= MAX_QUANTITY or not 1 <= then_quantity <= MAX_QUANTITY:
        raise ValueError(f"pending quantity out of range: {plain!r}")
    then = _optional_str(plain[3]) if len(plain) > 3 else None
    return PendingItem(str(plain[0]), [str(addon) for addon in plain[1]], quantity,
                       then, then_quantity)


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value
