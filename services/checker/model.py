"""The checker's own model of the ledger, folded from the log, and the invariants on it.

Wallets (balance, holds), double-entry postings per currency, provider transaction
records, bets and rounds, each keyed the way a provider names them. Folding the log in
stream order checks, event by event:

- I1 conservation: every posting set sums to zero, and moves its own wallet's balance by
  what the event says; per currency all accounts sum to zero at the end;
- I2 no overdraft: balance minus holds never below zero;
- I3 exactly once: one record per provider transaction, one bet per bet id, one money
  movement per cashier reference (a second is a duplicate);
- I4 resolve once: a hold captured or released once, a bet settled once (again only
  after a reopening), refunded once;
- I5 betting window: a bet the log orders after its round closed ends refunded.
"""

from __future__ import annotations

import json
from collections import Counter
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

from services.checker.log import StoredEvent

CLOSING = ("round.betting_closed", "round.result", "round.void")
"""Provider events after which a round takes no bets."""

BALANCE_CHANGE = {
    "Wallet.Deposited": lambda s: s["amount"],
    "Wallet.Withdrawn": lambda s: -s["amount"],
    "Wallet.HoldCaptured": lambda s: -s["amount"],
    "Wallet.WinCredited": lambda s: s["amount"],
    "Wallet.SettlementReversed": lambda s: s["stake"] - s["payout"],
    "Wallet.Awarded": lambda s: s["amount"],
    "Wallet.AwardReversed": lambda s: -s["amount"],
}


@dataclass
class WalletModel:
    player: str
    currency: str
    balance: Decimal = Decimal(0)
    holds: dict[str, Decimal] = field(default_factory=dict)

    @property
    def held(self) -> Decimal:
        return sum(self.holds.values(), Decimal(0))


@dataclass
class BetModel:
    key: tuple[str, str]
    round: tuple[str, str]
    placed_at: int
    status: str = "open"
    refunds: int = 0


@dataclass
class RoundModel:
    key: tuple[str, str]
    closed_at: int = 0
    seqs: Counter[int] = field(default_factory=Counter)


@dataclass
class Model:
    wallets: dict[str, WalletModel] = field(default_factory=dict)
    postings: defaultdict[str, defaultdict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    records: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    """Provider transaction -> `effective`, `absorbed` or `tombstone`, one per record."""
    record_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    bets: dict[tuple[str, str], list[BetModel]] = field(default_factory=lambda: defaultdict(list))
    bet_of: dict[str, BetModel] = field(default_factory=dict)
    rounds: dict[tuple[str, str], RoundModel] = field(default_factory=dict)
    round_of: dict[str, RoundModel] = field(default_factory=dict)
    money_refs: Counter[str] = field(default_factory=Counter)
    events: int = 0
    duplicated: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def present(self, key: tuple[str, str]) -> int:
        """How many times a provider transaction took effect (absorbed counts as taken)."""
        return sum(1 for state in self.records.get(key, ()) if state != "tombstone")

    def effective(self, key: tuple[str, str]) -> int:
        return sum(1 for state in self.records.get(key, ()) if state == "effective")

    def round_events(self, provider: str, round_id: str, seq: int) -> int:
        found = self.rounds.get((provider, round_id))
        return found.seqs[seq] if found else 0


def fold(events: Iterable[StoredEvent]) -> Model:
    """The model after every event, in log order, with what broke an invariant on the way."""
    model = Model()
    for event in events:
        model.events += 1
        _apply(model, event)
    _finish(model)
    return model


def _apply(model: Model, event: StoredEvent) -> None:
    s, kind, at = event.state, event.kind, f"log #{event.seq}"
    aggregate_kind = kind.partition(".")[0]
    if aggregate_kind == "Wallet":
        _wallet(model, event)
    elif kind == "TxRecord.Created":
        key = (s["provider"], s["tx_id"])
        reply = s.get("reply")
        state = (
            "tombstone" if reply is None else "absorbed" if reply.get("absorbed") else "effective"
        )
        if state == "effective" and model.effective(key):
            model.duplicated.append(f"{at}: transaction {key[0]}/{key[1]} recorded twice (I3)")
        model.records[key].append(state)
        model.record_keys[event.aggregate] = key
    elif kind == "TxRecord.Absorbed":
        absorbed = model.record_keys.get(event.aggregate)
        if absorbed is not None:
            model.records[absorbed].append("absorbed")
    elif kind == "Bet.Placed":
        key = (s["provider"], s["bet_id"])
        if model.bets[key]:
            model.duplicated.append(f"{at}: bet {key[0]}/{key[1]} placed twice (I3)")
        bet = BetModel(key=key, round=(s["provider"], s["round_id"]), placed_at=event.seq)
        model.bets[key].append(bet)
        model.bet_of[event.aggregate] = bet
    elif kind in ("Bet.Settled", "Bet.Refunded", "Bet.Reopened"):
        _bet(model, event)
    elif kind == "Round.Started":
        key = (s["provider"], s["round_id"])
        model.round_of[event.aggregate] = model.rounds.setdefault(key, RoundModel(key))
    elif kind == "Round.EventRecorded":
        found = model.round_of.get(event.aggregate)
        if found is not None:
            found.seqs[int(s["seq"])] += 1
            tag = json.loads(s["raw"]).get("type", "")
            if tag in CLOSING and not found.closed_at:
                found.closed_at = event.seq
    elif kind == "Round.ClosedByTransaction":
        found = model.round_of.get(event.aggregate)
        if found is not None and not found.closed_at:
            found.closed_at = event.seq


def _wallet(model: Model, event: StoredEvent) -> None:
    s, kind, at = event.state, event.kind, f"log #{event.seq}"
    if kind == "Wallet.Opened":
        model.wallets[event.aggregate] = WalletModel(s["player"], s["currency"])
        return
    wallet = model.wallets.get(event.aggregate)
    if wallet is None:
        model.violations.append(f"{at}: {kind} on a wallet never opened")
        return
    name = f"{wallet.player}/{wallet.currency}"
    if kind in BALANCE_CHANGE:
        change = BALANCE_CHANGE[kind](s)
        postings: dict[str, Decimal] = s.get("postings") or {}
        if change and sum(postings.values(), Decimal(0)) != 0:
            model.violations.append(f"{at}: {kind} on {name}: postings do not sum to zero (I1)")
        if change and postings.get(f"player:{wallet.player}", Decimal(0)) != change:
            model.violations.append(
                f"{at}: {kind} on {name} moves the balance by {change}, "
                f"its postings by {postings.get(f'player:{wallet.player}')} (I1)"
            )
        for account, amount in postings.items():
            model.postings[wallet.currency][account] += amount
        wallet.balance += change
        for ref_kind in ("Wallet.Deposited", "Wallet.Withdrawn", "Wallet.Awarded"):
            if kind == ref_kind:
                ref = f"{kind}:{s['tx_ref']}"
                model.money_refs[ref] += 1
                if model.money_refs[ref] > 1:
                    model.duplicated.append(f"{at}: {kind} {s['tx_ref']} moved money twice (I3)")
    if kind == "Wallet.StakeHeld":
        if s["bet"] in wallet.holds:
            model.duplicated.append(f"{at}: bet {s['bet']} holds a stake twice on {name} (I3)")
        wallet.holds[s["bet"]] = s["amount"]
    elif (
        kind in ("Wallet.HoldReleased", "Wallet.HoldCaptured")
        and wallet.holds.pop(s["bet"], None) is None
    ):
        model.violations.append(
            f"{at}: {kind} of bet {s['bet']} on {name}, which holds nothing (I4)"
        )
    if wallet.balance - wallet.held < 0:
        model.violations.append(
            f"{at}: {name} overdrawn: balance {wallet.balance}, held {wallet.held} (I2)"
        )


def _bet(model: Model, event: StoredEvent) -> None:
    bet = model.bet_of.get(event.aggregate)
    at = f"log #{event.seq}"
    if bet is None:
        model.violations.append(f"{at}: {event.kind} of a bet never placed")
        return
    name = f"{bet.key[0]}/{bet.key[1]}"
    if event.kind == "Bet.Settled":
        if bet.status != "open":
            model.violations.append(f"{at}: bet {name} settled while {bet.status} (I4)")
        bet.status = "settled"
    elif event.kind == "Bet.Reopened":
        bet.status = "open"
    else:
        bet.refunds += 1
        if bet.refunds > 1:
            model.violations.append(f"{at}: bet {name} refunded twice (I4)")
        bet.status = "refunded"


def _finish(model: Model) -> None:
    for currency, accounts in sorted(model.postings.items()):
        total = sum(accounts.values(), Decimal(0))
        if total != 0:
            model.violations.append(f"{currency}: all accounts sum to {total}, not zero (I1)")
    for wallet in model.wallets.values():
        booked = model.postings[wallet.currency][f"player:{wallet.player}"]
        if booked != wallet.balance:
            model.violations.append(
                f"{wallet.player}/{wallet.currency}: balance {wallet.balance} != its postings "
                f"{booked} (I1)"
            )
    for placed in model.bets.values():
        for bet in placed:
            round_ = model.rounds.get(bet.round)
            late = round_ is not None and 0 < round_.closed_at < bet.placed_at
            if late and bet.status != "refunded":
                model.violations.append(
                    f"bet {bet.key[0]}/{bet.key[1]} placed at log #{bet.placed_at}, after its "
                    f"round closed at #{round_.closed_at if round_ else 0}, is {bet.status} (I5)"
                )
