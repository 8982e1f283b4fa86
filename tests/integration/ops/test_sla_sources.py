"""The SLA thresholds judged from the views and the players' QoS, not only from calls:
a provider whose rounds lose feed events, and one whose players' bet signals are slow,
each breach (with the reason named) and recover when the window no longer shows it."""

from __future__ import annotations

import asyncio
from datetime import UTC
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer

from contracts.ops import PlaybookStep
from contracts.ops import ProviderRecovered
from contracts.player import ProviderError
from projections.http import VIEWS
from services.bridge.config import Settings
from services.bridge.main import LEDGER
from services.bridge.main import build_app
from services.ops.playbook import PLAYBOOK
from services.ops.playbook import WATCH
from services.ops.watch import Fact
from tests.integration.frontdoor.test_sessions import fund
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body
from tests.integration.ops.conftest import Bridge
from tests.integration.ops.support.waiting import until
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import opened


def rtt_sample(provider: str, rtt_ms: float) -> dict[str, Any]:
    return {
        "provider": provider,
        "table": "T1",
        "region": "eu-west",
        "protocol": "webrtc",
        "betRttMs": rtt_ms,
    }


def facts_of(app: object, provider: str) -> list[Fact]:
    watch = app[WATCH]  # type: ignore[index]
    return [fact for _, fact in watch.facts() if fact.provider == provider]


async def test_feed_gaps_in_the_views_and_slow_players_each_breach_their_sla(
    bridge_settings: Settings,
) -> None:
    bridge_settings.config_path.write_text(
        bridge_settings.config_path.read_text()
        + "[sla]\ncheck_every_s = 0.05\n"
        + "[sla.provider.hub88]\nfeed_gap_rate = 0.1\nwindow_s = 3600\n"
        + 'recover_after_s = 600\nactions = ["throttle_sessions"]\n'
        + "[sla.provider.evo]\nqos_rtt_p99_ms = 150\nwindow_s = 1.0\n"
        + 'recover_after_s = 0.2\nactions = ["throttle_sessions"]\n'
    )
    app = build_app(bridge_settings)
    async with TestClient(TestServer(app)) as client:
        # hub88: a round whose result came as seq 4 with seqs 2 and 3 never sent.
        ledger = app[LEDGER]
        now = datetime.now(UTC)
        await asyncio.to_thread(ledger.record_event, opened("G-1", "hub88", at=now))
        result = declared({"number": "1"}, "G-1", "hub88", 4, at=now)
        await asyncio.to_thread(ledger.record_event, result)
        head = await asyncio.to_thread(ledger.recorder.max_notification_id)
        await asyncio.to_thread(app[VIEWS].wait, head, 10.0)
        await until(lambda: len(facts_of(app, "hub88")) >= 2, "hub88's breach")
        breach, step = facts_of(app, "hub88")[:2]
        assert isinstance(breach, ProviderError) and isinstance(step, PlaybookStep)
        assert breach.message == "feed gap rate 50.00% > 10.00%"  # 2 of 4 expected
        assert (step.action, step.undo) == ("throttle_sessions", False)

        # evo: its players' bet signals come back in 400 ms, then the window empties.
        slow = {
            "samples": [
                {
                    "provider": "evo",
                    "table": "T1",
                    "region": "eu-west",
                    "protocol": "webrtc",
                    "betRttMs": 400,
                }
            ]
        }
        posted = await client.post("/qos/v1/samples", json=slow, headers=Bridge.auth("sessions"))
        assert posted.status == 200, await posted.text()
        await until(lambda: len(facts_of(app, "evo")) >= 4, "evo's breach and recovery")
        kinds = [type(f).__name__ for f in facts_of(app, "evo")]
        assert kinds == ["ProviderError", "PlaybookStep", "PlaybookStep", "ProviderRecovered"]
        evo_breach, recovered = facts_of(app, "evo")[0], facts_of(app, "evo")[3]
        assert isinstance(evo_breach, ProviderError) and isinstance(recovered, ProviderRecovered)
        assert evo_breach.message == "QoS bet RTT p99 400 ms > 150 ms"
        assert recovered.breached_at == evo_breach.occurred_at
        assert len(facts_of(app, "hub88")) == 2  # still in breach: no second alert


async def test_one_players_slow_reports_alone_never_breach_its_provider_and_a_majority_does(
    bridge_settings: Settings,
) -> None:
    bridge_settings.config_path.write_text(
        bridge_settings.config_path.read_text()
        + "[sla]\ncheck_every_s = 3600\n"  # judged below, by hand, when the test says
        + "[sla.provider.evo]\nqos_rtt_p99_ms = 150\nwindow_s = 600\n"
        + 'actions = ["hide_tables"]\n'
    )
    app = build_app(bridge_settings)
    async with TestClient(TestServer(app)) as client:
        bridge = Bridge(app=app, client=client)
        tokens = []
        for player in ("qos-a", "qos-b", "qos-c"):
            await fund(bridge, player)
            status, launched = await launch(bridge, launch_body(player, "evo"))
            assert status == 200, launched
            tokens.append({"Authorization": f"Bearer {launched['playerToken']}"})

        async def report(token: dict[str, str], rtt_ms: float, count: int) -> None:
            batch = {"samples": [rtt_sample("evo", rtt_ms)] * count}
            posted = await client.post("/qos/v1/samples", json=batch, headers=token)
            assert posted.status == 200, await posted.text()

        playbook = app[PLAYBOOK]
        sla = playbook.config.providers["evo"]
        # One player claims minute-long round trips, a full batch of them.
        await report(tokens[0], 60_000, 100)
        assert (await playbook.window("evo", sla)).qos_rtt_p99_ms is None  # one session alone
        # The two others see evo as it is: quick.
        await report(tokens[1], 80, 1)
        await report(tokens[2], 90, 1)
        assert (await playbook.window("evo", sla)).qos_rtt_p99_ms == 90
        await playbook.tick()
        assert facts_of(app, "evo") == []

        # A second player's front is slow too: most of evo's players are, so it breaches.
        await report(tokens[1], 400, 100)
        await playbook.tick()
        breach, step = facts_of(app, "evo")
        assert isinstance(breach, ProviderError) and isinstance(step, PlaybookStep)
        assert breach.message == "QoS bet RTT p99 400 ms > 150 ms"
