"""Reconcile as it runs in the product: the ledger's log on JetStream, the service's views
kept by `running_projections`, then `livebridge reconcile` through the CLI's `main`.

Nothing is loaded into the reconcile table by hand: the rows the command matches are the
ones the running projections wrote from the ledger's events.
"""

from __future__ import annotations

import csv
import json
import random
import uuid
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from projections.catalog import view_env
from projections.run import running_projections
from services import cli
from services.ledger.application import Ledger
from tests.integration.reconcile.support.settings import use_test_stores
from tests.integration.support.ledgers import jetstream_env

PLAYERS = ("alice", "bob", "carol", "dave")
TYPES = {"bet": "DEBIT", "win": "CREDIT", "refund": "ROLLBACK"}


@dataclass(frozen=True)
class Sent:
    """A provider transaction the ledger accepted, as the provider's report lists it."""

    tx_id: str
    kind: str
    amount: Decimal
    currency: str
    round_id: str
    player: str
    at: datetime


def play(ledger: Ledger, provider: str, rounds: int, seed: int) -> list[Sent]:
    """Rounds of bets, wins, losses and rollbacks, with provider retries; what was sent."""
    rng = random.Random(seed)
    sent: list[Sent] = []

    def send(command: Debit | Credit | Rollback, kind: str, amount: Decimal) -> None:
        ledger.execute(command)
        if rng.random() < 0.2:
            ledger.execute(command)  # the provider retried: the ledger keeps one
        sent.append(
            Sent(
                command.tx_id,
                kind,
                amount,
                command.currency,
                command.round_id,
                command.player,
                datetime.now(UTC),
            )
        )

    for n in range(rounds):
        round_id = f"{provider}-R{n}"
        for b, player in enumerate(rng.sample(PLAYERS, 2)):
            currency = rng.choice(("EUR", "USD"))
            stake = Decimal(rng.choice(("1.00", "2.50", "10.00")))
            debit = Debit(
                provider=provider,
                tx_id=f"d{n}-{b}",  # the same ids at both providers: never matched across
                player=player,
                currency=currency,
                amount=stake,
                round_id=round_id,
                bet_id=f"{round_id}-b{b}",
            )
            send(debit, "bet", stake)
            if rng.random() < 0.2:
                rollback = Rollback(
                    provider=provider,
                    tx_id=f"rb{n}-{b}",
                    player=player,
                    currency=currency,
                    ref_tx_id=debit.tx_id,
                    round_id=round_id,
                )
                send(rollback, "refund", stake)
                continue
            payout = stake * 2 if rng.random() < 0.4 else Decimal("0.00")
            credit = Credit(
                provider=provider,
                tx_id=f"c{n}-{b}",
                player=player,
                currency=currency,
                amount=payout,
                round_id=round_id,
                bet_id=debit.bet_id,
            )
            send(credit, "win", payout)
    return sent


def write_report(path: Path, rows: list[Sent]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["TransactionId", "Type", "Amount", "Currency", "RoundId", "PlayerId"])
        for r in rows:
            writer.writerow([r.tx_id, TYPES[r.kind], r.amount, r.currency, r.round_id, r.player])


def test_reconcile_on_the_views_the_service_keeps_finds_exactly_the_planted_differences(
    nats_url: str,
    stream_prefix: str,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger_env = jetstream_env(nats_url, stream_prefix)
    schema = f"rce_{uuid.uuid4().hex[:8]}"
    began = datetime.now(UTC)
    ledger = Ledger(ledger_env)
    try:
        for player in PLAYERS:
            for currency in ("EUR", "USD"):
                ledger.open_wallet(player, currency)
                ledger.deposit(
                    player, currency, Decimal("500.00"), tx_id=f"dep-{player}-{currency}"
                )
        # The views run the way the bridge runs them, while the tables play.
        with running_projections({**ledger_env, **view_env(database_url, schema=schema)}) as views:
            evo = play(ledger, "evo", rounds=25, seed=1)
            play(ledger, "pragmatic", rounds=5, seed=2)
            views.wait(ledger.recorder.max_notification_id(), timeout=60)
    finally:
        ledger.close()
    assert {r.kind for r in evo} == {"bet", "win", "refund"}

    # The provider's report of the same transactions, with planted differences.
    rng = random.Random(9)
    dropped = set(rng.sample([r.tx_id for r in evo], 3))
    changed = set(rng.sample([r.tx_id for r in evo if r.tx_id not in dropped], 2))
    report = [
        replace(r, amount=r.amount + Decimal("0.01")) if r.tx_id in changed else r
        for r in evo
        if r.tx_id not in dropped
    ]
    extras = [
        Sent(f"ghost-{i}", "bet", Decimal("3.00"), "EUR", "evo-R0", "alice", began)
        for i in range(2)
    ]
    path = tmp_path / "evo.csv"
    write_report(path, report + extras)

    monkeypatch.setenv("LIVEBRIDGE_HOME", str(tmp_path / "home"))  # no running bridge is consulted
    use_test_stores(monkeypatch, database_url, schema, nats_url, stream_prefix)
    period = [(began - timedelta(minutes=1)).isoformat(), datetime.now(UTC).isoformat()]
    status = cli.main(["reconcile", str(path), "--provider", "evo", "--json", "--period", *period])

    out, err = capsys.readouterr()
    assert status == 1, err
    result = json.loads(out)
    found: dict[str, set[str]] = {}
    for d in result["differences"]:
        found.setdefault(d["status"], set()).add(d["key"])
    assert found == {
        "missing_in_report": dropped,
        "mismatch": changed,
        "missing_in_ledger": {"ghost-0", "ghost-1"},
    }
    assert result["counts"]["matched"] == len(evo) - 5
    assert result["audit_run"] is not None
