"""The ceiling: the least any webhook server on this stack must do, and nothing more.

A plain aiohttp application that reads the body, parses it as JSON and
answers 200: no signature, no storage, no conversation.  It runs in its own
process, started like ``serve`` (``web.run_app``, one event loop), so the
ratio ``ingest_rps / ceiling_rps`` is what the product's work costs on top
of the framework on this machine, under the same load generator.

    python -m bench.ceiling --port 8099
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


async def receive(request: web.Request) -> web.Response:
    json.loads(await request.read())
    return web.Response(text="ok")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_ceiling_app() -> web.Application:
    # The same 4 MiB body limit as serve, so both read bodies the same way.
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/webhook", receive)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_ceiling_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
