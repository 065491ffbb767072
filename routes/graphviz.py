"""Rendering Graphviz dot source to SVG or PNG with the ``dot`` program.

Hierarchy::

    GraphvizError       dot ran but did not produce the picture
    └── GraphvizMissing the dot program is not installed
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Final, Literal

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
