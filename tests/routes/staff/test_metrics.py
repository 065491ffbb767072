"""/metrics: Prometheus text, no token, the counters the issue asks for."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.fake_graph import FakeGraph
from tests.routes.staff.support import api, chat, place_order
from tests.whatsapp_support import Client, post

DANA = "447700900205"


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with client.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def test_metrics_count_webhooks_messages_sends_and_orders(client: Client) -> None:
    reference = await place_order(client, DANA)
    assert await post(client, b"{}", signature="sha256=00") == 403
    await api(client, "POST", f"/restaurants/luigis/orders/{reference}/status",
              {"status": "PREPARING"})
    metrics = await scrape(client)
    assert metrics["orderbot_webhook_requests_total", (("status", "200"),)] == 7
    assert metrics["orderbot_webhook_requests_total", (("status", "403"),)] == 1
    assert metrics["orderbot_messages_processed_total", (("restaurant", "luigis"),)] == 7
    assert metrics["orderbot_message_processing_seconds_count", ()] == 7
    assert metrics["orderbot_graph_send_seconds_count", (("kind", "message"),)] >= 7
    assert metrics["orderbot_orders_open", (("restaurant", "luigis"), ("status", "PREPARING"))] \
        == 1
    assert metrics["orderbot_orders_open", (("restaurant", "luigis"), ("status", "CONFIRMED"))] \
        == 0
    assert metrics["orderbot_group_commits_total", ()] >= 1
    assert metrics["orderbot_group_commit_units_total", ()] >= \
        metrics["orderbot_group_commits_total", ()]
    assert ("orderbot_outbox_pending", ()) in metrics


async def test_graph_refusals_are_counted_by_code(client: Client, graph: FakeGraph) -> None:
    graph.fail_next(1, 131026)  # undeliverable: the row is given up
    await chat(client, DANA, "hi")
    metrics = await scrape(client)
    assert metrics["orderbot_graph_send_errors_total",
                   (("code", "131026"), ("outcome", "permanent"))] == 1
