"""``python bot.py diagram`` as a user runs it: a real process, real files, real ``dot``."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from fsm.diagram import to_dot, to_mermaid
from fsm.machine import ORDER_FLOW
from storage.sqlite import SQLiteStore

ROOT = Path(__file__).parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
pytestmark = pytest.mark.slow


def bot(*args: str, stdin: str = "", env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "bot.py", *args], cwd=ROOT, input=stdin.encode(),
                          capture_output=True, timeout=60, env=env, check=False)


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 2, result
    assert result.stdout == b""
    message = result.stderr.decode()
    assert message.endswith("\n") and message.count("\n") == 1, message
    return message


def svg_texts(svg: bytes) -> set[str]:
    root = ET.fromstring(svg)
    return {"".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")}


def test_mermaid_is_the_default_and_goes_to_stdout() -> None:
    result = bot("diagram")

    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == to_mermaid()


def test_dot_to_stdout() -> None:
    result = bot("diagram", "--format", "dot")

    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == to_dot()


@pytest.mark.parametrize(("fmt", "render"), [("mermaid", to_mermaid), ("dot", to_dot)])
def test_output_file(tmp_path: Path, fmt: str, render: Callable[..., str]) -> None:
    target = tmp_path / f"diagram.{fmt}"

    result = bot("diagram", "--format", fmt, "-o", str(target), "--highlight", "reviewing_cart")

    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert target.read_text(encoding="utf-8") == render(ORDER_FLOW, "reviewing_cart")


def test_output_markdown_gets_its_block_replaced(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n<!-- state-diagram:begin -->\n```mermaid\nstale\n```\n"
                    "<!-- state-diagram:end -->\nkept\n", encoding="utf-8")

    result = bot("diagram", "-o", str(page))

    assert result.returncode == 0, result.stderr
    assert page.read_text(encoding="utf-8") == (
        "# Title\n<!-- state-diagram:begin -->\n```mermaid\n" + to_mermaid()
        + "```\n<!-- state-diagram:end -->\nkept\n")


def test_unknown_highlight_is_one_line_and_exit_2() -> None:
    message = one_line_error(bot("diagram", "--highlight", "nope"))

    assert "unknown state 'nope'" in message


@needs_dot
def test_svg_to_stdout_names_every_state() -> None:
    result = bot("diagram", "--format", "svg", "--highlight", "checkout_payment")

    assert result.returncode == 0, result.stderr
    texts = svg_texts(result.stdout)
    for name in ORDER_FLOW.state_names:
        assert name in texts
    assert b"#ffd966" in result.stdout


@needs_dot
def test_svg_and_png_files(tmp_path: Path) -> None:
    svg, png = tmp_path / "d.svg", tmp_path / "d.png"

    assert bot("diagram", "--format", "svg", "-o", str(svg)).returncode == 0
    assert bot("diagram", "--format", "png", "-o", str(png)).returncode == 0

    assert "checkout_confirmation" in svg_texts(svg.read_bytes())
    assert png.read_bytes().startswith(PNG_MAGIC)


@needs_dot
def test_png_to_stdout_is_binary() -> None:
    result = bot("diagram", "--format", "png")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(PNG_MAGIC)


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_missing_graphviz_names_the_package(tmp_path: Path, fmt: str) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()

    message = one_line_error(bot("diagram", "--format", fmt,
                                 env={**os.environ, "PATH": str(empty)}))

    assert "'dot'" in message and "graphviz" in message


def test_customer_highlights_the_stored_state(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    chat = bot("chat", "--db", str(db), "--customer", "X", stdin="hi\n1\n")
    assert chat.returncode == 0, chat.stderr
    assert b"Pick a category" in chat.stdout

    result = bot("diagram", "--customer", "X", "--db", str(db), "--format", "dot")

    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == to_dot(ORDER_FLOW, "choosing_category")
    highlighted = [line for line in result.stdout.decode().splitlines() if "#ffd966" in line]
    assert len(highlighted) == 1 and '"choosing_category"' in highlighted[0]


async def test_customer_without_a_conversation_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    store = SQLiteStore(db)
    await store.open()
    await store.close()

    message = one_line_error(bot("diagram", "--customer", "nobody", "--db", str(db)))

    assert "no stored conversation" in message and "nobody" in message


def test_customer_with_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"

    message = one_line_error(bot("diagram", "--customer", "X", "--db", str(db)))

    assert "no such database" in message
    assert not db.exists()
