"""Builders shared by the ledger's application tests: commands, provider events, ledgers."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording

from contracts.events import AnyProviderEvent
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.wallet import Award
from contracts.wallet import AwardCause
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from contracts.wallet import Selection
from services.ledger.application import Ledger
from services.ledger.domain import Wallet
from services.ledger.domain import wallet_id
from services.ledger.known_rounds import RoundNote
from services.ledger.rounds import Round

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo", "LEDGER_BRIDGE_SETTLED_PROVIDERS": "pp"}


def popo_ledger(**env: str) -> Ledger:
    return Ledger(env={**POPO, **env})


def funded(ledger: Ledger, player: str, amount: str, currency: str = "EUR") -> None:
    ledger.open_wallet(player, currency)
    ledger.deposit(player, currency, Decimal(amount), tx_id=f"fund-{player}-{currency}")


def p1_funded() -> Ledger:
    """An in-memory ledger in which p1's EUR wallet holds 100: most tests' starting point."""
    ledger = popo_ledger()
    funded(ledger, "p1", "100")
    return ledger


def debit(
    tx_id: str,
    amount: str = "10.00",
    *,
    player: str = "p1",
    round_id: str = "r1",
    provider: str = "evo",
    currency: str = "EUR",
    bet_id: str = "",
    picks: tuple[tuple[str, str], ...] = (("roulette_straight", "17"),),
    session_id: str = "",
    game: str = "",
    table: str = "",
) -> Debit:
    return Debit(
        provider=provider,
        tx_id=tx_id,
        player=player,
        currency=currency,
        amount=Decimal(amount),
        round_id=round_id,
        bet_id=bet_id,
        selections=tuple(Selection(market=m, value=v) for m, v in picks),
        session_id=session_id,
        game=game,
        table=table,
    )


def credit(
    tx_id: str,
    amount: str,
    *,
    bet_id: str = "",
    player: str = "p1",
    round_id: str = "r1",
    provider: str = "evo",
    currency: str = "EUR",
    session_id: str = "",
    game: str = "",
) -> Credit:
    return Credit(
        provider=provider,
        tx_id=tx_id,
        player=player,
        currency=currency,
        amount=Decimal(amount),
        round_id=round_id,
        bet_id=bet_id,
        session_id=session_id,
        game=game,
    )


def award(
    tx_id: str,
    amount: str,
    cause: AwardCause = AwardCause.PROMO,
    *,
    player: str = "p1",
    round_id: str = "",
    ref_tx_id: str = "",
    reference: str = "",
    provider: str = "evo",
) -> Award:
    """A provider's payment that settles no bet: a promotion unless `cause` says otherwise."""
    return Award(
        provider=provider,
        tx_id=tx_id,
        player=player,
        currency="EUR",
        amount=Decimal(amount),
        cause=cause,
        round_id=round_id,
        ref_tx_id=ref_tx_id,
        reference=reference,
    )


def player_bet(
    tx_id: str,
    player: str,
    amount: str,
    round_id: str = "R-1",
    picks: tuple[tuple[str, str], ...] = (),
) -> Debit:
    """`player`'s bet `bet-<tx_id>` at evo, on `picks` (none by default): the settlement
    and reconciliation tests' bets, written as (tx, player, amount, round)."""
    return debit(
        tx_id, amount, player=player, round_id=round_id, bet_id=f"bet-{tx_id}", picks=picks
    )


def player_credit(tx_id: str, player: str, amount: str, round_id: str = "R-1") -> Credit:
    """`player`'s credit `tx_id` at evo (0.00 for a lost round), as `player_bet` is written."""
    return credit(tx_id, amount, player=player, round_id=round_id)


def player_rollback(tx_id: str, player: str, ref_tx_id: str, round_id: str = "R-1") -> Rollback:
    """`player`'s rollback `tx_id` of `ref_tx_id` at evo, as `player_bet` is written."""
    return rollback(tx_id, ref_tx_id, player=player, round_id=round_id)


def rollback(
    tx_id: str,
    ref_tx_id: str,
    *,
    ref_bet_id: str = "",
    late_original: str = "refuse",
    player: str = "p1",
    provider: str = "evo",
    currency: str = "EUR",
    cause: str = "PROVIDER_CANCELLED",
    only_open: bool = False,
    amount: str | None = None,
    session_id: str = "",
    round_id: str = "",
) -> Rollback:
    return Rollback(
        provider=provider,
        tx_id=tx_id,
        player=player,
        currency=currency,
        ref_tx_id=ref_tx_id,
        ref_bet_id=ref_bet_id,
        late_original=late_original,
        cause=cause,
        only_open=only_open,
        amount=None if amount is None else Decimal(amount),
        session_id=session_id,
        round_id=round_id,
    )


def opened(
    round_id: str = "r1",
    provider: str = "evo",
    game: str = "roulette",
    *,
    table: str = "T1",
    seq: int = 1,
    at: datetime = NOW,
    closes_in: float = 0,
) -> BettingOpened:
    """Betting opens on `round_id` at `at`, to close `closes_in` seconds later."""
    return BettingOpened(
        provider=provider,
        round_id=round_id,
        table=table,
        game=game,
        seq=seq,
        occurred_at=at,
        closes_at=at + timedelta(seconds=closes_in),
    )


def closed(
    round_id: str = "r1", provider: str = "evo", seq: int = 2, *, at: datetime = NOW
) -> BettingClosed:
    return BettingClosed(provider=provider, round_id=round_id, seq=seq, occurred_at=at)


def declared(
    result: dict[str, str],
    round_id: str = "r1",
    provider: str = "evo",
    seq: int = 3,
    round_hash: str = "",
    *,
    at: datetime = NOW,
) -> ResultDeclared:
    return ResultDeclared(
        provider=provider,
        round_id=round_id,
        seq=seq,
        occurred_at=at,
        result=result,
        round_hash=round_hash,
    )


def voided(
    cause: str = "DEALER_ERROR",
    round_id: str = "r1",
    provider: str = "evo",
    seq: int = 3,
    *,
    at: datetime = NOW,
) -> RoundVoided:
    return RoundVoided(provider=provider, round_id=round_id, seq=seq, occurred_at=at, cause=cause)


def logged_since(ledger: Ledger, position: int) -> list[tuple[str, dict[str, Any]]]:
    """The events the ledger stored after `position`: (Class.Event, fields) in log order,
    without the library's metadata: what a command wrote, as a given/when/then test says it."""
    meta = {"originator_id", "originator_version", "timestamp", "originator_topic"}
    return [
        (
            type(event).__qualname__,
            {k: v for k, v in event.__dict__.items() if k not in meta},
        )
        for event in (
            ledger.mapper.to_domain_event(n)
            for n in ledger.recorder.select_notifications(position + 1, 10_000)
        )
    ]


def log_position(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


class RacingLedger(Ledger):
    """A ledger in which a provider event lands between a bet's look at its round (as this
    process knows it, or read) and the bet's write: the race that only the round book can
    settle (I5)."""

    name = "Ledger"
    lands_during_next_bet: AnyProviderEvent | None = None

    def _round_for(self, debit: Debit) -> Round | RoundNote | None:
        found = super()._round_for(debit)
        landing = self.lands_during_next_bet
        if landing is not None:
            self.lands_during_next_bet = None
            self.record_event(landing)
        return found


class ContendedLedger(Ledger):
    """A ledger whose next `contended` saves each lose to a concurrent deposit on `player`."""

    name = "Ledger"
    contended = 0
    player = "p1"

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        if self.contended and any(isinstance(o, Wallet) for o in objs):
            self.contended -= 1
            rival: Aggregate = self.repository.get(wallet_id(self.player, "EUR"))
            assert isinstance(rival, Wallet)
            rival.deposit(f"trn_rival_{self.contended}", Decimal("0.01"), "cashier")
            super().save(rival)
        return super().save(*objs, **kwargs)
