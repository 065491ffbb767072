"""The conversation's state diagram, drawn from the machine's own definition.

:func:`to_mermaid` (renders on GitHub) and :func:`to_dot` (Graphviz) read a
:class:`~fsm.machine.MachineSpec` and nothing else, so the picture cannot
drift from what the bot runs.  Both follow one layout, built by
:func:`_layout`, and one convention, repeated in every diagram's legend:

* an arrow is labelled ``trigger [guard, guard]``; the guards must all hold;
* a transition from every state (``"*"``) and the typed commands are drawn
  once, from a dashed "any state" box;
* a transition from many states (:data:`MANY_SOURCES` or more) is drawn once:
  from the group's box when its sources are exactly one group's states, else
  from a dashed box naming its sources (or the states it does *not* leave);
* states sharing a ``group`` are boxed together under the group's name.

Same spec in, same text out: the output is committed under ``docs/`` and
compared with a fresh rendering by the tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from fsm.machine import ANY_STATE, ORDER_FLOW, MachineSpec, Transition

MANY_SOURCES: Final = 3
MERMAID_BEGIN: Final = "<!-- state-diagram:begin -->"
MERMAID_END: Final = "<!-- state-diagram:end -->"

_IDENTIFIER: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Mermaid ends a statement at ";", drops tags, and fails on a ":" inside a
# state description (10.9) or at the end of any text (11, 12); its "#59;"
# entities show up raw in state diagrams, so look-alikes stand in.
_MERMAID_TEXT: Final = str.maketrans({";": ",", "<": "\u2039", ">": "\u203a", '"': "'", "\n": " ",
                                      ":": "\ua789"})
_MERMAID_SHORTHAND: Final = "fill:#f3f3f3,stroke:#888888,stroke-dasharray:4 4"
_MERMAID_CURRENT: Final = "fill:#ffd966,stroke:#b45f06,stroke-width:3px"
_DOT_SHORTHAND: Final = 'style="rounded,dashed,filled", fillcolor="#f3f3f3", color="#888888"'
_DOT_CURRENT: Final = ('style="rounded,filled,bold", fillcolor="#ffd966", color="#b45f06", '
                       'penwidth=2')


@dataclass(frozen=True, slots=True)
class _Edge:
    source: str
    dest: str
    label: str
    from_group: bool = False


@dataclass(frozen=True, slots=True)
class _Shorthand:
    """A dashed box standing for several source states."""

    node_id: str
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Layout:
    groups: dict[str, tuple[str, ...]]
    group_ids: dict[str, str]
    shorthands: tuple[_Shorthand, ...]
    edges: tuple[_Edge, ...]
    legend: tuple[str, ...]


def to_mermaid(spec: MachineSpec = ORDER_FLOW, highlight: str | None = None) -> str:
    """The spec as a Mermaid ``stateDiagram-v2``, ``highlight`` filled in yellow.

    Raises :class:`ValueError` for an unknown ``highlight`` state or a state
    or group name Mermaid cannot take as an id.
    """
    layout = _layout(spec, highlight)
    lines = ["stateDiagram-v2",
             f"    %% Generated from the {spec.name} machine by fsm/diagram.py: "
             "do not edit by hand.",
             f"    classDef shorthand {_MERMAID_SHORTHAND}",
             f"    classDef current {_MERMAID_CURRENT}",
             f"    [*] --> {spec.initial}"]
    for shorthand in layout.shorthands:
        lines.append(f'    state "{_mermaid(shorthand.title)}" as {shorthand.node_id}')
        lines.extend(f"    {shorthand.node_id} : {_mermaid(line)}" for line in shorthand.lines)
    grouped = {name for members in layout.groups.values() for name in members}
    for state in spec.states:
        if state.name not in grouped:
            lines.extend(_mermaid_state(spec, state.name, "    "))
    for group, members in layout.groups.items():
        lines.append(f'    state "{_mermaid(group)}" as {layout.group_ids[group]} {{')
        for name in members:
            lines.extend(_mermaid_state(spec, name, "        "))
        lines.append("    }")
    for edge in layout.edges:
        source = layout.group_ids[edge.source] if edge.from_group else edge.source
        lines.append(f"    {source} --> {edge.dest} : {_mermaid(edge.label)}")
    lines.extend(f"    {name} --> [*]" for name in spec.final)
    anchor = layout.shorthands[0].node_id if layout.shorthands else spec.initial
    lines.append(f"    note left of {anchor}")
    lines.extend(f"        {_mermaid(line)}" for line in layout.legend)
    lines.append("    end note")
    if layout.shorthands:
        ids = ",".join(shorthand.node_id for shorthand in layout.shorthands)
        lines.append(f"    class {ids} shorthand")
    if highlight is not None:
        lines.append(f"    class {highlight} current")
    return "\n".join(lines) + "\n"


def to_dot(spec: MachineSpec = ORDER_FLOW, highlight: str | None = None) -> str:
    """The spec as a Graphviz ``digraph``, ``highlight`` filled in yellow.

    Raises :class:`ValueError` for an unknown ``highlight`` state.
    """
    layout = _layout(spec, highlight)
    lines = [f"// Generated from the {spec.name} machine by fsm/diagram.py: do not edit by hand.",
             f"digraph {spec.name} {{",
             '    graph [rankdir=TB, compound=true, fontname="Helvetica", fontsize=11, '
             "nodesep=0.35, ranksep=0.45];",
             '    node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];',
             '    edge [fontname="Helvetica", fontsize=9];',
             '    "__initial" [shape=point, width=0.15, label=""];',
             f"    \"__initial\" -> {_dot(spec.initial)};"]
    for shorthand in layout.shorthands:
        label = _dot_lines((shorthand.title, *shorthand.lines))
        lines.append(f"    {_dot(shorthand.node_id)} [label={label}, {_DOT_SHORTHAND}];")
    grouped = {name for members in layout.groups.values() for name in members}
    lines.extend(_dot_state(spec, state.name, highlight, "    ")
                 for state in spec.states if state.name not in grouped)
    for group, members in layout.groups.items():
        lines.append(f"    subgraph {_dot('cluster_' + group)} {{")
        lines.append(f"        label={_dot(group)}; style=\"rounded,dashed\"; color=\"#666666\";")
        lines.extend(_dot_state(spec, name, highlight, "        ") for name in members)
        lines.append("    }")
    order = {name: index for index, name in enumerate(spec.state_names)}
    for edge in layout.edges:
        if edge.from_group:
            # An edge must leave a node; ltail clips it at the cluster's border.
            source = _dot(layout.groups[edge.source][0])
            extra = f", ltail={_dot('cluster_' + edge.source)}"
        else:
            source, extra = _dot(edge.source), ""
        # States are declared in the order a customer meets them; an arrow
        # back up that order must not pull the layout upside down.
        if order.get(edge.dest, 0) <= order.get(edge.source, -1):
            extra += ", constraint=false"
        lines.append(f"    {source} -> {_dot(edge.dest)} [label={_dot(edge.label)}{extra}];")
    for name in spec.final:
        end = _dot(f"__final_{name}")
        lines.append(f'    {end} [shape=doublecircle, width=0.12, label="", style=filled, '
                     'fillcolor=black];')
        lines.append(f"    {_dot(name)} -> {end};")
    legend = "".join(_dot_escape(line) + "\\l" for line in ("Legend", *layout.legend))
    lines.append(f'    "__legend" [shape=note, fontsize=9, label="{legend}"];')
    # Unseen edges in declaration order keep the picture reading top-down
    # even where the only drawn arrows come from a shorthand box.
    lines.extend(f"    {_dot(source)} -> {_dot(dest)} [style=invis];"
                 for source, dest in zip(spec.state_names, spec.state_names[1:], strict=False))
    lines.append("}")
    return "\n".join(lines) + "\n"


def mermaid_block(markdown: str) -> str:
    """The diagram between :data:`MERMAID_BEGIN` and :data:`MERMAID_END`, fences removed."""
    _, block, _ = _split(markdown)
    fenced = block.strip("\n").splitlines()
    if len(fenced) < 2 or fenced[0] != "```mermaid" or fenced[-1] != "```":
        raise ValueError("the state diagram markers must enclose one ```mermaid block")
    return "\n".join(fenced[1:-1]) + "\n"


def splice_mermaid(markdown: str, mermaid: str) -> str:
    """``markdown`` with the block between the state diagram markers replaced by ``mermaid``."""
    before, _, after = _split(markdown)
    return f"{before}\n```mermaid\n{mermaid}```\n{after}"


def _split(markdown: str) -> tuple[str, str, str]:
    begin, end = markdown.find(MERMAID_BEGIN), markdown.find(MERMAID_END)
    if begin < 0 or end < begin:
        raise ValueError(f"no state diagram markers: a line {MERMAID_BEGIN!r} "
                         f"followed by a line {MERMAID_END!r}")
    middle = begin + len(MERMAID_BEGIN)
    return markdown[:middle], markdown[middle:end], markdown[end:]


def _layout(spec: MachineSpec, highlight: str | None) -> _Layout:
    names = spec.state_names
    if highlight is not None and highlight not in names:
        raise ValueError(f"unknown state {highlight!r} to highlight; "
                         f"the states are: {', '.join(names)}")
    groups: dict[str, tuple[str, ...]] = {}
    for state in spec.states:
        if state.group is not None:
            groups[state.group] = (*groups.get(state.group, ()), state.name)
    for name in (*names, *groups):
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"{name!r} cannot name a state or group in a diagram: "
                             "use letters, digits and underscores, starting with a letter")
    taken = set(names) | set(groups)
    group_ids = {group: _fresh(f"{group}_group", taken) for group in groups}
    by_group = {frozenset(members): group for group, members in groups.items()}
    boxes: dict[frozenset[str], _Shorthand] = {}
    edges: list[_Edge] = []
    commands = tuple(f"{c.word} → {c.trigger}" if c.trigger else f"{c.word} (just a reply)"
                     for c in spec.commands)
    if commands or any(ANY_STATE in t.sources for t in spec.transitions):
        every = frozenset(names)
        lines = ("commands typed in any state", *commands) if commands else ()
        boxes[every] = _Shorthand(_fresh("any_state", taken), "any state", lines)
    for transition in spec.transitions:
        sources = frozenset(spec.sources_of(transition))
        label = _label(transition)
        if ANY_STATE in transition.sources:
            edges.append(_Edge(boxes[frozenset(names)].node_id, transition.dest, label))
        elif len(sources) < MANY_SOURCES:
            edges.extend(_Edge(source, transition.dest, label) for source in transition.sources)
        elif sources in by_group:
            edges.append(_Edge(by_group[sources], transition.dest, label, from_group=True))
        else:
            if sources not in boxes:
                boxes[sources] = _sources_box(names, sources, _fresh("from_many", taken))
            edges.append(_Edge(boxes[sources].node_id, transition.dest, label))
    legend = ["arrows are labelled trigger [guards that must all hold]"]
    if boxes:
        legend.append("a dashed box stands for the states it names, its arrows leave each of them")
    if commands:
        legend.append("a typed command fires its trigger, which moves only along its arrows")
    if any(edge.from_group for edge in edges):
        legend.append("an arrow from a group's frame leaves every state in the group")
    if highlight is not None:
        legend.append(f"filled yellow is the conversation's current state, {highlight}")
    return _Layout(groups, group_ids, tuple(boxes.values()), tuple(edges), tuple(legend))


def _sources_box(names: Iterable[str], sources: frozenset[str], node_id: str) -> _Shorthand:
    inside = [name for name in names if name in sources]
    outside = [name for name in names if name not in sources]
    if len(outside) < len(inside):
        return _Shorthand(node_id, "any state except", tuple(outside))
    return _Shorthand(node_id, "any of", tuple(inside))


def _label(transition: Transition) -> str:
    if not transition.guards:
        return transition.trigger
    return f"{transition.trigger} [{', '.join(guard.label for guard in transition.guards)}]"


def _fresh(base: str, taken: set[str]) -> str:
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    taken.add(name)
    return name


def _mermaid(text: str) -> str:
    return text.translate(_MERMAID_TEXT).strip()


def _mermaid_state(spec: MachineSpec, name: str, indent: str) -> list[str]:
    # A single description would replace the name in the box; declaring the
    # name as the title keeps both, the description under a divider.
    description = spec.state(name).description
    if not description:
        return [f"{indent}{name}"]
    return [f'{indent}state "{name}" as {name}', f"{indent}{name} : {_mermaid(description)}"]


def _dot_state(spec: MachineSpec, name: str, highlight: str | None, indent: str) -> str:
    description = spec.state(name).description
    label = _dot_lines((name, description) if description else (name,))
    style = f", {_DOT_CURRENT}" if name == highlight else ""
    return f"{indent}{_dot(name)} [label={label}{style}];"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot(text: str) -> str:
    return f'"{_dot_escape(text)}"'


def _dot_lines(lines: Iterable[str]) -> str:
    return '"' + "\\n".join(_dot_escape(line) for line in lines) + '"'
