"""Player bets over REST: bet.place holds the stake once and answers bet.accepted, or
bet.rejected with a clear code and nothing held."""

from __future__ import annotations

import asyncio
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any

from contracts.events import AnyProviderEvent
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from projections.http import APPLICATION_NAME as LEDGER_NAME
from projections.http import VIEWS
from services.bridge.main import LEDGER
from services.ledger.domain import Bet
from services.ledger.domain import bet_uuid
from services.ledger.known_rounds import KnownRounds
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_sessions import evo_session
from tests.integration.frontdoor.test_sessions import fund
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body
from tests.unit.ledger.support import builders

NOW = datetime.now(UTC)


async def record(bridge: Bridge, event: AnyProviderEvent) -> None:
    await asyncio.to_thread(bridge.app[LEDGER].record_event, event)


def opened(round_id: str) -> BettingOpened:
    return builders.opened(round_id, at=NOW)


def bet(
    session: str, round_id: str, key: str, amount: str = "5.00", **fields: Any
) -> dict[str, Any]:
    return {
        "type": "bet.place",
        "idempotencyKey": key,
        "sessionId": session,
        "roundId": round_id,
        "selection": [{"market": "roulette_straight", "value": "17"}],
        "stake": {"amount": amount, "currency": "EUR"},
        **fields,
    }


async def place(bridge: Bridge, token: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = await bridge.client.post(
        "/platform/v1/bets", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status, await response.json()


async def available(bridge: Bridge, player: str) -> Decimal:
    return (await asyncio.to_thread(bridge.app[LEDGER].balance, player, "EUR")).available


async def test_a_double_click_holds_once_and_a_bet_after_the_close_is_rejected(
    bridge: Bridge,
) -> None:
    sid, token = await evo_session(bridge, "pia")
    await record(bridge, opened("R-1"))

    status, accepted = await place(bridge, token, bet(sid, "R-1", "click-1"))
    assert status == 200, accepted
    assert accepted["type"] == "bet.accepted"
    assert (accepted["balanceHold"], accepted["available"]) == ("-5.00", "95.00")
    assert accepted["betId"].startswith("bet_") and accepted["logPosition"] > 0
    status, again = await place(bridge, token, bet(sid, "R-1", "click-1"))
    assert status == 200 and again["betId"] == accepted["betId"]
    assert await available(bridge, "pia") == Decimal("95.00"), "two clicks, one hold"
    status, conflict = await place(bridge, token, bet(sid, "R-1", "click-1", amount="6.00"))
    assert status == 409 and conflict["code"] == "LBRG-409 IDEMPOTENCY_CONFLICT"

    await record(bridge, BettingClosed(provider="evo", round_id="R-1", seq=2, occurred_at=NOW))
    status, late = await place(bridge, token, bet(sid, "R-1", "click-2"))
    assert status == 409 and late["type"] == "bet.rejected"
    assert late["code"] == "LBRG-409 BETTING_CLOSED" and late["message"]
    status, repeat = await place(bridge, token, bet(sid, "R-1", "click-1"))
    assert status == 200 and repeat["betId"] == accepted["betId"], "a repeat keeps its answer"
    assert await available(bridge, "pia") == Decimal("95.00")


async def test_a_bet_that_cannot_stand_is_rejected_with_its_code_and_holds_nothing(
    bridge: Bridge,
) -> None:
    await fund(bridge, "quin", "10.00")
    await fund(bridge, "rex")
    _, quin = await launch(bridge, launch_body("quin", "evo"))
    _, rex = await launch(bridge, launch_body("rex", "evo"))
    sid, token = quin["sessionId"], quin["playerToken"]
    await record(bridge, opened("R-2"))
    cases: list[tuple[dict[str, Any], str]] = [
        (bet(sid, "R-none", "k1"), "LBRG-404 ROUND_NOT_FOUND"),
        (bet(sid, "R-2", "k2", amount="10.01"), "LBRG-422 INSUFFICIENT_FUNDS"),
        (bet(sid, "R-2", "k3", amount="0.001"), "LBRG-422 INVALID_STAKE"),
        (bet(sid, "R-2", "k4", amount="0"), "LBRG-422 INVALID_STAKE"),
        (
            bet(sid, "R-2", "k5", stake={"amount": "1.00", "currency": "USD"}),
            "LBRG-422 INVALID_STAKE",
        ),
        (bet(sid, "R-2", "k6", selection=[]), "LBRG-422 INVALID_STAKE"),
    ]
    for body, code in cases:
        status, answer = await place(bridge, token, body)
        assert answer.get("code") == code, (body, answer)
        assert status == int(code[5:8])
    status, answer = await place(bridge, token, bet(rex["sessionId"], "R-2", "k7"))
    assert status == 403 and answer["error"] == "LBRG-403 NOT_YOUR_SESSION"
    status, answer = await place(bridge, token, {"type": "bet.place", "stake": 5})
    assert status == 400 and answer["error"] == "LBRG-400 INVALID_REQUEST"
    # ids the id policy refuses: an empty key would make every keyless bet one bet
    for bad in ({"idempotencyKey": ""}, {"idempotencyKey": "k\u0000"}, {"roundId": ""},
                {"idempotencyKey": "k" * 129}, {"sessionId": ""}):  # fmt: skip
        status, answer = await place(bridge, token, {**bet(sid, "R-2", "k10"), **bad})
        assert (status, answer.get("error")) == (400, "LBRG-400 INVALID_REQUEST"), (bad, answer)
    status, answer = await place(bridge, "forged.token.here", bet(sid, "R-2", "k8"))
    assert status == 401 and answer["error"] == "LBRG-401 INVALID_TOKEN"
    await bridge.client.post(f"/platform/v1/sessions/{sid}/close", headers=Bridge.auth("sessions"))
    status, answer = await place(bridge, token, bet(sid, "R-2", "k9"))
    assert status == 409 and answer["error"] == "LBRG-409 SESSION_CLOSED"
    assert await available(bridge, "quin") == Decimal("10.00")


async def test_a_repeat_of_a_taken_bet_gets_its_first_answer_whatever_closed_since(
    bridge: Bridge,
) -> None:
    """A player whose answer was lost sends the bet again: the table, the provider, the
    rules or the session may have closed meanwhile, but the stake is held, and the repeat
    must say so (the first answer), or IDEMPOTENCY_CONFLICT if it is another bet."""
    sid, token = await evo_session(bridge, "vera")
    await record(bridge, opened("R-rep"))
    status, first = await place(bridge, token, bet(sid, "R-rep", "r-1"))
    assert status == 200, first
    admin = Bridge.auth("admin")
    table = "/platform/v1/providers/evo/tables/T1/status"
    provider = "/platform/v1/providers/evo/status"
    only_vip = {"rules": [{"profiles": ["VIP_A"]}]}
    closings = [
        ("TABLE_CLOSED", table, {"status": "MAINTENANCE"}, {"status": "OPEN"}),
        ("PROVIDER_DOWN", provider, {"up": False}, {"up": True}),
        ("PROFILE_NOT_ALLOWED", "/platform/v1/limits/rules", only_vip, {"rules": []}),
    ]
    for n, (code, path, close, reopen) in enumerate(closings):
        closed = await bridge.client.put(path, json=close, headers=admin)
        assert closed.status == 200, await closed.text()
        status, other = await place(bridge, token, bet(sid, "R-rep", f"new-{n}"))
        assert other.get("code", "")[9:] == code, other
        status, again = await place(bridge, token, bet(sid, "R-rep", "r-1"))
        assert status == 200 and again["betId"] == first["betId"], (code, again)
        assert again["transactionId"] == first["transactionId"]
        status, conflict = await place(bridge, token, bet(sid, "R-rep", "r-1", amount="6.00"))
        assert conflict.get("code") == "LBRG-409 IDEMPOTENCY_CONFLICT", (code, conflict)
        reopened = await bridge.client.put(path, json=reopen, headers=admin)
        assert reopened.status == 200, await reopened.text()

    await bridge.client.post(f"/platform/v1/sessions/{sid}/close", headers=Bridge.auth("sessions"))
    status, other = await place(bridge, token, bet(sid, "R-rep", "new-closed"))
    assert other.get("error") == "LBRG-409 SESSION_CLOSED", other
    status, again = await place(bridge, token, bet(sid, "R-rep", "r-1"))
    assert status == 200 and again["betId"] == first["betId"], again
    status, conflict = await place(bridge, token, bet(sid, "R-rep", "r-1", amount="6.00"))
    assert conflict.get("code") == "LBRG-409 IDEMPOTENCY_CONFLICT", conflict
    assert await available(bridge, "vera") == Decimal("95.00"), "one hold, the first"


def split(*parts: str) -> list[dict[str, str]]:
    """Straight 17 and red, each pick carrying its part of the stake (the table limits only
    straight bets: red meets no minimum that would refuse its part anyway)."""
    picks = ({"market": "roulette_straight", "value": "17"}, {"market": "roulette_red"})
    return [{**pick, "amount": part} for pick, part in zip(picks, parts, strict=False)]


async def test_a_stake_split_into_parts_that_are_not_money_is_rejected_and_holds_nothing(
    bridge: Bridge,
) -> None:
    """Each part of a split stake is paid at its own ratio when the round settles: a part
    that is negative, zero, not a number or finer than a cent would pay what was not
    staked (1000 on 17 and -900 on red add up to a stake of 100, and 17 pays 36,000)."""
    sid, token = await evo_session(bridge, "una")
    await record(bridge, opened("R-split"))
    splits = [
        split("50.00", "-45.00"),
        split("5.00", "0"),
        split("5.00", "-0.00"),
        split("2.495", "2.505"),
        split("sNaN"),
        split("NaN"),
        split("Infinity", "-Infinity"),
        split("2.00", "2.00"),
    ]
    for n, selection in enumerate(splits):
        status, answer = await place(
            bridge, token, bet(sid, "R-split", f"s{n}", selection=selection)
        )
        assert (status, answer.get("code")) == (422, "LBRG-422 INVALID_STAKE"), (selection, answer)
        assert answer["type"] == "bet.rejected" and answer["message"], answer
    assert await available(bridge, "una") == Decimal("100.00"), "nothing held"

    status, taken = await place(
        bridge, token, bet(sid, "R-split", "s-good", selection=split("2.50", "2.5"))
    )
    assert status == 200 and taken["balanceHold"] == "-5.00", taken
    assert await available(bridge, "una") == Decimal("95.00")


async def test_a_bet_on_a_round_this_bridge_has_not_seen_takes_its_table_from_the_log(
    bridge: Bridge,
) -> None:
    """A bet takes the round's table and game from what the bridge knows of the round, and
    reads the round from the log when it knows nothing of it (opened through another
    bridge)."""
    sid, token = await evo_session(bridge, "sol")
    ledger = bridge.app[LEDGER]
    socket = f"/platform/v1/player/socket?token={token}"
    async with bridge.client.ws_connect(socket) as ws:
        await record(bridge, builders.opened("R-unseen", "evo", "baccarat", table="T2-VIP"))
        await record(bridge, builders.opened("R-marker", "evo", "roulette", table="T1"))
        while (await asyncio.wait_for(ws.receive_json(), 10)).get("roundId") != "R-marker":
            pass  # the push hub, which follows the log in order, has read R-unseen's opening
    await asyncio.to_thread(ledger.drain_round_book)  # and so has the round book
    ledger.known_rounds = KnownRounds()  # as a bridge that has not read R-unseen's opening
    await record(bridge, builders.opened("R-seen", "evo", "roulette", table="T1"))
    assert ledger.known_rounds.get("evo", "R-unseen") is None

    booked = {}
    for round_id in ("R-seen", "R-unseen"):
        status, answer = await place(bridge, token, bet(sid, round_id, f"k-{round_id}"))
        assert status == 200, answer
        placed = ledger.find(Bet, bet_uuid("evo", answer["betId"]))
        assert placed is not None
        booked[round_id] = (placed.table, placed.game)
    assert booked == {"R-seen": ("T1", "roulette"), "R-unseen": ("T2-VIP", "baccarat")}


async def test_a_selection_the_views_cannot_store_is_refused_and_the_round_view_parks_nothing(
    bridge: Bridge,
) -> None:
    """A pick is stored in the round view's PostgreSQL jsonb, which holds no NUL: a bet
    whose market or value breaks the id policy (a control, invisible or overlong text) is
    refused as a malformed body and holds nothing, instead of being taken by the ledger
    and parked by the view (which then disagrees with the ledger about the bet)."""
    sid, token = await evo_session(bridge, "ida")
    await record(bridge, opened("R-picks"))
    picks = [
        {"market": "roulette_straight", "value": "1\u0000"},
        {"market": "roulette_\u0000straight", "value": "17"},
        {"market": "roulette_straight", "value": "17\u200b"},
        {"market": "roulette_straight", "value": "1" * 129},
    ]
    for n, pick in enumerate(picks):
        status, answer = await place(bridge, token, bet(sid, "R-picks", f"p{n}", selection=[pick]))
        assert (status, answer.get("error")) == (400, "LBRG-400 INVALID_REQUEST"), (pick, answer)
        assert "selection" in answer["message"], answer
    assert await available(bridge, "ida") == Decimal("100.00"), "nothing held"

    status, taken = await place(bridge, token, bet(sid, "R-picks", "p-good"))
    assert status == 200, taken
    views = bridge.app[VIEWS]
    await asyncio.to_thread(views.wait, taken["logPosition"], 30)
    assert views.rounds.parked(LEDGER_NAME) == []
    (found,) = await asyncio.to_thread(views.rounds.rounds, "R-picks", LEDGER_NAME, "evo")
    assert [b.bet_id for b in found.bets] == [taken["betId"]]
