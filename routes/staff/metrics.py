"""``GET /metrics``: Prometheus text format from the app's own registry (no token).

Counted as they happen: webhook answers by status (:func:`count_webhooks`,
an aiohttp middleware), messages processed and how long each took (the
conversation hooks), every Graph send's latency and refusals by Meta's error
code (:class:`TimedGraphClient`). Read from the store at scrape time:
outbox rows pending, open orders by status, and the SQLite writer's group
commits (physical transactions and the units they carried; their ratio is
the mean batch size).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from pydantic import SecretStr

from fsm.config import AppConfig
from fsm.order_lifecycle import OrderStatus
from routes.whatsapp.client import GraphClient
from routes.whatsapp.errors import Accepted, Permanent, SendOutcome
from storage.base import SessionStore
from storage.sqlite import SQLiteStore

WEBHOOK_PATH: Final = "/webhook"
# Counting more than this many pending rows or open orders at each scrape costs more than
# the number is worth; the gauge then reads as "at least".
SCRAPE_CAP: Final = 10_000
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                          2.5, 5.0, 10.0)


class Metrics:
    """The metrics of one app (its own registry, so tests and apps never share counters)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter("orderbot_webhook_requests", "Webhook requests answered, by "
                                "HTTP status", ["status"], registry=self.registry)
        self.messages = Counter("orderbot_messages_processed", "Customer messages processed "
                                "and committed", ["restaurant"], registry=self.registry)
        self.processing = Histogram("orderbot_message_processing_seconds", "Running the "
                                    "conversation for one message, commit included",
                                    buckets=LATENCY_BUCKETS, registry=self.registry)
        self.graph_latency = Histogram("orderbot_graph_send_seconds", "One POST to Graph "
                                       "(message or read receipt), the wait for one of the "
                                       "client's connections and the answer included",
                                       ["kind"], buckets=LATENCY_BUCKETS,
                                       registry=self.registry)
        self.graph_errors = Counter("orderbot_graph_send_errors", "Sends Graph refused or "
                                    "that got no answer, by Meta's error code ('none': no "
                                    "code) and whether the row is given up ('permanent') or "
                                    "retried", ["code", "outcome"], registry=self.registry)
        self.stored = _StoreCollector()
        self.registry.register(self.stored)
        self._source: tuple[SessionStore, AppConfig] | None = None
        # Labelled children by label values: ``labels()`` takes a lock and builds
        # its key on every call, and these are counted for every message.
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}

    def child(self, metric: Counter | Histogram, *values: str) -> Any:
        """``metric.labels(*values)``, looked up once per label values."""
        key = (metric, values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def attach(self, store: SessionStore, config: AppConfig) -> None:
        """Read ``store`` at each scrape from now on (set when the app opens it)."""
        self._source = (store, config)

    def detach(self) -> None:
        self._source = None

    async def refresh(self) -> None:
        """Read what is counted in the store, for the scrape about to be rendered."""
        if self._source is None:
            return
        store, config = self._source
        pending = await store.pending_outbound(math.inf, limit=SCRAPE_CAP)
        orders: dict[tuple[str, str], int] = {}
        for restaurant in config.restaurants:
            for status in OrderStatus.OPEN:
                found = await store.orders(restaurant.id, status=status, limit=SCRAPE_CAP)
                orders[restaurant.id, status] = len(found)
        self.stored.update(store, len(pending), orders)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def graph_outcome(self, kind: str, seconds: float, outcome: SendOutcome) -> None:
        self.child(self.graph_latency, kind).observe(seconds)
        if not isinstance(outcome, Accepted):
            code = "none" if outcome.code is None else str(outcome.code)
            final = "permanent" if isinstance(outcome, Permanent) else "retryable"
            self.graph_errors.labels(code, final).inc()


METRICS: Final = web.AppKey("metrics", Metrics)


async def serve_metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: everything above, in Prometheus text format."""
    metrics = request.app[METRICS]
    await metrics.refresh()
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


class _StoreCollector(Collector):
    def __init__(self) -> None:
        self._store: SessionStore | None = None
        self._pending = 0
        self._orders: dict[tuple[str, str], int] = {}

    def update(self, store: SessionStore, pending: int, orders: dict[tuple[str, str], int]
               ) -> None:
        self._store, self._pending, self._orders = store, pending, orders

    def collect(self) -> Iterator[Metric]:
        if self._store is None:
            return
        yield GaugeMetricFamily("orderbot_outbox_pending", "Outbox rows not yet sent "
                                f"(counted up to {SCRAPE_CAP})", value=self._pending)
        orders = GaugeMetricFamily("orderbot_orders_open", "Open orders by restaurant and "
                                   f"status (counted up to {SCRAPE_CAP})",
                                   labels=["restaurant", "status"])
        for (restaurant_id, status), count in sorted(self._orders.items()):
            orders.add_metric([restaurant_id, status], count)
        yield orders
        if isinstance(self._store, SQLiteStore):
            yield CounterMetricFamily("orderbot_group_commits", "Physical SQLite transactions "
                                      "of the group-commit writer",
                                      value=self._store.commit_batches)
            yield CounterMetricFamily("orderbot_group_commit_units", "Units (commits and "
                                      "other durable writes) those transactions carried",
                                      value=self._store.committed_units)


@web.middleware
async def count_webhooks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answer to ``/webhook`` by status, errors raised as responses included."""
    if request.path != WEBHOOK_PATH or METRICS not in request.app:
        return await handler(request)
    metrics = request.app[METRICS]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        metrics.child(metrics.webhooks, str(exc.status)).inc()
        raise
    except Exception:
        metrics.child(metrics.webhooks, "500").inc()
        raise
    metrics.child(metrics.webhooks, str(response.status)).inc()
    return response


class TimedGraphClient(GraphClient):
    """The Graph client, timing every send and counting its refusals into ``metrics``."""

    def __init__(self, graph_url: str, access_token: SecretStr, metrics: Metrics) -> None:
        super().__init__(graph_url, access_token)
        self._metrics = metrics

    async def send(self, phone_number_id: str, body: bytes) -> SendOutcome:
        started = time.perf_counter()
        outcome = await super().send(phone_number_id, body)
        kind = "read" if b'"status":"read"' in body else "message"
        self._metrics.graph_outcome(kind, time.perf_counter() - started, outcome)
        return outcome
