"""SQLite's in-memory gate flags: a read overtaken by a commit never hides the commit."""

from storage.records import ConversationChange, SessionKey
from storage.sqlite_gate import GateFlagsCache
from storage.staff import GateFlags

ALICE = SessionKey("luigis", "447700900001")


def test_a_read_overtaken_by_a_commit_is_not_remembered() -> None:
    cache = GateFlagsCache()
    cache.reading(ALICE)  # the database read began before the takeover landed...
    cache.landed(ALICE, ConversationChange(bot_paused=True))
    cache.read(ALICE, GateFlags())  # ...and returned the flags from before it
    assert cache.get(ALICE) is None  # read afresh next time

    cache.reading(ALICE)
    cache.read(ALICE, GateFlags(bot_paused=True))
    assert cache.get(ALICE) == GateFlags(bot_paused=True)


def test_landed_changes_apply_to_what_is_cached_and_a_failed_read_caches_nothing() -> None:
    cache = GateFlagsCache(size=1)
    cache.reading(ALICE)
    cache.read(ALICE, None)
    assert cache.get(ALICE) is None
    cache.reading(ALICE)
    cache.read(ALICE, GateFlags())
    cache.landed(ALICE, ConversationChange(handoff_requested=True, inbound_at=5.0))
    cache.landed(ALICE, ConversationChange(away_epoch=3))
    assert cache.get(ALICE) == GateFlags(False, True, 3)

    bob = SessionKey("luigis", "447700900002")
    cache.reading(bob)
    cache.read(bob, GateFlags())
    assert cache.get(ALICE) is None  # the oldest went: the cache holds `size` conversations
