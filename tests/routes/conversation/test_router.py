"""Router resolution: own handlers first, then children in include order; states and filters."""

from __future__ import annotations

import pytest

from fsm.config import Restaurant
from fsm.machine import ConversationMachine
from fsm.session import Session
from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import ChoiceId, Command, any_message
from routes.conversation.messages import Inbound
from routes.conversation.router import Handler, Router
from storage.base import SessionKey

MACHINE = ConversationMachine()


async def no_reference(restaurant_id: str) -> str:
    raise AssertionError("not used")


def context(restaurant: Restaurant, inbound: Inbound,
            state: str = States.CHOOSING_CATEGORY) -> Context:
    return Context(key=SessionKey(restaurant.id, "447700900123"), restaurant=restaurant,
                   session=Session(state=state), inbound=inbound, machine=MACHINE,
                   now=0.0, new_reference=no_reference)


def named(name: str) -> Handler:
    async def handler(ctx: Context) -> None:
        pass
    handler.__name__ = name
    return handler


def resolved(router: Router, ctx: Context) -> str | None:
    found = router.resolve(ctx)
    return None if found is None else found.callback.__name__


def test_the_first_matching_handler_wins(luigis: Restaurant) -> None:
    router = Router("root")
    router.message(ChoiceId("item:"))(named("items"))
    router.message(ChoiceId("item:margherita"))(named("margherita"))
    router.message(any_message)(named("anything"))
    assert resolved(router, context(luigis, Inbound.tapped("item:margherita"))) == "items"
    assert resolved(router, context(luigis, Inbound.tapped("category:pizza"))) == "anything"


def test_every_filter_of_a_handler_must_pass(luigis: Restaurant) -> None:
    router = Router("root")
    router.message(ChoiceId("item:"), ChoiceId("item:m"))(named("m_items"))
    assert resolved(router, context(luigis, Inbound.tapped("item:margherita"))) == "m_items"
    assert resolved(router, context(luigis, Inbound.tapped("item:calzone"))) is None


def test_state_filters_one_state_several_or_any(luigis: Restaurant) -> None:
    router = Router("root")
    router.message(any_message, state=States.CHOOSING_ADDONS)(named("addons"))
    router.message(any_message, state=States.CHECKOUT)(named("checkout"))
    router.message(any_message)(named("anywhere"))
    tap = Inbound.tapped("action:x")
    assert resolved(router, context(luigis, tap, States.CHOOSING_ADDONS)) == "addons"
    assert resolved(router, context(luigis, tap, States.CHECKOUT_PAYMENT)) == "checkout"
    assert resolved(router, context(luigis, tap, States.CHECKOUT_ADDRESS)) == "checkout"
    assert resolved(router, context(luigis, tap, States.CHOOSING_BRANCH)) == "anywhere"


def test_a_routers_own_handlers_come_before_its_children(luigis: Restaurant) -> None:
    root = Router("root")
    child = root.include_router(Router("child"))
    child.message(ChoiceId("item:"))(named("child"))
    root.message(ChoiceId("item:"))(named("root"))  # registered after the include
    assert resolved(root, context(luigis, Inbound.tapped("item:calzone"))) == "root"


def test_children_are_searched_depth_first_in_include_order(luigis: Restaurant) -> None:
    root = Router("root")
    first, second = Router("first"), Router("second")
    root.include_router(first)
    root.include_router(second)
    grandchild = first.include_router(Router("grandchild"))
    second.message(Command("cart"))(named("second"))
    grandchild.message(Command("cart"))(named("grandchild"))
    first.message(Command("menu"))(named("first"))

    assert resolved(root, context(luigis, Inbound.typed("  CART "))) == "grandchild"
    assert resolved(root, context(luigis, Inbound.typed("menu"))) == "first"
    assert resolved(root, context(luigis, Inbound.typed("help"))) is None
    # A child resolves on its own too, without its parent's handlers.
    assert resolved(second, context(luigis, Inbound.typed("cart"))) == "second"


def test_a_state_mismatch_falls_through_to_the_next_router(luigis: Restaurant) -> None:
    root = Router("root")
    specific, fallback = Router("specific"), Router("fallback")
    root.include_router(specific)
    root.include_router(fallback)
    specific.message(ChoiceId("addon:"), state=States.CHOOSING_ADDONS)(named("addon"))
    fallback.message(any_message)(named("fallback"))
    tap = Inbound.tapped("addon:burrata")
    assert resolved(root, context(luigis, tap, States.CHOOSING_ADDONS)) == "addon"
    assert resolved(root, context(luigis, tap, States.REVIEWING_CART)) == "fallback"


def test_a_router_is_included_once_and_never_in_a_cycle() -> None:
    root, child = Router("root"), Router("child")
    root.include_router(child)
    with pytest.raises(ValueError, match="already included"):
        Router("other").include_router(child)
    grandchild = child.include_router(Router("grandchild"))
    with pytest.raises(ValueError, match="cycle"):
        grandchild.include_router(root)
    with pytest.raises(ValueError, match="cycle"):
        root.include_router(root)


def test_a_handler_registered_after_routing_began_is_found(luigis: Restaurant) -> None:
    # The per-state lists are built by the first resolve; registering below or
    # including a router anywhere in the tree must drop them.
    root = Router("root")
    child = root.include_router(Router("child"))
    child.message(ChoiceId("item:"))(named("items"))
    tap = context(luigis, Inbound.tapped("category:pizza"))
    assert resolved(root, tap) is None
    child.message(ChoiceId("category:"))(named("categories"))
    assert resolved(root, tap) == "categories"
    grandchild = Router("grandchild")
    grandchild.message(any_message, state=States.CHECKOUT_PAYMENT)(named("paying"))
    paying = context(luigis, Inbound.tapped("action:x"), States.CHECKOUT_PAYMENT)
    assert resolved(root, paying) is None
    child.include_router(grandchild)
    assert resolved(root, paying) == "paying"
