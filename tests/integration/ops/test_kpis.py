"""The KPIs after a scripted run with known numbers, read back from `/ops/v1/kpis` and
`/metrics`: feed gaps, a late repair, hash mismatches, voids by cause, an aborted round,
a late settlement and a silent table are planted; every figure is asserted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.events import AnyProviderEvent
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import round_digest
from contracts.wallet import Credit
from contracts.wallet import Debit
from projections.http import VIEWS
from projections.rounds.view import RoundRecord
from services.bridge.main import LEDGER
from services.ledger.application import Ledger
from tests.integration.ops.conftest import Bridge
from tests.unit.ledger.support import builders

P = "evo"
T0 = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
LATE_AFTER = 1.5
"""The late-settlement threshold the bridge runs with here; one credit waits longer."""


@pytest.fixture(autouse=True)
def thresholds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LIVEBRIDGE_KPI_LATE_SETTLEMENT_S", str(LATE_AFTER))
    monkeypatch.setenv("LIVEBRIDGE_KPI_TABLE_DOWN_AFTER_S", "120")
    yield


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened(round_id: str, table: str, s: float) -> BettingOpened:
    return builders.opened(round_id, P, table=table, at=at(s), closes_in=15)


def result(round_id: str, seq: int, s: float, sent: list[AnyProviderEvent], good: bool) -> Any:
    declared = builders.declared({"number": "17"}, round_id, P, seq, at=at(s))
    digest = round_digest([*sent, declared]) if good else "0" * 64
    return msgspec.structs.replace(declared, round_hash=digest)


def debit(player: str, round_id: str, table: str, bet: str, amount: str) -> Debit:
    return builders.debit(
        f"d-{bet}", amount, player=player, round_id=round_id, provider=P, bet_id=bet,
        picks=(), game="roulette", table=table,
    )  # fmt: skip


def credit(player: str, round_id: str, bet: str, amount: str) -> Credit:
    return builders.credit(
        f"c-{bet}", amount, player=player, round_id=round_id, provider=P, bet_id=bet
    )


def play(ledger: Ledger) -> None:
    """Two tables. T1: a verified round settled late; a round with a gap repaired late and
    a wrong hash; a round voided by the dealer with a seq never sent. T2: a verified
    round; an unhashed round with a bet the provider rolled back."""
    for player in ("p1", "p2"):
        ledger.open_wallet(player, "EUR")
        ledger.deposit(player, "EUR", Decimal("100.00"), tx_id=f"dep-{player}")
    record = ledger.record_event

    r1: list[AnyProviderEvent] = [opened("R1", "T1", 0)]
    record(r1[0])
    ledger.execute(debit("p1", "R1", "T1", "b1", "10.00"))
    r1.append(builders.closed("R1", P, at=at(20)))
    record(r1[1])
    record(result("R1", 3, 25, r1, good=True))
    time.sleep(LATE_AFTER + 0.5)
    ledger.execute(credit("p1", "R1", "b1", "20.00"))

    record(opened("R2", "T1", 30))
    ledger.execute(debit("p1", "R2", "T1", "b2", "5.00"))
    record(GameEvent(provider=P, round_id="R2", seq=3, occurred_at=at(40), kind="spin"))
    record(result("R2", 4, 45, [], good=False))
    record(GameEvent(provider=P, round_id="R2", seq=2, occurred_at=at(35), kind="ball"))
    ledger.execute(credit("p1", "R2", "b2", "0"))

    record(opened("R3", "T1", 300))
    ledger.execute(debit("p2", "R3", "T1", "b3", "7.00"))
    record(builders.voided("DEALER_ERROR", "R3", P, at=at(310)))

    r4: list[AnyProviderEvent] = [opened("R4", "T2", 0)]
    record(r4[0])
    ledger.execute(debit("p2", "R4", "T2", "b4", "3.00"))
    record(result("R4", 2, 10, r4, good=True))
    ledger.execute(credit("p2", "R4", "b4", "6.00"))

    record(opened("R5", "T2", 20))
    ledger.execute(debit("p1", "R5", "T2", "b5", "4.00"))
    ledger.execute(debit("p2", "R5", "T2", "b6", "2.00"))
    ledger.execute(builders.rollback("rb-b6", "d-b6", player="p2", provider=P))
    record(builders.closed("R5", P, at=at(30)))
    record(builders.declared({"number": "3"}, "R5", P, at=at(40)))
    ledger.execute(credit("p1", "R5", "b5", "0"))


def quantile(values: list[float], q: float) -> float:
    """PostgreSQL's `percentile_cont`: linear between the two nearest ranks."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def latencies(records: list[RoundRecord]) -> tuple[list[float], list[float]]:
    """(bet window, time to settle) of every bet, from the rounds' timelines."""
    window, settle = [], []
    for record in records:
        times: dict[str, list[datetime]] = {}
        for entry in record.timeline:
            times.setdefault(entry.event, []).append(entry.server_time)
        opened_at = min(times["provider:round.betting_opened"])
        closed_at = min(
            t
            for name in (
                "provider:round.betting_closed",
                "provider:round.result",
                "provider:round.void",
            )
            for t in times.get(name, [])
        )
        for bet in record.bets:
            own = [e for e in record.timeline if e.originator_id == bet.bet_key]
            placed = next(e.server_time for e in own if e.event == "Bet.Placed")
            window.append((placed - opened_at).total_seconds())
            resolved = max(e.server_time for e in own if e.event in ("Bet.Settled", "Bet.Refunded"))
            if resolved >= closed_at:
                settle.append((resolved - closed_at).total_seconds())
    return window, settle


def gauges(text: str, table: str) -> dict[str, float]:
    """`livebridge_kpi_*` samples of provider P's `table`, by name plus cause/quantile."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if not sample.name.startswith("livebridge_kpi_") or labels.get("provider") != P:
                continue
            if labels.get("table") != table:
                continue
            extra = labels.get("cause") or labels.get("quantile")
            name = sample.name.removeprefix("livebridge_kpi_")
            found[f"{name}[{extra}]" if extra else name] = sample.value
    return found


async def test_each_kpi_is_read_back_exactly_from_the_api_and_from_metrics(bridge: Bridge) -> None:
    ledger = bridge.app[LEDGER]
    await asyncio.to_thread(play, ledger)
    last = await asyncio.to_thread(ledger.recorder.max_notification_id)
    for _ in range(400):  # the round book refunds R3's bet when it reads the void
        if ledger.round_book.scanned >= (last or 0):
            break
        await asyncio.sleep(0.025)
    head = await asyncio.to_thread(ledger.recorder.max_notification_id)
    await asyncio.to_thread(bridge.app[VIEWS].wait, head, 10.0)

    refused = await bridge.client.get("/ops/v1/kpis")
    assert refused.status == 401
    response = await bridge.client.get("/ops/v1/kpis", headers=Bridge.auth("read"))
    assert response.status == 200, await response.text()
    report = await response.json()
    assert report["period"] == "all" and report["lateAfterS"] == LATE_AFTER
    rows = {row["table"]: row for row in report["rows"] if row["provider"] == P}
    assert set(rows) == {"T1", "T2"}

    views = bridge.app[VIEWS].rounds
    name = ledger.name
    t1 = [r for rid in ("R1", "R2", "R3") for r in views.rounds(rid, name, P)]
    t2 = [r for rid in ("R4", "R5") for r in views.rounds(rid, name, P)]
    expected: dict[str, dict[str, Any]] = {
        "T1": {
            "rounds": 3,
            "eventsExpected": 10,  # R1 3, R2 4, R3 3 (its seq 2 never sent)
            "feedGaps": 1,
            "lateRepairs": 1,  # R2's seq 2 after its seq 4
            "eventLossRate": 0.2,
            "hashVerifiedRounds": 2,
            "hashMismatchedRounds": 1,
            "roundHashMismatchRate": 0.5,
            "abortedRounds": 1,
            "abortedByCause": {"DEALER_ERROR": 1},
            "tableUptime": 1 - 255 / 310,  # silent from +45 s to +300 s, of 310 s
            "bets": 3,
            "voidBets": 1,
            "voidRate": 1 / 3,
            "voidBetsByCause": {"DEALER_ERROR": 1},
            "lateSettlements": 1,
        },
        "T2": {
            "rounds": 2,
            "eventsExpected": 5,
            "feedGaps": 0,
            "lateRepairs": 0,
            "eventLossRate": 0.0,
            "hashVerifiedRounds": 1,
            "hashMismatchedRounds": 0,
            "roundHashMismatchRate": 0.0,
            "abortedRounds": 0,
            "abortedByCause": {},
            "tableUptime": 1.0,
            "bets": 3,
            "voidBets": 1,
            "voidRate": 1 / 3,
            "voidBetsByCause": {"PROVIDER_CANCELLED": 1},
            "lateSettlements": 0,
        },
    }
    metrics = await (await bridge.client.get("/metrics")).text()
    for table, records in (("T1", t1), ("T2", t2)):
        row, want = rows[table], expected[table]
        assert {key: row[key] for key in want} == want, table
        window, settle = latencies(records)
        for key, values in (("betWindowLatency", window), ("timeToSettle", settle)):
            assert row[key]["count"] == len(values), (table, key)
            assert row[key]["meanS"] == pytest.approx(sum(values) / len(values), abs=1e-6)
            assert row[key]["p50S"] == pytest.approx(quantile(values, 0.5), abs=1e-6)
            assert row[key]["p99S"] == pytest.approx(quantile(values, 0.99), abs=1e-6)

        shown = gauges(metrics, table)
        assert shown == pytest.approx(
            {
                "rounds": want["rounds"],
                "events_expected": want["eventsExpected"],
                "feed_gaps": want["feedGaps"],
                "late_repairs": want["lateRepairs"],
                "event_loss_rate": want["eventLossRate"],
                "hash_verified_rounds": want["hashVerifiedRounds"],
                "hash_mismatched_rounds": want["hashMismatchedRounds"],
                "round_hash_mismatch_rate": want["roundHashMismatchRate"],
                **{f"aborted_rounds[{c}]": n for c, n in want["abortedByCause"].items()},
                "table_uptime": want["tableUptime"],
                "bets": want["bets"],
                **{f"void_bets[{c}]": n for c, n in want["voidBetsByCause"].items()},
                "void_rate": want["voidRate"],
                "late_settlements": want["lateSettlements"],
                "bet_window_latency_seconds[0.5]": quantile(window, 0.5),
                "bet_window_latency_seconds[0.99]": quantile(window, 0.99),
                "time_to_settle_seconds[0.5]": quantile(settle, 0.5),
                "time_to_settle_seconds[0.99]": quantile(settle, 0.99),
            },
            abs=1e-6,
        ), table

    hourly = await bridge.client.get(
        "/ops/v1/kpis",
        params={"period": "hour", "table": "T1", "provider": P},
        headers=Bridge.auth("read"),
    )
    assert hourly.status == 200
    by_hour = (await hourly.json())["rows"]
    assert sum(r["bets"] for r in by_hour) == 3 and {r["table"] for r in by_hour} == {"T1"}
    for query in (
        {"period": "week"},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},
        {"until": "0001-01-01T00:00:00Z"},  # a day before it is before the calendar
        {"until": "0001-01-01T00:00:00+23:59"},
    ):
        bad = await bridge.client.get("/ops/v1/kpis", params=query, headers=Bridge.auth("read"))
        assert bad.status == 400
        assert (await bad.json())["error"] == "LBRG-400 INVALID_REQUEST"
