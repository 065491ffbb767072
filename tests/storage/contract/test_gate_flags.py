"""The contract of :meth:`storage.staff.ConversationLog.gate_flags`, on every backend."""

from storage.base import Changes, SessionStore
from storage.staff import ConversationChange, GateFlags
from tests.storage.contract.support import ALICE, BOB


class TestGateFlags:
    """What the bot gate reads on every message follows every commit that returned."""

    async def test_a_conversation_without_a_record_has_the_defaults(
            self, store: SessionStore) -> None:
        assert await store.gate_flags(ALICE) == GateFlags()

    async def test_the_flags_follow_each_commit(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 1.0, conversation=ConversationChange(inbound_at=1.0)))
        assert await store.gate_flags(ALICE) == GateFlags()  # read, and remembered where cached

        await store.commit(Changes(ALICE, 2.0, conversation=ConversationChange(bot_paused=True)))
        assert await store.gate_flags(ALICE) == GateFlags(bot_paused=True)
        await store.commit(Changes(ALICE, 3.0, conversation=ConversationChange(
            handoff_requested=True, inbound_at=3.0)))
        assert await store.gate_flags(ALICE) == GateFlags(True, True, 0)
        await store.commit(Changes(ALICE, 4.0, conversation=ConversationChange(away_epoch=2)))
        await store.commit(Changes(ALICE, 5.0, conversation=ConversationChange(
            bot_paused=False, handoff_requested=False)))
        assert await store.gate_flags(ALICE) == GateFlags(False, False, 2)
        assert await store.gate_flags(BOB) == GateFlags()

    async def test_a_number_move_takes_the_flags_along(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 1.0, conversation=ConversationChange(bot_paused=True)))
        assert await store.gate_flags(ALICE) == GateFlags(bot_paused=True)
        assert await store.gate_flags(BOB) == GateFlags()

        await store.move_conversation(ALICE, BOB)

        assert await store.gate_flags(BOB) == GateFlags(bot_paused=True)
        assert await store.gate_flags(ALICE) == GateFlags()
