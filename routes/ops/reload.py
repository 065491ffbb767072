"""A new ``config.yaml`` without a restart: ``SIGHUP`` to ``serve``, or ``reload``.

``serve`` re-reads its config file on ``SIGHUP`` (:func:`reload_config`): a
file that does not parse or validate is refused with the same precise error
as at start-up, logged, and the running menu stays; a good one replaces the
config everywhere at once (:class:`routes.app.LiveConfig`). Conversations go
on: a stored cart meets the new menu on the customer's next message.

``reload`` (:func:`signal_serve`) finds the ``serve`` holding a SQLite
database's instance lock (``<database>.lock`` records its pid) and sends it
``SIGHUP``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
from pathlib import Path
from typing import Final

from fsm.config import AppConfig, parse_config
from fsm.errors import ConfigError
from routes.app import LiveConfig

logger = logging.getLogger("orderbot.reload")

# Sections read once at start-up: a change there needs a restart.
STARTUP_ONLY: Final = ("server", "storage", "session", "whatsapp")


class ReloadError(Exception):
    """``reload`` cannot signal a ``serve``: one line for stderr."""


def reload_config(live: LiveConfig, path: Path) -> bool:
    """Re-read ``path`` into ``live``; ``False`` (logged, nothing changed) if it is refused."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        logger.error("reload refused, still serving the config loaded before: "
                     "%s: cannot read config: %s", path, exc.strerror)
        return False
    try:
        config = parse_config(text, source=str(path))
    except ConfigError as exc:
        logger.error("reload refused, still serving the config loaded before: %s", exc)
        return False
    changed = [name for name in STARTUP_ONLY
               if getattr(config, name) != getattr(live.current, name)]
    if changed:
        logger.warning("reload: %s changed in %s; %s read at start-up only, so that "
                       "takes a restart", ", ".join(changed), path,
                       "it is" if len(changed) == 1 else "they are")
    live.replace(config)
    logger.info("reload: %s loaded (%s)", path, summary(config))
    return True


def summary(config: AppConfig) -> str:
    return ", ".join(f"{restaurant.id}: {sum(len(c.items) for c in restaurant.menu)} items"
                     for restaurant in config.restaurants)


def serve_pid(db_path: Path) -> int:
    """The pid of the ``serve`` holding ``db_path``'s instance lock (see storage/lock.py)."""
    lock = Path(f"{db_path}.lock")
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        raise ReloadError(f"no serve is running on {db_path} (no {lock})") from None
    try:
        try:
            # Shared, not exclusive: if it is granted, nobody holds the lock.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            recorded = os.read(fd, 32).decode(errors="replace").strip()
        else:
            raise ReloadError(f"no serve is running on {db_path} (its lock is free)")
    finally:
        os.close(fd)
    if not recorded.isdigit():
        raise ReloadError(f"{lock} is held but names no process ({recorded!r})")
    pid = int(recorded)
    command = _command_line(pid)
    if command is not None and "serve" not in command:
        raise ReloadError(f"process {pid} holding {db_path} is not serve "
                          f"({' '.join(command)}): only serve reloads its config")
    return pid


def signal_serve(db_path: Path) -> int:
    """Send ``SIGHUP`` to the ``serve`` on ``db_path``; its pid."""
    pid = serve_pid(db_path)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise ReloadError(f"process {pid} holding {db_path} is gone") from None
    except PermissionError:
        raise ReloadError(f"not allowed to signal process {pid} (run reload as the user "
                          "serve runs as)") from None
    return pid


def _command_line(pid: int) -> list[str] | None:
    """Where /proc tells (Linux), the process's arguments."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
