"""Debits run on the event store's loop (`Ledger.executor_for`, as the edge runs every bet)
keep the ledger's guarantees beside commands run in threads on the same wallets."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from contracts.wallet import AnyWalletCommand
from contracts.wallet import Refusal
from contracts.wallet import WalletReply
from services.eventstore.greenloop import LoopExecutor
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded

D = Decimal
ANSWER_WITHIN_S = 30.0
"""Far past any answer here: a command past it is stuck, which is the failure looked for."""


def on_loop(ledger: Ledger, command: AnyWalletCommand) -> WalletReply:
    executor = ledger.executor_for(command)
    assert isinstance(executor, LoopExecutor)
    return executor.submit(ledger.execute, command).result(ANSWER_WITHIN_S)


def outcome(ledger: Ledger, command: AnyWalletCommand) -> str:
    try:
        on_loop(ledger, command)
    except LedgerRefused as refused:
        return refused.code.value
    return "OK"


def test_a_bet_runs_on_the_loop_is_stored_once_and_its_repeat_is_replayed(
    ledger: Ledger,
) -> None:
    funded(ledger, "p1", "100")

    first = on_loop(ledger, debit("b1", "10.00"))
    again = on_loop(ledger, debit("b1", "10.00"))

    assert (first.available, first.replayed) == (D("90.00"), False)
    assert (again.available, again.replayed) == (D("90.00"), True)
    assert ledger.balance("p1", "EUR").held == D("10.00")
    assert ledger.executor_for(credit("w1", "5.00", bet_id="b1")) is None  # a thread's


def test_one_wallets_burst_on_the_loop_beside_deposits_in_threads_answers_each_once(
    ledger: Ledger,
) -> None:
    """The deposits hold the wallet's turn across their writes, from threads that wait for
    the loop the debits run on: a debit that blocked on the turn would stall them all."""
    funded(ledger, "p1", "100")
    debits = [debit(f"burst-{i}", "20.00", round_id="hot") for i in range(10)]

    with ThreadPoolExecutor(16) as pool:
        answers = [pool.submit(outcome, ledger, command) for command in debits]
        deposits = [
            pool.submit(ledger.deposit, "p1", "EUR", D("1.00"), tx_id=f"top-{i}") for i in range(5)
        ]
        for done in deposits:
            done.result(ANSWER_WITHIN_S)
        codes = Counter(a.result(ANSWER_WITHIN_S) for a in answers)

    assert codes == {"OK": 5, Refusal.INSUFFICIENT_FUNDS.value: 5}  # 105 holds five of 20
    balance = ledger.balance("p1", "EUR")
    assert (balance.balance, balance.held, balance.available) == (D(105), D(100), D(5))


def test_a_stale_wallet_on_the_loop_loses_its_write_retries_and_never_overdraws(
    ledger: Ledger, env: dict[str, str]
) -> None:
    funded(ledger, "p1", "100")
    on_loop(ledger, debit("mine-1", "10.00"))  # cached at 90 available
    with Ledger(env=env) as other:
        other.execute(debit("theirs-1", "80.00"))  # 10 left, unknown to the first ledger

    assert outcome(ledger, debit("mine-2", "50.00")) == Refusal.INSUFFICIENT_FUNDS.value
    assert ledger.conflicts_retried == 1  # the stale hold lost its write; the retry read
    with Ledger(env=env) as fresh:
        stored = fresh.balance("p1", "EUR")
    assert (stored.balance, stored.held, stored.available) == (D(100), D(90), D(10))
