"""The catalogue: a provider's tables, the lobby filtered per player, and a provider that
goes down hiding its tables and refusing bets until it recovers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_bets import NOW
from tests.integration.frontdoor.test_bets import available
from tests.integration.frontdoor.test_bets import bet
from tests.integration.frontdoor.test_bets import opened
from tests.integration.frontdoor.test_bets import place
from tests.integration.frontdoor.test_bets import record
from tests.integration.frontdoor.test_sessions import evo_session
from tests.integration.frontdoor.test_sessions import fund
from tests.integration.frontdoor.test_sessions import funded_launch
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body
from tests.unit.ledger.support import builders

READ = Bridge.auth("read")
ADMIN = Bridge.auth("admin")


async def lobby(bridge: Bridge, **query: str) -> tuple[int, dict[str, Any]]:
    response = await bridge.client.get("/platform/v1/lobby", params=query, headers=READ)
    return response.status, await response.json()


async def tables_of(bridge: Bridge, provider: str, **query: str) -> dict[str, Any]:
    response = await bridge.client.get(
        f"/platform/v1/providers/{provider}/tables", params=query, headers=READ
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def ids(tables: list[dict[str, Any]]) -> list[str]:
    return [t["tableId"] for t in tables]


async def test_a_providers_tables_list_game_limits_side_bets_languages_schedule_and_streams(
    bridge: Bridge,
) -> None:
    listed = await tables_of(bridge, "evo")
    assert listed["providerUp"] is True
    by_id = {t["tableId"]: t for t in listed["tables"]}
    assert sorted(by_id) == ["T1", "T2-VIP", "T3-DE"]
    one = by_id["T1"]
    assert (one["game"], one["name"], one["status"], one["currencies"]) == (
        "roulette",
        "Roulette One",
        "OPEN",
        ["EUR"],
    )
    assert one["limits"] == {"roulette_straight": {"minBet": "0.10", "maxBet": "100.00"}}
    assert one["stream"] == {"webrtc": "wss://video.test/t1", "hls": "https://video.test/t1.m3u8"}
    assert by_id["T2-VIP"]["sideBets"] == ["player_pair", "banker_pair"]
    assert by_id["T3-DE"]["status"] == "CLOSED", "a table outside its schedule is closed"
    for hidden in ("1", "True", "yes", ""):
        response = await bridge.client.get(
            "/platform/v1/providers/evo/tables", params={"hidden": hidden}, headers=READ
        )
        refused = await response.json()
        assert (response.status, refused.get("error")) == (400, "LBRG-400 INVALID_REQUEST"), hidden
    missing = await bridge.client.get("/platform/v1/providers/nobody/tables", headers=READ)
    assert missing.status == 404
    assert (await missing.json())["error"] == "LBRG-404 PROVIDER_NOT_FOUND"


async def test_the_lobby_shows_each_player_the_tables_of_its_country_currency_and_kyc(
    bridge: Bridge,
) -> None:
    _, verified_mt = await lobby(
        bridge, player="p1", country="MT", currency="EUR", kycStatus="VERIFIED"
    )
    assert ids(verified_mt["tables"]) == ["T1", "T2-VIP"]
    _, pending_mt = await lobby(
        bridge, player="p1", country="MT", currency="EUR", kycStatus="PENDING"
    )
    assert ids(pending_mt["tables"]) == ["T1"], "the VIP table wants a verified player"
    _, verified_gb = await lobby(
        bridge, player="p1", country="GB", currency="EUR", kycStatus="VERIFIED"
    )
    assert ids(verified_gb["tables"]) == ["T1"], "the VIP table is blocked in GB"
    _, verified_de = await lobby(
        bridge, player="p1", country="DE", currency="EUR", kycStatus="VERIFIED"
    )
    assert ids(verified_de["tables"]) == ["T1", "T2-VIP", "T3-DE"]
    _, dollars = await lobby(
        bridge, player="p1", country="MT", currency="USD", kycStatus="VERIFIED"
    )
    assert dollars["tables"] == []

    status, none = await lobby(bridge, player="nosession")
    assert status == 404 and none["error"] == "LBRG-404 SESSION_NOT_FOUND"
    launched = await funded_launch(bridge, "lou", country="GB", kycStatus="VERIFIED")
    assert launched["streamUrl"] == "wss://video.test/t1"
    assert launched["stream"]["hls"] == "https://video.test/t1.m3u8"
    status, from_session = await lobby(bridge, player="lou")
    assert status == 200 and (from_session["country"], from_session["kycStatus"]) == (
        "GB",
        "VERIFIED",
    )
    assert ids(from_session["tables"]) == ["T1"]


async def test_a_launch_at_a_table_the_lobby_hides_from_the_player_is_refused(
    bridge: Bridge,
) -> None:
    """The lobby hides the VIP table from GB and from unverified players, and the German
    table from everyone outside DE: the platform cannot seat them there either."""
    for player, table, fields, why in (
        ("gus", "T2-VIP", {"country": "GB"}, "not offered in GB"),
        ("pam", "T2-VIP", {"kycStatus": "PENDING"}, "needs KYC status VERIFIED"),
        ("mo", "T3-DE", {"country": "MT"}, "not offered in MT"),
    ):
        await fund(bridge, player)
        status, refused = await launch(bridge, launch_body(player, "evo", table=table, **fields))
        assert (status, refused.get("error")) == (409, "LBRG-409 TABLE_CLOSED"), refused
        assert why in refused["message"], refused
        status, _ = await lobby(bridge, player=player)
        assert status == 404, "no session was opened"
    launched = await funded_launch(bridge, "dirk", table="T2-VIP", country="DE")
    assert launched["sessionId"]


async def test_a_bet_at_a_table_the_lobby_hides_from_the_player_is_refused(
    bridge: Bridge,
) -> None:
    """Seated at T1, a GB player's bet on a round of T2-VIP (blocked in GB) is refused as
    the launch there would be, and holds nothing; a DE player's is taken."""
    await record(bridge, builders.opened("R-VIP", table="T2-VIP", at=NOW))
    sid, token = await evo_session(bridge, "gil", country="GB")
    status, refused = await place(bridge, token, bet(sid, "R-VIP", "v1"))
    assert (status, refused.get("code")) == (409, "LBRG-409 TABLE_CLOSED"), refused
    assert "not offered in GB" in refused["message"], refused
    assert await available(bridge, "gil") == Decimal("100.00")
    sid, token = await evo_session(bridge, "dora", country="DE")
    status, accepted = await place(bridge, token, bet(sid, "R-VIP", "v1"))
    assert status == 200 and accepted["type"] == "bet.accepted", accepted
    # a table the catalogue leaves out, where the provider has listed ones, takes no bet
    await record(bridge, builders.opened("R-OFF", table="T9-OFF", at=NOW))
    status, refused = await place(bridge, token, bet(sid, "R-OFF", "v2"))
    assert (status, refused.get("code")) == (409, "LBRG-409 TABLE_CLOSED"), refused
    assert "not in the catalogue" in refused["message"], refused


async def test_a_lobby_asked_in_an_unknown_currency_answers_unknown_currency(
    bridge: Bridge,
) -> None:
    for query in (
        {"country": "MT", "currency": "XYZ", "kycStatus": "VERIFIED"},
        {"currency": "XYZ"},  # no session can ever be open in it: not SESSION_NOT_FOUND
    ):
        status, refused = await lobby(bridge, player="p1", **query)
        assert status == 422 and refused["error"] == "LBRG-422 UNKNOWN_CURRENCY", refused
        assert "XYZ" in refused["message"]
    status, refused = await lobby(
        bridge, player="p1", country="MT", currency="EUR", kycStatus="verified"
    )
    assert status == 400 and "kycStatus" in refused["message"]
    for country in ("A1", "M1", "mt", "MLT"):
        status, refused = await lobby(
            bridge, player="p1", country=country, currency="EUR", kycStatus="VERIFIED"
        )
        assert status == 400 and "country" in refused["message"], (country, refused)


async def test_a_provider_that_is_down_hides_its_tables_and_refuses_bets_until_it_recovers(
    bridge: Bridge,
) -> None:
    sid, token = await evo_session(bridge, "dina")
    await record(bridge, opened("R-DOWN"))

    down = await bridge.client.put(
        "/platform/v1/providers/evo/status",
        json={"up": False, "reason": "feed silent"},
        headers=ADMIN,
    )
    assert down.status == 200, await down.text()
    listed = await tables_of(bridge, "evo")
    assert listed["providerUp"] is False and listed["tables"] == []
    hidden = await tables_of(bridge, "evo", hidden="true")
    assert {t["status"] for t in hidden["tables"]} == {"HIDDEN"}
    _, shown = await lobby(bridge, player="dina")
    assert shown["tables"] == []
    status, refused = await place(bridge, token, bet(sid, "R-DOWN", "b1"))
    assert status == 503 and refused["code"] == "LBRG-503 PROVIDER_DOWN", refused
    assert "feed silent" in refused["message"]
    status, relaunch = await launch(bridge, launch_body("dina", "evo"))
    assert status == 503 and relaunch["error"] == "LBRG-503 PROVIDER_DOWN"

    up = await bridge.client.put(
        "/platform/v1/providers/evo/status", json={"up": True}, headers=ADMIN
    )
    assert up.status == 200
    _, shown = await lobby(bridge, player="dina")
    assert ids(shown["tables"]) == ["T1", "T2-VIP"]
    status, accepted = await place(bridge, token, bet(sid, "R-DOWN", "b1"))
    assert status == 200 and accepted["type"] == "bet.accepted", accepted


async def test_a_table_under_maintenance_is_listed_but_takes_no_bets(bridge: Bridge) -> None:
    sid, token = await evo_session(bridge, "mo")
    await record(bridge, opened("R-MAINT"))
    response = await bridge.client.put(
        "/platform/v1/providers/evo/tables/T1/status",
        json={"status": "MAINTENANCE", "reason": "dealer change"},
        headers=ADMIN,
    )
    assert response.status == 200, await response.text()
    one = {t["tableId"]: t for t in (await tables_of(bridge, "evo"))["tables"]}["T1"]
    assert (one["status"], one["statusReason"]) == ("MAINTENANCE", "dealer change")
    status, refused = await place(bridge, token, bet(sid, "R-MAINT", "m1"))
    assert status == 409 and refused["code"] == "LBRG-409 TABLE_CLOSED", refused
    unknown = await bridge.client.put(
        "/platform/v1/providers/evo/tables/T404/status", json={"status": "OPEN"}, headers=ADMIN
    )
    assert unknown.status == 404
    assert (await unknown.json())["error"] == "LBRG-404 TABLE_NOT_FOUND"
    reader = await bridge.client.put(
        "/platform/v1/providers/evo/tables/T1/status", json={"status": "OPEN"}, headers=READ
    )
    assert reader.status == 403
    assert (await reader.json())["error"] == "LBRG-403 SCOPE_REQUIRED"
