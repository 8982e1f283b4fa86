"""Rounds: the ledger's round, bet and bet-money events, filed per round for disputes.

Sources, all by aggregate id (so nothing depends on the order events arrive in):
- `Round` events: the provider's game events (decoded from `EventRecorded`, with their
  seq and video timecode), a close by a provider's wallet transaction
  (`ClosedByTransaction`), conflicts and the hash verification (I8);
- `RoundBook.BetFlagged`: what the round book could not do to a bet (a void refund, a
  late-bet refund, a settlement), an audit flag of the round filed under its bet;
- `Bet` events: placed (stake, selections), settled (outcome, payout), refunded;
- `Wallet` events that name a bet (stake held, captured, released, win credited,
  settlement reversed): the money side of the bet, on the round's timeline.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from typing import assert_never

import msgspec
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.wallet import Outcome
from projections.rounds.view import BetFields
from projections.rounds.view import RoundChange
from projections.rounds.view import RoundFields
from projections.rounds.view import RoundsView
from projections.rounds.view import TimelineEntry
from services.ledger.domain import BET_EVENTS
from services.ledger.domain import Bet
from services.ledger.domain import Wallet
from services.ledger.domain import round_uuid
from services.ledger.domain import topics_of
from services.ledger.rounds import Round
from services.ledger.rounds import RoundBook
from services.ledger.rounds import decode_provider_event
from services.ledger.views import BetStatus

WALLET_BET_EVENTS = (
    Wallet.StakeHeld,
    Wallet.HoldReleased,
    Wallet.HoldCaptured,
    Wallet.WinCredited,
    Wallet.SettlementReversed,
)


def event_name(domain_event: object) -> str:
    """`Round.EventRecorded`, `Bet.Placed`, `Wallet.StakeHeld`..."""
    return type(domain_event).__qualname__


def entry(
    e: Aggregate.Event,
    tracking: Tracking,
    *,
    round_key: str | None = None,
    bet_key: str | None = None,
    provider_seq: int | None = None,
    video_timecode: str = "",
    detail: dict[str, Any] | None = None,
    name: str | None = None,
) -> TimelineEntry:
    return TimelineEntry(
        position=tracking.notification_id,
        originator_id=e.originator_id.hex,
        originator_version=e.originator_version,
        event=name or event_name(e),
        server_time=e.timestamp,
        round_key=round_key,
        bet_key=bet_key,
        provider_seq=provider_seq,
        video_timecode=video_timecode,
        detail=detail or {},
    )


def provider_detail(raw: str) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    """Timeline name, detail and header fields of one recorded provider event."""
    provider_event = decode_provider_event(raw)
    detail = msgspec.to_builtins(provider_event)
    for key in ("provider", "round_id", "seq", "video_timecode"):
        detail.pop(key, None)
    tag = type(provider_event).__struct_config__.tag
    name = f"provider:{tag}"
    fields: dict[str, Any] = {}
    match provider_event:
        case BettingOpened():
            fields = {
                "opened": True,
                "table_id": provider_event.table,
                "game": provider_event.game,
                "closes_at": provider_event.closes_at,
            }
        case BettingClosed():
            fields = {"betting_closed": True}
        case ResultDeclared():
            fields = {
                "betting_closed": True,
                "result": dict(provider_event.result),
                "round_hash": provider_event.round_hash,
            }
        case RoundVoided():
            fields = {"betting_closed": True, "void_cause": provider_event.cause}
        case GameEvent():
            pass
        case _:
            assert_never(provider_event)
    return name, detail, fields, provider_event.video_timecode


class RoundsProjection(Projection[RoundsView]):
    name = "rounds"
    source_topics = topics_of(
        Round.Started,
        Round.EventRecorded,
        Round.ClosedByTransaction,
        Round.ConflictFlagged,
        Round.Verified,
        RoundBook.BetFlagged,
        *BET_EVENTS,
        *WALLET_BET_EVENTS,
    )

    def _apply(self, tracking: Tracking, *changes: RoundChange) -> None:
        self.view.apply(tracking, changes)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self._apply(tracking)

    @process_event.register
    def _(self, e: Round.Started, tracking: Tracking) -> None:
        key = e.originator_id.hex
        fields = {"provider": e.provider, "round_id": e.round_id}
        self._apply(
            tracking,
            RoundFields(key, tracking.notification_id, fields),
            entry(e, tracking, round_key=key),
        )

    @process_event.register
    def _(self, e: Round.EventRecorded, tracking: Tracking) -> None:
        key = e.originator_id.hex
        name, detail, fields, timecode = provider_detail(e.raw)
        self._apply(
            tracking,
            RoundFields(key, tracking.notification_id, fields),
            entry(
                e,
                tracking,
                round_key=key,
                provider_seq=e.seq,
                video_timecode=timecode,
                detail=detail,
                name=name,
            ),
        )

    @process_event.register
    def _(self, e: Round.ClosedByTransaction, tracking: Tracking) -> None:
        # The provider's wallet transaction closed the round (Hub88 `round_closed`...).
        key = e.originator_id.hex
        self._apply(
            tracking,
            RoundFields(key, tracking.notification_id, {"betting_closed": True}),
            entry(e, tracking, round_key=key, detail={"txId": e.tx_id}),
        )

    @process_event.register
    def _(self, e: Round.ConflictFlagged, tracking: Tracking) -> None:
        key = e.originator_id.hex
        self._apply(
            tracking,
            RoundFields(key, tracking.notification_id, {}),
            entry(e, tracking, round_key=key, detail={"flag": e.flag}),
        )

    @process_event.register
    def _(self, e: Round.Verified, tracking: Tracking) -> None:
        key = e.originator_id.hex
        fields = {
            "digest": e.digest,
            "verification": e.verification,
            "verification_flags": list(e.flags),
        }
        self._apply(
            tracking,
            RoundFields(key, tracking.notification_id, fields),
            entry(e, tracking, round_key=key, detail=fields),
        )

    @process_event.register
    def _(self, e: RoundBook.BetFlagged, tracking: Tracking) -> None:
        # The book names the bet, not the round: filed under the bet, joined when read.
        self._apply(tracking, entry(e, tracking, bet_key=e.bet, detail={"flag": e.flag}))

    @process_event.register
    def _(self, e: Bet.Placed, tracking: Tracking) -> None:
        fields = {
            "round_key": round_uuid(e.provider, e.round_id).hex,
            "provider": e.provider,
            "round_id": e.round_id,
            "bet_id": e.bet_id,
            "tx_id": e.tx_id,
            "game": e.game,
            "table_id": e.table,
            "player": e.player,
            "currency": e.currency,
            "stake": e.stake,
            "selections": list(e.selections),
            "status": BetStatus.OPEN,
        }
        detail = {
            "betId": e.bet_id,
            "txId": e.tx_id,
            "player": e.player,
            "currency": e.currency,
            "stake": str(e.stake),
            "selections": list(e.selections),
        }
        self._bet(e, tracking, fields, detail)

    @process_event.register
    def _(self, e: Bet.Settled, tracking: Tracking) -> None:
        fields = {
            "status": BetStatus.SETTLED,
            "outcome": e.outcome,
            "payout": e.payout,
            "expected_payout": e.expected_payout,
            "flagged": e.flagged,
        }
        detail = {
            "outcome": e.outcome,
            "payout": str(e.payout),
            "expectedPayout": None if e.expected_payout is None else str(e.expected_payout),
            "flagged": e.flagged,
            "txId": e.tx_id,
        }
        self._bet(e, tracking, fields, detail)

    @process_event.register
    def _(self, e: Bet.Reopened, tracking: Tracking) -> None:
        # The bet's credit was rolled back: open again, awaiting a corrected credit.
        fields = {
            "status": BetStatus.OPEN,
            "outcome": None,
            "payout": Decimal(0),
            "expected_payout": None,
            "flagged": False,
        }
        detail = {
            "cause": e.cause,
            "txId": e.tx_id,
            "undoneTxId": e.undone_tx_id,
            "undonePayout": str(e.payout),
        }
        self._bet(e, tracking, fields, detail)

    @process_event.register
    def _(self, e: Bet.Refunded, tracking: Tracking) -> None:
        fields = {"status": BetStatus.REFUNDED, "outcome": Outcome.VOID, "cause": e.cause}
        detail = {"cause": e.cause, "txId": e.tx_id, "reversedPayout": str(e.reversed_payout)}
        self._bet(e, tracking, fields, detail)

    @process_event.register
    def _(self, e: Wallet.StakeHeld, tracking: Tracking) -> None:
        self._money(e, tracking, e.bet, {"amount": str(e.amount)})

    @process_event.register
    def _(self, e: Wallet.HoldReleased, tracking: Tracking) -> None:
        self._money(e, tracking, e.bet, {"cause": e.cause})

    @process_event.register
    def _(self, e: Wallet.HoldCaptured, tracking: Tracking) -> None:
        self._money(e, tracking, e.bet, {"amount": str(e.amount)})

    @process_event.register
    def _(self, e: Wallet.WinCredited, tracking: Tracking) -> None:
        self._money(e, tracking, e.bet, {"amount": str(e.amount)})

    @process_event.register
    def _(self, e: Wallet.SettlementReversed, tracking: Tracking) -> None:
        detail = {"stake": str(e.stake), "payout": str(e.payout), "cause": e.cause}
        self._money(e, tracking, e.bet, detail)

    def _bet(
        self,
        e: Aggregate.Event,
        tracking: Tracking,
        fields: dict[str, Any],
        detail: dict[str, Any],
    ) -> None:
        """A change to the bet `e` is about, and its timeline entry."""
        key = e.originator_id.hex
        self._apply(
            tracking,
            BetFields(key, tracking.notification_id, fields),
            entry(e, tracking, bet_key=key, detail=detail),
        )

    def _money(
        self, e: Aggregate.Event, tracking: Tracking, bet: str, detail: dict[str, Any]
    ) -> None:
        self._apply(tracking, entry(e, tracking, bet_key=bet, detail=detail))
