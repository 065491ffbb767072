"""What a request meets when the store cannot answer it: 503 to retry, 400 when refused for good."""

from __future__ import annotations

import pytest
from aiohttp import web

from routes.app import store_unavailable
from storage.errors import StorageError, WriteRefused
from tests.whatsapp_support import ClientFactory


def app_raising(error: Exception) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        raise error

    app = web.Application(middlewares=[store_unavailable])
    app.router.add_get("/", handler)
    return app


@pytest.mark.parametrize(("error", "status"), [
    (StorageError("disk I/O error"), 503),
    (WriteRefused("replying refused: CharacterNotInRepertoireError('NUL')"), 400),
])
async def test_the_answer_says_whether_to_retry(aiohttp_client: ClientFactory,
                                                error: Exception, status: int) -> None:
    client = await aiohttp_client(app_raising(error))
    async with client.get("/") as response:
        assert response.status == status
        body = await response.json()
        assert "error" in body and "NUL" not in body["error"]  # no internals echoed
        assert ("Retry-After" in response.headers) == (status == 503)


async def test_other_errors_are_not_dressed_as_the_store(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(app_raising(RuntimeError("a bug")))
    async with client.get("/") as response:
        assert response.status == 500


