"""Two OS processes writing to the same wallets on one nats-server keep I1-I4.

Each child runs its own `Ledger` on the same streams and sends, in step with the other:
its own debits, credits and rollbacks on two shared players, and a debit with a transaction
id that the other child sends too. Conflicts happen (both write the same wallets); they are
retried inside the ledger and never reach the caller. Child A runs its debits on its event
store's loop, as the edge runs bets (`Ledger.executor_for`); child B runs all in a thread.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from decimal import Decimal
from typing import Any

from contracts.wallet import AnyWalletCommand
from services.ledger.application import Ledger
from services.ledger.domain import Bet
from services.ledger.domain import Wallet
from services.ledger.errors import LedgerRefused
from services.ledger.views import BetStatus
from tests.integration.ledger.test_ledger_on_jetstream import jetstream_env
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import rollback

D = Decimal
PLAYERS = ("p0", "p1")
ROUNDS = 40


def script(name: str) -> list[AnyWalletCommand]:
    commands: list[AnyWalletCommand] = []
    for i in range(ROUNDS):
        player = PLAYERS[i % 2]
        commands.append(debit(f"{name}-{i}", "3.00", player=player, round_id=f"r{i // 10}"))
        commands.append(debit(f"shared-{i}", "2.00", player=player, round_id=f"r{i // 10}"))
        if i % 3 == 2:
            earlier = i - 1
            commands.append(
                credit(
                    f"{name}-w{i}",
                    "6.00",
                    bet_id=f"{name}-{earlier}",
                    player=PLAYERS[earlier % 2],
                    round_id=f"r{earlier // 10}",
                )
            )
        if i % 5 == 4:
            earlier = i - 2
            commands.append(
                rollback(f"{name}-rb{i}", f"{name}-{earlier}", player=PLAYERS[earlier % 2])
            )
    return commands


def child(env: dict[str, str], name: str, start: Any, results: Any) -> None:
    outcomes: list[tuple[str, str, bool]] = []
    with Ledger(env=env) as ledger:
        commands = script(name)
        start.wait(30)
        for command in commands:
            executor = ledger.executor_for(command) if name == "A" else None
            try:
                if executor is None:
                    reply = ledger.execute(command)
                else:
                    reply = executor.submit(ledger.execute, command).result(60)
                outcomes.append((command.tx_id, "OK", reply.replayed))
            except LedgerRefused as refused:
                outcomes.append((command.tx_id, refused.code.value, False))
        results.put((name, outcomes, ledger.conflicts_retried))


def test_two_processes_on_the_same_wallets_keep_the_invariants_and_retry_their_conflicts(
    nats_url: str, stream_prefix: str
) -> None:
    two_processes_keep_the_invariants(jetstream_env(nats_url, stream_prefix))


def two_processes_keep_the_invariants(env: dict[str, str]) -> None:
    """The scenario above on the streams `env` names (one server here, a cluster elsewhere)."""
    with Ledger(env=env) as ledger:
        for player in PLAYERS:
            funded(ledger, player, "500")

    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    children = [ctx.Process(target=child, args=(env, n, start, results)) for n in ("A", "B")]
    for process in children:
        process.start()
    reports = [results.get(timeout=120) for _ in children]
    for process in children:
        process.join(30)
        assert process.exitcode == 0

    # Nothing was refused: every conflict was retried inside the ledger.
    outcomes = [o for _, child_outcomes, _ in reports for o in child_outcomes]
    assert Counter(code for _, code, _ in outcomes) == {"OK": len(outcomes)}
    assert sum(conflicts for _, _, conflicts in reports) > 0
    # I3: the debit both children sent took effect once; the other got the replay.
    shared = Counter(replayed for tx, _, replayed in outcomes if tx.startswith("shared-"))
    assert shared == {False: ROUNDS, True: ROUNDS}

    with Ledger(env=env) as ledger:
        bets: list[Any] = []
        for r in range(ROUNDS // 10):
            bets += ledger.round_state("evo", f"r{r}").bets
        assert len(bets) == 3 * ROUNDS
        totals = ledger.postings_total("EUR")
        assert sum(totals.values(), D(0)) == 0  # I1
        for player in PLAYERS:
            mine = [b for b in bets if b.player == player]
            balance = ledger.balance(player, "EUR")
            won = sum((b.payout - b.stake for b in mine if b.status is BetStatus.SETTLED), D(0))
            held = sum((b.stake for b in mine if b.status is BetStatus.OPEN), D(0))
            assert balance.balance == D(500) + won == totals[f"player:{player}"]
            assert balance.held == held and balance.available >= 0  # I2
        # I4: every hold resolved at most once, every bet settled and refunded at most once.
        resolutions = Counter[tuple[str, Any]]()
        for notification in ledger.recorder.select_notifications(1, 100_000):
            event = ledger.mapper.to_domain_event(notification)
            if isinstance(event, Wallet.HoldCaptured | Wallet.HoldReleased):
                resolutions["hold", event.bet] += 1
            elif isinstance(event, Bet.Settled | Bet.Refunded):
                resolutions[type(event).__name__, event.originator_id] += 1
        assert set(resolutions.values()) == {1}
