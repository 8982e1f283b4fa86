"""A provider goes slow and erroring, and back: the SLA watch alerts, the playbook acts and
undoes by itself, and each step is an event in the log.

The whole bridge runs (`build_app`, real NATS and PostgreSQL). Provider `evo` reads its
game events by pull from a studio stub (the provider's side, on a socket of its own) with
an alternate endpoint; the stub is made slow and failing, then healed. The wallet calls
come from the simulator's Evolution client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer
from nats.aio.msg import Msg

from contracts.ops import PlaybookStep
from contracts.ops import ProviderRecovered
from contracts.player import ProviderError
from services.bridge.config import Settings
from services.bridge.main import build_app
from services.frontdoor.tables import TABLE_STATUSES
from services.frontdoor.throttle import SESSION_THROTTLE
from services.infra.natsserver import NatsServer
from services.ops.playbook import WATCH
from services.platform.webhooks import EVENT_ID
from services.platform.webhooks import SIGNATURE
from services.platform.webhooks import TIMESTAMP
from services.platform.webhooks import verify_signature
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient
from tests.integration.edge.support.feed_provider import FeedStub
from tests.integration.edge.support.feed_provider import serve
from tests.integration.frontdoor.conftest import DIALECT_SECRETS
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_sessions import fund
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body
from tests.integration.ops.support.waiting import until

FEED_SECRET = "evo-feed-secret-0123456789"
ALERT_SECRET = "alert-secret-0123456789abcdef"


class AlertInbox:
    """The operators' alert endpoint: keeps what arrived with a valid signature."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refused = 0

    async def post(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify_signature(
            ALERT_SECRET, request.headers[TIMESTAMP], body, request.headers[SIGNATURE]
        ):
            self.refused += 1
            return web.Response(status=401)
        self.received.append({"id": request.headers[EVENT_ID], **json.loads(body)})
        return web.Response(status=204)


@pytest.fixture
async def studio() -> AsyncIterator[tuple[FeedStub, FeedStub, str, str]]:
    primary, alternate = FeedStub(secret=FEED_SECRET), FeedStub(secret=FEED_SECRET)
    async with serve(primary) as primary_url, serve(alternate) as alternate_url:
        yield primary, alternate, primary_url, alternate_url


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[AlertInbox, str]]:
    found = AlertInbox()
    app = web.Application()
    app.router.add_post("/alerts", found.post)
    async with TestServer(app) as server:
        yield found, str(server.make_url("/alerts"))


async def test_a_slow_erroring_provider_is_alerted_contained_and_recovers_by_itself(
    bridge_settings: Settings,
    studio: tuple[FeedStub, FeedStub, str, str],
    inbox: tuple[AlertInbox, str],
    nats_server: NatsServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    primary, alternate, primary_url, alternate_url = studio
    alerts, alert_url = inbox
    subject = f"ops{bridge_settings.stream_prefix}"
    monkeypatch.setenv("TEST_EVO_FEED_SECRET", FEED_SECRET)
    monkeypatch.setenv("TEST_ALERT_SECRET", ALERT_SECRET)
    config = bridge_settings.config_path.read_text().replace(
        'secret_env = "TEST_EVO_TOKEN"\n',
        'secret_env = "TEST_EVO_TOKEN"\n[provider.options]\nfeed = "pull"\n'
        f'feed_url = "{primary_url}/feed"\nfeed_url_alternate = "{alternate_url}/feed"\n'
        'feed_secret_env = "TEST_EVO_FEED_SECRET"\nfeed_poll_s = 0.05\n',
        1,
    )
    bridge_settings.config_path.write_text(
        config
        + f'[sla]\ncheck_every_s = 0.05\nsubject = "{subject}"\n'
        + f'[[sla.webhook]]\nname = "pager"\nurl = "{alert_url}"\n'
        + 'secret_env = "TEST_ALERT_SECRET"\nbackoff_base = 0.05\n'
        + "[sla.provider.evo]\nlatency_p99_ms = 200\nerror_rate = 0.5\nwindow_s = 1.5\n"
        + "min_calls = 3\nrecover_after_s = 0.5\nsessions_per_s = 0\n"
        + "soft_decline_within_s = 0.000001\n"
    )
    heard: list[tuple[str, dict[str, Any]]] = []

    async def hear(msg: Msg) -> None:
        heard.append((msg.subject, json.loads(msg.data) | {"id": None}))

    listener = await nats.connect(nats_server.url)
    try:
        await listener.subscribe(f"{subject}.>", cb=hear)
        await _play(bridge_settings, primary, alternate, alerts, heard, subject)
    finally:
        await listener.drain()


async def _play(
    bridge_settings: Settings,
    primary: FeedStub,
    alternate: FeedStub,
    alerts: AlertInbox,
    heard: list[tuple[str, dict[str, Any]]],
    subject: str,
) -> None:
    app = build_app(bridge_settings)
    async with TestClient(TestServer(app)) as client:
        bridge = Bridge(app, client)
        watch = app[WATCH]
        evolution = EvolutionClient(
            HttpTransport(client.session, str(client.make_url("/wallet/evolution/evo"))),
            DIALECT_SECRETS["evolution"],
        )

        # Healthy: the studio answers at once; a player gets a session.
        await fund(bridge, "ana")
        status, launched = await launch(bridge, launch_body("ana", "evo"))
        assert status == 200, launched
        seat = {"sid": launched["providerToken"], "user": "ana", "currency": "EUR"}
        one_euro = {"game_id": "g-1", "amount": Decimal("1.00")}
        await until(lambda: len(primary.asked) >= 3, "the primary feed polled")

        # The studio goes slow (0.3 s, both endpoints) and fails every poll on the primary.
        primary.delay_s, primary.fail_polls, alternate.delay_s = 0.3, 10**6, 0.3
        await until(lambda: _kinds(watch) >= 5, "the breach and the playbook's four steps")
        facts = [fact for _, fact in watch.facts()]
        breach = facts[0]
        assert isinstance(breach, ProviderError)
        assert (breach.provider, breach.code) == ("evo", "LBRG-503 PROVIDER_DOWN")
        assert breach.message.startswith(("latency p99", "error rate")), breach.message
        assert [(s.action, s.undo) for s in facts[1:5] if isinstance(s, PlaybookStep)] == [
            ("throttle_sessions", False),
            ("switch_feed", False),
            ("hide_tables", False),
            ("soft_decline", False),
        ]
        assert all(breach.message == s.reason for s in facts[1:5])  # type: ignore[union-attr]

        # The alert went out, signed, to the webhook and on NATS.
        await until(lambda: len(alerts.received) == 1, "the alert webhook")
        assert alerts.received[0]["type"] == "provider.error"
        assert alerts.received[0]["provider"] == "evo" and alerts.refused == 0
        await until(lambda: len(heard) >= 5, "the alert and the steps on NATS")
        assert heard[0] == (f"{subject}.provider.error.evo", alerts.received[0] | {"id": None})

        # Contained: new sessions throttled, the feed on the alternate, wallet calls that
        # cannot answer in time softly declined (Evolution: TEMPORARY_ERROR, retryable).
        assert app[SESSION_THROTTLE].throttled("evo")
        assert not app[TABLE_STATUSES].provider_up("evo")
        status, refused = await launch(bridge, launch_body("bea", "evo"))
        assert (status, refused["error"]) == (503, "LBRG-503 PROVIDER_DOWN"), refused
        await until(lambda: len(alternate.asked) >= 1, "a poll on the alternate endpoint")
        debit = await evolution.debit(**seat, **one_euro, tx_id="tx-soft-1", ref_id="ref-1")
        assert debit["status"] == "TEMPORARY_ERROR", debit

        # The studio heals; the window empties of failures, and after the healthy time
        # every step is undone in reverse order and the alert cleared.
        primary.delay_s, primary.fail_polls, alternate.delay_s = 0.0, 0, 0.0
        await until(lambda: _kinds(watch) >= 10, "the undoing and the recovery", 30)
        facts = [fact for _, fact in watch.facts()]
        undone = [s.action for s in facts[5:9] if isinstance(s, PlaybookStep) and s.undo]
        assert undone == ["soft_decline", "hide_tables", "switch_feed", "throttle_sessions"]
        cleared = facts[9]
        assert isinstance(cleared, ProviderRecovered)
        assert cleared.breached_at == breach.occurred_at
        await until(lambda: len(alerts.received) == 2, "the clearing on the webhook")
        assert alerts.received[1]["type"] == "provider.recovered"

        # Everything back: sessions open, wallet calls answered, polls on the primary.
        assert app[TABLE_STATUSES].provider_up("evo")
        assert not app[SESSION_THROTTLE].throttled("evo")
        status, again = await launch(bridge, launch_body("ana", "evo"))
        assert status == 200, again
        asked = len(primary.asked)
        await until(lambda: len(primary.asked) > asked, "polls back on the primary")
        debit = await evolution.debit(**seat, **one_euro, tx_id="tx-2", ref_id="ref-2")
        assert debit["status"] == "OK", debit


def _kinds(watch: Any) -> int:
    return len(watch.facts())
