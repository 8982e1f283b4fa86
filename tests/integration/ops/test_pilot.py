"""`livebridge pilot`: a provider's rounds cross-verified on the views the bridge keeps.

Forty rounds are played into a running bridge's ledger; the oldest two carry planted
faults (a wrong `round_hash`, a `seq` never sent). Over all forty the mismatch rate is 5%
and the pilot fails; over the newest thirty-eight it is 0% and the pilot passes. The 0.5%
bar itself is held by the scorer's unit test (`tests/unit/ops/test_pilot_score.py`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import msgspec
import pytest

from contracts.events import AnyProviderEvent
from contracts.events import round_digest
from projections.http import VIEWS
from services import cli
from services.bridge.config import Settings
from services.bridge.main import LEDGER
from services.ledger.application import Ledger
from tests.integration.ops.conftest import Bridge
from tests.unit.ledger.support import builders

P = "evo"
ROUNDS = 40
T0 = datetime.now(UTC) - timedelta(hours=1)


def play(ledger: Ledger) -> None:
    ledger.open_wallet("pilot-1", "EUR")
    ledger.deposit("pilot-1", "EUR", Decimal("1000.00"), tx_id="dep-pilot-1")
    for n in range(ROUNDS):
        round_id, at = f"PR-{n:03d}", T0 + timedelta(seconds=30 * n)
        opened = builders.opened(round_id, P, at=at, closes_in=15)
        ledger.record_event(opened)
        bet = builders.debit(
            f"d-{n}", "1.00", player="pilot-1", round_id=round_id, provider=P,
            bet_id=f"b-{n}", picks=(), game="roulette", table="T1",
        )  # fmt: skip
        ledger.execute(bet)
        seq = 3 if n == 1 else 2  # round 1: seq 2 never sent
        declared = builders.declared(
            {"number": "17"}, round_id, P, seq, at=at + timedelta(seconds=20)
        )
        sent: list[AnyProviderEvent] = [opened, declared]
        digest = "0" * 64 if n == 0 else round_digest(sent)  # round 0: a wrong hash
        ledger.record_event(msgspec.structs.replace(declared, round_hash=digest))
        ledger.execute(
            builders.credit(
                f"c-{n}", "0", player="pilot-1", round_id=round_id, provider=P, bet_id=f"b-{n}"
            )
        )


async def test_the_pilot_fails_above_half_a_percent_and_passes_below(
    bridge: Bridge,
    bridge_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger = bridge.app[LEDGER]
    await asyncio.to_thread(play, ledger)
    head = await asyncio.to_thread(ledger.recorder.max_notification_id)
    await asyncio.to_thread(bridge.app[VIEWS].wait, head, 20.0)

    for key, value in {
        "LIVEBRIDGE_HOME": str(bridge_settings.home / "elsewhere"),  # no running bridge
        "LIVEBRIDGE_DATABASE_URL": str(bridge_settings.database_url),
        "LIVEBRIDGE_NATS_URL": str(bridge_settings.nats_url),
        "LIVEBRIDGE_STREAM_PREFIX": bridge_settings.stream_prefix,
    }.items():
        monkeypatch.setenv(key, value)

    status = await asyncio.to_thread(
        cli.main, ["pilot", "--provider", P, "--rounds", str(ROUNDS), "--json"]
    )
    card = json.loads(capsys.readouterr().out)
    assert status == 1
    assert {k: card[k] for k in card if k != "mismatches"} == {
        "provider": P,
        "roundsAsked": ROUNDS,
        "roundsRead": ROUNDS,
        "hashVerified": ROUNDS,
        "hashMismatched": 1,
        "unhashed": 0,
        "sequenceBreaks": 1,
        "ledgerDifferences": 0,
        "mismatchedRounds": 2,
        "mismatchRate": 2 / ROUNDS,
        "threshold": 0.005,
        "passed": False,
    }
    assert sorted((m["roundId"], tuple(m["problems"])) for m in card["mismatches"]) == [
        ("PR-000", ("hash",)),
        ("PR-001", ("sequence",)),
    ]

    status = await asyncio.to_thread(
        cli.main, ["pilot", "--provider", P, "--rounds", str(ROUNDS - 2)]
    )
    text = capsys.readouterr().out
    assert status == 0, text
    assert "mismatch rate        0.00%" in text and "verdict              PASS" in text
