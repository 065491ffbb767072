"""The declared machine: validate() refuses bad specs; fire() runs one trigger on a model."""

from __future__ import annotations

import pytest
import transitions

from fsm.cart import Cart
from fsm.config import Item
from fsm.errors import MachineDefinitionError
from fsm.machine import (
    ANY_STATE,
    CART_NOT_EMPTY,
    ORDER_FLOW,
    Command,
    ConversationMachine,
    MachineSpec,
    State,
    Transition,
    validate,
)
from fsm.session import DELIVERY, PICKUP, Session
from fsm.states import States

A, B, C = State("a", "first"), State("b", "second"), State("c", "third")
ROUND_TRIP = (Transition("go", ("a",), "b"), Transition("back", ("b",), "a"))


def spec(states: tuple[State, ...] = (A, B), transitions: tuple[Transition, ...] = ROUND_TRIP,
         initial: str = "a", commands: tuple[Command, ...] = ()) -> MachineSpec:
    return MachineSpec(states=states, transitions=transitions, initial=initial,
                       commands=commands)


def refusal(bad: MachineSpec) -> str:
    with pytest.raises(MachineDefinitionError) as caught:
        validate(bad)
    return str(caught.value)


def test_the_shipped_flow_and_a_minimal_spec_are_valid() -> None:
    validate(ORDER_FLOW)
    validate(spec())


def test_duplicate_states_are_refused_by_name() -> None:
    message = refusal(spec(states=(A, B, State("b", "again"))))
    assert "duplicate states: b" in message


def test_an_undeclared_initial_state_is_refused() -> None:
    assert "initial state 'nowhere' is not declared" in refusal(spec(initial="nowhere"))


def test_a_transition_from_an_unknown_state_is_refused() -> None:
    bad = spec(transitions=(*ROUND_TRIP, Transition("jump", ("ghost",), "a")))
    assert "transition 'jump' starts from unknown state 'ghost'" in refusal(bad)


def test_a_transition_to_an_unknown_state_is_refused() -> None:
    bad = spec(transitions=(*ROUND_TRIP, Transition("jump", ("a",), "ghost")))
    assert "transition 'jump' leads to unknown state 'ghost'" in refusal(bad)


def test_the_any_state_source_is_not_an_unknown_state() -> None:
    validate(spec(transitions=(*ROUND_TRIP, Transition("reset", (ANY_STATE,), "a"))))


def test_a_command_firing_an_undeclared_trigger_is_refused() -> None:
    bad = spec(commands=(Command("menu", "show_menu", "show the menu"),
                         Command("help", None, "explain")))
    message = refusal(bad)
    assert "command 'menu' fires undeclared trigger 'show_menu'" in message
    assert "help" not in message  # a command without a trigger is fine


def test_an_unreachable_state_is_refused() -> None:
    island = (Transition("leave", ("c",), "a"),)
    assert "unreachable states: c" in refusal(spec(states=(A, B, C),
                                                   transitions=ROUND_TRIP + island))


def test_a_dead_end_state_is_refused() -> None:
    bad = spec(states=(A, B, C), transitions=(*ROUND_TRIP, Transition("trap", ("a",), "c")))
    assert "states with no way out: c" in refusal(bad)


def test_a_self_loop_is_not_a_way_out() -> None:
    stuck = (Transition("trap", ("a",), "c"), Transition("again", ("c",), "c"))
    assert "states with no way out: c" in refusal(spec(states=(A, B, C),
                                                       transitions=ROUND_TRIP + stuck))


def test_several_problems_are_reported_together() -> None:
    message = refusal(spec(states=(A, A), initial="z"))
    assert "duplicate states: a" in message and "initial state 'z'" in message


def test_the_runtime_machine_refuses_a_bad_spec() -> None:
    with pytest.raises(MachineDefinitionError, match="unreachable"):
        ConversationMachine(spec(states=(A, B, C)))


MARGHERITA = Item(id="margherita", name="Margherita", price=950)


def with_cart(state: str, order_type: str) -> Session:
    session = Session(state=state, order_type=order_type, cart=Cart())
    session.cart.add(MARGHERITA)
    return session


async def test_fire_moves_the_model_and_says_so() -> None:
    session = Session()
    assert await ConversationMachine().fire(session, "choose_pickup")
    assert session.state == States.CHOOSING_BRANCH


async def test_fire_returns_false_for_a_trigger_that_does_not_apply_here() -> None:
    session = Session()  # choosing the order type: no address asked yet
    assert not await ConversationMachine().fire(session, "give_address")
    assert session.state == States.CHOOSING_ORDER_TYPE


async def test_fire_refuses_an_undeclared_trigger() -> None:
    with pytest.raises(MachineDefinitionError, match="unknown trigger 'teleport'"):
        await ConversationMachine().fire(Session(), "teleport")


async def test_guards_block_a_transition_until_they_hold() -> None:
    machine = ConversationMachine()
    session = Session(state=States.CHOOSING_CATEGORY, order_type=DELIVERY)
    assert CART_NOT_EMPTY in next(t.guards for t in ORDER_FLOW.transitions
                                  if t.trigger == "view_cart")
    assert not await machine.fire(session, "view_cart")
    assert not await machine.fire(session, "checkout")
    assert session.state == States.CHOOSING_CATEGORY

    session.cart.add(MARGHERITA)
    assert await machine.fire(session, "checkout")
    assert session.state == States.CHECKOUT_ADDRESS


@pytest.mark.parametrize(("order_type", "step"), [(DELIVERY, States.CHECKOUT_ADDRESS),
                                                  (PICKUP, States.CHECKOUT_PAYMENT)])
async def test_guards_choose_between_transitions_of_one_trigger(order_type: str,
                                                                step: str) -> None:
    session = with_cart(States.REVIEWING_CART, order_type)
    assert await ConversationMachine().fire(session, "checkout")
    assert session.state == step


async def test_restoring_a_state_fires_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fired: list[str] = []
    real_trigger = transitions.core.Event.trigger

    def recording(self: transitions.core.Event, model: object, *args: object,
                  **kwargs: object) -> bool:
        fired.append(self.name)
        return bool(real_trigger(self, model, *args, **kwargs))

    monkeypatch.setattr(transitions.core.Event, "trigger", recording)
    machine = ConversationMachine()
    # A state its guard would never let an empty cart reach: restored as it is.
    snapshot = Session(state=States.CHECKOUT_CONFIRMATION, order_type=PICKUP).to_snapshot()
    restored = Session.from_snapshot(snapshot)
    assert restored.state == States.CHECKOUT_CONFIRMATION
    assert restored.cart.is_empty
    assert fired == []
    # The machine takes it from there, and nothing was attached to it.
    assert await machine.fire(restored, "cancel")
    assert fired == ["cancel"]
    assert restored.state == States.CHOOSING_ORDER_TYPE
    assert machine._machine.models == []
