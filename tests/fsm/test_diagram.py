import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from fsm.diagram import MANY_SOURCES, mermaid_block, splice_mermaid, to_dot, to_mermaid
from fsm.machine import ANY_STATE, ORDER_FLOW, Guard, MachineSpec, State, Transition

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
Render = Callable[..., str]
FORMATS = pytest.mark.parametrize("render", [to_mermaid, to_dot], ids=["mermaid", "dot"])

# A transition line: mermaid "a --> b : label", dot '"a" -> "b" [label="label"...]'.
MERMAID_EDGE = re.compile(r"^\s*(\S+) --> (\S+) : (.+)$", re.MULTILINE)
DOT_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]*)"', re.MULTILINE)


def edges(render: Render, spec: MachineSpec = ORDER_FLOW) -> list[tuple[str, str, str]]:
    text = render(spec)
    pattern = MERMAID_EDGE if render is to_mermaid else DOT_EDGE
    return [(m[1], m[2], m[3]) for m in pattern.finditer(text)]


@FORMATS
def test_every_state_and_trigger_appears(render: Render) -> None:
    text = render()
    labels = [label for _, _, label in edges(render)]

    for state in ORDER_FLOW.states:
        assert state.name in text
        assert state.description.replace(":", "\ua789") in text or state.description in text
    for transition in ORDER_FLOW.transitions:
        assert any(label.split(" [")[0] == transition.trigger for label in labels), \
            transition.trigger


@FORMATS
def test_arrows_are_labelled_with_trigger_and_guards(render: Render) -> None:
    labels = {label for _, _, label in edges(render)}

    assert "checkout [cart not empty, delivery]" in labels
    assert "checkout [cart not empty, pickup]" in labels
    assert "view_cart [cart not empty]" in labels
    assert "give_address [address given]" in labels
    assert "show_menu" in labels


@FORMATS
def test_transitions_from_any_state_are_drawn_once_from_one_box(render: Render) -> None:
    drawn = edges(render)

    for trigger, dest in [("cancel", "choosing_order_type"),
                          ("choose_delivery", "choosing_category"),
                          ("choose_pickup", "choosing_branch")]:
        matching = [edge for edge in drawn if edge[2] == trigger]
        assert len(matching) == 1, matching
        assert matching[0][1] == dest
        assert matching[0][0] == "any_state"


@FORMATS
def test_typed_commands_are_listed_once_in_the_any_state_box(render: Render) -> None:
    text = render()

    for word, trigger in [("menu", "show_menu"), ("cart", "view_cart"),
                          ("checkout", "checkout"), ("cancel", "cancel")]:
        assert text.count(f"{word} → {trigger}") == 1
    assert text.count("help (just a reply)") == 1


@FORMATS
def test_many_sources_collapse_into_one_arrow_per_transition(render: Render) -> None:
    drawn = edges(render)
    expected = sum(1 if ANY_STATE in t.sources or len(t.sources) >= MANY_SOURCES
                   else len(t.sources) for t in ORDER_FLOW.transitions)

    assert len(drawn) == expected
    # show_menu leaves 7 states: one arrow, from a box naming the 2 it does not leave.
    show_menu = [edge for edge in drawn if edge[2] == "show_menu"]
    assert len(show_menu) == 1
    box = show_menu[0][0]
    if render is to_mermaid:
        assert (f'state "any state except" as {box}\n    {box} : choosing_order_type\n'
                f"    {box} : choosing_branch\n") in render()
    else:
        assert (f'"{box}" [label="any state except\\nchoosing_order_type\\nchoosing_branch"'
                in render())
    # the 2-source choose_payment stays two real arrows
    assert sorted(e[0] for e in drawn if e[2] == "choose_payment") == [
        "checkout_confirmation", "checkout_payment"]


def test_mermaid_groups_checkout_steps_in_a_composite_state() -> None:
    text = to_mermaid()
    start = text.index('state "checkout" as checkout_group {')
    block = text[start:text.index("\n    }\n", start)]

    for name in ("checkout_address", "checkout_payment", "checkout_confirmation"):
        assert f'state "{name}" as {name}' in block
    assert "choosing_category" not in block


def test_dot_groups_checkout_steps_in_a_cluster() -> None:
    text = to_dot()
    start = text.index('subgraph "cluster_checkout" {')
    block = text[start:text.index("\n    }\n", start)]

    assert 'label="checkout"' in block
    for name in ("checkout_address", "checkout_payment", "checkout_confirmation"):
        assert f'"{name}" [label=' in block
    assert "choosing_category" not in block


def test_initial_state_is_marked() -> None:
    assert "    [*] --> choosing_order_type\n" in to_mermaid()
    assert '"__initial" -> "choosing_order_type";' in to_dot()


def test_highlight_styles_only_that_state() -> None:
    mermaid = to_mermaid(highlight="choosing_category")
    dot = to_dot(highlight="choosing_category")

    assert "    class choosing_category current\n" in mermaid
    assert mermaid.count(" current\n") == 1
    styled = [line for line in dot.splitlines() if "fillcolor=\"#ffd966\"" in line]
    assert len(styled) == 1 and styled[0].lstrip().startswith('"choosing_category" [')
    assert "current" not in to_mermaid().split("classDef current", 1)[1]
    assert "#ffd966" not in to_dot()


@FORMATS
def test_unknown_highlight_is_refused_naming_the_states(render: Render) -> None:
    with pytest.raises(ValueError, match=r"unknown state 'nope'.*choosing_order_type"):
        render(ORDER_FLOW, "nope")


def test_output_does_not_depend_on_hash_seed() -> None:
    script = "from fsm.diagram import to_dot, to_mermaid; print(to_mermaid() + to_dot(), end='')"
    outputs = {subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True,
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}

    assert outputs == {to_mermaid() + to_dot()}


SMALL = MachineSpec(
    initial="start",
    states=(State("start", "first; then: <b>more</b>"),
            State("a", "in g", group="g"), State("b", "in g", group="g"),
            State("c", "in g", group="g"), State("end_state", "done")),
    transitions=(
        Transition("go", ("start",), "a"),
        Transition("leave", ("a", "b", "c"), "end_state", (Guard("ok", "all fine"),)),
        Transition("again", ("end_state",), "start"),
    ),
)


def test_arrow_from_exactly_one_group_leaves_the_group_frame() -> None:
    mermaid, dot = to_mermaid(SMALL), to_dot(SMALL)

    assert "    g_group --> end_state : leave [all fine]\n" in mermaid
    assert 'ltail="cluster_g"' in dot
    assert len([e for e in edges(to_dot, SMALL) if e[2] == "leave [all fine]"]) == 1
    assert "an arrow from a group's frame leaves every state in the group" in mermaid


def test_mermaid_text_cannot_break_the_syntax() -> None:
    line = next(line for line in to_mermaid(SMALL).splitlines() if line.startswith("    start :"))

    assert ";" not in line and "<" not in line and ":" not in line.split(" : ", 1)[1]
    assert "first, then\ua789 \u2039b\u203amore\u2039/b\u203a" in line


def test_names_mermaid_cannot_take_are_refused() -> None:
    spec = MachineSpec(initial="bad name", states=(State("bad name", "x"),), transitions=())

    with pytest.raises(ValueError, match="'bad name' cannot name a state"):
        to_mermaid(spec)


def test_splice_replaces_only_the_marked_block() -> None:
    markdown = ("intro\n<!-- state-diagram:begin -->\n```mermaid\nold\n```\n"
                "<!-- state-diagram:end -->\noutro\n")

    spliced = splice_mermaid(markdown, "stateDiagram-v2\n    [*] --> a\n")

    assert spliced.startswith("intro\n") and spliced.endswith("-->\noutro\n")
    assert mermaid_block(spliced) == "stateDiagram-v2\n    [*] --> a\n"
    assert splice_mermaid(spliced, "new\n") == splice_mermaid(markdown, "new\n")
    with pytest.raises(ValueError, match="no state diagram markers"):
        splice_mermaid("no markers here", "x\n")


# The committed docs


def test_docs_mermaid_block_is_current() -> None:
    committed = mermaid_block((DOCS / "state-diagram.md").read_text(encoding="utf-8"))

    assert committed == to_mermaid(), (
        "docs/state-diagram.md is stale: run `python bot.py diagram -o docs/state-diagram.md`")


def test_docs_dot_source_is_current() -> None:
    committed = (DOCS / "state-diagram.dot").read_text(encoding="utf-8")

    assert committed == to_dot(), (
        "docs/state-diagram.dot is stale: run `python bot.py diagram --format dot "
        "-o docs/state-diagram.dot` and `python bot.py diagram --format svg "
        "-o docs/state-diagram.svg`")


def test_docs_svg_names_every_state() -> None:
    svg = ET.parse(DOCS / "state-diagram.svg").getroot()
    texts = {"".join(node.itertext()) for node in svg.iter("{http://www.w3.org/2000/svg}text")}

    for name in ORDER_FLOW.state_names:
        assert name in texts, f"docs/state-diagram.svg lacks {name}: regenerate it"
    assert "state-diagram.svg" in (DOCS / "state-diagram.md").read_text(encoding="utf-8")
