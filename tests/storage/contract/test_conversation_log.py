"""The contract of :class:`storage.staff.ConversationLog` and of Changes.log / .conversation."""

import pytest

from storage.base import Changes, SessionKey, SessionStore
from storage.staff import ConversationChange, ConversationRecord, LoggedMessage
from tests.storage.contract.support import (
    ALICE,
    BOB,
    CAROL_AT_SUSHI,
    LUIGIS_NUMBER,
    inbound,
    reply,
)


def said(text: str, at: float) -> LoggedMessage:
    return LoggedMessage("in", "text", text, "customer", at, wamid=f"wamid.{text}")


def answered(text: str, at: float, outbox_index: int, author: str = "bot") -> LoggedMessage:
    return LoggedMessage("out", "text", text, author, at, outbox_index=outbox_index)


def record(key: SessionKey, last_message_at: float, **fields: object) -> ConversationRecord:
    values: dict[str, object] = {
        "name": None, "bot_paused": False, "handoff_requested": False,
        "last_message_at": last_message_at, "last_inbound_at": None, "unread": 0,
        "phone_number_id": None, "wa_id": None, "user_id": None, "away_epoch": 0}
    values.update(fields)
    return ConversationRecord(key, **values)  # type: ignore[arg-type]


class TestMessageLog:
    """Changes.log and ConversationLog.messages."""

    async def test_the_log_pages_backwards_oldest_first(self, store: SessionStore) -> None:
        for n in range(5):
            await store.commit(Changes(ALICE, float(n), log=[said(f"a{n}", float(n))]))
            await store.commit(Changes(BOB, float(n), log=[said(f"b{n}", float(n))]))

        everything = await store.messages(ALICE)
        assert [m.text for m in everything] == ["a0", "a1", "a2", "a3", "a4"]
        assert all((m.key, m.direction, m.author, m.status) == (ALICE, "in", "customer", None)
                   for m in everything)
        ids = [m.id for m in everything]
        assert ids == sorted(set(ids))
        newest = await store.messages(ALICE, limit=2)
        assert [m.text for m in newest] == ["a3", "a4"]
        older = await store.messages(ALICE, limit=2, before=newest[0].id)
        assert [m.text for m in older] == ["a1", "a2"]
        assert [m.text for m in await store.messages(ALICE, before=older[0].id)] == ["a0"]
        assert await store.messages(ALICE, before=everything[0].id) == []
        assert await store.messages(ALICE, limit=0) == []
        assert await store.messages(CAROL_AT_SUSHI) == []

    async def test_a_reply_follows_its_outbox_row_to_read(self, store: SessionStore) -> None:
        await store.accept_inbound([inbound("wamid.1")])
        queued = await store.commit(Changes(
            ALICE, 10.0, inbox_processed="wamid.1",
            outbox=[reply(ALICE, "Menu"), reply(ALICE, "Delivery or pickup?")],
            log=[said("hi", 9.0), answered("Delivery or pickup?", 10.0, outbox_index=1),
                 answered("Menu", 10.0, outbox_index=0)]))

        async def statuses() -> list[str | None]:
            return [m.status for m in await store.messages(ALICE)]

        assert await statuses() == [None, "pending", "pending"]
        await store.outbox_sent(queued[1].id, "wamid.out2", 11.0)
        assert await statuses() == [None, "sent", "pending"]
        await store.record_status("wamid.out2", "delivered", 2, 12.0)
        assert await statuses() == [None, "delivered", "pending"]
        await store.record_status("wamid.out2", "read", 3, 13.0)
        await store.record_status("wamid.out2", "delivered", 2, 14.0)  # late: never backwards
        assert await statuses() == [None, "read", "pending"]
        await store.outbox_failed(queued[0].id, "HTTP 400", 15.0)
        assert await statuses() == [None, "read", "failed"]

    async def test_meta_reporting_a_sent_message_failed_shows(self, store: SessionStore) -> None:
        [row] = await store.commit(Changes(ALICE, 10.0, outbox=[reply(ALICE, "hi")],
                                           log=[answered("hi", 10.0, outbox_index=0)]))
        await store.outbox_sent(row.id, "wamid.out1", 11.0)
        await store.record_status("wamid.out1", "failed", 4, 12.0)
        assert [m.status for m in await store.messages(ALICE)] == ["failed"]

    async def test_a_log_row_naming_a_missing_outbox_row_is_refused(
        self, store: SessionStore
    ) -> None:
        with pytest.raises(ValueError, match="outbox row 1"):
            await store.commit(Changes(ALICE, 10.0, outbox=[reply(ALICE, "hi")],
                                       log=[answered("hi", 10.0, outbox_index=1)]))
        assert await store.messages(ALICE) == []
        assert await store.list_outbox() == []


class TestConversationRecord:
    """Changes.conversation upserts the record; ConversationLog reads it."""

    async def test_the_first_change_creates_the_record(self, store: SessionStore) -> None:
        assert await store.conversation(ALICE) is None
        await store.commit(Changes(ALICE, 10.0, conversation=ConversationChange(
            name="Alice", inbound_at=9.0, contact=(LUIGIS_NUMBER, ALICE.customer_id, None))))
        assert await store.conversation(ALICE) == record(
            ALICE, 9.0, name="Alice", last_inbound_at=9.0, unread=1,
            phone_number_id=LUIGIS_NUMBER, wa_id=ALICE.customer_id)
        await store.commit(Changes(BOB, 20.0, conversation=ConversationChange(
            bot_paused=True)))
        assert await store.conversation(BOB) == record(BOB, 20.0, bot_paused=True)

    async def test_each_field_changes_only_when_given(self, store: SessionStore) -> None:
        commits = [
            ConversationChange(name="Alice", inbound_at=10.0,
                               contact=(LUIGIS_NUMBER, ALICE.customer_id, "US.alice")),
            ConversationChange(outbound_at=11.0),
            ConversationChange(inbound_at=12.0, handoff_requested=True),
            ConversationChange(bot_paused=True, away_epoch=3),
            ConversationChange(outbound_at=5.0),  # an older time never moves it back
            ConversationChange(name="Alice B", contact=("other-number", None, "US.alice")),
        ]
        for n, change in enumerate(commits):
            await store.commit(Changes(ALICE, 20.0 + n, conversation=change))
        assert await store.conversation(ALICE) == record(
            ALICE, 12.0, name="Alice B", bot_paused=True, handoff_requested=True,
            last_inbound_at=12.0, unread=2, phone_number_id="other-number", wa_id=None,
            user_id="US.alice", away_epoch=3)

        await store.commit(Changes(ALICE, 30.0, conversation=ConversationChange(
            read=True, bot_paused=False, handoff_requested=False, outbound_at=30.0)))
        assert await store.conversation(ALICE) == record(
            ALICE, 30.0, name="Alice B", last_inbound_at=12.0, phone_number_id="other-number",
            user_id="US.alice", away_epoch=3)
        await store.commit(Changes(ALICE, 31.0, conversation=ConversationChange(
            inbound_at=31.0)))
        assert (await store.conversation(ALICE) or record(ALICE, 0.0)).unread == 1

    async def test_conversations_by_last_activity_a_page_at_a_time(
        self, store: SessionStore
    ) -> None:
        keys = [SessionKey("luigis", f"4477009000{n:02d}") for n in range(5)]
        for n, key in enumerate(keys):
            await store.commit(Changes(key, float(n), conversation=ConversationChange(
                inbound_at=float(n))))
        await store.commit(Changes(keys[0], 10.0, conversation=ConversationChange(
            outbound_at=10.0)))
        await store.commit(Changes(CAROL_AT_SUSHI, 50.0, conversation=ConversationChange(
            inbound_at=50.0)))

        def customers(records: list[ConversationRecord]) -> list[SessionKey]:
            return [r.key for r in records]

        assert customers(await store.conversations("luigis")) == [
            keys[0], keys[4], keys[3], keys[2], keys[1]]
        first_page = await store.conversations("luigis", limit=2)
        assert customers(first_page) == [keys[0], keys[4]]
        assert customers(await store.conversations(
            "luigis", limit=2, before=first_page[-1].last_message_at)) == [keys[3], keys[2]]
        assert customers(await store.conversations("luigis", before=1.0)) == []
        assert customers(await store.conversations("sushi")) == [CAROL_AT_SUSHI]

    async def test_a_commit_without_a_conversation_change_leaves_it_alone(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 10.0, log=[said("hi", 10.0)]))
        assert await store.conversation(ALICE) is None
