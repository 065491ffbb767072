"""The conversation's states as a named group, as aiogram's ``StatesGroup`` is.

A state is stored as its name (a plain ``str``) in every snapshot, so the
names here are stable API: renaming one needs a migration
(:mod:`fsm.migrations`). ``"x" in States`` tells whether a name is one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Final


class _Group(type):
    def __contains__(cls, name: object) -> bool:
        return name in cls.__states__  # type: ignore[attr-defined]

    def __iter__(cls) -> Iterator[str]:
        return iter(cls.__states__)  # type: ignore[attr-defined]


class States(metaclass=_Group):
    """Every state of the ordering conversation, and the groups the handlers use."""

    CHOOSING_ORDER_TYPE: Final = "choosing_order_type"
    CHOOSING_BRANCH: Final = "choosing_branch"
    CHOOSING_CATEGORY: Final = "choosing_category"
    BROWSING_ITEMS: Final = "browsing_items"
    CHOOSING_ADDONS: Final = "choosing_addons"
    REVIEWING_CART: Final = "reviewing_cart"
    CHECKOUT_ADDRESS: Final = "checkout_address"
    CHECKOUT_PAYMENT: Final = "checkout_payment"
    CHECKOUT_CONFIRMATION: Final = "checkout_confirmation"

    # Filling the cart, and the checkout steps after it.
    ORDERING: Final = (CHOOSING_CATEGORY, BROWSING_ITEMS, CHOOSING_ADDONS, REVIEWING_CART)
    CHECKOUT: Final = (CHECKOUT_ADDRESS, CHECKOUT_PAYMENT, CHECKOUT_CONFIRMATION)

    __states__: ClassVar[tuple[str, ...]] = (
        CHOOSING_ORDER_TYPE, CHOOSING_BRANCH, *ORDERING, *CHECKOUT)
