"""The repository's shape: imports flow one way, nothing imports bot.py, nothing reaches outside."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

# Each package may import only the packages to its left: fsm ← storage ← routes ← bot.py.
LAYERS = ("fsm", "storage", "routes", "bot")


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def python_files(*tops: str) -> list[Path]:
    return sorted(path for top in tops for path in (REPO / top).rglob("*.py"))


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_imports_flow_one_way(layer: str) -> None:
    allowed = set(LAYERS[:LAYERS.index(layer) + 1])
    wrong = [f"{path.relative_to(REPO)} imports {module}"
             for path in python_files(layer) for module in imported_modules(path)
             if module.split(".")[0] in set(LAYERS) - allowed]
    assert not wrong


def test_nothing_imports_bot_py() -> None:
    files = [*python_files("fsm", "storage", "routes", "tests", "bench"), REPO / "bot.py"]
    wrong = [str(path.relative_to(REPO)) for path in files
             for module in imported_modules(path) if module == "bot"]
    assert not wrong


def test_no_tracked_file_refers_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=False).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    outside = "../" + "shared"  # spelled apart so this file does not match itself
    wrong = [name for name in tracked if (REPO / name).is_file()
             and outside in (REPO / name).read_text(encoding="utf-8", errors="replace")]
    assert not wrong
