"""One conversation-serving process per database file.

``serve`` and ``chat`` keep conversations in an in-process cache and trust
it: a second process on the same file would answer from its own, stale,
copy. Each takes an exclusive ``flock`` on ``<database>.lock`` for as long
as it runs. The kernel drops the lock when the process dies, ``kill -9``
included, so a crash never leaves the file locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from storage.errors import DatabaseInUse


class InstanceLock:
    """``with InstanceLock(db_path):`` — or :meth:`acquire` and :meth:`release`."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(f"{db_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            who = f"orderbot process {holder}" if holder.isdigit() else "another orderbot process"
            raise DatabaseInUse(
                f"{self.path.with_suffix('')} is in use by {who} "
                "(serve or chat); stop it first: two processes would each trust their "
                "own copy of the conversations", holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
