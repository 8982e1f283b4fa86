"""What a platform session owns, over real HTTP, NATS and PostgreSQL: every provider token
it issued (the ones a dialect rotated since too), and every money movement of its bets,
wins and rollbacks included, whatever token the provider sends them with."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from projections.export.exporter import selected
from projections.export.selection import SessionQuery
from services.bridge.main import LEDGER
from services.ledger.application import Ledger
from services.ledger.domain import TxRecord
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.drivers.base import Placed
from services.simulate.drivers.base import Seat
from services.simulate.drivers.base import Wager
from tests.integration.frontdoor.conftest import DIALECT_SECRETS
from tests.integration.frontdoor.conftest import EZUGI_OPERATOR
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_protection import dialect_debit
from tests.integration.frontdoor.test_sessions import DIALECTS
from tests.integration.frontdoor.test_sessions import PROVIDER_OF
from tests.integration.frontdoor.test_sessions import SESSIONS
from tests.integration.frontdoor.test_sessions import driver
from tests.integration.frontdoor.test_sessions import fund
from tests.integration.frontdoor.test_sessions import funded_launch
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body


def _records(ledger: Ledger) -> list[TxRecord.Created]:
    """Every transaction record the log holds, in log order."""
    found: list[TxRecord.Created] = []
    position = 1
    while batch := ledger.recorder.select_notifications(position, 500):
        for notification in batch:
            event = ledger.mapper.to_domain_event(notification)
            if isinstance(event, TxRecord.Created):
                found.append(event)
        position = batch[-1].id + 1
    return found


async def test_closing_a_session_stops_every_token_it_issued_the_rotated_sid_too(
    bridge: Bridge,
) -> None:
    """Evolution's `/check` rotates the launch sid and Ezugi's `/auth` swaps the launch
    token for a session token; the platform's close must stop those too."""
    await fund(bridge, "rob", "100.00")
    _, evo = await launch(bridge, launch_body("rob", "evo"))
    _, ezu = await launch(bridge, launch_body("rob", "ezugi"))
    assert evo["sessionId"] == ezu["sessionId"]
    base = str(bridge.client.make_url("/wallet/evolution/evo"))
    evolution = EvolutionClient(
        HttpTransport(bridge.client.session, base), DIALECT_SECRETS["evolution"]
    )
    checked = await evolution.check(sid=evo["providerToken"], user="rob")
    rotated = checked["sid"]
    assert checked["status"] == "OK" and rotated != evo["providerToken"], checked
    ezugi = EzugiClient(
        HttpTransport(bridge.client.session, str(bridge.client.make_url("/wallet/ezugi/ezugi"))),
        DIALECT_SECRETS["ezugi"],
        EZUGI_OPERATOR,
    )
    authed = await ezugi.auth(token=ezu["providerToken"])
    assert authed["errorCode"] == 0 and authed["token"] != ezu["providerToken"], authed

    def debit(tx: str) -> dict[str, Any]:
        return {
            "sid": rotated,
            "user": "rob",
            "currency": "EUR",
            "game_id": "R-rob",
            "tx_id": tx,
            "ref_id": tx,
            "amount": Decimal("5.00"),
        }

    assert (await evolution.debit(**debit("rob-1")))["status"] == "OK"
    closed = await bridge.client.post(
        f"/platform/v1/sessions/{evo['sessionId']}/close", headers=SESSIONS
    )
    assert closed.status == 200, await closed.text()

    assert (await evolution.debit(**debit("rob-2")))["status"] == "INVALID_SID"
    assert (await evolution.check(sid=rotated, user="rob"))["status"] == "INVALID_SID"
    balance = await evolution.balance(sid=rotated, user="rob", currency="EUR")
    assert balance["status"] == "INVALID_SID"
    refused = await ezugi.debit(
        user="rob", token=authed["token"], tx="rob-3", round_id=7002, amount=Decimal("1"),
        currency="EUR",
    )  # fmt: skip
    assert refused["errorCode"] == 6, refused
    paid = await evolution.credit(**{**debit("rob-1"), "tx_id": "rob-1-win"})
    assert paid["status"] == "OK", "the open bet still settles after the close"
    available = (await asyncio.to_thread(bridge.app[LEDGER].balance, "rob", "EUR")).available
    assert available == Decimal("100.00"), "only rob-1 moved money, and it was paid back"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_wins_and_rollbacks_of_a_sessions_bets_are_the_sessions(
    bridge: Bridge, dialect: str
) -> None:
    """A bet, its win and another bet's rollback, each as the dialect sends them (with
    the rotated token, or none): all recorded under the platform session and exported
    with it."""
    provider = PROVIDER_OF.get(dialect, dialect)
    launched = await funded_launch(bridge, "una", provider)
    sid = launched["sessionId"]
    play = driver(
        dialect, bridge.client.session, str(bridge.client.make_url(f"/wallet/{dialect}/{provider}"))
    )
    seat = Seat(player="una", currency="EUR", token=launched["providerToken"])
    won = Wager(bet_id="una-won", stake=Decimal("5.00"), payout=Decimal("10.00"))
    undone = Wager(bet_id="una-undone", stake=Decimal("3.00"))
    for wager in (won, undone):
        if dialect == "softswiss":  # its bet names a session only when sent one: send it
            answer = await dialect_debit(
                bridge, dialect, "una", seat.token, "7001", wager.bet_id, str(wager.stake)
            )
            assert answer == 200, answer
        else:
            assert await play.bet(seat, "7001", wager, duplicate=False) is Placed.TAKEN
    await play.rollback(seat, "7001", undone, early=False)
    await play.settle(seat, "7001", [won], duplicate=False)

    ledger = bridge.app[LEDGER]
    records = [
        r
        for r in await asyncio.to_thread(_records, ledger)
        # a round's close that pays nothing and names no bet (Pragmatic `endRound`) is no one's
        if r.provider == provider and (r.bets or r.kind != "credit")
    ]
    assert {"debit", "credit", "rollback"} <= {r.kind for r in records}, records
    assert {r.session_id for r in records} == {sid}, [
        (r.kind, r.tx_id, r.session_id) for r in records
    ]
    last = await asyncio.to_thread(ledger.recorder.max_notification_id)
    assert last is not None

    def export() -> str:
        found = selected(ledger.recorder, ledger.mapper, SessionQuery(sid), last)
        return json.dumps([data for _, data in found], default=str)

    text = await asyncio.to_thread(export)
    for record in records:
        assert record.tx_id in text, f"{record.kind} {record.tx_id} is not in the export"
    available = (await asyncio.to_thread(ledger.balance, "una", "EUR")).available
    assert available == Decimal("105.00")
