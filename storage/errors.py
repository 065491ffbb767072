"""Errors raised by storage backends and the snapshot codec.

Hierarchy::

    StorageError
    ├── AlreadyProcessed          a commit for an inbox message that was already processed
    ├── CorruptSnapshot           bytes that are not a snapshot this build can read
    ├── DatabaseInUse             another orderbot process already serves this file
    ├── DuplicateOrderReference   a commit reuses an order reference of its restaurant
    ├── OrderStatusChanged        an order move whose from-status is no longer the order's
    ├── SnapshotTooLarge          a snapshot over the size limit (refused on write and read)
    ├── StoreClosed               the store was used after close()
    └── WriteRefused              a write the store can never take (a value it cannot hold)

:func:`is_permanent` tells a refusal that the same write would meet again
(retrying is pointless) from a store that cannot write right now (disk
full, locked by another process: retry later).
"""


class StorageError(Exception):
    """Root of every error raised by :mod:`storage`."""


class AlreadyProcessed(StorageError):
    """The commit's inbox message was processed before; nothing was committed.

    The exactly-once guard (G4): a message handled twice, e.g. by recovery
    racing a late worker, has its second outcome refused as a whole.
    """


class CorruptSnapshot(StorageError):
    """The stored bytes do not decode into a snapshot."""


class DuplicateOrderReference(StorageError):
    """An order's reference is already used by its restaurant; nothing was committed."""


class SnapshotTooLarge(StorageError):
    """A snapshot exceeds :data:`storage.codec.MAX_SNAPSHOT_BYTES`."""


class StoreClosed(StorageError):
    """The store is not open."""


class DatabaseInUse(StorageError):
    """Another process holds the file's instance lock (see :mod:`storage.lock`);
    ``holder`` is its process id as the lock file says, or ``"another process"``."""

    def __init__(self, message: str, holder: str = "another process") -> None:
        super().__init__(message)
        self.holder = holder


class OrderStatusChanged(StorageError):
    """An order move found the order in another status; nothing of the commit was written.

    ``current`` is the status the order is in now.
    """

    def __init__(self, reference: str, expected: str, current: str) -> None:
        self.reference = reference
        self.expected = expected
        self.current = current
        super().__init__(f"order {reference} is {current}, not {expected}")


class WriteRefused(StorageError):
    """The store refused this write for good: a value it cannot hold, a constraint it breaks.

    The store itself is fine and the writes committed beside it were not
    affected; the same write would be refused again, so it is not retried.
    """


def is_permanent(error: StorageError) -> bool:
    """Whether the same write would fail the same way (retrying cannot help)."""
    return isinstance(error, WriteRefused | SnapshotTooLarge | DuplicateOrderReference
                      | CorruptSnapshot)
