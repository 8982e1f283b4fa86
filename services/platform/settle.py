"""Which ledger events make a `round.settle`, and what it says. Pure and synchronous.

`SettleTracker` reads the ledger's events in log order and returns a `RoundSettle` when a
player's round is over: every bet the player placed in the round is settled or refunded,
and the wallet movements of the write that resolved the last one are in. A provider credit
or rollback is one atomic write ending with its `TxRecord.Created`, so a bet resolved by a
provider transaction waits for that record (and, once it is in, holds that on its own state
while its round is open: a bet refunded early is complete however many transactions pass
before its round ends, whatever the bound on remembered records); a bet resolved by the
ledger itself (a round the bridge settles, a void, a late bet) is written after its
wallet's events, so it is complete as it comes.

A promotion, jackpot or adjustment (`Wallet.Awarded`) and its reversal by a rollback
(`Wallet.AwardReversed`) settle no bet: each is a settlement of its own, at once.

`balanceAfter` is the wallet's cash balance then, summed from the wallet's own events.
`eventId` is derived from the round, the player and the log position that completed the
settlement, so replaying the same log gives the same ids (a rebuild publishes nothing twice).

A bet refunded after it was reported (a rollback of a settled bet) gives a new settlement
of that bet alone, outcome `VOID`, with its own `eventId`. A bet reopened after it was
reported (its credit rolled back: `Bet.Reopened`) is told at once, when the rollback's
record is in: a settlement whose bets say `REOPENED`, whose transactions take the payout
back (`DEBIT` under the rollback's `trn_` id) and hold the stake again (`CREDIT` of the
stake). The corrected credit then settles the bet like a new one: its stake a `DEBIT` again
(an id of its own, from the rollback that reopened it), and the new payout.

Reported bets are remembered up to a bound (`reported_limit`); a reversal of a bet reported
longer ago reads the bet back from the log (`recall`), so it is told all the same.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections import OrderedDict
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from decimal import Decimal
from itertools import chain
from typing import Any
from typing import assert_never

import msgspec

from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.platform import BetState
from contracts.platform import RoundSettle
from contracts.platform import SettledBet
from contracts.platform import SettleTransaction
from contracts.platform import TransactionType
from contracts.wallet import Outcome
from services.ledger.replies import record_ref
from services.ledger.rounds import decode_provider_event
from services.ledger.views import BetStatus

REPORTED_MEMORY = 200_000
"""Settled bets remembered after they were reported, for a later reversal (by default;
`livebridge run` derives its bound from its memory budget: `reported_limit`)."""
REPORTED_BET_BYTES = 1_800
"""Measured (tests/unit/platform/test_settle_memory.py): one reported bet remembered, about
1,200 bytes (the default bound's 200,000 cost some 240 MB), with the transaction record
and the quarter of a round's result remembered beside it (`record_limit`, `round_limit`),
about 1,550."""
ROUND_MEMORY = 50_000
"""Recent rounds' results and voids remembered, for the settlements that follow them."""
RECORD_MEMORY = 50_000
"""Recent transaction records remembered, for a resolution read after its record."""

_WALLET_DELTAS = {
    "Wallet.Deposited": 1,
    "Wallet.Withdrawn": -1,
    "Wallet.HoldCaptured": -1,
    "Wallet.WinCredited": 1,
}

_AWARD_SIGNS = {"Wallet.Awarded": 1, "Wallet.AwardReversed": -1}
"""Payments outside any bet (promotions, jackpots, adjustments) and their reversals."""

GroupKey = tuple[str, str, str, str]
"""(provider, round_id, player, currency)"""


@dataclass
class _Bet:
    key: str
    provider: str
    bet_id: str
    tx_id: str
    player: str
    currency: str
    stake: Decimal
    round_id: str
    game: str
    table: str
    outcome: str = ""
    payout: Decimal = Decimal(0)
    resolved_by: str | None = None
    """The provider transaction that resolved the bet ('' when the ledger did); None: open."""
    recorded: bool = False
    """`resolved_by`'s transaction record is in: the bet is complete. Kept on the bet, not
    looked up in the bounded `records`, which may have forgotten it by the time the bet's
    round ends (a bet refunded early, many transactions before its round's last credit)."""
    refunded: bool = False
    cause: str = ""
    reversed_payout: Decimal | None = None
    """Set when a bet already reported as settled is refunded: the payout taken back."""
    reopened_by: str = ""
    """The rollback that reopened the bet after it was reported (and told so): its stake,
    held again then, is a `DEBIT` again when the bet is resolved."""

    @classmethod
    def placed(cls, event: Any) -> _Bet:
        """The open bet a `Bet.Placed` event makes."""
        return cls(
            key=event.originator_id.hex,
            provider=event.provider,
            bet_id=event.bet_id,
            tx_id=event.tx_id,
            player=event.player,
            currency=event.currency,
            stake=event.stake,
            round_id=event.round_id,
            game=event.game,
            table=event.table,
        )

    @property
    def group(self) -> GroupKey:
        return (self.provider, self.round_id, self.player, self.currency)


@dataclass
class SettleTracker:
    open_bets: dict[str, _Bet] = field(default_factory=dict)
    groups: dict[GroupKey, list[str]] = field(default_factory=dict)
    wallets: dict[str, tuple[str, str]] = field(default_factory=dict)
    balances: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    reported: OrderedDict[str, _Bet] = field(default_factory=OrderedDict)
    records: set[tuple[str, str]] = field(default_factory=set)
    waiting: dict[tuple[str, str], set[GroupKey]] = field(default_factory=dict)
    rounds: OrderedDict[str, _RoundEnd] = field(default_factory=OrderedDict)
    """The result or void of rounds (`_round_key`) with a bet remembered here (open or
    reported), for `round.settle`: a round's goes with its last remembered bet, so rounds
    are remembered at the pace of bets, not kept for thousands of rounds after them. A
    reversal of a bet read back from the log (`recall`) is told without its round's result,
    and so is a bet placed after its round's result (refunded late)."""
    reopening: dict[tuple[str, str], list[tuple[str, Decimal]]] = field(default_factory=dict)
    """(provider, rollback tx id) -> the reported bets it reopened and the payouts it took
    back, told once its transaction record is in."""
    _record_order: deque[tuple[str, str]] = field(default_factory=deque)
    _bets_by_round: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    """Remembered bets (open or reported) of each round, by `_round_key`: derived from
    `open_bets` and `reported` as the tracker is made, kept current as they change."""
    reported_limit: int = REPORTED_MEMORY
    """At most this many reported bets are remembered (the oldest go first)."""
    recall: Callable[[str], Any] | None = None
    """A bet's `Bet.Placed` event read back from the log by its key (None: not found), for
    a reversal of a bet reported longer ago than `reported_limit` bets: it is told all the
    same (`placed_reader`). Without it such a reversal is not told."""

    def __post_init__(self) -> None:
        for bet in self.open_bets.values():  # a checkpoint from before `recorded`
            if bet.resolved_by and (bet.provider, bet.resolved_by) in self.records:
                bet.recorded = True
        remembered = chain(self.open_bets.values(), self.reported.values())
        self._bets_by_round = Counter(_round_key(b.provider, b.round_id) for b in remembered)
        for key in [key for key in self.rounds if key not in self._bets_by_round]:
            del self.rounds[key]

    @property
    def record_limit(self) -> int:
        """Transaction records remembered: as many as reported bets (`RECORD_MEMORY` at
        most); a resolution is read within moments of its record."""
        return min(RECORD_MEMORY, self.reported_limit)

    @property
    def round_limit(self) -> int:
        """Rounds' results remembered: a round carries many bets (`ROUND_MEMORY` at most)."""
        return min(ROUND_MEMORY, max(1_000, self.reported_limit // 4))

    def checkpoint(self, position: int) -> bytes:
        """The tracker's state after log `position`, to resume from without re-reading."""
        return msgspec.msgpack.encode(
            _Checkpoint(
                position=position,
                open_bets=list(self.open_bets.values()),
                groups=list(self.groups.items()),
                wallets=self.wallets,
                balances=[(p, c, amount) for (p, c), amount in self.balances.items()],
                reported=list(self.reported.values()),
                records=list(self._record_order),
                waiting=[(p, t, sorted(groups)) for (p, t), groups in self.waiting.items()],
                rounds=list(self.rounds.items()),
                reopening=[(p, t, bets) for (p, t), bets in self.reopening.items()],
            )
        )

    @classmethod
    def restore(
        cls,
        data: bytes,
        reported_limit: int = REPORTED_MEMORY,
        recall: Callable[[str], Any] | None = None,
    ) -> tuple[SettleTracker, int]:
        """A tracker from `checkpoint()` bytes, and the log position it reflects."""
        saved = msgspec.msgpack.decode(data, type=_Checkpoint)
        reported = saved.reported[-reported_limit:] if reported_limit > 0 else []
        tracker = cls(
            open_bets={b.key: b for b in saved.open_bets},
            groups=dict(saved.groups),
            wallets=dict(saved.wallets),
            balances={(p, c): amount for p, c, amount in saved.balances},
            reported=OrderedDict((b.key, b) for b in reported),
            records=set(saved.records),
            waiting={(p, t): set(groups) for p, t, groups in saved.waiting},
            rounds=OrderedDict(saved.rounds),
            reopening={(p, t): bets for p, t, bets in saved.reopening},
            _record_order=deque(saved.records),
            reported_limit=reported_limit,
            recall=recall,
        )
        return tracker, saved.position

    def apply(self, position: int, event: Any) -> list[RoundSettle]:
        """Take the ledger event at log `position`; the settlements it completes, in order."""
        kind = type(event).__qualname__
        if kind == "Wallet.Opened":
            self.wallets[event.originator_id.hex] = (event.player, event.currency)
            self.balances.setdefault((event.player, event.currency), Decimal(0))
        elif kind in _WALLET_DELTAS:
            self._move(event, _WALLET_DELTAS[kind] * event.amount)
        elif kind == "Wallet.SettlementReversed":
            self._move(event, event.stake - event.payout)
        elif kind in _AWARD_SIGNS:
            self._move(event, _AWARD_SIGNS[kind] * event.amount)
            return self._award(event, _AWARD_SIGNS[kind] * event.amount, position)
        elif kind == "Bet.Placed":
            bet = _Bet.placed(event)
            self.open_bets[bet.key] = bet
            self._bets_by_round[_round_key(bet.provider, bet.round_id)] += 1
            self.groups.setdefault(bet.group, []).append(bet.key)
        elif kind == "Bet.Settled":
            found = self.open_bets.get(event.originator_id.hex)
            if found is not None:
                found.outcome, found.payout = event.outcome, event.payout
                found.resolved_by = event.tx_id
                return self._resolved(found, position, event.timestamp)
        elif kind == "Round.EventRecorded":
            self._round_event(event.raw)
        elif kind == "Bet.Reopened":
            return self._reopened(event, position)
        elif kind == "Bet.Refunded":
            return self._refunded(event, position)
        elif kind == "TxRecord.Created":
            self._remember_record((event.provider, event.tx_id))
            told = self._tell_reopened(event.provider, event.tx_id, position, event.timestamp)
            return told + self._complete_waiting(
                event.provider, event.tx_id, position, event.timestamp
            )
        return []

    def _move(self, event: Any, delta: Decimal) -> None:
        owner = self.wallets.get(event.originator_id.hex)
        if owner is not None:
            self.balances[owner] = self.balances.get(owner, Decimal(0)) + delta

    def _round_event(self, raw: str) -> None:
        if '"round.result"' not in raw and '"round.void"' not in raw:
            return  # most round events: no need to decode them
        provider_event = decode_provider_event(raw)
        match provider_event:
            case ResultDeclared() as declared:
                key = _round_key(declared.provider, declared.round_id)
                if key not in self._bets_by_round:
                    return
                before = self.rounds.pop(key, _RoundEnd())
                self.rounds[key] = _RoundEnd(
                    result=dict(declared.result), void_cause=before.void_cause
                )
            case RoundVoided() as voided:
                key = _round_key(voided.provider, voided.round_id)
                if key not in self._bets_by_round:
                    return
                before = self.rounds.pop(key, _RoundEnd())
                self.rounds[key] = _RoundEnd(result=before.result, void_cause=voided.cause)
            case BettingOpened() | BettingClosed() | GameEvent():
                return
            case _:
                assert_never(provider_event)
        while len(self.rounds) > self.round_limit:
            self.rounds.popitem(last=False)

    def _award(self, event: Any, amount: Decimal, position: int) -> list[RoundSettle]:
        """A payment outside any bet is its own settlement, complete as it comes (one
        wallet event; its transaction record adds nothing the platform needs)."""
        owner = self.wallets.get(event.originator_id.hex)
        if owner is None or not amount:
            return []
        player, currency = owner
        move = SettleTransaction(
            id=event.tx_ref,
            type=TransactionType.CREDIT if amount > 0 else TransactionType.DEBIT,
            amount=abs(amount),
            provider_tx_id=event.tx_id,
            cause=event.cause,
        )
        group = (event.provider, event.round_id or event.tx_id, player, currency)
        return [self._told(group, (), (move,), position, event.timestamp)]

    def _refunded(self, event: Any, position: int) -> list[RoundSettle]:
        key = event.originator_id.hex
        bet = self.open_bets.get(key)
        if bet is None:
            earlier = self._reported(key, event.reversed_payout)
            if earlier is None:
                return []
            bet = _Bet(**{**earlier.__dict__, "reversed_payout": earlier.payout})
            self.open_bets[key] = bet
            self.groups.setdefault(bet.group, []).append(key)
        bet.outcome, bet.payout, bet.resolved_by, bet.refunded, bet.cause = (
            Outcome.VOID,
            bet.stake,
            event.tx_id,
            True,
            event.cause,
        )
        return self._resolved(bet, position, event.timestamp)

    def _reopened(self, event: Any, position: int) -> list[RoundSettle]:
        key = event.originator_id.hex
        bet = self.open_bets.get(key)
        if bet is not None:
            # Not reported yet: the platform never heard of the undone credit.
            bet.outcome, bet.payout, bet.resolved_by = "", Decimal(0), None
            return []
        earlier = self._reported(key, event.payout)
        if earlier is None:
            return []
        # Reported with its payout: tell the platform that settlement no longer stands.
        bet = _Bet(
            **{
                **earlier.__dict__,
                "outcome": "",
                "payout": Decimal(0),
                "resolved_by": None,
                "reversed_payout": None,
                "reopened_by": event.tx_id,
            }
        )
        self.open_bets[key] = bet
        self.groups.setdefault(bet.group, []).append(key)
        record = (bet.provider, event.tx_id)
        self.reopening.setdefault(record, []).append((key, earlier.payout))
        if record in self.records:
            return self._tell_reopened(bet.provider, event.tx_id, position, event.timestamp)
        return []

    def _reported(self, key: str, payout: Decimal) -> _Bet | None:
        """The reported bet `key`, settled with `payout`, now reversed: remembered, or read
        back from the log when it was reported too long ago to be remembered (a bet the
        tracker saw placed that is no longer open was reported)."""
        earlier = self.reported.pop(key, None)
        if earlier is not None or self.recall is None:
            return earlier
        placed = self.recall(key)
        if placed is None:
            return None
        bet = _Bet.placed(placed)
        bet.payout = payout
        self._bets_by_round[_round_key(bet.provider, bet.round_id)] += 1
        return bet

    def _forget(self, bet: _Bet) -> None:
        """`bet` is no longer remembered; its round's result goes with the round's last."""
        key = _round_key(bet.provider, bet.round_id)
        self._bets_by_round[key] -= 1
        if self._bets_by_round[key] <= 0:
            del self._bets_by_round[key]
            self.rounds.pop(key, None)

    def _tell_reopened(
        self, provider: str, tx_id: str, position: int, at: datetime
    ) -> list[RoundSettle]:
        """One settlement per player's round of the bets the rollback `tx_id` reopened."""
        taken: dict[GroupKey, list[tuple[_Bet, Decimal]]] = {}
        for key, payout in self.reopening.pop((provider, tx_id), ()):
            bet = self.open_bets.get(key)
            if bet is not None:
                taken.setdefault(bet.group, []).append((bet, payout))
        told: list[RoundSettle] = []
        ref = record_ref(provider, tx_id)
        for group, bets in sorted(taken.items()):
            payout = sum((p for _, p in bets), Decimal(0))
            moves = [
                SettleTransaction(
                    id=ref, type=TransactionType.DEBIT, amount=payout, provider_tx_id=tx_id
                )
            ]
            moves += [
                SettleTransaction(
                    id=_movement_id("rehold", ref, bet.key),
                    type=TransactionType.CREDIT,
                    amount=bet.stake,
                )
                for bet, _ in bets
            ]
            reopened = tuple(
                SettledBet(
                    bet_id=bet.bet_id,
                    stake=bet.stake,
                    payout=Decimal(0),
                    outcome=Outcome.LOSE,
                    status=BetState.REOPENED,
                )
                for bet, _ in bets
            )
            moved = tuple(m for m in moves if m.amount)
            told.append(self._told(group, reopened, moved, position, at, bets[0][0], kind="reopen"))
        return told

    def _resolved(self, bet: _Bet, position: int, at: datetime) -> list[RoundSettle]:
        record = (bet.provider, bet.resolved_by or "")
        bet.recorded = not bet.resolved_by or record in self.records
        if not bet.recorded:
            self.waiting.setdefault(record, set()).add(bet.group)
        return self._complete(bet.group, position, at)

    def _remember_record(self, record: tuple[str, str]) -> None:
        self.records.add(record)
        self._record_order.append(record)
        while len(self._record_order) > self.record_limit:
            self.records.discard(self._record_order.popleft())

    def _complete_waiting(
        self, provider: str, tx_id: str, position: int, at: datetime
    ) -> list[RoundSettle]:
        settled: list[RoundSettle] = []
        for group in sorted(self.waiting.pop((provider, tx_id), ())):
            for key in self.groups.get(group, []):
                bet = self.open_bets[key]
                if bet.resolved_by == tx_id:
                    bet.recorded = True
            settled += self._complete(group, position, at)
        return settled

    def _complete(self, group: GroupKey, position: int, at: datetime) -> list[RoundSettle]:
        keys = self.groups.get(group, [])
        bets = [self.open_bets[k] for k in keys]
        if not bets or any(b.resolved_by is None or not b.recorded for b in bets):
            return []
        del self.groups[group]
        for bet in bets:
            del self.open_bets[bet.key]
            self.reported[bet.key] = bet
            if len(self.reported) > self.reported_limit:
                self._forget(self.reported.popitem(last=False)[1])
        return [self._settlement(group, bets, position, at)]

    def _settlement(
        self, group: GroupKey, bets: list[_Bet], position: int, at: datetime
    ) -> RoundSettle:
        provider, round_id, _, _ = group
        transactions = [
            SettleTransaction(
                id=record_ref(provider, bet.tx_id),
                type=TransactionType.DEBIT,
                amount=bet.stake,
                provider_tx_id=bet.tx_id,
            )
            if not bet.reopened_by
            else SettleTransaction(
                id=_movement_id("restake", record_ref(provider, bet.reopened_by), bet.key),
                type=TransactionType.DEBIT,
                amount=bet.stake,
            )
            for bet in bets
            if bet.reversed_payout is None
        ]
        transactions += [
            SettleTransaction(
                id=f"trn_reverse_{bet.key}", type=TransactionType.DEBIT, amount=bet.reversed_payout
            )
            for bet in bets
            if bet.reversed_payout
        ]
        credits: dict[str, Decimal] = {}
        for bet in bets:
            if bet.resolved_by:
                credits[bet.resolved_by] = credits.get(bet.resolved_by, Decimal(0)) + bet.payout
            elif bet.payout > 0:
                word = "refund" if bet.refunded else "settle"
                transactions.append(
                    SettleTransaction(
                        id=f"trn_{word}_{bet.key}", type=TransactionType.CREDIT, amount=bet.payout
                    )
                )
        transactions += [
            SettleTransaction(
                id=record_ref(provider, tx_id),
                type=TransactionType.CREDIT,
                amount=amount,
                provider_tx_id=tx_id,
            )
            for tx_id, amount in credits.items()
        ]
        settled = tuple(
            SettledBet(
                bet_id=bet.bet_id,
                stake=bet.stake,
                payout=bet.payout,
                outcome=_outcome(bet.outcome),
                cause=bet.cause if bet.refunded else "",
            )
            for bet in bets
        )
        end = self.rounds.get(_round_key(provider, round_id), _RoundEnd())
        return self._told(group, settled, tuple(transactions), position, at, bets[0], end=end)

    def _told(
        self,
        group: GroupKey,
        bets: tuple[SettledBet, ...],
        transactions: tuple[SettleTransaction, ...],
        position: int,
        at: datetime,
        first: _Bet | None = None,
        *,
        kind: str = "",
        end: _RoundEnd | None = None,
    ) -> RoundSettle:
        """What the platform is told of one player's round (`group`), with the player's
        balance as the tracker holds it now. Its id is drawn from the group, the log
        position and `kind` (a reopening is told apart from a settlement at the same
        position); `first` names the table and game, `end` the round's result."""
        provider, round_id, player, currency = group
        identity = "\x1f".join((*([kind] if kind else []), *group, str(position)))
        end = end or _RoundEnd()
        return RoundSettle(
            event_id="rs_" + hashlib.sha256(identity.encode()).hexdigest()[:32],
            round_id=round_id,
            provider=provider,
            player=player,
            currency=currency,
            bets=bets,
            transactions=transactions,
            balance_after=self.balances.get((player, currency), Decimal(0)),
            settled_at=at,
            log_position=position,
            table=first.table if first else "",
            game=first.game if first else "",
            result=end.result,
            void_cause=end.void_cause,
        )


class _RoundEnd(msgspec.Struct, frozen=True):
    result: dict[str, str] = {}
    void_cause: str = ""


class _Checkpoint(msgspec.Struct, frozen=True):
    position: int
    open_bets: list[_Bet]
    groups: list[tuple[GroupKey, list[str]]]
    wallets: dict[str, tuple[str, str]]
    balances: list[tuple[str, str, Decimal]]
    reported: list[_Bet]
    records: list[tuple[str, str]]
    waiting: list[tuple[str, str, list[GroupKey]]]
    rounds: list[tuple[str, _RoundEnd]] = []
    reopening: list[tuple[str, str, list[tuple[str, Decimal]]]] = []


def _movement_id(word: str, ref: str, bet_key: str) -> str:
    """A wallet movement's stable id, unique per transaction (`ref`) and bet."""
    return f"trn_{word}_" + hashlib.sha256(f"{ref}\x1f{bet_key}".encode()).hexdigest()[:32]


def _round_key(provider: str, round_id: str) -> str:
    return f"{provider}\x1f{round_id}"


def _outcome(value: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        return Outcome.VOID if value == BetStatus.REFUNDED else Outcome.LOSE
