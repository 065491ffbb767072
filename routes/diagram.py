"""The state diagram in the format asked for: mermaid, dot, or SVG/PNG drawn by Graphviz.

The diagram itself is drawn from the machine spec by :mod:`fsm.diagram` (pure);
this module runs the ``dot`` program for pictures.

Hierarchy::

    GraphvizError       dot ran but did not produce the picture
    └── GraphvizMissing the dot program is not installed
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Final, Literal

from fsm.diagram import splice_mermaid, to_dot, to_mermaid
from fsm.machine import MachineSpec

MISSING_MESSAGE: Final = ("the 'dot' program is not installed; install Debian's package "
                          "'graphviz' (apt-get install graphviz)")
FORMATS: Final = ("svg", "png")


class GraphvizError(Exception):
    """``dot`` failed, timed out or could not be started."""


class GraphvizMissing(GraphvizError):
    """No ``dot`` program on ``PATH``."""


def render_graphviz(dot_source: str, fmt: Literal["svg", "png"],
                    timeout: float = 30.0) -> bytes:
    """Run ``dot -T<fmt>`` on ``dot_source`` and return the picture's bytes.

    Raises :class:`GraphvizMissing` (one line naming the package) when ``dot``
    is not on ``PATH``, and :class:`GraphvizError` with dot's own stderr when
    it fails or runs past ``timeout`` seconds.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown picture format {fmt!r} (expected one of {', '.join(FORMATS)})")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(MISSING_MESSAGE)
    try:
        completed = subprocess.run([dot, f"-T{fmt}"], input=dot_source.encode(),
                                   capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise GraphvizError(f"dot did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise GraphvizError(f"could not run {dot}: {exc.strerror}") from exc
    if completed.returncode != 0:
        stderr = completed.stderr.decode(errors="replace").strip()
        raise GraphvizError(f"dot failed (exit status {completed.returncode}): "
                            f"{stderr or 'no message'}")
    return completed.stdout


def render_diagram(spec: MachineSpec, fmt: str, highlight: str | None = None,
                   markdown: str | None = None) -> bytes:
    """``spec`` drawn as ``fmt`` (``mermaid``, ``dot``, ``svg`` or ``png``), ``highlight`` marked.

    With ``markdown`` (a document's text) and ``mermaid``, the document comes
    back with its marked mermaid block replaced. Raises ``ValueError`` for an
    unknown state or format or a document without the marked block, and
    :class:`GraphvizError` when ``dot`` cannot draw the picture.
    """
    if fmt in FORMATS:
        return render_graphviz(to_dot(spec, highlight), "svg" if fmt == "svg" else "png")
    if fmt == "dot":
        return to_dot(spec, highlight).encode()
    if fmt != "mermaid":
        raise ValueError(f"unknown diagram format {fmt!r}")
    text = to_mermaid(spec, highlight)
    return (text if markdown is None else splice_mermaid(markdown, text)).encode()
