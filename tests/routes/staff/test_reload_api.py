"""POST /api/v1/reload: the admin re-reads config.yaml through the API, as SIGHUP does."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from routes.app import LIVE_CONFIG
from routes.ops.reload import reload_config
from routes.staff.api import RELOADER
from tests.conftest import REPO
from tests.routes.staff.support import api, staff_token
from tests.whatsapp_support import Client


def use_config_file(client: Client, tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text((REPO / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    client.app[RELOADER].reload = partial(reload_config, client.app[LIVE_CONFIG], path)
    return path


def margherita_price(client: Client) -> int:
    item = client.app[LIVE_CONFIG].current.restaurants[0].item("margherita")
    assert item is not None
    return item.price


async def test_the_admin_reloads_a_good_file_and_a_broken_one_is_refused(
        client: Client, tmp_path: Path) -> None:
    await api(client, "GET", "/restaurants")  # the app has started
    path = use_config_file(client, tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace('price: "9.50"', 'price: "9.90"'),
                    encoding="utf-8")

    status, body = await api(client, "POST", "/reload")
    assert (status, body) == (200, {"reloaded": True})
    assert margherita_price(client) == 990

    path.write_text("restaurants: [", encoding="utf-8")
    status, body = await api(client, "POST", "/reload")
    assert status == 400 and body["reloaded"] is False
    assert margherita_price(client) == 990  # the running config stays


async def test_only_the_admin_may_reload(client: Client, tmp_path: Path) -> None:
    await api(client, "GET", "/restaurants")
    use_config_file(client, tmp_path)
    headers = await staff_token(client, "luigis", "sam")
    status, _ = await api(client, "POST", "/reload", headers=headers)
    assert status == 403
    status, _ = await api(client, "POST", "/reload", headers={})
    assert status == 401
