"""The order lifecycle: its moves, its refusals, its validation and its committed diagram."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fsm.diagram import mermaid_block, to_dot, to_mermaid
from fsm.errors import MachineDefinitionError
from fsm.machine import MachineSpec, State, Transition, validate
from fsm.order_lifecycle import ORDER_LIFECYCLE, IllegalMove, OrderLifecycle, OrderStatus
from tests.conftest import REPO

S = OrderStatus
LIFECYCLE = OrderLifecycle()


@pytest.mark.parametrize(("order_type", "path"), [
    ("pickup", [S.PREPARING, S.READY, S.COMPLETED]),
    ("delivery", [S.PREPARING, S.OUT_FOR_DELIVERY, S.COMPLETED]),
])
async def test_an_order_moves_along_its_type_s_path(order_type: str, path: list[str]) -> None:
    status = S.CONFIRMED
    for wanted in path:
        trigger = await LIFECYCLE.move(status, order_type, wanted)
        assert trigger in {t.trigger for t in ORDER_LIFECYCLE.transitions}
        status = wanted
    assert await LIFECYCLE.allowed(status, order_type) == ()


@pytest.mark.parametrize(("status", "order_type", "allowed"), [
    (S.CONFIRMED, "pickup", (S.PREPARING, S.CANCELLED)),
    (S.PREPARING, "pickup", (S.READY, S.CANCELLED)),
    (S.PREPARING, "delivery", (S.OUT_FOR_DELIVERY, S.CANCELLED)),
    (S.READY, "pickup", (S.COMPLETED, S.CANCELLED)),
    (S.OUT_FOR_DELIVERY, "delivery", (S.COMPLETED, S.CANCELLED)),
    (S.COMPLETED, "pickup", ()),
    (S.CANCELLED, "delivery", ()),
])
async def test_allowed_moves(status: str, order_type: str, allowed: tuple[str, ...]) -> None:
    assert await LIFECYCLE.allowed(status, order_type) == allowed


@pytest.mark.parametrize(("status", "order_type", "wanted"), [
    (S.CONFIRMED, "pickup", S.READY),               # skipping the kitchen
    (S.PREPARING, "pickup", S.OUT_FOR_DELIVERY),    # a pickup order has no driver
    (S.PREPARING, "delivery", S.READY),
    (S.COMPLETED, "pickup", S.CANCELLED),           # final
    (S.CANCELLED, "pickup", S.CONFIRMED),
    (S.CONFIRMED, "pickup", "COOKED"),              # no such status
])
async def test_illegal_moves_name_what_is_allowed(status: str, order_type: str,
                                                  wanted: str) -> None:
    with pytest.raises(IllegalMove) as refused:
        await LIFECYCLE.move(status, order_type, wanted)
    assert refused.value.allowed == await LIFECYCLE.allowed(status, order_type)
    assert status in str(refused.value) and wanted in str(refused.value)


def test_final_states_need_no_way_out_but_others_do() -> None:
    validate(ORDER_LIFECYCLE)
    states = (State("open", ""), State("done", ""), State("stuck", ""))
    spec = MachineSpec(states=states, initial="open", final=("done",),
                       transitions=(Transition("finish", ("open",), "done"),
                                    Transition("jam", ("open",), "stuck")))
    with pytest.raises(MachineDefinitionError, match="states with no way out: stuck"):
        validate(spec)
    with pytest.raises(MachineDefinitionError, match="final state 'gone' is not declared"):
        validate(MachineSpec(states=states[:2], initial="open", final=("gone",),
                             transitions=(Transition("finish", ("open",), "done"),)))


def test_committed_diagram_is_current() -> None:
    docs = REPO / "docs"
    committed = mermaid_block((docs / "order-lifecycle.md").read_text(encoding="utf-8"))
    assert committed == to_mermaid(ORDER_LIFECYCLE), (
        "docs/order-lifecycle.md is stale: run "
        "`python bot.py diagram --machine order -o docs/order-lifecycle.md`")
    assert (docs / "order-lifecycle.dot").read_text(encoding="utf-8") == to_dot(
        ORDER_LIFECYCLE), "docs/order-lifecycle.dot is stale: regenerate it (and the svg)"
    svg = (docs / "order-lifecycle.svg").read_text(encoding="utf-8")
    assert all(status in svg for status in S.ALL)
    assert "COMPLETED --> [*]" in committed


def test_the_cli_draws_the_order_machine() -> None:
    drawn = subprocess.run([sys.executable, "bot.py", "diagram", "--machine", "order"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert drawn == to_mermaid(ORDER_LIFECYCLE)
    refused = subprocess.run([sys.executable, "bot.py", "diagram", "--machine", "order",
                              "--customer", "x"], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2 and "--machine conversation" in refused.stderr
