"""The Graph API client: one HTTP session, its base URL, headers and timeout.

Every send (a message or a read receipt) is ``POST
{graph_url}/{phone_number_id}/messages`` with ``Authorization: Bearer
<access token>`` (Meta's Cloud API "Messages" reference). The client says
what Graph's answer means for the row (:mod:`routes.whatsapp.errors`); it
never raises for a refused or failed request.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Final, Self

import aiohttp
from pydantic import SecretStr

from routes.whatsapp.errors import SendOutcome, classify_send_result, transport_failure

SEND_TIMEOUT_SECONDS: Final = 20.0
MAX_CONNECTIONS: Final = 100  # posts to Graph in flight at once (aiohttp's default pool size)


class GraphClient:
    """Posts request bodies to Graph for any of our business phone numbers.

    Use as ``async with GraphClient(url, token) as graph``: the session (and
    its connection pool) lives as long as the block. The access token is kept
    as a :class:`~pydantic.SecretStr`: it never shows in a ``repr`` or a log.

    At most ``max_connections`` posts are in flight; the others wait their
    turn first come, first served.  aiohttp's own pool limit is not fair: a
    request that finds an idle connection takes it ahead of those already
    waiting, so under a steady stream of new sends some replies waited 0.5–1 s
    while later ones went straight out (the long tail of ``serve --db
    :memory:``, whose commits hand replies over without pausing).  An
    :class:`asyncio.Semaphore` queues its waiters in order, and the pool,
    sized the same, then always has a connection for whoever holds a slot.
    """

    def __init__(self, graph_url: str, access_token: SecretStr, *,
                 timeout_seconds: float = SEND_TIMEOUT_SECONDS,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self.graph_url = graph_url.rstrip("/")
        self._access_token = access_token
        self._timeout = aiohttp.ClientTimeout(timeout_seconds)
        self._max_connections = max_connections
        self._slots = asyncio.Semaphore(max_connections)
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"GraphClient({self.graph_url!r})"

    async def __aenter__(self) -> Self:
        headers = {"Authorization": f"Bearer {self._access_token.get_secret_value()}",
                   "Content-Type": "application/json"}
        connector = aiohttp.TCPConnector(limit=self._max_connections)
        self._http = aiohttp.ClientSession(connector=connector, headers=headers,
                                           timeout=self._timeout)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def send(self, phone_number_id: str, body: bytes) -> SendOutcome:
        """POST one message or read receipt (JSON ``body``) from ``phone_number_id``.

        Returns :class:`~routes.whatsapp.errors.Accepted` with Meta's wamid,
        or a ``Retryable`` / ``Permanent`` failure; a timeout or a broken
        connection is ``Retryable``. Raises ``RuntimeError`` outside the
        ``async with`` block.
        """
        if self._http is None:
            raise RuntimeError("GraphClient used outside its 'async with' block")
        url = f"{self.graph_url}/{phone_number_id}/messages"
        try:
            async with self._slots, self._http.post(url, data=body) as response:
                try:
                    answer = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    answer = None
                return classify_send_result(response.status, answer)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return transport_failure(exc)
