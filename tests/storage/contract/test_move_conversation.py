"""The contract of :meth:`storage.roles.SessionStorage.move_conversation`: a number change."""

from __future__ import annotations

import pytest

from storage.base import Changes, DraftRecord, SessionKey, SessionStore
from storage.records import ConversationChange, LoggedMessage
from tests.storage.contract.support import ALICE, BOB, CAROL_AT_SUSHI, order, snapshot

NEW = SessionKey("luigis", "447700900099")


def said(text: str, at: float) -> LoggedMessage:
    return LoggedMessage("in", "text", text, "customer", at)


async def talked(store: SessionStore, key: SessionKey, at: float, state: str,
                 reference: str | None = None) -> None:
    await store.commit(Changes(
        key, at, snapshot(state), orders=[order(key, reference, at)] if reference else [],
        drafts=[DraftRecord(key, "cancelled", {"lines": []}, at)], log=[said(state, at)],
        conversation=ConversationChange(name=state, inbound_at=at,
                                        contact=("pnid", key.customer_id, None))))


class TestMoveConversation:
    async def test_everything_of_the_conversation_moves_to_a_new_number(
            self, store: SessionStore) -> None:
        await talked(store, ALICE, 1.0, "checkout", "LU-0001")
        await talked(store, BOB, 2.0, "other", "LU-0002")

        assert await store.move_conversation(ALICE, NEW) is True

        assert await store.load_snapshot(NEW) == snapshot("checkout")
        assert await store.load_snapshot(ALICE) is None
        assert [message.text for message in await store.messages(NEW)] == ["checkout"]
        assert await store.messages(ALICE) == []
        record = await store.conversation(NEW)
        assert record is not None and record.name == "checkout" and record.unread == 1
        assert await store.conversation(ALICE) is None
        latest = await store.latest_order(NEW)
        assert latest is not None and latest.reference == "LU-0001"
        assert latest.customer_id == NEW.customer_id
        assert await store.latest_order(ALICE) is None
        assert [o.reference for o in await store.list_orders(NEW)] == ["LU-0001"]
        assert len(await store.list_drafts(NEW)) == 1 and await store.list_drafts(ALICE) == []
        # Others are untouched.
        assert await store.load_snapshot(BOB) == snapshot("other")
        assert [o.reference for o in await store.list_orders(BOB)] == ["LU-0002"]

    async def test_the_new_numbers_own_snapshot_and_record_are_kept(
            self, store: SessionStore) -> None:
        await talked(store, ALICE, 1.0, "old", "LU-0001")
        await talked(store, NEW, 2.0, "new", "LU-0002")

        assert await store.move_conversation(ALICE, NEW) is True

        assert await store.load_snapshot(NEW) == snapshot("new")
        assert await store.load_snapshot(ALICE) is None
        record = await store.conversation(NEW)
        assert record is not None and record.name == "new"
        assert await store.conversation(ALICE) is None
        # Both logs, in the order they were written; both numbers' orders.
        assert [message.text for message in await store.messages(NEW)] == ["old", "new"]
        assert sorted(o.reference for o in await store.list_orders(NEW)) == [
            "LU-0001", "LU-0002"]

    async def test_moving_again_or_an_unknown_number_moves_nothing(
            self, store: SessionStore) -> None:
        await talked(store, ALICE, 1.0, "checkout", "LU-0001")
        assert await store.move_conversation(ALICE, NEW) is True
        assert await store.move_conversation(ALICE, NEW) is False
        assert await store.move_conversation(BOB, NEW) is False
        assert await store.load_snapshot(NEW) == snapshot("checkout")

    async def test_a_move_to_another_restaurant_is_refused(self, store: SessionStore) -> None:
        with pytest.raises(ValueError, match="within its restaurant"):
            await store.move_conversation(ALICE, CAROL_AT_SUSHI)

    async def test_a_commit_after_the_move_lands_on_the_new_conversation(
            self, store: SessionStore) -> None:
        await talked(store, ALICE, 1.0, "checkout")
        await store.move_conversation(ALICE, NEW)
        await store.commit(Changes(NEW, 3.0, snapshot("after"), log=[said("after", 3.0)]))
        assert [message.text for message in await store.messages(NEW)] == ["checkout", "after"]
