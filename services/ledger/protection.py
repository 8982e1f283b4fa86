"""Limit profiles and player protection: stored in a log of their own, checked before
every hold.

`Protection` is an `eventsourcing` application on its own stream (`<prefix>_PROTECTION`):
one `PlayerGuard` aggregate per player (self-exclusion, time-outs, the high-risk flag,
loss/stake/deposit limits, the assigned limit profile) and one `LimitBook` (the operator's
`limits.update`s and profile rules). Every change is an event; nothing else is kept.

What the bet path reads is `GuardState`, built from that log in memory: `catch_up` applies
the notifications after the last one applied (at start, after each local write, and on
every wake-up of `follow`, which the stream's republish triggers within milliseconds, with
a poll every second behind it). So a change made through any bridge reaches every bridge's
checks without a restart, a restart rebuilds the same state from the log, and a bet pays
for dictionary look-ups, not a read.

The ledger calls `check_bet` inside the wallet's turn, with the wallet it is about to
hold on, so the period tallies and the round's stakes it checks are exact (the wallet is
read fresh whenever the first attempt is refused: `Ledger._debit`), and `check_deposit`
before a cashier deposit. Refusals are `LedgerRefused`:

- `SELF_EXCLUDED`: self-excluded, timed out, or flagged high-risk;
- `STAKE_OUT_OF_LIMITS`: under the profile's minimum or over its maximum (per bet or bet type);
- `LIMIT_EXCEEDED`: over the profile's per-round maximum or a loss/stake/deposit limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any
from typing import ClassVar
from typing import TypeVar
from uuid import NAMESPACE_URL
from uuid import UUID
from uuid import uuid5

import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.domain import event
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import Notification
from eventsourcing.utils import EnvType

from contracts import money
from contracts.player import EffectiveLimits
from contracts.player import LimitsUpdate
from contracts.player import MarketLimits
from contracts.protection import AssignProfile
from contracts.protection import LiftExclusion
from contracts.protection import LimitKind
from contracts.protection import LimitsState
from contracts.protection import LimitView
from contracts.protection import Period
from contracts.protection import ProfileRule
from contracts.protection import ProfileRules
from contracts.protection import ProtectionChange
from contracts.protection import ProtectionHistory
from contracts.protection import ProtectionLimit
from contracts.protection import ProtectionRecord
from contracts.protection import ProtectionView
from contracts.protection import RiskFlag
from contracts.protection import SelfExclusion
from contracts.protection import TimeOut
from contracts.wallet import Debit
from contracts.wallet import Refusal
from services.ledger.domain import Wallet
from services.ledger.errors import LedgerRefused

A = TypeVar("A", bound=Aggregate)
_NS = uuid5(NAMESPACE_URL, "livebridge:protection")
FOREVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
AnyChange = ProtectionChange | AssignProfile
_change_decoder = msgspec.json.Decoder(AnyChange)
_update_decoder = msgspec.json.Decoder(LimitsUpdate)
_rules_decoder = msgspec.json.Decoder(ProfileRules)
_encoder = msgspec.json.Encoder(decimal_format="string")


def guard_id(player: str) -> UUID:
    return uuid5(_NS, f"player:{player}")


BOOK_ID = uuid5(_NS, "limit-book")


class PlayerGuard(Aggregate):
    """One player's protection changes, in order (the audit trail)."""

    class Opened(Aggregate.Created):
        player: str

    @event(Opened)
    def __init__(self, player: str) -> None:
        self.player = player

    @staticmethod
    def create_id(player: str) -> UUID:
        return guard_id(player)

    class Changed(Aggregate.Event):
        change: str
        """The `ProtectionChange` (or `AssignProfile`) as JSON."""
        operator: str

    @event(Changed)
    def record(self, change: str, operator: str) -> None:
        pass


class LimitBook(Aggregate):
    """The operator's limit profiles (`limits.update`s) and profile rules."""

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        pass

    @staticmethod
    def create_id() -> UUID:
        return BOOK_ID  # one book per log: two first writes conflict

    class LimitsSet(Aggregate.Event):
        update: str
        """The `limits.update` as JSON."""
        operator: str

    @event(LimitsSet)
    def set_limits(self, update: str, operator: str) -> None:
        pass

    class RulesSet(Aggregate.Event):
        rules: str
        """The `ProfileRules` as JSON."""
        operator: str

    @event(RulesSet)
    def set_rules(self, rules: str, operator: str) -> None:
        pass


@dataclass(slots=True)
class PlayerState:
    excluded_until: datetime | None = None
    time_out_until: datetime | None = None
    high_risk: bool = False
    limits: dict[tuple[LimitKind, str, str], Decimal] = field(default_factory=dict)
    """(kind, period, currency) -> amount."""
    profile: str = ""
    records: list[ProtectionRecord] = field(default_factory=list)
    position: int = 0

    def blocked(self, now: datetime) -> str:
        """Why no bet is taken now, or ""."""
        if self.excluded_until is not None and self.excluded_until > now:
            until = "for good" if self.excluded_until >= FOREVER else f"until {self.excluded_until}"
            return f"is self-excluded {until}"
        if self.time_out_until is not None and self.time_out_until > now:
            return f"is in a time-out until {self.time_out_until}"
        if self.high_risk:
            return "is flagged high-risk (KYT/AML): live bets are banned"
        return ""


LimitKey = tuple[str, str, str, str]
"""(provider, table, currency, profile); empty provider, table or currency: any."""
TableLimits = Callable[[str, str, str], Mapping[str, MarketLimits] | None]
"""(provider, table, currency) -> the table's own limits per bet type (the catalogue's),
None for none; a lookup in memory, read for every bet."""


def _no_table_limits(provider: str, table: str, currency: str) -> None:
    return None


def _stricter(limits: EffectiveLimits, table: Mapping[str, MarketLimits]) -> EffectiveLimits:
    """`limits` with the table's bet-type limits added: per bet type the larger minimum
    and the smaller maximum apply."""
    merged = dict(limits.bet_types)
    for market, bound in table.items():
        own = merged.get(market)
        if own is None:
            merged[market] = bound
            continue
        mins = [m for m in (own.min, bound.min) if m is not None]
        maxes = [m for m in (own.max, bound.max) if m is not None]
        merged[market] = MarketLimits(
            min=max(mins) if mins else None, max=min(maxes) if maxes else None
        )
    return msgspec.structs.replace(limits, bet_types=merged)


@dataclass(frozen=True, slots=True)
class Baseline:
    """Limits and rules from `livebridge.toml`, under what the log holds."""

    updates: tuple[LimitsUpdate, ...] = ()
    rules: tuple[ProfileRule, ...] = ()


class GuardState:
    """Everything the checks read, as of `position` in the protection log."""

    def __init__(self, baseline: Baseline) -> None:
        self.position = 0
        self.players: dict[str, PlayerState] = {}
        self.guards: dict[UUID, str] = {}
        self.limits: dict[LimitKey, LimitsUpdate] = {}
        self.rules: tuple[ProfileRule, ...] = baseline.rules
        self.table_limits: TableLimits = _no_table_limits
        """Set by whoever knows the tables (the front door's catalogue)."""
        for update in baseline.updates:
            self.limits[_key(update)] = update

    def apply(self, position: int, event: Any) -> None:
        if isinstance(event, PlayerGuard.Opened):
            self.guards[event.originator_id] = event.player
        elif isinstance(event, PlayerGuard.Changed):
            self._change(position, event)
        elif isinstance(event, LimitBook.LimitsSet):
            update = msgspec.structs.replace(
                _update_decoder.decode(event.update), log_position=position
            )
            self.limits[_key(update)] = update
        elif isinstance(event, LimitBook.RulesSet):
            self.rules = _rules_decoder.decode(event.rules).rules
        self.position = position

    def _change(self, position: int, event: PlayerGuard.Changed) -> None:
        player = self.players.setdefault(self.guards[event.originator_id], PlayerState())
        change = _change_decoder.decode(event.change)
        at = event.timestamp
        match change:
            case SelfExclusion():
                until = change.until or FOREVER
                player.excluded_until = until if until.tzinfo else until.replace(tzinfo=UTC)
            case TimeOut():
                player.time_out_until = at + timedelta(minutes=change.minutes)
            case LiftExclusion():
                player.excluded_until = player.time_out_until = None
            case RiskFlag():
                player.high_risk = change.high_risk
            case ProtectionLimit():
                # A new dict, not one changed in place: a bet's check on another thread may
                # be going through the old one (`_check_period`).
                key = (change.kind, change.period.value, change.currency)
                limits = dict(player.limits)
                if change.amount is None:
                    limits.pop(key, None)
                else:
                    limits[key] = Decimal(change.amount)
                player.limits = limits
            case AssignProfile():
                player.profile = change.profile
        player.records.append(
            ProtectionRecord(
                change=change, operator=event.operator, recorded_at=at, log_position=position
            )
        )
        player.position = position

    def profile_of(self, player: str) -> str:
        """The profile the operator assigned `player`: `DEFAULT` unless one was."""
        found = self.players.get(player)
        return (found.profile if found else "") or "DEFAULT"

    def in_force(self, profile: str) -> bool:
        """Whether `profile` has limits set anywhere (a profile with none binds nothing)."""
        return any(key[3] == profile for key in tuple(self.limits))

    def limits_for(self, provider: str, table: str, currency: str, profile: str) -> EffectiveLimits:
        """The most specific limits of `profile` for a bet (no limits if none is set), with
        the table's own bet-type limits where the table is known: the stricter wins."""
        found = self.update_for(provider, table, currency, profile)
        limits = found.limits if found is not None else EffectiveLimits(profile=profile)
        own = self.table_limits(provider, table, currency) if table else None
        return _stricter(limits, own) if own else limits

    def update_for(
        self, provider: str, table: str, currency: str, profile: str
    ) -> LimitsUpdate | None:
        """The most specific `limits.update` of `profile` for a bet, if one is set."""
        for key in (
            (provider, table, currency, profile),
            (provider, table, "", profile),
            (provider, "", currency, profile),
            (provider, "", "", profile),
            ("", "", currency, profile),
            ("", "", "", profile),
        ):
            found = self.limits.get(key)
            if found is not None:
                return found
        return None

    def allowed_profiles(self, country: str, currency: str, kyc: str) -> tuple[str, ...] | None:
        """The profiles the first matching rule allows; None: no rule matches (any)."""
        for rule in self.rules:
            if (
                rule.country in ("", country)
                and rule.currency in ("", currency)
                and rule.kyc_status in ("", kyc)
            ):
                return rule.profiles
        return None


def _key(update: LimitsUpdate) -> LimitKey:
    return (update.provider, update.table, update.currency, update.limits.profile)


class Protection(Application[UUID]):
    """The protection log and the checks read from it. Sync: call it from a thread."""

    env: ClassVar[dict[str, str]] = {
        "TRANSCODER_TOPIC": "services.eventstore.transcoder:MsgspecTranscoder",
    }

    def __init__(self, env: EnvType | None = None, *, baseline: Baseline = Baseline()) -> None:
        super().__init__(env)
        self.state = GuardState(baseline)
        self._lock = threading.Lock()

    # ---- the operator's changes ------------------------------------------------------

    def change(self, player: str, change: AnyChange, operator: str) -> ProtectionView:
        """Record one change of `player`'s protection; the view after it."""
        payload = _encoder.encode(change).decode()

        def record(guard: PlayerGuard) -> None:
            guard.record(change=payload, operator=operator)

        self._write(PlayerGuard, guard_id(player), lambda: PlayerGuard(player=player), record)
        return self.view(player)

    def update_limits(self, update: LimitsUpdate, operator: str) -> LimitsUpdate:
        """Store one `limits.update`; it applies to the next bet. Answers it with its
        log position."""
        payload = _encoder.encode(msgspec.structs.replace(update, log_position=0)).decode()

        def record(book: LimitBook) -> None:
            book.set_limits(update=payload, operator=operator)

        position = self._write(LimitBook, BOOK_ID, LimitBook, record)
        # This update, not the state's: another written since may already be in force.
        return msgspec.structs.replace(_update_decoder.decode(payload), log_position=position)

    def set_rules(self, rules: ProfileRules, operator: str) -> LimitsState:
        payload = _encoder.encode(rules).decode()

        def record(book: LimitBook) -> None:
            book.set_rules(rules=payload, operator=operator)

        self._write(LimitBook, BOOK_ID, LimitBook, record)
        return self.limits_state()

    def _write(
        self, kind: type[A], aggregate_id: UUID, new: Callable[[], A], record: Callable[[A], None]
    ) -> int:
        """One event on one aggregate, on fresh state after a concurrent write; then this
        process's state catches up with the log (read-your-writes). The event's position."""
        for _ in range(32):
            aggregate: Aggregate
            try:
                aggregate = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                aggregate = new()
            assert isinstance(aggregate, kind)
            record(aggregate)
            try:
                position = self.save(aggregate)[-1].notification.id
                break
            except IntegrityError:
                continue
        else:
            raise LedgerRefused(
                Refusal.RETRY_EXHAUSTED, "protection: too many concurrent changes; send it again"
            )
        self.catch_up()
        return position

    # ---- reading ---------------------------------------------------------------------

    def view(self, player: str) -> ProtectionView:
        found = self.state.players.get(player) or PlayerState()
        return ProtectionView(
            player=player,
            excluded_until=found.excluded_until,
            time_out_until=found.time_out_until,
            high_risk=found.high_risk,
            limits=tuple(
                LimitView(kind=kind, period=Period(period), currency=currency, amount=str(amount))
                for (kind, period, currency), amount in sorted(found.limits.items())
            ),
            profile=found.profile or "DEFAULT",
            log_position=found.position,
        )

    def history(self, player: str) -> ProtectionHistory:
        found = self.state.players.get(player) or PlayerState()
        return ProtectionHistory(player=player, records=tuple(found.records))

    def limits_state(self) -> LimitsState:
        return LimitsState(
            updates=tuple(self.state.limits[key] for key in sorted(self.state.limits)),
            rules=self.state.rules,
            log_position=self.state.position,
        )

    # ---- following the log -----------------------------------------------------------

    def catch_up(self) -> int:
        """Apply every notification after the last applied; how many."""
        applied = 0
        with self._lock:
            while batch := self.recorder.select_notifications(self.state.position + 1, 500):
                for notification in batch:
                    self._apply(notification)
                applied += len(batch)
        return applied

    def _apply(self, notification: Notification) -> None:
        self.state.apply(notification.id, self.mapper.to_domain_event(notification))

    def follow(self) -> None:
        """Keep `state` current until `stop_following` (run it in a thread): each stored
        change wakes it (the stream's republish), and a poll every second."""
        subscription = self.recorder.subscribe(gt=self.state.position)
        self._subscription = subscription
        with subscription:
            for notification in subscription:
                with self._lock:
                    if notification.id == self.state.position + 1:
                        self._apply(notification)
                if notification.id > self.state.position:
                    self.catch_up()

    def stop_following(self) -> None:
        subscription = getattr(self, "_subscription", None)
        if subscription is not None:
            subscription.stop()

    # ---- the checks (ledger.policy) --------------------------------------------------

    def check_may_play(self, player_id: str) -> None:
        """Refused while the player is self-excluded, in a time-out or flagged high-risk:
        for a bet, and for money moved into a provider's table bank (money to play with
        where the ledger sees no bet)."""
        player = self.state.players.get(player_id)
        blocked = player.blocked(datetime.now(UTC)) if player is not None else ""
        if blocked:
            raise LedgerRefused(Refusal.SELF_EXCLUDED, f"player {player_id!r} {blocked}")

    def check_bet(self, cmd: Debit, wallet: Wallet, round_key: str, amount: Decimal) -> None:
        now = datetime.now(UTC)
        self.check_may_play(cmd.player)
        player = self.state.players.get(cmd.player)
        profile = cmd.limits_profile or self.state.profile_of(cmd.player)
        limits = self.state.limits_for(cmd.provider, cmd.table, cmd.currency, profile)
        _check_stake(cmd, limits, amount)
        if not cmd.selections and cmd.table:
            own = self.state.table_limits(cmd.provider, cmd.table, cmd.currency)
            if own:
                _check_untyped(cmd, limits, own.keys(), amount)
        if limits.max_round is not None:
            staked = wallet.round_staked(round_key)
            if staked + amount > limits.max_round:
                raise LedgerRefused(
                    Refusal.LIMIT_EXCEEDED,
                    f"player {cmd.player!r} would stake {staked + amount} {cmd.currency} in "
                    f"round {cmd.round_id}, over profile {profile}'s {limits.max_round} a round",
                )
        if player is not None and player.limits:
            for kind in (LimitKind.STAKE, LimitKind.LOSS):
                _check_period(player.limits, kind, cmd.player, cmd.currency, wallet, amount, now)

    def check_deposit(self, player_id: str, currency: str, wallet: Wallet, amount: Decimal) -> None:
        player = self.state.players.get(player_id)
        if player is None:
            return
        now = datetime.now(UTC)
        if player.excluded_until is not None and player.excluded_until > now:
            raise LedgerRefused(
                Refusal.SELF_EXCLUDED, f"player {player_id!r} {player.blocked(now)}: no deposits"
            )
        _check_period(player.limits, LimitKind.DEPOSIT, player_id, currency, wallet, amount, now)


def _check_stake(cmd: Debit, limits: EffectiveLimits, amount: Decimal) -> None:
    def refuse(what: str) -> LedgerRefused:
        return LedgerRefused(
            Refusal.STAKE_OUT_OF_LIMITS,
            f"bet {cmd.tx_id} of player {cmd.player!r}: {what} (profile {limits.profile})",
        )

    if limits.min_bet is not None and amount < limits.min_bet:
        raise refuse(f"stake {amount} {cmd.currency} is under the minimum {limits.min_bet}")
    if limits.max_bet is not None and amount > limits.max_bet:
        raise refuse(f"stake {amount} {cmd.currency} is over the maximum {limits.max_bet}")
    if not limits.bet_types or not cmd.selections:
        return
    share = amount / len(cmd.selections)
    for pick in cmd.selections:
        bound: MarketLimits | None = limits.bet_types.get(pick.market)
        if bound is None:
            continue
        part = pick.amount if pick.amount is not None else share
        if bound.min is not None and part < bound.min:
            raise refuse(f"{part} on {pick.market} is under its minimum {bound.min}")
        if bound.max is not None and part > bound.max:
            raise refuse(f"{part} on {pick.market} is over its maximum {bound.max}")


def _check_untyped(
    cmd: Debit, limits: EffectiveLimits, markets: Iterable[str], amount: Decimal
) -> None:
    """A debit at a known table naming no bet type (most dialects' debits): its stake must
    fit at least one of the table's bet types, so it may not be under the smallest
    minimum or over the largest maximum of them (each the stricter of table and profile)."""
    bounds = [limits.bet_types.get(m) or MarketLimits() for m in markets]
    lows = [b.min for b in bounds]
    highs = [b.max for b in bounds]
    low = None if None in lows else min(m for m in lows if m is not None)
    high = None if None in highs else max(m for m in highs if m is not None)
    where = f"table {cmd.provider}/{cmd.table} (profile {limits.profile})"
    if low is not None and amount < low:
        raise LedgerRefused(
            Refusal.STAKE_OUT_OF_LIMITS,
            f"bet {cmd.tx_id} of player {cmd.player!r}: stake {amount} {cmd.currency} is under "
            f"the smallest bet-type minimum {low} of {where}",
        )
    if high is not None and amount > high:
        raise LedgerRefused(
            Refusal.STAKE_OUT_OF_LIMITS,
            f"bet {cmd.tx_id} of player {cmd.player!r}: stake {amount} {cmd.currency} is over "
            f"the largest bet-type maximum {high} of {where}",
        )


def _check_period(
    limits: Mapping[tuple[LimitKind, str, str], Decimal],
    kind: LimitKind,
    player: str,
    currency: str,
    wallet: Wallet,
    amount: Decimal,
    now: datetime,
) -> None:
    for (limit_kind, period, limit_currency), limit in limits.items():
        if limit_kind is not kind or limit_currency != currency:
            continue
        tally = wallet.period_tally(period, now)
        if kind is LimitKind.STAKE:
            so_far = tally.stakes
        elif kind is LimitKind.LOSS:
            so_far = tally.loss
        else:
            so_far = tally.deposited
        if so_far + amount > limit:
            noun = {"STAKE": "stakes", "LOSS": "losses", "DEPOSIT": "deposits"}[kind.value]
            raise LedgerRefused(
                Refusal.LIMIT_EXCEEDED,
                f"player {player!r}: {noun} this {period.lower()} would reach "
                f"{money.fmt(so_far + amount, currency)} {currency}, over the limit of "
                f"{money.fmt(limit, currency)}",
            )
