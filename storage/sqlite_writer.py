"""Group commit: the writes of many callers in one SQLite transaction, one fsync.

Each caller's writes form a :class:`Unit`: an ordered list of
``(statement, parameters)`` operations applied all together or not at all.
One task takes whatever units are queued and applies them in a single
transaction, each statement kind in the writer's statement order written
for all their rows at once (:func:`write_all`), run as one call on the
database thread: a batch costs one thread hop and one fsync however many
units it holds.  Units queued while a batch commits form
the next batch; nothing waits on a timer.

A unit may name rows to look up inside the transaction before anything is
written — one query per lookup kind serves the whole batch.  Its *outcome*
is then decided from what was found: the caller's result, or a
:class:`~storage.errors.StorageError` that refuses that unit alone (its
operations are left out).  Outcomes are decided in batch order and each
records in ``found`` what its own operations will write, so a unit decides
on the rows as the units queued before it leave them, exactly as if the
units ran one by one.  That holds for rows written by a single statement
kind (rows are written in batch order), or by kinds whose place in the
statement order cannot change the result (an insert-if-absent before an
update).  Units writing one row with kinds that could be reordered share a
*claim* (a conversation, an outbox row) and never share a batch.

A batch that fails is judged by its error.  A store that cannot write
(disk full, locked by another process, I/O: :func:`is_transient`) fails
every unit of the batch with a :class:`~storage.errors.StorageError`, at
once: each would meet the same wall, and redoing them one by one would
wait out the busy timeout once per unit.  Any other failure (a constraint,
a value SQLite refuses, a string that cannot be encoded while binding) is
one unit's fault: the units are redone one by one, so that the faulty one
alone fails, with :class:`~storage.errors.WriteRefused` (permanent: never
retried), and its neighbours commit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeAlias, TypeVar

from storage.errors import StorageError, StoreClosed, WriteRefused
from storage.sqlite_statement import Operation, Params, Statement
from storage.sqlite_thread import DatabaseThread

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Lookup query -> {first column: second column} of the rows it found, as
# updated by the outcomes decided so far.  A query selects two columns and
# has ``{marks}`` where its ``IN`` list goes.
Found: TypeAlias = dict[str, dict[Any, Any]]

LOOKUP_CHUNK = 512  # values per lookup query, far below SQLite's variable limit
MAX_ROWS_PER_STATEMENT = 128  # x 13 columns at most: far below it too


@dataclass(slots=True)
class CommitStats:
    """Physical transactions committed and the units they carried, for benchmarks."""

    batches: int = 0
    units: int = 0


def no_result(found: Found) -> None:
    return None


@dataclass(slots=True)
class Unit(Generic[T]):
    label: str  # names the unit in logs and errors
    operations: list[Operation]
    # Decides the caller's result from what was found (and records there what
    # the unit writes), or raises StorageError to refuse the unit.
    outcome: Callable[[Found], T]
    claims: frozenset[Hashable] = frozenset()
    lookups: tuple[tuple[str, Any], ...] = ()  # (lookup query, value)
    # Turns the error that failed this unit's own transaction into the caller's.
    explain: Callable[[sqlite3.Error], StorageError] | None = None
    done: asyncio.Future[T] = field(init=False)

    def error(self, exc: Exception) -> StorageError:
        """The caller's error for ``exc``, which failed this unit alone."""
        explained = None
        if self.explain is not None and isinstance(exc, sqlite3.Error):
            explained = self.explain(exc)
        if is_transient(exc):
            return explained or StorageError(f"{self.label} failed: {exc}")
        if explained is not None and type(explained) is not StorageError:
            return explained  # already says what was refused (a duplicate reference, say)
        return WriteRefused(f"{self.label} refused: {exc!r}")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the store cannot write now (disk full, locked, I/O).

    sqlite3 raises OperationalError for SQLITE_FULL, BUSY, LOCKED, IOERR and
    the like, and DatabaseError itself for a damaged file; constraints,
    values it refuses (IntegrityError, DataError, InterfaceError) and errors
    raised while binding parameters (UnicodeEncodeError, OverflowError)
    belong to one write and would recur.
    """
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


class GroupCommitWriter:
    """Applies :class:`Unit`\\ s to ``database`` in shared transactions."""

    def __init__(self, database: DatabaseThread, statement_order: Sequence[Statement],
                 stats: CommitStats, *, max_batch: int) -> None:
        self.database = database
        self.stats = stats
        # Held by every transaction; direct writes take it to run between batches.
        self.lock = asyncio.Lock()
        self._statement_order = tuple(statement_order)
        self._max_batch = max_batch
        self._pending: deque[Unit[Any]] = deque()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name="sqlite-writer")

    async def stop(self) -> None:
        """Return once every unit queued so far is committed or failed."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def submit(self, unit: Unit[T]) -> T:
        """Queue ``unit`` for the next batch; its outcome once durable.

        A caller cancelled while waiting does not withdraw the unit.
        """
        if self._task is None or self._task.done():
            raise StoreClosed("the store is not writing")
        unit.done = asyncio.get_running_loop().create_future()
        self._pending.append(unit)
        self._wakeup.set()
        return await unit.done

    async def execute(self, what: str, sql: str, params: Params) -> int:
        """One autocommitted statement between two batches; its row count."""
        def run(connection: sqlite3.Connection) -> int:
            return int(connection.execute(sql, params).rowcount)

        async with self.lock:
            try:
                return await self.database.run(run)
            except sqlite3.Error as exc:
                raise StorageError(f"{what} failed: {exc}") from exc

    async def _write_forever(self) -> None:
        try:
            while True:
                if not self._pending:
                    if self._stopping:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                batch = self._take_batch()
                try:
                    await self._write_batch(batch)
                except Exception as exc:
                    # The writer must outlive any one batch: fail its callers, go on.
                    logger.exception("group commit of %d units failed", len(batch))
                    for unit in batch:
                        _fail(unit, StorageError(f"commit failed: {exc!r}"), exc)
                except BaseException:
                    for unit in batch:
                        _fail(unit, StorageError("writer cancelled; outcome unknown"), None)
                    raise
        finally:
            while self._pending:
                _fail(self._pending.popleft(), StoreClosed("the store stopped writing"), None)

    def _take_batch(self) -> list[Unit[Any]]:
        # A unit held back blocks its claims for the rest of the queue too, so
        # nothing that shares a row with it overtakes it.
        batch: list[Unit[Any]] = []
        taken: set[Hashable] = set()
        blocked: set[Hashable] = set()
        deferred: deque[Unit[Any]] = deque()
        while self._pending and len(batch) < self._max_batch:
            unit = self._pending.popleft()
            if unit.claims.isdisjoint(taken) and unit.claims.isdisjoint(blocked):
                taken.update(unit.claims)
                batch.append(unit)
            else:
                blocked.update(unit.claims)
                deferred.append(unit)
        deferred.extend(self._pending)
        self._pending = deferred
        return batch

    async def _write_batch(self, batch: list[Unit[Any]]) -> None:
        async with self.lock:
            try:
                outcomes = await self._transaction(batch)
            except StorageError:
                raise  # the store is closed: _write_forever fails the batch
            except Exception as exc:
                if is_transient(exc):
                    # The store cannot write: every unit would fail the same way.
                    logger.warning("group commit of %d units failed: %s", len(batch), exc)
                    for unit in batch:
                        _fail(unit, unit.error(exc), exc)
                    return
                # One unit's fault: redo each alone so only the faulty one fails.
                logger.warning("group commit of %d units failed (%r); redoing them one by one",
                               len(batch), exc)
                await self._one_by_one(batch)
            else:
                self._settle(outcomes)

    async def _one_by_one(self, batch: list[Unit[Any]]) -> None:
        for unit in batch:
            try:
                outcomes = await self._transaction([unit])
            except StorageError as unit_exc:
                _fail(unit, unit_exc, None)
            except Exception as unit_exc:
                error = unit.error(unit_exc)
                if not is_transient(unit_exc):
                    logger.error("%s refused for good, its batch went on: %r",
                                 unit.label, unit_exc)
                _fail(unit, error, unit_exc)
            else:
                self._settle(outcomes)

    def _settle(self, outcomes: list[tuple[Unit[Any], Any]]) -> None:
        for unit, outcome in outcomes:
            if isinstance(outcome, StorageError):
                _fail(unit, outcome, None)
                continue
            self.stats.units += 1
            if not unit.done.done():
                unit.done.set_result(outcome)

    async def _transaction(self, units: list[Unit[Any]]) -> list[tuple[Unit[Any], Any]]:
        """Apply ``units`` in one transaction; each one's result or refusal."""
        outcomes = await self.database.run(partial(self._apply, units))
        self.stats.batches += 1
        return outcomes

    def _apply(self, units: list[Unit[Any]],
               connection: sqlite3.Connection) -> list[tuple[Unit[Any], Any]]:
        # On the database thread: touches only the connection and the units'
        # own data, never the event loop (futures are settled back on it).
        connection.execute("BEGIN IMMEDIATE")
        try:
            found = _look_up(connection, units)
            outcomes = [(unit, _outcome(unit, found)) for unit in units]
            by_statement: dict[Statement, list[Params]] = {}
            for unit, outcome in outcomes:
                if not isinstance(outcome, StorageError):
                    for statement, params in unit.operations:
                        by_statement.setdefault(statement, []).append(params)
            for statement in self._statement_order:
                if statement in by_statement:
                    write_all(connection, statement, by_statement[statement])
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return outcomes


def write_all(connection: sqlite3.Connection, statement: Statement, rows: list[Params]) -> None:
    """Write ``rows`` in as few executions as the statement allows.

    Row counts are split into powers of two (37 rows: 32 + 4 + 1), so each
    statement comes in at most a handful of shapes, all in the connection's
    statement cache.
    """
    if statement.row is None:
        connection.executemany(statement.head, rows)
        return
    done = 0
    while done < len(rows):
        size = min(MAX_ROWS_PER_STATEMENT, 1 << ((len(rows) - done).bit_length() - 1))
        chunk = rows[done:done + size]
        connection.execute(_rows_sql(statement, size), [value for row in chunk for value in row])
        done += size


@functools.cache
def _rows_sql(statement: Statement, rows: int) -> str:
    return statement.sql(rows)


def _look_up(connection: sqlite3.Connection, units: list[Unit[Any]]) -> Found:
    wanted: dict[str, set[Any]] = {}
    for unit in units:
        for query, value in unit.lookups:
            wanted.setdefault(query, set()).add(value)
    found: Found = {}
    for query, values in wanted.items():
        ordered = sorted(values)
        rows = found.setdefault(query, {})
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            chunk = ordered[start:start + LOOKUP_CHUNK]
            # Padded to a power of two with repeats of the last value: a few
            # shapes of query, which stay in the statement cache.
            chunk += chunk[-1:] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))
            rows.update((row[0], row[1])
                        for row in connection.execute(_lookup_sql(query, len(chunk)), chunk))
    return found


@functools.cache
def _lookup_sql(query: str, values: int) -> str:
    return query.format(marks=", ".join("?" * values))


def _outcome(unit: Unit[Any], found: Found) -> Any:
    try:
        return unit.outcome(found)
    except StorageError as refusal:
        return refusal


def _fail(unit: Unit[Any], error: StorageError, cause: BaseException | None) -> None:
    error.__cause__ = cause
    if not unit.done.done():
        unit.done.set_exception(error)
