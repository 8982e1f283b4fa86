"""Limit profiles and player protection over real HTTP, NATS and PostgreSQL: set through
the operator API, stored in the log, applied before the next hold on every path."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import nats
import pytest

from contracts.protection import RiskFlag
from contracts.protection import SelfExclusion
from projections.export.exporter import selected
from projections.export.selection import SessionQuery
from services.bridge.config import Settings
from services.bridge.main import LEDGER
from services.bridge.main import PROTECTION
from services.bridge.main import ledger_env
from services.frontdoor.launch import PLATFORM_SESSIONS
from services.frontdoor.protection import limits_subject
from services.ledger.protection import Protection
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet as ss_bet
from tests.integration.frontdoor.conftest import DIALECT_SECRETS
from tests.integration.frontdoor.conftest import EZUGI_OPERATOR
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.conftest import all_but_key
from tests.integration.frontdoor.test_bets import available
from tests.integration.frontdoor.test_bets import bet
from tests.integration.frontdoor.test_bets import opened
from tests.integration.frontdoor.test_bets import place
from tests.integration.frontdoor.test_bets import record
from tests.integration.frontdoor.test_documents import served_document
from tests.integration.frontdoor.test_sessions import DIALECTS
from tests.integration.frontdoor.test_sessions import PROVIDER_OF
from tests.integration.frontdoor.test_sessions import evo_session
from tests.integration.frontdoor.test_sessions import fund
from tests.integration.frontdoor.test_sessions import funded_launch
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body
from tests.integration.frontdoor.test_socket import next_answer
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM

LIMITS = {"Authorization": f"Bearer {all_but_key('protection')}"}
"""A key with scope `limits` (and every other but `protection`)."""
PROTECTION_KEY = {"Authorization": f"Bearer {all_but_key('limits')}"}
"""A key with scope `protection` (and every other but `limits`)."""


_EVOLUTION_SIDS: dict[str, str] = {}


async def dialect_debit(
    bridge: Bridge, dialect: str, player: str, token: str, round_id: str, tx: str, amount: str
) -> Any:
    """One debit in `dialect`, as its provider sends it: the dialect's own status."""
    provider = PROVIDER_OF.get(dialect, dialect)
    transport = HttpTransport(
        bridge.client.session, str(bridge.client.make_url(f"/wallet/{dialect}/{provider}"))
    )
    stake = Decimal(amount)
    match dialect:
        case "hub88":
            hub88 = Hub88Client(transport, load_private_key(HUB88_PRIVATE_PEM))
            call = hub88.bet_call(
                user=player, token=token, round_id=round_id, tx=tx, amount=stake, currency="EUR"
            )
            return (await hub88.send(call))["status"]
        case "evolution":
            evo = EvolutionClient(transport, DIALECT_SECRETS["evolution"])
            if token not in _EVOLUTION_SIDS:  # /check rotates the launch sid: once per token
                checked = await evo.check(sid=token, user=player)
                assert checked["status"] == "OK", checked
                _EVOLUTION_SIDS[token] = checked["sid"]
            answer = await evo.debit(
                sid=_EVOLUTION_SIDS[token],
                user=player,
                currency="EUR",
                game_id=round_id,
                tx_id=tx,
                ref_id=tx,
                amount=stake,
            )
            return answer["status"]
        case "pragmatic":
            pp = PragmaticClient(transport, DIALECT_SECRETS["pragmatic"])
            answer = await pp.bet(
                user=player, round_id=round_id, reference=tx, amount=stake, token=token
            )
            return answer["error"]
        case "softswiss":
            ss = SoftSwissClient(transport, DIALECT_SECRETS["softswiss"])
            answer = await ss.play(
                user=player,
                currency="EUR",
                round_id=round_id,
                actions=[ss_bet(tx, stake, "EUR")],
                session_id=token,
            )
            return answer.get("code", answer.get("http_status"))
        case "ezugi":
            ezugi = EzugiClient(transport, DIALECT_SECRETS["ezugi"], EZUGI_OPERATOR)
            answer = await ezugi.debit(
                user=player, token=token, tx=tx, round_id=round_id, amount=stake, currency="EUR"
            )
            return answer["errorCode"]
    raise AssertionError(dialect)


async def post(bridge: Bridge, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await bridge.client.post(path, json=body, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def seated(bridge: Bridge, player: str, round_id: str) -> dict[str, Any]:
    """`player` funded with 500.00, launched at evo's T1 where `round_id` is open."""
    launched = await funded_launch(bridge, player, amount="500.00")
    await record(bridge, opened(round_id))
    return launched


async def test_a_limits_update_during_an_open_round_applies_to_the_next_bet(
    bridge: Bridge, bridge_settings: Settings
) -> None:
    await fund(bridge, "lia", "500.00")
    _, hub88 = await launch(bridge, launch_body("lia", "hub88"))
    _, session = await launch(bridge, launch_body("lia", "evo"))  # the last launch takes bets
    sid, token = session["sessionId"], session["playerToken"]
    await record(bridge, opened("R-1"))
    assert bridge_settings.nats_url is not None
    listener = await nats.connect(bridge_settings.nats_url)
    pushed = await listener.subscribe(limits_subject(bridge_settings.stream_prefix))
    try:
        status, first = await place(bridge, token, bet(sid, "R-1", "k-1", "50.00"))
        assert status == 200, first

        # The operator lowers DEFAULT's limits on evo in EUR while R-1 is open.
        update = {
            "type": "limits.update",
            "provider": "evo",
            "currency": "EUR",
            "effectiveAt": "2026-12-03T12:00:00Z",
            "limits": {"profile": "DEFAULT", "maxBet": "20.00", "maxRound": "60.00"},
        }
        async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
            initial = await asyncio.wait_for(ws.receive_json(), 10)
            assert initial["type"] == "limits.update" and initial["logPosition"] == 0
            stored = await post(bridge, "/platform/v1/limits", update, LIMITS)
            assert stored["logPosition"] > 0 and stored["limits"]["maxBet"] == "20.00"
            message = await pushed.next_msg(timeout=5)
            assert json.loads(message.data)["limits"]["maxRound"] == "60.00"
            while (push := await asyncio.wait_for(ws.receive_json(), 10))["type"] != (
                "limits.update"
            ):
                pass
            assert push["limits"]["maxBet"] == "20.00", "pushed to the connected player"

        status, over = await place(bridge, token, bet(sid, "R-1", "k-2", "25.00"))
        assert (status, over["code"]) == (422, "LBRG-422 INVALID_STAKE"), over
        status, round_over = await place(bridge, token, bet(sid, "R-1", "k-3", "15.00"))
        assert (status, round_over["code"]) == (429, "LBRG-429 LIMIT_EXCEEDED"), round_over
        status, within = await place(bridge, token, bet(sid, "R-1", "k-4", "10.00"))
        assert status == 200 and within["effectiveLimits"]["maxBet"] == "20.00", within
        assert await available(bridge, "lia") == Decimal("440.00"), "only two bets held"

        # The limits are the log's, not this process's: a fresh state from the log agrees.
        guard = bridge.app[PROTECTION]
        assert guard.state.limits_for("evo", "T1", "EUR", "DEFAULT").max_bet == Decimal("20")
        listed = await bridge.client.get("/platform/v1/limits", headers=LIMITS)
        assert [u["limits"]["maxBet"] for u in (await listed.json())["updates"]] == ["20.00"]

        # A provider's debit is bound by the player's profile too, in its own dialect.
        await post(
            bridge,
            "/platform/v1/limits",
            {**update, "provider": "hub88", "limits": {"profile": "DEFAULT", "maxBet": "20.00"}},
            LIMITS,
        )
        answer = await dialect_debit(
            bridge, "hub88", "lia", hub88["providerToken"], "R-h", "h-1", "30.00"
        )
        assert answer == "RS_ERROR_LIMIT_REACHED"
        assert await available(bridge, "lia") == Decimal("440.00")
    finally:
        await listener.close()


async def test_a_socket_is_pushed_only_the_limits_its_player_is_held_to(bridge: Bridge) -> None:
    """A stored `limits.update` reaches a socket as the limits its player now bets under:
    another profile's update is not its player's, and what is pushed holds the table's own
    bet-type limits with the profile's, as the socket's first message and the check do."""
    launched = await seated(bridge, "ned", "R-7")  # a DEFAULT player at evo's T1
    token = launched["playerToken"]
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        first = await asyncio.wait_for(ws.receive_json(), 10)
        assert first["type"] == "limits.update", first
        assert first["limits"]["betTypes"]["roulette_straight"]["max"] == "100.00", first
        for profile, most in (("VIP_A", "5000.00"), ("DEFAULT", "1000.00")):
            limits = {"profile": profile, "maxBet": most}
            update = {"provider": "evo", "effectiveAt": "2026-12-03T12:00:00Z", "limits": limits}
            await post(bridge, "/platform/v1/limits", update, LIMITS)
        pushed: list[dict[str, Any]] = []
        while not pushed or pushed[-1]["limits"]["maxBet"] != "1000.00":
            message = await asyncio.wait_for(ws.receive_json(), 10)
            if message["type"] == "limits.update":
                pushed.append(message)
                assert message["limits"]["profile"] == "DEFAULT", message
        assert [m["limits"]["maxBet"] for m in pushed] == ["1000.00"]
        assert pushed[-1]["limits"]["betTypes"]["roulette_straight"]["max"] == "100.00"
        assert pushed[-1]["table"] == "T1" and pushed[-1]["logPosition"] > 0


async def test_a_self_excluded_players_bet_is_refused_in_every_dialect_and_on_the_canonical_path(
    bridge: Bridge,
) -> None:
    await fund(bridge, "sam", "100.00")
    tokens = {}
    for dialect in DIALECTS:
        provider = PROVIDER_OF.get(dialect, dialect)
        status, launched = await launch(bridge, launch_body("sam", provider))
        assert status == 200, launched
        tokens[dialect] = launched["providerToken"]
    sid, token = launched["sessionId"], launched["playerToken"]
    # Recorded straight in the log, as another bridge would: the sessions here stay open
    # (a change over this bridge's API closes them, below), so the ledger's check before
    # every hold is what refuses, in each dialect's words.
    excluded = await asyncio.to_thread(
        bridge.app[PROTECTION].change,
        "sam",
        SelfExclusion(reason="asked by the player"),
        "casino/all-but-limits",
    )
    assert excluded.excluded_until is not None and excluded.excluded_until.year == 9999

    refused_as = {
        "hub88": "RS_ERROR_USER_DISABLED",
        "evolution": "ACCOUNT_LOCKED",
        "pragmatic": 6,
        "softswiss": 110,
        "ezugi": 8,
    }
    for dialect in DIALECTS:
        answer = await dialect_debit(
            bridge, dialect, "sam", tokens[dialect], f"R-{dialect}", f"x-{dialect}", "5.00"
        )
        assert answer == refused_as[dialect], (dialect, answer)
    await record(bridge, msgspec.structs.replace(opened("R-2"), provider="ezugi"))
    status, canonical = await place(bridge, token, bet(sid, "R-2", "s-1"))
    assert (status, canonical["code"]) == (403, "LBRG-403 SELF_EXCLUDED"), canonical
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        await ws.send_json(bet(sid, "R-2", "s-2"))
        assert (await next_answer(ws))["code"] == "LBRG-403 SELF_EXCLUDED"
    assert await available(bridge, "sam") == Decimal("100.00"), "nothing held anywhere"

    history = await bridge.client.get(
        "/platform/v1/players/sam/protection/history", headers=PROTECTION_KEY
    )
    records = (await history.json())["records"]
    assert [r["change"]["type"] for r in records] == ["self_exclusion"]
    assert records[0]["operator"] == "casino/all-but-limits"


@pytest.mark.parametrize(
    "change",
    [{"type": "self_exclusion", "reason": "asked"}, {"type": "time_out", "minutes": 30}],
    ids=["self_exclusion", "time_out"],
)
async def test_a_self_exclusion_or_time_out_ends_the_players_open_sessions(
    bridge: Bridge, change: dict[str, Any]
) -> None:
    await fund(bridge, "tim", "100.00")
    _, hub88 = await launch(bridge, launch_body("tim", "hub88"))
    _, session = await launch(bridge, launch_body("tim", "evo"))
    sid, token = session["sessionId"], session["playerToken"]
    assert hub88["sessionId"] == sid
    async with bridge.client.ws_connect(f"/platform/v1/player/socket?token={token}") as ws:
        await post(bridge, "/platform/v1/players/tim/protection", change, PROTECTION_KEY)
        closing = await next_answer(ws)
        assert closing["type"] == "session.close", closing
        assert (closing["sessionId"], closing["reason"]) == (sid, "PROTECTION")
        ended = await asyncio.wait_for(ws.receive(), 10)
        assert ended.type == aiohttp.WSMsgType.CLOSE, ended
    assert ws.closed
    view = await bridge.client.get(
        f"/platform/v1/player/sessions/{sid}", headers={"Authorization": f"Bearer {token}"}
    )
    assert (await view.json())["state"] == "CLOSED"
    answer = await dialect_debit(
        bridge, "hub88", "tim", hub88["providerToken"], "R-t", "t-1", "5.00"
    )
    assert answer == "RS_ERROR_INVALID_TOKEN", "the provider token the session issued is revoked"
    await record(bridge, opened("R-t"))
    status, refused = await place(bridge, token, bet(sid, "R-t", "t-2"))
    assert (status, refused.get("error")) == (409, "LBRG-409 SESSION_CLOSED"), refused
    assert await available(bridge, "tim") == Decimal("100.00")


async def test_a_blocked_player_is_not_launched_and_the_refusal_opens_nothing(
    bridge: Bridge,
) -> None:
    """Self-excluded through the API (which closes the session), then lifted, then flagged
    high-risk by another bridge: every launch while blocked is refused and opens nothing."""
    await fund(bridge, "ida", "100.00")
    _, first = await launch(bridge, launch_body("ida", "hub88"))
    exclusion = {"type": "self_exclusion", "reason": "asked"}
    await post(bridge, "/platform/v1/players/ida/protection", exclusion, PROTECTION_KEY)
    store = bridge.app[PLATFORM_SESSIONS]

    async def refused_launches(why: str) -> None:
        for provider in ("hub88", "evo"):
            status, refused = await launch(bridge, launch_body("ida", provider))
            assert (status, refused.get("error")) == (403, "LBRG-403 SELF_EXCLUDED"), refused
            assert "'ida'" in refused["message"] and why in refused["message"], refused
        assert await store.open_of("casino", "ida", "EUR") is None, "no session was opened"

    await refused_launches("self-excluded")
    closed = await store.get(first["sessionId"])
    assert closed is not None and closed.close_reason == "PROTECTION"
    answer = await dialect_debit(bridge, "hub88", "ida", first["providerToken"], "R-i", "i-1", "1")
    assert answer == "RS_ERROR_INVALID_TOKEN", "the refused launch gave the old token no life"

    await post(bridge, "/platform/v1/players/ida/protection", {"type": "lift"}, PROTECTION_KEY)
    status, again = await launch(bridge, launch_body("ida", "hub88"))
    assert status == 200 and again["sessionId"] != first["sessionId"], again

    before = await store.get(again["sessionId"])
    other = await asyncio.to_thread(Protection, ledger_env(bridge.app))
    try:  # another bridge's write: this one may not have followed it when the launch comes
        await asyncio.to_thread(other.change, "ida", RiskFlag(high_risk=True), "casino/aml")
    finally:
        await asyncio.to_thread(other.close)
    status, refused = await launch(bridge, launch_body("ida", "evo"))
    assert (status, refused.get("error")) == (403, "LBRG-403 SELF_EXCLUDED"), refused
    assert "high-risk" in refused["message"]
    assert await store.get(again["sessionId"]) == before, "the open session is as it was"
    assert await available(bridge, "ida") == Decimal("100.00")


async def test_a_tables_own_bet_type_limits_hold_with_the_profiles_and_the_stricter_wins(
    bridge: Bridge,
) -> None:
    """T1's catalogue entry: roulette_straight between 0.10 and 100.00 (conftest)."""
    launched = await seated(bridge, "tia", "R-tl")
    sid, token = launched["sessionId"], launched["playerToken"]
    status, over = await place(bridge, token, bet(sid, "R-tl", "tl-1", "150.00"))
    assert (status, over["code"]) == (422, "LBRG-422 INVALID_STAKE"), over
    assert "over its maximum 100.00" in over["message"]
    status, under = await place(bridge, token, bet(sid, "R-tl", "tl-2", "0.05"))
    assert (status, under["code"]) == (422, "LBRG-422 INVALID_STAKE"), under

    def profile(max_straight: str) -> dict[str, Any]:
        return {
            "type": "limits.update",
            "provider": "evo",
            "effectiveAt": "2026-12-03T12:00:00Z",
            "limits": {
                "profile": "DEFAULT",
                "betTypes": {"roulette_straight": {"max": max_straight}},
            },
        }

    await post(bridge, "/platform/v1/limits", profile("500.00"), LIMITS)  # looser: the table's
    status, still = await place(bridge, token, bet(sid, "R-tl", "tl-3", "150.00"))
    assert (status, still["code"]) == (422, "LBRG-422 INVALID_STAKE"), still
    await post(bridge, "/platform/v1/limits", profile("40.00"), LIMITS)  # stricter: the profile's
    status, refused = await place(bridge, token, bet(sid, "R-tl", "tl-4", "50.00"))
    assert (status, refused["code"]) == (422, "LBRG-422 INVALID_STAKE"), refused
    status, accepted = await place(bridge, token, bet(sid, "R-tl", "tl-5", "40.00"))
    assert status == 200, accepted
    assert accepted["effectiveLimits"]["betTypes"]["roulette_straight"] == {
        "min": "0.10",
        "max": "40.00",
    }
    assert await available(bridge, "tia") == Decimal("460.00")


async def test_a_providers_debit_is_held_to_the_tables_limits_wherever_the_table_is_known(
    bridge: Bridge,
) -> None:
    """Evolution names the table in its debit, and no bet type; a debit naming no table is at
    its round's table when the feed opened it there. T1 takes 0.10 to 100.00 (conftest)."""
    launched = await seated(bridge, "tod", "R-fed")  # R-fed: opened at T1 by the feed
    evo = EvolutionClient(
        HttpTransport(bridge.client.session, str(bridge.client.make_url("/wallet/evolution/evo"))),
        DIALECT_SECRETS["evolution"],
    )
    checked = await evo.check(sid=launched["providerToken"], user="tod")
    assert checked["status"] == "OK", checked

    async def debit(tx: str, amount: str, table: str, round_id: str = "R-evo") -> str:
        answer = await evo.debit(
            sid=checked["sid"], user="tod", currency="EUR", game_id=round_id, tx_id=tx,
            ref_id=tx, amount=Decimal(amount), table=table,
        )  # fmt: skip
        return str(answer["status"])

    assert await debit("d-1", "150.00", "T1") == "CASINO_LIMIT_EXCEEDED_STAKE"
    assert await debit("d-2", "0.05", "T1") == "CASINO_LIMIT_EXCEEDED_STAKE"
    assert await debit("d-3", "150.00", "", "R-fed") == "CASINO_LIMIT_EXCEEDED_STAKE"
    assert await debit("d-4", "100.00", "T1") == "OK"
    assert await debit("d-5", "150.00", "not-in-the-catalogue") == "OK", "no table limits known"
    assert await available(bridge, "tod") == Decimal("250.00")

    tighter = {
        "type": "limits.update",
        "provider": "evo",
        "effectiveAt": "2026-12-03T12:00:00Z",
        "limits": {"profile": "DEFAULT", "betTypes": {"roulette_straight": {"max": "20.00"}}},
    }
    await post(bridge, "/platform/v1/limits", tighter, LIMITS)  # the stricter one holds
    assert await debit("d-6", "30.00", "", "R-fed") == "CASINO_LIMIT_EXCEEDED_STAKE"
    assert await debit("d-7", "20.00", "", "R-fed") == "OK"
    assert await available(bridge, "tod") == Decimal("230.00")


async def test_a_loss_limit_reached_mid_session_refuses_the_next_bet(bridge: Bridge) -> None:
    sid, token = await evo_session(bridge, "leo")
    await post(
        bridge,
        "/platform/v1/players/leo/protection",
        {"type": "limit", "kind": "LOSS", "period": "DAY", "currency": "EUR", "amount": "30.00"},
        PROTECTION_KEY,
    )
    await record(bridge, opened("R-3"))
    for key in ("l-1", "l-2", "l-3"):
        status, answer = await place(bridge, token, bet(sid, "R-3", key, "10.00"))
        assert status == 200, answer
    status, refused = await place(bridge, token, bet(sid, "R-3", "l-4", "1.00"))
    assert (status, refused["code"]) == (429, "LBRG-429 LIMIT_EXCEEDED"), refused
    assert "losses this day" in refused["message"]
    assert await available(bridge, "leo") == Decimal("70.00")


async def test_a_mistyped_field_in_a_protection_or_limits_change_is_refused_not_dropped(
    bridge: Bridge,
) -> None:
    """A limit without `amount` removes it, limits without `maxBet` have no maximum: a
    mistyped `ammount` or `maxbet` dropped silently would lift the limit the operator meant
    to set. Refused, as livebridge.toml refuses a mistyped key, and nothing changes."""
    limit = {"type": "limit", "kind": "LOSS", "period": "DAY", "currency": "EUR"}
    path = "/platform/v1/players/ned/protection"
    set_ = await bridge.client.post(path, json={**limit, "amount": "30.00"}, headers=PROTECTION_KEY)
    assert set_.status == 200
    for body, where, headers, route in (
        ({**limit, "ammount": "20.00"}, "ammount", PROTECTION_KEY, path),
        ({"type": "self_exclusion", "untill": "2030-01-01T00:00:00Z"}, "untill", PROTECTION_KEY,
         path),
        ({"provider": "evo", "effectiveAt": "2026-12-03T12:00:00Z",
          "limits": {"profile": "DEFAULT", "maxbet": "5"}}, "maxbet", LIMITS,
         "/platform/v1/limits"),
        ({"provider": "evo", "effectiveAt": "2026-12-03T12:00:00Z", "limits": {
          "profile": "DEFAULT", "betTypes": {"roulette_straight": {"maximum": "5"}}}}, "maximum",
         LIMITS, "/platform/v1/limits"),
        ({"rules": [{"profiles": ["DEFAULT"], "contry": "DE"}]}, "contry", LIMITS,
         "/platform/v1/limits/rules"),
    ):  # fmt: skip
        method = "PUT" if route.endswith("rules") else "POST"
        response = await bridge.client.request(method, route, json=body, headers=headers)
        answer = await response.json()
        assert (response.status, answer.get("error")) == (400, "LBRG-400 INVALID_REQUEST"), (
            body,
            answer,
        )
        assert where in answer["message"], answer
    view = await (await bridge.client.get(path, headers=PROTECTION_KEY)).json()
    assert [limit["amount"] for limit in view["limits"]] == ["30.00"]
    assert view["excludedUntil"] is None
    listed = await (await bridge.client.get("/platform/v1/limits", headers=LIMITS)).json()
    assert (listed["updates"], listed["rules"]) == ([], [])


async def test_the_deposit_limit_applies_to_the_cashier(bridge: Bridge) -> None:
    await fund(bridge, "dee", "40.00")
    await post(
        bridge,
        "/platform/v1/players/dee/protection",
        {"type": "limit", "kind": "DEPOSIT", "period": "WEEK", "currency": "EUR", "amount": "50"},
        PROTECTION_KEY,
    )
    response = await bridge.client.post(
        "/platform/v1/players/dee/deposits",
        json={"idempotencyKey": "dee-2", "currency": "EUR", "amount": "20.00"},
        headers=Bridge.auth("cashier"),
    )
    body = await response.json()
    assert (response.status, body["error"]) == (429, "LBRG-429 LIMIT_EXCEEDED"), body


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/platform/v1/limits", "limits"),
        ("GET", "/platform/v1/limits", "limits"),
        ("PUT", "/platform/v1/limits/rules", "limits"),
        ("PUT", "/platform/v1/players/p/limits-profile", "limits"),
        ("POST", "/platform/v1/players/p/protection", "protection"),
        ("GET", "/platform/v1/players/p/protection", "protection"),
        ("GET", "/platform/v1/players/p/protection/history", "protection"),
    ],
)
async def test_each_limits_and_protection_route_needs_its_scope(
    bridge: Bridge, method: str, path: str, scope: str
) -> None:
    headers = {"Authorization": f"Bearer {all_but_key(scope)}"}
    response = await bridge.client.request(method, path, json={}, headers=headers)
    body = await response.json()
    assert (response.status, body["error"]) == (403, "LBRG-403 SCOPE_REQUIRED"), body
    response = await bridge.client.request(method, path, json={})
    assert response.status == 401


async def test_the_openapi_document_has_the_routes_with_their_error_responses(
    bridge: Bridge,
) -> None:
    document = await served_document(bridge, "/openapi.json")
    paths = document["paths"]
    expected = {
        ("/platform/v1/limits", "post"): {"401", "403", "422"},
        ("/platform/v1/limits", "get"): {"401", "403"},
        ("/platform/v1/limits/rules", "put"): {"400", "403"},
        ("/platform/v1/players/{player}/limits-profile", "put"): {"400", "403"},
        ("/platform/v1/players/{player}/protection", "post"): {"400", "403", "422"},
        ("/platform/v1/players/{player}/protection", "get"): {"400", "403"},
        ("/platform/v1/players/{player}/protection/history", "get"): {"400", "403"},
    }
    for (path, method), statuses in expected.items():
        operation = paths[path][method]
        assert statuses <= set(operation["responses"]), (path, method)
        assert "200" in operation["responses"]
    bets = paths["/platform/v1/bets"]["post"]["responses"]
    assert "LBRG-403 SELF_EXCLUDED" in bets["403"]["description"]
    assert "LBRG-403 PROFILE_NOT_ALLOWED" in bets["403"]["description"]
    assert "LBRG-429 LIMIT_EXCEEDED" in bets["429"]["description"]
    deposits = paths["/platform/v1/players/{player}/deposits"]["post"]["responses"]
    assert "LBRG-429 LIMIT_EXCEEDED" in deposits["429"]["description"]
    for name in ("limits.update",):
        schema = await served_document(bridge, f"/contracts/{name}.json")
        assert "betTypes" in json.dumps(schema)


async def test_rules_decide_which_profile_a_bet_may_name_and_bad_input_changes_nothing(
    bridge: Bridge,
) -> None:
    sid, token = await evo_session(bridge, "vic", kycStatus="PENDING")
    await record(bridge, opened("R-4"))
    rules = {
        "rules": [
            {"kycStatus": "VERIFIED", "profiles": ["DEFAULT", "VIP_A"]},
            {"profiles": ["DEFAULT"]},
        ]
    }
    state = await bridge.client.put("/platform/v1/limits/rules", json=rules, headers=LIMITS)
    assert state.status == 200 and len((await state.json())["rules"]) == 2
    status, refused = await place(bridge, token, bet(sid, "R-4", "v-1", limitsProfile="VIP_A"))
    assert (status, refused.get("code")) == (403, "LBRG-403 PROFILE_NOT_ALLOWED"), refused
    status, taken = await place(bridge, token, bet(sid, "R-4", "v-2", limitsProfile="DEFAULT"))
    assert status == 200, taken

    bad = [
        ("/platform/v1/limits", {"provider": "evo", "effectiveAt": "2026-12-03T12:00:00Z",
                                 "limits": {"profile": "DEFAULT", "maxBet": "-1"}}, LIMITS),
        ("/platform/v1/limits", {"provider": "evo", "effectiveAt": "2026-12-03T12:00:00Z",
                                 "currency": "EUR",
                                 "limits": {"minBet": "9", "maxBet": "5"}}, LIMITS),
        ("/platform/v1/limits", {"provider": "evo", "effectiveAt": "2026-12-03T12:00:00Z",
                                 "limits": {"profile": "no spaces"}}, LIMITS),
        ("/platform/v1/limits", {"provider": "evo", "effectiveAt": "2026-12-03T12:00:00Z",
                                 "limits": {"betTypes": {"a\u0000": {"max": "1"}}}}, LIMITS),
        # a provider id nobody configured: its limits would bind no bet
        ("/platform/v1/limits", {"provider": "evolution", "effectiveAt": "2026-12-03T12:00:00Z",
                                 "limits": {"profile": "DEFAULT", "maxBet": "5"}}, LIMITS),
        ("/platform/v1/players/vic/protection",
         {"type": "limit", "kind": "LOSS", "period": "DAY", "currency": "XTS", "amount": "1"},
         PROTECTION_KEY),
        ("/platform/v1/players/vic/protection",
         {"type": "limit", "kind": "LOSS", "period": "DAY", "currency": "EUR", "amount": "1.001"},
         PROTECTION_KEY),
        ("/platform/v1/players/vic/protection",
         {"type": "self_exclusion", "until": "2020-01-01T00:00:00Z"}, PROTECTION_KEY),
        ("/platform/v1/players/vic/protection",
         {"type": "self_exclusion", "until": "2030-01-01T00:00:00"}, PROTECTION_KEY),
        ("/platform/v1/players/vic/protection", {"type": "time_out", "minutes": 0},
         PROTECTION_KEY),
        ("/platform/v1/players/vic/protection", {"type": "nap"}, PROTECTION_KEY),
    ]  # fmt: skip
    for path, body, headers in bad:
        response = await bridge.client.post(path, json=body, headers=headers)
        answer = await response.json()
        assert response.status in (400, 422), (body, answer)
        assert answer["error"].startswith(f"LBRG-{response.status} "), answer
    # a rule no session can match (its players would fall through to the next rule)
    for rule in ({"kycStatus": "verified"}, {"country": "germany"}, {"currency": "euro"}):
        body = {"rules": [{**rule, "profiles": ["DEFAULT"]}, {"profiles": ["VIP_A"]}]}
        response = await bridge.client.put("/platform/v1/limits/rules", json=body, headers=LIMITS)
        answer = await response.json()
        assert response.status in (400, 422), (body, answer)
        assert answer["error"].startswith(f"LBRG-{response.status} "), answer
    view = await bridge.client.get("/platform/v1/players/vic/protection", headers=PROTECTION_KEY)
    assert (await view.json())["limits"] == [] and (await view.json())["logPosition"] == 0
    listed = await (await bridge.client.get("/platform/v1/limits", headers=LIMITS)).json()
    assert listed["updates"] == []
    assert [rule["profiles"] for rule in listed["rules"]] == [["DEFAULT", "VIP_A"], ["DEFAULT"]]


async def test_a_bet_may_name_only_a_profile_in_force_that_its_rule_gives_the_player(
    bridge: Bridge,
) -> None:
    """The rules say which profiles a player may bet under (any, where none matches). A
    profile the matching rule does not give, or one with no limits in force, is refused:
    naming it must not leave the bet under no limits at all."""
    launched = await seated(bridge, "ida", "R-6")  # a VERIFIED player from MT, in EUR
    sid, token = launched["sessionId"], launched["playerToken"]
    for profile, most in (("DEFAULT", "5.00"), ("VIP_A", "5000.00")):
        update = {
            "provider": "",
            "currency": "EUR",
            "effectiveAt": "2026-12-03T12:00:00Z",
            "limits": {"profile": profile, "maxBet": most, "maxRound": most},
        }
        await post(bridge, "/platform/v1/limits", update, LIMITS)
    only_gb = {"rules": [{"country": "GB", "profiles": ["DEFAULT", "VIP_A"]}]}
    rules = await bridge.client.put("/platform/v1/limits/rules", json=only_gb, headers=LIMITS)
    assert rules.status == 200

    status, over = await place(bridge, token, bet(sid, "R-6", "i-1", "50.00"))
    assert (status, over["code"]) == (422, "LBRG-422 INVALID_STAKE"), over
    body = bet(sid, "R-6", "i-2", "50.00", limitsProfile="NoSuchProfile")
    status, refused = await place(bridge, token, body)
    assert (status, refused.get("code")) == (403, "LBRG-403 PROFILE_NOT_ALLOWED"), refused
    status, own = await place(bridge, token, bet(sid, "R-6", "i-3", limitsProfile="DEFAULT"))
    assert status == 200 and own["effectiveLimits"]["maxBet"] == "5.00", own
    body = bet(sid, "R-6", "i-4", "50.00", limitsProfile="VIP_A")  # no rule for MT: any
    status, vip = await place(bridge, token, body)
    assert status == 200 and vip["effectiveLimits"]["maxBet"] == "5000.00", vip

    mt = {"rules": [{"country": "MT", "profiles": ["DEFAULT", "VIP_A", "Ghost"]}]}
    rules = await bridge.client.put("/platform/v1/limits/rules", json=mt, headers=LIMITS)
    assert rules.status == 200
    body = bet(sid, "R-6", "i-5", "50.00", limitsProfile="Ghost")
    status, refused = await place(bridge, token, body)
    assert (status, refused.get("code")) == (403, "LBRG-403 PROFILE_NOT_ALLOWED"), refused
    mt = {"rules": [{"country": "MT", "profiles": ["DEFAULT"]}]}
    rules = await bridge.client.put("/platform/v1/limits/rules", json=mt, headers=LIMITS)
    assert rules.status == 200
    body = bet(sid, "R-6", "i-6", "50.00", limitsProfile="VIP_A")
    status, refused = await place(bridge, token, body)
    assert (status, refused.get("code")) == (403, "LBRG-403 PROFILE_NOT_ALLOWED"), refused
    assert await available(bridge, "ida") == Decimal("445.00"), "only 5.00 and 50.00 held"


async def test_the_assigned_profile_binds_bets_that_name_none_on_every_path(
    bridge: Bridge,
) -> None:
    launched = await seated(bridge, "amy", "R-5")
    sid, token = launched["sessionId"], launched["playerToken"]
    for profile, most in (("DEFAULT", "10.00"), ("VIP_A", "100.00")):
        update = {
            "provider": "evo",
            "effectiveAt": "2026-12-03T12:00:00Z",
            "limits": {"profile": profile, "maxBet": most},
        }
        await post(bridge, "/platform/v1/limits", update, LIMITS)
    status, refused = await place(bridge, token, bet(sid, "R-5", "a-1", "50.00"))
    assert (status, refused["code"]) == (422, "LBRG-422 INVALID_STAKE"), refused
    evo, token_ = "evolution", launched["providerToken"]
    answer = await dialect_debit(bridge, evo, "amy", token_, "R-e", "e-1", "50")
    assert answer == "CASINO_LIMIT_EXCEEDED_STAKE"

    assigned = await bridge.client.put(
        "/platform/v1/players/amy/limits-profile", json={"profile": "VIP_A"}, headers=LIMITS
    )
    assert assigned.status == 200 and (await assigned.json())["profile"] == "VIP_A"
    status, taken = await place(bridge, token, bet(sid, "R-5", "a-2", "50.00"))
    assert status == 200 and taken["effectiveLimits"]["profile"] == "VIP_A", taken
    assert await dialect_debit(bridge, evo, "amy", token_, "R-e", "e-2", "50") == "OK"
    assert await available(bridge, "amy") == Decimal("400.00")


async def test_an_export_by_platform_session_holds_the_bets_of_every_token_it_issued(
    bridge: Bridge,
) -> None:
    """Evolution rotates its `sid` on /check: the bets made with the rotated sid, with
    the launch's tokens of other dialects, and on the canonical path are all the session's."""
    launched = await seated(bridge, "eva", "R-x")
    sid, token = launched["sessionId"], launched["playerToken"]
    _, hub88 = await launch(bridge, launch_body("eva", "hub88"))
    _, evolution = await launch(bridge, launch_body("eva", PROVIDER_OF["evolution"]))
    assert evolution["sessionId"] == hub88["sessionId"] == sid
    txs = ("x-evo-1", "x-evo-2", "x-hub-1")
    for tx in txs[:2]:
        answer = await dialect_debit(
            bridge, "evolution", "eva", evolution["providerToken"], "R-evo", tx, "2.00"
        )
        assert answer == "OK", answer
    assert _EVOLUTION_SIDS[evolution["providerToken"]] != evolution["providerToken"]
    answer = await dialect_debit(bridge, "hub88", "eva", hub88["providerToken"], "R-h", txs[2], "2")
    assert answer == "RS_OK", answer
    status, canonical = await place(bridge, token, bet(sid, "R-x", "x-can-1"))
    assert status == 200, canonical
    await fund(bridge, "other", "50.00")  # someone else's session is not in the export
    _, theirs = await launch(bridge, launch_body("other", "hub88"))
    answer = await dialect_debit(
        bridge, "hub88", "other", theirs["providerToken"], "R-h", "x-other", "2"
    )
    assert answer == "RS_OK", answer

    ledger = bridge.app[LEDGER]
    last = await asyncio.to_thread(ledger.recorder.max_notification_id)
    assert last is not None

    def export() -> list[dict[str, Any]]:
        found = selected(ledger.recorder, ledger.mapper, SessionQuery(sid), last)
        return [data for _, data in found]

    text = json.dumps(await asyncio.to_thread(export), default=str)
    for tx in (*txs, canonical["transactionId"]):
        assert tx in text, f"{tx} is not in the export of {sid}"
    assert "x-other" not in text
