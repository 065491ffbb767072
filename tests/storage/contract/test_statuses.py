"""The contract of :class:`storage.mail.StatusStorage`: delivery statuses only move up."""

import asyncio

from storage.base import SessionStore


class TestMessageStatus:
    """record_status and message_status."""

    async def test_status_never_goes_backwards(self, store: SessionStore) -> None:
        assert await store.message_status("wamid.out1") is None
        assert await store.record_status("wamid.out1", "sent", 1, 10.0) is True
        assert await store.record_status("wamid.out1", "read", 3, 12.0) is True
        assert await store.record_status("wamid.out1", "delivered", 2, 11.0) is False
        assert await store.record_status("wamid.out1", "read", 3, 13.0) is False
        assert await store.message_status("wamid.out1") == "read"

    async def test_concurrent_statuses_settle_on_the_highest_rank(
        self, store: SessionStore
    ) -> None:
        updates = [("read", 3), ("sent", 1), ("delivered", 2)] * 5
        changed = await asyncio.gather(*(store.record_status("wamid.out1", status, rank, 1.0)
                                         for status, rank in updates))
        assert changed[0] is True
        assert not any(changed[1:])
        assert await store.message_status("wamid.out1") == "read"
        assert await store.message_status("wamid.other") is None
