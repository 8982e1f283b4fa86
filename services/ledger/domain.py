"""The ledger's aggregates: wallets, bets, provider transactions, rounds and round books.

One style throughout: the library's `Aggregate`, with explicit nested event classes applied
by `@event`-decorated private methods (bankaccounts style). Public methods check and raise
`LedgerRefused`; the decorated methods only mutate, so replaying stored events never checks.

Double entry (I1): every wallet event that moves money carries `postings`, a mapping from
account to signed amount that sums to zero. Only wallets are aggregates; the counter-accounts
(`house`, `cashier`, `provider:<p>` table banks) are the sums of the postings naming them, so
no bet ever waits on a house account.

Who writes what:
- `Wallet`, `Bet`, `TxRecord`: the wallet commands, saved together atomically.
- `Round`: provider game events only (low rate); a bet never writes to it.
- `RoundBook`, `BookCursor`: the single round-book follower of the notification log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from uuid import uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.domain import event
from eventsourcing.utils import get_topic

from contracts.wallet import Outcome
from contracts.wallet import Refusal
from services.ledger import tally
from services.ledger.errors import LedgerRefused
from services.ledger.views import BetStatus

NAMESPACE = UUID("6f1b3c52-8d7e-4f0a-9b61-2c4d5e6f7a80")

CASHIER = "cashier"
HOUSE = "house"
PROMO = "promo"
"""The promotions account: free rounds, free bets and rewards are paid from it."""


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply `events` in turn: `eventsourcing.application.project_aggregate` without its
    per-event `isinstance` against a runtime protocol, which costs more than applying
    the event (tens of microseconds on Python 3.11)."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def player_account(player: str) -> str:
    return f"player:{player}"


def provider_account(provider: str) -> str:
    """A provider's clearing account: the transfer-wallet table bank at that provider."""
    return f"provider:{provider}"


def _uuid(*parts: str) -> UUID:
    return uuid5(NAMESPACE, "\x1f".join(parts))


def wallet_id(player: str, currency: str) -> UUID:
    return _uuid("wallet", player, currency)


def tx_record_id(provider: str, tx_id: str) -> UUID:
    return _uuid("tx", provider, tx_id)


def bet_uuid(provider: str, bet_id: str) -> UUID:
    return _uuid("bet", provider, bet_id)


def round_uuid(provider: str, round_id: str) -> UUID:
    return _uuid("round", provider, round_id)


def book_uuid(provider: str, round_id: str) -> UUID:
    return _uuid("round-book", provider, round_id)


BOOK_CURSOR_ID = _uuid("round-book-cursor")

SETTLED_STAKES_KEPT = 64
"""Settled bets whose stake time a wallet keeps, the last settled first out: a reversal of
one (a refund of a settled bet, a credit rolled back) counts in its stake's periods. A
reversal of a bet settled longer ago counts in no tally (its stake's periods are most
likely over), which errs towards the limit: a loss refunded is not taken off."""


class Wallet(Aggregate):
    """One player's money in one currency: cash `balance` and `holds` on it (I2)."""

    class Opened(Aggregate.Created):
        player: str
        currency: str

    @event(Opened)
    def __init__(self, player: str, currency: str) -> None:
        self.player = player
        self.currency = currency
        self.balance = Decimal(0)
        self.holds: dict[str, Decimal] = {}
        self.hold_rounds: dict[str, str] = {}
        self.tallies: dict[str, dict[str, object]] = {}
        """Per period, what player protection's limits count (`services.ledger.tally`)."""
        self.hold_times: dict[str, datetime] = {}
        """When each open hold's stake was held: its refund or win counts in its periods."""
        self.settled_times: dict[str, datetime] = {}
        """When the stakes of the last `SETTLED_STAKES_KEPT` settled bets were held."""

    @staticmethod
    def create_id(player: str, currency: str) -> UUID:
        return wallet_id(player, currency)

    def _count(self, at: datetime | None, field: str, amount: Decimal) -> None:
        if at is not None and amount:
            # A wallet snapshotted before tallies existed has none: it counts from now on.
            tally.count(self.__dict__.setdefault("tallies", {}), at, field, amount)

    def _count_back(
        self, staked_at: datetime | None, at: datetime | None, field: str, amount: Decimal
    ) -> None:
        """Count what resolves a stake in the periods of the stake held at `staked_at`; a
        hold of a wallet snapshotted before stake times were kept has none: at `at`."""
        if staked_at is None:
            self._count(at, field, amount)
        elif amount:
            tally.count_back(self.__dict__.setdefault("tallies", {}), staked_at, field, amount)

    def _stake_times(self, name: str) -> dict[str, datetime]:
        """`hold_times` or `settled_times`; a wallet snapshotted before they existed has
        none."""
        times: dict[str, datetime] = self.__dict__.setdefault(name, {})
        return times

    def period_tally(self, period: str, now: datetime) -> tally.Tally:
        return tally.read(self.__dict__.get("tallies", {}), period, now)

    def round_staked(self, round_key: str) -> Decimal:
        """What the player's open bets hold in one round."""
        return sum(
            (self.holds[bet] for bet, key in self.hold_rounds.items() if key == round_key),
            Decimal(0),
        )

    @property
    def held(self) -> Decimal:
        return sum(self.holds.values(), Decimal(0))

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    @property
    def account(self) -> str:
        return player_account(self.player)

    def _require_available(self, amount: Decimal, what: str) -> None:
        if amount > self.available:
            raise LedgerRefused(
                Refusal.INSUFFICIENT_FUNDS,
                f"{what} of {amount} {self.currency} exceeds the {self.available} available "
                f"to player {self.player!r} (balance {self.balance}, held {self.held})",
            )

    def deposit(self, tx_ref: str, amount: Decimal, account: str) -> None:
        self._deposited(
            tx_ref=tx_ref,
            amount=amount,
            account=account,
            postings={self.account: amount, account: -amount},
        )

    def withdraw(self, tx_ref: str, amount: Decimal, account: str) -> None:
        self._require_available(amount, "withdrawal")
        self._withdrawn(
            tx_ref=tx_ref,
            amount=amount,
            account=account,
            postings={self.account: -amount, account: amount},
        )

    def hold(self, bet: str, amount: Decimal, round_key: str) -> None:
        if bet in self.holds:
            raise LedgerRefused(
                Refusal.DUPLICATE_CONFLICT, f"bet {bet} already holds a stake on this wallet"
            )
        self._require_available(amount, "stake")
        self._stake_held(bet=bet, amount=amount, round_key=round_key)

    def _require_hold(self, bet: str) -> Decimal:
        try:
            return self.holds[bet]
        except KeyError:
            raise LedgerRefused(
                Refusal.BET_ALREADY_SETTLED,
                f"bet {bet} holds nothing on {self.player!r}/{self.currency}: "
                "it was captured or released already",
            ) from None

    def release(self, bet: str, cause: str) -> None:
        self._require_hold(bet)
        self._hold_released(bet=bet, cause=cause)

    def capture(self, bet: str) -> Decimal:
        stake = self._require_hold(bet)
        self._hold_captured(bet=bet, amount=stake, postings={self.account: -stake, HOUSE: stake})
        return stake

    def credit_win(self, bet: str, amount: Decimal) -> None:
        if amount > 0:
            self._win_credited(
                bet=bet, amount=amount, postings={HOUSE: -amount, self.account: amount}
            )

    def reverse_settlement(self, bet: str, stake: Decimal, payout: Decimal, cause: str) -> None:
        """Undo a settled bet: the stake comes back, the payout goes back to the house."""
        if payout > stake:
            self._require_available(payout - stake, "reversal of a win")
        self._reverse(bet, stake, payout, cause)

    def take_back_win(
        self, bet: str, stake: Decimal, payout: Decimal, round_key: str, cause: str
    ) -> None:
        """Undo one credit: the payout goes back to the house and the stake is held again,
        so the bet is open for a corrected credit. Refused unless the player still has the
        payout available (the stake returns under a hold, so it cannot cover it)."""
        self._require_available(payout, "taking back a credit")
        self._reverse(bet, stake, payout, cause)
        self._stake_held(bet=bet, amount=stake, round_key=round_key)

    def _reverse(self, bet: str, stake: Decimal, payout: Decimal, cause: str) -> None:
        """The stake back to the player and the payout back to the house, posted as their
        difference (no postings when they are equal)."""
        net = stake - payout
        postings = {self.account: net, HOUSE: -net} if net else {}
        self._settlement_reversed(
            bet=bet, stake=stake, payout=payout, cause=cause, postings=postings
        )

    def award(
        self,
        tx_ref: str,
        amount: Decimal,
        *,
        cause: str,
        account: str,
        provider: str,
        tx_id: str,
        round_id: str,
    ) -> None:
        """Money from `account` to the player (a promotion, a jackpot, an adjustment) that
        settles no bet; a negative adjustment goes the other way, never past what is
        available (I2)."""
        if amount < 0:
            self._require_available(-amount, "adjustment")
        self._awarded(
            tx_ref=tx_ref,
            player=self.player,
            currency=self.currency,
            provider=provider,
            tx_id=tx_id,
            round_id=round_id,
            cause=cause,
            amount=amount,
            account=account,
            postings={self.account: amount, account: -amount},
        )

    def reverse_award(
        self,
        tx_ref: str,
        amount: Decimal,
        *,
        cause: str,
        account: str,
        provider: str,
        tx_id: str,
        round_id: str,
        undone_tx_id: str,
    ) -> None:
        """Undo the award `undone_tx_id` (rolled back by `tx_id`): the money goes back to
        `account`; refused unless the player still has it available."""
        if amount > 0:
            self._require_available(amount, "reversal of an award")
        self._award_reversed(
            tx_ref=tx_ref,
            player=self.player,
            currency=self.currency,
            provider=provider,
            tx_id=tx_id,
            round_id=round_id,
            cause=cause,
            amount=amount,
            account=account,
            postings={self.account: -amount, account: amount},
            undone_tx_id=undone_tx_id,
        )

    class Deposited(Aggregate.Event):
        tx_ref: str
        amount: Decimal
        account: str
        postings: dict[str, Decimal]

    @event(Deposited)
    def _deposited(
        self,
        tx_ref: str,
        amount: Decimal,
        account: str,
        postings: dict[str, Decimal],
        timestamp: datetime | None = None,
    ) -> None:
        self.balance += amount
        if account == CASHIER:
            self._count(timestamp, "deposited", amount)

    class Withdrawn(Aggregate.Event):
        tx_ref: str
        amount: Decimal
        account: str
        postings: dict[str, Decimal]

    @event(Withdrawn)
    def _withdrawn(
        self, tx_ref: str, amount: Decimal, account: str, postings: dict[str, Decimal]
    ) -> None:
        self.balance -= amount

    class StakeHeld(Aggregate.Event):
        bet: str
        amount: Decimal
        round_key: str

    @event(StakeHeld)
    def _stake_held(
        self, bet: str, amount: Decimal, round_key: str, timestamp: datetime | None = None
    ) -> None:
        self.holds[bet] = amount
        self.hold_rounds[bet] = round_key
        settled_at = self._stake_times("settled_times").pop(bet, None)
        if settled_at is None:
            if timestamp is not None:
                self._stake_times("hold_times")[bet] = timestamp
            self._count(timestamp, "staked", amount)
        else:
            # A settled bet's stake held again, its credit taken back (`take_back_win`):
            # the same stake, counted once, and lost again until a new credit; the
            # reversal just before counted it as returned.
            self._stake_times("hold_times")[bet] = settled_at
            self._count_back(settled_at, timestamp, "returned", -amount)

    class HoldReleased(Aggregate.Event):
        bet: str
        cause: str

    @event(HoldReleased)
    def _hold_released(self, bet: str, cause: str, timestamp: datetime | None = None) -> None:
        staked_at = self._stake_times("hold_times").pop(bet, None)
        self._count_back(staked_at, timestamp, "refunded", self.holds.pop(bet))
        del self.hold_rounds[bet]

    class HoldCaptured(Aggregate.Event):
        bet: str
        amount: Decimal
        postings: dict[str, Decimal]

    @event(HoldCaptured)
    def _hold_captured(self, bet: str, amount: Decimal, postings: dict[str, Decimal]) -> None:
        del self.holds[bet]
        del self.hold_rounds[bet]
        self.balance -= amount
        staked_at = self._stake_times("hold_times").pop(bet, None)
        if staked_at is not None:
            settled = self._stake_times("settled_times")
            settled[bet] = staked_at
            while len(settled) > SETTLED_STAKES_KEPT:
                del settled[next(iter(settled))]

    class WinCredited(Aggregate.Event):
        bet: str
        amount: Decimal
        postings: dict[str, Decimal]

    @event(WinCredited)
    def _win_credited(
        self,
        bet: str,
        amount: Decimal,
        postings: dict[str, Decimal],
        timestamp: datetime | None = None,
    ) -> None:
        self.balance += amount
        staked_at = self._stake_times("settled_times").get(bet)
        self._count_back(staked_at, timestamp, "returned", amount)

    class SettlementReversed(Aggregate.Event):
        bet: str
        stake: Decimal
        payout: Decimal
        cause: str
        postings: dict[str, Decimal]

    @event(SettlementReversed)
    def _settlement_reversed(
        self,
        bet: str,
        stake: Decimal,
        payout: Decimal,
        cause: str,
        postings: dict[str, Decimal],
        timestamp: datetime | None = None,
    ) -> None:
        self.balance += stake - payout
        staked_at = self._stake_times("settled_times").get(bet)
        if staked_at is not None:
            self._count_back(staked_at, timestamp, "returned", stake - payout)

    class Awarded(Aggregate.Event):
        """A provider's payment outside any bet (`contracts.wallet.Award`)."""

        tx_ref: str
        player: str
        currency: str
        provider: str
        tx_id: str
        round_id: str
        cause: str
        amount: Decimal
        account: str
        postings: dict[str, Decimal]

    @event(Awarded)
    def _awarded(
        self,
        tx_ref: str,
        player: str,
        currency: str,
        provider: str,
        tx_id: str,
        round_id: str,
        cause: str,
        amount: Decimal,
        account: str,
        postings: dict[str, Decimal],
    ) -> None:
        self.balance += amount

    class AwardReversed(Aggregate.Event):
        """An award undone by the provider's rollback (`tx_id` is the rollback's)."""

        tx_ref: str
        player: str
        currency: str
        provider: str
        tx_id: str
        round_id: str
        cause: str
        amount: Decimal
        account: str
        postings: dict[str, Decimal]
        undone_tx_id: str = ""
        """The award's own transaction id (empty in events stored before it was kept)."""

    @event(AwardReversed)
    def _award_reversed(
        self,
        tx_ref: str,
        player: str,
        currency: str,
        provider: str,
        tx_id: str,
        round_id: str,
        cause: str,
        amount: Decimal,
        account: str,
        postings: dict[str, Decimal],
        undone_tx_id: str = "",
    ) -> None:
        self.balance -= amount


MONEY_EVENTS = (
    Wallet.Deposited,
    Wallet.Withdrawn,
    Wallet.HoldCaptured,
    Wallet.WinCredited,
    Wallet.SettlementReversed,
    Wallet.Awarded,
    Wallet.AwardReversed,
)


class Bet(Aggregate):
    """One bet: placed once, then settled or refunded, exactly once (I4).

    A settled bet whose credit is rolled back is reopened (`Reopened`): the credit is undone
    and the bet awaits a corrected one. It is still resolved once at a time: settled again
    only after a reopening, refunded at most once."""

    class Placed(Aggregate.Created):
        provider: str
        bet_id: str
        tx_id: str
        player: str
        currency: str
        stake: Decimal
        round_id: str
        game: str
        table: str
        selections: list[dict[str, str]]
        session_id: str = ""
        """The player's session at the provider, as the edge names it (for audit exports)."""

    @event(Placed)
    def __init__(
        self,
        provider: str,
        bet_id: str,
        tx_id: str,
        player: str,
        currency: str,
        stake: Decimal,
        round_id: str,
        game: str,
        table: str,
        selections: list[dict[str, str]],
        session_id: str = "",
    ) -> None:
        self.provider = provider
        self.bet_id = bet_id
        self.tx_id = tx_id
        self.player = player
        self.currency = currency
        self.stake = stake
        self.round_id = round_id
        self.game = game
        self.table = table
        self.selections = selections
        self.session_id = session_id
        self.status = BetStatus.OPEN
        self.outcome = ""
        self.payout = Decimal(0)
        self.expected_payout: Decimal | None = None
        self.flagged = False
        self.cause = ""
        self.settled_by = ""

    @staticmethod
    def create_id(provider: str, bet_id: str, **_: Any) -> UUID:
        return bet_uuid(provider, bet_id)

    @property
    def key(self) -> str:
        return self.id.hex

    @property
    def round_key(self) -> str:
        return round_uuid(self.provider, self.round_id).hex

    @property
    def resolved_refusal(self) -> Refusal:
        """Why a resolved bet cannot be resolved again: refunded, or settled already."""
        if self.status == BetStatus.REFUNDED:
            return Refusal.BET_REFUNDED
        return Refusal.BET_ALREADY_SETTLED

    def require_open(self) -> None:
        if self.status != BetStatus.OPEN:
            code = self.resolved_refusal
            if self.cause == "LATE_BET":
                code = Refusal.BETTING_CLOSED
            raise LedgerRefused(
                code,
                f"bet {self.provider}/{self.bet_id} of player {self.player!r} in round "
                f"{self.round_id} is {self.status.lower()} already"
                + (f" ({self.cause})" if self.cause else ""),
            )

    def require_not_refunded(self) -> None:
        if self.status == BetStatus.REFUNDED:
            raise LedgerRefused(
                Refusal.BET_REFUNDED,
                f"bet {self.provider}/{self.bet_id} was refunded already ({self.cause})",
            )

    def settle(
        self,
        outcome: str,
        payout: Decimal,
        expected_payout: Decimal | None,
        tx_id: str,
        *,
        flagged: bool | None = None,
    ) -> None:
        """Settle once. `flagged` defaults to this bet's own cross-check; a credit covering
        several bets cross-checks them together and says so."""
        self.require_open()
        if flagged is None:
            flagged = expected_payout is not None and expected_payout != payout
        self._settled(
            outcome=outcome,
            payout=payout,
            expected_payout=expected_payout,
            flagged=flagged,
            tx_id=tx_id,
        )

    def refund(self, cause: str, tx_id: str = "") -> None:
        """Refund an open bet (its hold is released) or reverse a settled one."""
        self.require_not_refunded()
        self._refunded(cause=cause, tx_id=tx_id, reversed_payout=self.payout)

    def require_settled(self) -> None:
        if self.status != BetStatus.SETTLED:
            raise LedgerRefused(
                self.resolved_refusal,
                f"bet {self.provider}/{self.bet_id} is {self.status.lower()}, not settled: "
                "there is no credit to undo",
            )

    def reopen(self, cause: str, tx_id: str) -> None:
        """Undo the bet's settlement (its credit was rolled back): open for another credit."""
        self.require_settled()
        self._reopened(cause=cause, tx_id=tx_id, undone_tx_id=self.settled_by, payout=self.payout)

    class Settled(Aggregate.Event):
        outcome: str
        payout: Decimal
        expected_payout: Decimal | None
        flagged: bool
        tx_id: str

    @event(Settled)
    def _settled(
        self,
        outcome: str,
        payout: Decimal,
        expected_payout: Decimal | None,
        flagged: bool,
        tx_id: str,
    ) -> None:
        self.status = BetStatus.SETTLED
        self.outcome = outcome
        self.payout = payout
        self.expected_payout = expected_payout
        self.flagged = flagged
        self.settled_by = tx_id

    class Reopened(Aggregate.Event):
        cause: str
        tx_id: str
        undone_tx_id: str
        payout: Decimal

    @event(Reopened)
    def _reopened(self, cause: str, tx_id: str, undone_tx_id: str, payout: Decimal) -> None:
        self.status = BetStatus.OPEN
        self.outcome = ""
        self.payout = Decimal(0)
        self.expected_payout = None
        self.flagged = False
        self.settled_by = ""

    class Refunded(Aggregate.Event):
        cause: str
        tx_id: str
        reversed_payout: Decimal

    @event(Refunded)
    def _refunded(self, cause: str, tx_id: str, reversed_payout: Decimal) -> None:
        self.status = BetStatus.REFUNDED
        self.outcome = Outcome.VOID
        self.cause = cause
        self.payout = self.stake


BET_EVENTS = (Bet.Placed, Bet.Settled, Bet.Reopened, Bet.Refunded)
"""Every event a bet writes, from its placing to its last resolution."""


def topics_of(*events: type[Aggregate.Event]) -> tuple[str, ...]:
    """The topics these event classes are stored under: what a reader of the log filters on."""
    return tuple(get_topic(cls) for cls in events)


class TxRecord(Aggregate):
    """One provider transaction id, remembered forever (I3).

    Created either by the transaction itself (`reply` set) or by a rollback that came first
    (`tombstone_by` set); a late original is then refused or absorbed per `late_original`.
    """

    class Created(Aggregate.Created):
        provider: str
        tx_id: str
        kind: str
        fingerprint: str
        reply: dict[str, Any] | None
        bets: list[str]
        tombstone_by: str
        late_original: str
        session_id: str = ""
        """The session of the command that created the record (for audit exports)."""

    @event(Created)
    def __init__(
        self,
        provider: str,
        tx_id: str,
        kind: str,
        fingerprint: str,
        reply: dict[str, Any] | None,
        bets: list[str],
        tombstone_by: str,
        late_original: str,
        session_id: str = "",
    ) -> None:
        self.provider = provider
        self.tx_id = tx_id
        self.kind = kind
        self.fingerprint = fingerprint
        self.reply = reply
        self.bets = bets
        self.tombstone_by = tombstone_by
        self.late_original = late_original
        self.session_id = session_id
        self.rolled_back_by = ""
        self.paid_out_by = ""

    @staticmethod
    def create_id(provider: str, tx_id: str, **_: Any) -> UUID:
        return tx_record_id(provider, tx_id)

    @classmethod
    def record(
        cls,
        provider: str,
        tx_id: str,
        kind: str,
        fingerprint: str,
        reply: dict[str, Any],
        bets: list[str],
        session_id: str = "",
    ) -> TxRecord:
        return cls(
            provider=provider,
            tx_id=tx_id,
            kind=kind,
            fingerprint=fingerprint,
            reply=reply,
            bets=bets,
            tombstone_by="",
            late_original="",
            session_id=session_id,
        )

    @classmethod
    def tombstone(
        cls, provider: str, tx_id: str, by_tx: str, late_original: str, session_id: str = ""
    ) -> TxRecord:
        return cls(
            provider=provider,
            tx_id=tx_id,
            kind="",
            fingerprint="",
            reply=None,
            bets=[],
            tombstone_by=by_tx,
            late_original=late_original,
            session_id=session_id,
        )

    def absorb(
        self, kind: str, fingerprint: str, reply: dict[str, Any], session_id: str = ""
    ) -> None:
        """The late original of a tombstone, accepted without effect."""
        self._absorbed(kind=kind, fingerprint=fingerprint, reply=reply, session_id=session_id)

    def mark_rolled_back(self, by_tx: str) -> None:
        self._rolled_back(by_tx=by_tx)

    def mark_paid_out(self, by_tx: str) -> None:
        """A free bet's win paid it out: another win of it is refused while `by_tx` stands."""
        self._paid_out(by_tx=by_tx)

    class Absorbed(Aggregate.Event):
        kind: str
        fingerprint: str
        reply: dict[str, Any]
        session_id: str = ""

    @event(Absorbed)
    def _absorbed(
        self, kind: str, fingerprint: str, reply: dict[str, Any], session_id: str = ""
    ) -> None:
        self.kind = kind
        self.fingerprint = fingerprint
        self.reply = reply

    def note_award(self, amount: Decimal, cause: str, account: str, round_id: str) -> None:
        """What an award moved, so a rollback can reverse exactly that."""
        self._award_noted(amount=amount, cause=cause, account=account, round_id=round_id)

    @property
    def award(self) -> dict[str, Any]:
        """The award this transaction made (empty for any other transaction)."""
        noted: dict[str, Any] = self.__dict__.get("awarded", {})
        return noted

    class AwardNoted(Aggregate.Event):
        amount: Decimal
        cause: str
        account: str
        round_id: str

    @event(AwardNoted)
    def _award_noted(self, amount: Decimal, cause: str, account: str, round_id: str) -> None:
        self.awarded = {"amount": amount, "cause": cause, "account": account, "round_id": round_id}

    class RolledBack(Aggregate.Event):
        by_tx: str

    @event(RolledBack)
    def _rolled_back(self, by_tx: str) -> None:
        self.rolled_back_by = by_tx

    class PaidOut(Aggregate.Event):
        by_tx: str

    @event(PaidOut)
    def _paid_out(self, by_tx: str) -> None:
        self.paid_out_by = by_tx
