"""The ledger on a real nats-server: atomic batches, restarts, rounds and snapshots."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.wallet import Refusal
from services.ledger.application import Ledger
from services.ledger.domain import Wallet
from services.ledger.domain import wallet_id
from services.ledger.errors import LedgerRefused
from services.ledger.views import BetStatus
from services.ledger.views import RoundStatus
from tests.integration.support import ledgers
from tests.unit.ledger.support.builders import RacingLedger
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.builders import voided

D = Decimal


def jetstream_env(nats_url: str, stream_prefix: str) -> dict[str, str]:
    return ledgers.jetstream_env(nats_url, stream_prefix, LEDGER_BRIDGE_SETTLED_PROVIDERS="pp")


def test_a_bet_is_one_atomic_write_of_its_hold_its_bet_and_its_transaction(
    ledger: Ledger,
) -> None:
    funded(ledger, "p1", "100")
    reply = ledger.execute(debit("t1", "10"))
    last_three = ledger.recorder.select_notifications(reply.log_position - 2, 3)
    names = [type(ledger.mapper.to_domain_event(n)).__qualname__ for n in last_three]
    assert names == ["Wallet.StakeHeld", "Bet.Placed", "TxRecord.Created"]
    end = reply.log_position
    assert [n.id for n in last_three] == [end - 2, end - 1, end]


def test_a_transaction_repeated_after_a_restart_is_replayed_not_repeated(
    env: dict[str, str],
) -> None:
    with Ledger(env=env) as first:
        funded(first, "p1", "100")
        original = first.execute(debit("t1", "10", bet_id="b1"))
        first.execute(rollback("rb1", "t9"))
    with Ledger(env=env) as restarted:
        again = restarted.execute(debit("t1", "10", bet_id="b1"))
        assert again.replayed and again.tx_ref == original.tx_ref
        assert restarted.balance("p1", "EUR").available == D("90.00")
        with pytest.raises(LedgerRefused) as caught:
            restarted.execute(debit("t9", "10"))
        assert caught.value.code is Refusal.TRANSACTION_ROLLED_BACK


def test_a_cashier_transaction_repeated_after_a_restart_gets_its_original_answer(
    env: dict[str, str],
) -> None:
    with Ledger(env=env) as first:
        funded(first, "p1", "100")
        original = first.withdraw("p1", "EUR", D("30"), tx_id="w1")
        first.deposit("p1", "EUR", D("5"), tx_id="c2")
    with Ledger(env=env) as restarted:
        assert restarted.withdraw("p1", "EUR", D("30"), tx_id="w1") == original
        assert restarted.balance("p1", "EUR").balance == D("75.00")


def test_a_round_on_jetstream_refunds_its_late_bet_and_settles_the_rest(
    env: dict[str, str],
) -> None:
    with RacingLedger(env=env) as ledger:
        for player in ("a", "b", "c"):
            funded(ledger, player, "100")
        ledger.record_event(opened(provider="pp", game="roulette"))
        ledger.execute(debit("1", "10", player="a", provider="pp"))
        ledger.execute(debit("2", "10", player="b", provider="pp", picks=(("roulette_red", ""),)))
        ledger.lands_during_next_bet = closed(provider="pp")
        ledger.execute(debit("3", "10", player="c", provider="pp"))  # ordered after the close
        ledger.record_event(declared({"number": "17"}, provider="pp"))
        state = ledger.round_state("pp", "r1")
        bets = {b.player: (b.status, b.payout, b.cause) for b in state.bets}
        assert bets == {
            "a": (BetStatus.SETTLED, D("360.00"), ""),
            "b": (BetStatus.SETTLED, D("0.00"), ""),
            "c": (BetStatus.REFUNDED, D("10.00"), "LATE_BET"),
        }
        assert state.status is RoundStatus.SETTLED
        assert [ledger.balance(p, "EUR").balance for p in "abc"] == [D(450), D(90), D(100)]
        totals = ledger.postings_total("EUR")
        assert sum(totals.values(), D(0)) == 0


def test_a_voided_round_on_jetstream_refunds_every_bet_once(ledger: Ledger) -> None:
    funded(ledger, "a", "100")
    ledger.execute(debit("1", "10", player="a"))
    ledger.execute(debit("2", "5", player="a", bet_id="b2"))
    ledger.execute(credit("w2", "15", player="a", bet_id="b2"))
    ledger.record_event(voided("STREAM_FAILURE"))
    ledger.record_event(voided("STREAM_FAILURE"))
    assert ledger.balance("a", "EUR").balance == D("100.00")
    assert {b.status for b in ledger.round_state("evo", "r1").bets} == {BetStatus.REFUNDED}


def test_a_long_lived_wallet_on_jetstream_loads_from_its_snapshot(env: dict[str, str]) -> None:
    with Ledger(env=env) as ledger:
        wallet = Wallet(player="p1", currency="EUR")
        for n in range(420):
            wallet.deposit(f"trn_{n}", D("1"), "cashier")  # 421 events, saved as one batch
        ledger.save(wallet)
        assert ledger.snapshots is not None
        versions = [s.originator_version for s in ledger.snapshots.get(wallet_id("p1", "EUR"))]
        assert versions == [421]  # passed 200 and 400: one snapshot, of the wallet as saved
    with Ledger(env={**env, "AGGREGATE_CACHE_MAXSIZE": ""}) as fresh:
        assert fresh.balance("p1", "EUR").balance == D(420)
