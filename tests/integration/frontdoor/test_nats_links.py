"""The front door's own NATS connections (platform sessions, table statuses) outlive a
connection closed for good: a server's protocol error, or an outage longer than the
client's reconnect budget (nats-py gives up after 60 tries, two minutes), would otherwise
leave every launch and every status change failing until the process restarts."""

from __future__ import annotations

import asyncio

from services.edge.natslink import NatsLink
from services.edge.natslink import links
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_catalog import ADMIN
from tests.integration.frontdoor.test_catalog import tables_of
from tests.integration.frontdoor.test_sessions import funded_launch
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body


def link(bridge: Bridge, name: str) -> NatsLink:
    found = [each for each in links(bridge.app) if each.name == name]
    assert found, f"no watched NATS connection {name!r} in {[e.name for e in links(bridge.app)]}"
    return found[0]


async def closed_for_good_and_reopened(bridge: Bridge, name: str) -> None:
    watched = link(bridge, name)
    assert watched.client is not None
    await watched.client.close()  # as nats-py does after its last reconnect attempt
    for _ in range(100):
        if watched.reopened == 1 and watched.usable:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} was not reopened")


async def test_launches_and_table_statuses_work_again_after_their_connections_closed_for_good(
    bridge: Bridge,
) -> None:
    first = await funded_launch(bridge, "nell")

    await closed_for_good_and_reopened(bridge, "livebridge-frontdoor")
    await closed_for_good_and_reopened(bridge, "livebridge-tables")
    ready = await (await bridge.client.get("/readyz")).json()
    assert ready["checks"]["nats:livebridge-frontdoor"] == "ok", ready
    assert ready["checks"]["nats:livebridge-tables"] == "ok", ready

    status, again = await launch(bridge, launch_body("nell", "evo", table="T2-VIP"))
    assert status == 200 and again["sessionId"] == first["sessionId"], again
    down = await bridge.client.put(
        "/platform/v1/providers/evo/status", json={"up": False, "reason": "x"}, headers=ADMIN
    )
    assert down.status == 200, await down.text()
    assert (await tables_of(bridge, "evo"))["providerUp"] is False
