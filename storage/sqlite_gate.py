"""The bot gate's flags of recent conversations, kept in memory for a store that sees every write.

The gate reads a conversation's :class:`~storage.staff.GateFlags` for every customer
message; reading the database each time cost about 100 µs of CPU per message (a
fifth of processing, measured in process). One process holds a SQLite file and
every write passes through its store, so the store keeps the flags of recent
conversations here and updates them as its own commits land: each flag is only
ever set to a value a commit names, so applying a commit's
:class:`~storage.records.ConversationChange` to the cached flags gives what the
database holds. A read that started before a commit of its conversation landed
does not fill the cache, so a value read before a commit can never hide it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Final

from storage.records import ConversationChange, SessionKey
from storage.staff import GateFlags

CACHED: Final = 10_000  # conversations


class GateFlagsCache:
    """An LRU of :class:`GateFlags` by conversation, kept in step with the store's commits.

    Memory: at most ``size`` entries, plus one per database read in flight.
    """

    def __init__(self, size: int = CACHED) -> None:
        self._size = size
        self._flags: OrderedDict[SessionKey, GateFlags] = OrderedDict()
        # Reads in flight per key: how many, and whether a commit of the key began
        # or landed meanwhile (then what they read may be older than the cache).
        self._reads: dict[SessionKey, list[int]] = {}

    def get(self, key: SessionKey) -> GateFlags | None:
        flags = self._flags.get(key)
        if flags is not None:
            self._flags.move_to_end(key)
        return flags

    def reading(self, key: SessionKey) -> None:
        """A database read of ``key``'s flags begins; end it with :meth:`read`."""
        entry = self._reads.setdefault(key, [0, 0])
        entry[0] += 1

    def read(self, key: SessionKey, flags: GateFlags | None) -> None:
        """The read ended with ``flags`` (``None``: it failed); cached unless overtaken."""
        entry = self._reads[key]
        entry[0] -= 1
        overtaken = bool(entry[1])
        if entry[0] == 0:
            del self._reads[key]
        if flags is None or overtaken:
            return
        self._flags[key] = flags
        self._flags.move_to_end(key)
        while len(self._flags) > self._size:
            self._flags.popitem(last=False)

    def landed(self, key: SessionKey, change: ConversationChange | None) -> None:
        """A commit of ``key`` is durable; ``change`` is what it set of the record."""
        self._overtake(key)
        flags = self._flags.get(key)
        if flags is None or change is None:
            return
        if change.bot_paused is not None:
            flags = replace(flags, bot_paused=change.bot_paused)
        if change.handoff_requested is not None:
            flags = replace(flags, handoff_requested=change.handoff_requested)
        if change.away_epoch is not None:
            flags = replace(flags, away_epoch=change.away_epoch)
        self._flags[key] = flags

    def forget(self, key: SessionKey) -> None:
        """``key``'s record changed other than by a change (a number move), or a commit
        of it failed midway: read it afresh next time."""
        self._overtake(key)
        self._flags.pop(key, None)

    def _overtake(self, key: SessionKey) -> None:
        entry = self._reads.get(key)
        if entry is not None:
            entry[1] = 1
