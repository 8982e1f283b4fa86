"""The cashier over real HTTP: wallets, exactly-once money moves, table banks, history."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import msgspec
import nats
import pytest
from eventsourcing.persistence import OperationalError

from projections.http import VIEWS
from services.bridge.main import LEDGER
from tests.integration.frontdoor.conftest import Bridge

CASHIER = Bridge.auth("cashier")


async def post(bridge: Bridge, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = await bridge.client.post(path, json=body, headers=CASHIER)
    return response.status, await response.json()


CY_DEPOSIT = {"idempotencyKey": "d", "currency": "EUR", "amount": "5.00"}


async def deposited_to_cy(bridge: Bridge) -> dict[str, Any]:
    """Player `cy`'s EUR wallet opened and `CY_DEPOSIT` made: the receipt."""
    await post(bridge, "/platform/v1/players/cy/wallets", {"currency": "EUR"})
    status, receipt = await post(bridge, "/platform/v1/players/cy/deposits", CY_DEPOSIT)
    assert status == 200, receipt
    return receipt


async def test_a_deposit_repeated_with_its_key_moves_money_once_and_another_payload_is_refused(
    bridge: Bridge,
) -> None:
    status, wallet = await post(bridge, "/platform/v1/players/ann/wallets", {"currency": "EUR"})
    assert status == 200 and wallet["balance"] == "0.00"
    again, _ = await post(bridge, "/platform/v1/players/ann/wallets", {"currency": "EUR"})
    assert again == 200, "opening an open wallet is not an error"

    deposit = {"idempotencyKey": "dep-1", "currency": "EUR", "amount": "100.00"}
    status, first = await post(bridge, "/platform/v1/players/ann/deposits", deposit)
    assert status == 200, first
    assert (first["kind"], first["balance"], first["replayed"]) == ("DEPOSIT", "100.00", False)
    assert first["transactionId"].startswith("trn_") and first["logPosition"] > 0

    status, repeat = await post(bridge, "/platform/v1/players/ann/deposits", deposit)
    assert status == 200
    assert repeat["replayed"] is True
    assert {k: v for k, v in repeat.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }

    status, conflict = await post(
        bridge, "/platform/v1/players/ann/deposits", {**deposit, "amount": "90.00"}
    )
    assert status == 409 and conflict["error"] == "LBRG-409 IDEMPOTENCY_CONFLICT"
    balance = await asyncio.to_thread(bridge.app[LEDGER].balance, "ann", "EUR")
    assert balance.balance == Decimal("100.00")

    # The balance read back at the receipt's position.
    response = await bridge.client.get(
        f"/platform/v1/wallets/ann?atLeast={first['logPosition']}", headers=CASHIER
    )
    assert (await response.json())["balances"][0]["balance"] == "100.00"


async def test_withdrawals_and_table_bank_transfers_move_money_and_the_history_pages_it(
    bridge: Bridge,
) -> None:
    await post(bridge, "/platform/v1/players/bo/wallets", {"currency": "EUR"})
    await post(
        bridge,
        "/platform/v1/players/bo/deposits",
        {"idempotencyKey": "d", "currency": "EUR", "amount": "50.00"},
    )
    status, out = await post(
        bridge,
        "/platform/v1/players/bo/withdrawals",
        {"idempotencyKey": "w", "currency": "EUR", "amount": "10.00"},
    )
    assert status == 200 and out["balance"] == "40.00" and out["kind"] == "WITHDRAWAL"
    status, too_much = await post(
        bridge,
        "/platform/v1/players/bo/withdrawals",
        {"idempotencyKey": "w2", "currency": "EUR", "amount": "40.01"},
    )
    assert status == 422 and too_much["error"] == "LBRG-422 INSUFFICIENT_FUNDS"
    move = {"idempotencyKey": "t1", "provider": "evo", "currency": "EUR", "amount": "30.00"}
    status, into = await post(bridge, "/platform/v1/players/bo/table-bank/deposits", move)
    assert status == 200 and into["balance"] == "10.00" and into["kind"] == "TO_TABLE_BANK"
    status, back = await post(
        bridge,
        "/platform/v1/players/bo/table-bank/withdrawals",
        {**move, "idempotencyKey": "t2", "amount": "35.50"},
    )
    assert status == 200 and back["balance"] == "45.50" and back["kind"] == "FROM_TABLE_BANK"
    totals = await asyncio.to_thread(bridge.app[LEDGER].postings_total, "EUR")
    assert totals["provider:evo"] == Decimal("-5.50")
    assert sum(totals.values(), Decimal(0)) == 0

    path = f"/platform/v1/players/bo/transactions?limit=3&atLeast={back['logPosition']}"
    page = await (await bridge.client.get(path, headers=CASHIER)).json()
    kinds = [item["kind"] for item in page["items"]]
    assert kinds == ["FROM_TABLE_BANK", "TO_TABLE_BANK", "WITHDRAWAL"]
    assert page["items"][0]["balanceChange"] == "35.50"
    assert page["items"][0]["account"] == "provider:evo"
    assert page["items"][0]["logPosition"] == back["logPosition"]
    older = await (
        await bridge.client.get(
            f"/platform/v1/players/bo/transactions?limit=3&before={page['nextBefore']}",
            headers=CASHIER,
        )
    ).json()
    assert [item["kind"] for item in older["items"]] == ["DEPOSIT"]
    assert older["nextBefore"] is None


async def test_bad_cashier_input_gets_a_clear_code_and_changes_nothing(bridge: Bridge) -> None:
    await post(bridge, "/platform/v1/players/cy/wallets", {"currency": "EUR"})

    def money(**fields: str) -> dict[str, str]:
        return {"idempotencyKey": "a", "currency": "EUR", "amount": "1", **fields}

    cases: list[tuple[str, Any, str]] = [
        ("deposits", money(amount="1.001"), "422 INVALID_AMOUNT"),
        ("deposits", money(amount="-1"), "422 INVALID_AMOUNT"),
        ("deposits", money(amount="0"), "422 INVALID_AMOUNT"),
        *(
            # Decimal's leniencies are not amounts on the wire: only plain decimal notation.
            ("deposits", money(amount=lenient), "400 INVALID_REQUEST")
            for lenient in ("1_0", " 1", "+1", "1e2", "\u0661", "\uff11", "NaN", "")
        ),
        ("deposits", money(currency="XXX"), "422 UNKNOWN_CURRENCY"),
        ("deposits", money(currency="USD"), "404 WALLET_NOT_FOUND"),
        ("deposits", money(idempotencyKey=""), "400 INVALID_REQUEST"),
        ("deposits", {"currency": "EUR", "amount": "1"}, "400 INVALID_REQUEST"),
        ("deposits", "[1, 2", "400 MALFORMED_JSON"),
        ("table-bank/deposits", money(provider="nope"), "422 UNKNOWN_PROVIDER"),
        ("table-bank/deposits", money(provider="evo", currency="USD"), "422 CURRENCY_NOT_OFFERED"),
    ]
    for route, body, expected in cases:
        path = f"/platform/v1/players/cy/{route}"
        if isinstance(body, str):
            response = await bridge.client.post(path, data=body, headers=CASHIER)
            status, answer = response.status, await response.json()
        else:
            status, answer = await post(bridge, path, body)
        assert answer["error"] == f"LBRG-{expected}", (body, answer)
        assert status == int(expected[:3]) and answer["message"]
    # Digits Python's int() takes or refuses beyond ASCII are not page parameters either;
    # a log position that is none is INVALID_POSITION, as on the read API and the socket.
    for query, code in (
        ("limit=\u00b2", "INVALID_REQUEST"),
        ("limit=\u0663", "INVALID_REQUEST"),
        ("limit=-1", "INVALID_REQUEST"),
        ("before=\u00b2", "INVALID_POSITION"),
        ("atLeast=\u2460", "INVALID_POSITION"),
        (f"before={2**63}", "INVALID_POSITION"),
    ):
        response = await bridge.client.get(
            f"/platform/v1/players/cy/transactions?{query}", headers=CASHIER
        )
        answer = await response.json()
        assert (response.status, answer["error"]) == (400, f"LBRG-400 {code}"), query
    # below 2**63 it is a position (documented so), not "not an integer"
    page = await bridge.client.get(
        f"/platform/v1/players/cy/transactions?before={2**63 - 1}", headers=CASHIER
    )
    assert page.status == 200, await page.text()
    huge = await bridge.client.post(
        "/platform/v1/players/cy/deposits", data=b"[" + b" " * 70_000 + b"]", headers=CASHIER
    )
    assert huge.status == 413
    assert (await huge.json())["error"] == "LBRG-413 BODY_TOO_LARGE"
    bad_player = await bridge.client.post(
        "/platform/v1/players/a%00b/wallets", json={"currency": "EUR"}, headers=CASHIER
    )
    assert (await bad_player.json())["error"] == "LBRG-400 INVALID_PLAYER"
    balance = await asyncio.to_thread(bridge.app[LEDGER].balance, "cy", "EUR")
    assert balance.balance == 0


async def test_a_history_read_at_a_position_past_the_end_of_the_log_is_refused_not_retried(
    bridge: Bridge,
) -> None:
    # The view never reaches a position the log does not have: `VIEW_BEHIND` (a 503, retry)
    # had the caller waiting 2 s and asking again forever.
    receipt = await deposited_to_cy(bridge)
    last = receipt["logPosition"]
    for past in (10**18 - 1, last + 10**6, 2**63 - 1):
        path = f"/platform/v1/players/cy/transactions?atLeast={past}"
        response = await bridge.client.get(path, headers=CASHIER)
        body = await response.json()
        assert (response.status, body["error"]) == (400, "LBRG-400 INVALID_POSITION"), body
        assert "past the end of the log" in body["message"], body

    # The receipt's own position is one the log has: read back as before.
    path = f"/platform/v1/players/cy/transactions?atLeast={last}"
    page = await (await bridge.client.get(path, headers=CASHIER)).json()
    assert [item["logPosition"] for item in page["items"]] == [last]


async def test_the_log_away_under_a_deposit_is_the_retryable_error_told_in_one_line(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await post(bridge, "/platform/v1/players/cy/wallets", {"currency": "EUR"})

    def away(*_args: object, **_kwargs: object) -> None:
        raise nats.errors.TimeoutError

    monkeypatch.setattr(bridge.app[LEDGER], "transfer", away)
    status, answer = await post(
        bridge,
        "/platform/v1/players/cy/deposits",
        {"idempotencyKey": "d", "currency": "EUR", "amount": "5.00"},
    )
    assert (status, answer["error"]) == (503, "LBRG-503 RETRY"), answer
    told = [r for r in caplog.records if r.name == "services.frontdoor.auth"]
    assert [(r.levelname, r.exc_info) for r in told] == [("WARNING", None)], told


async def test_a_views_database_that_does_not_answer_is_the_retryable_error_not_a_500(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL restarting under a history read: `LBRG-503 VIEWS_UNAVAILABLE` (retry), as
    the read API answers it, never `LBRG-500 INTERNAL` ("report it")."""
    receipt = await deposited_to_cy(bridge)
    view = bridge.app[VIEWS].balances

    def away(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    for method in ("history", "wait", "position_of"):
        monkeypatch.setattr(view, method, away)
    for path in (
        "/platform/v1/players/cy/transactions",
        f"/platform/v1/players/cy/transactions?atLeast={receipt['logPosition']}",
    ):
        response = await bridge.client.get(path, headers=CASHIER)
        answer = await response.json()
        assert (response.status, answer["error"]) == (503, "LBRG-503 VIEWS_UNAVAILABLE"), answer
    # a repeat the ledger answers without its position reads it from the view
    monkeypatch.setattr(bridge.app[LEDGER], "transfer", _without_position(bridge))
    status, answer = await post(bridge, "/platform/v1/players/cy/deposits", CY_DEPOSIT)
    assert (status, answer["error"]) == (503, "LBRG-503 VIEWS_UNAVAILABLE"), answer


def _without_position(bridge: Bridge) -> Any:
    transfer = bridge.app[LEDGER].transfer

    def repeat(*args: Any, **kwargs: Any) -> Any:
        return msgspec.structs.replace(transfer(*args, **kwargs), log_position=0)

    return repeat


async def test_history_reads_waiting_on_a_view_behind_do_not_hold_up_a_plain_read(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wait for `atLeast` held a thread of the reads' pool for its 2 s: twelve of them
    made a plain history read answer `503 VIEWS_UNAVAILABLE` (the read API's fault, and
    its fix, in the cashier)."""
    receipt = await deposited_to_cy(bridge)
    view = bridge.app[VIEWS].balances
    for look in ("has_tracking_id", "has_tracking_id_once"):
        monkeypatch.setattr(view, look, lambda *_: False)  # the view is behind
    waiting_path = f"/platform/v1/players/cy/transactions?atLeast={receipt['logPosition']}"

    async def get(path: str) -> tuple[int, str]:
        response = await bridge.client.get(path, headers=CASHIER)
        return response.status, (await response.json()).get("error", "")

    waiting = [asyncio.create_task(get(waiting_path)) for _ in range(12)]
    await asyncio.sleep(0.3)  # they are all waiting now
    plain = await get("/platform/v1/players/cy/transactions")
    behind = await asyncio.gather(*waiting)
    assert plain == (200, ""), plain
    assert set(behind) == {(503, "LBRG-503 VIEW_BEHIND")}, behind
