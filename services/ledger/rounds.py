"""Round aggregates: the provider's account of a round, and the ledger's book of its bets.

Same style as `domain.py` (library `Aggregate`, explicit events, `@event` appliers).

- `Round` holds the provider's game events by `seq` (idempotent: a repeat is absorbed, a
  repeat with another payload is flagged) and verifies the round (I8) whenever a result is
  known. Only `Ledger.record_event` writes it; bets only read it.
- `RoundBook` is the round as the ledger's log orders it: which bets came before betting
  closed, which after (I5), which are resolved. Only the round-book follower writes it,
  applying notifications in log order; each change carries the notification id it came
  from, so applying one twice is a no-op.
- `BookCursor` is the follower's position in the log.
"""

from __future__ import annotations

import enum
from typing import assert_never
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.domain import event

from contracts.events import AnyProviderEvent
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.events import round_digest
from services.ledger.domain import BOOK_CURSOR_ID
from services.ledger.domain import book_uuid
from services.ledger.domain import round_uuid
from services.ledger.views import RoundStatus
from services.ledger.views import Verification

_DECODER: msgspec.json.Decoder[AnyProviderEvent] = msgspec.json.Decoder(AnyProviderEvent)


def encode_provider_event(provider_event: AnyProviderEvent) -> str:
    return msgspec.json.encode(provider_event).decode()


def decode_provider_event(raw: str) -> AnyProviderEvent:
    return _DECODER.decode(raw)


class Round(Aggregate):
    class Started(Aggregate.Created):
        provider: str
        round_id: str

    @event(Started)
    def __init__(self, provider: str, round_id: str) -> None:
        self.provider = provider
        self.round_id = round_id
        self.events: dict[str, str] = {}
        self.opened = False
        self.betting_closed = False
        self.table = ""
        self.game = ""
        self.closes_at = ""
        self.result: dict[str, str] = {}
        self.round_hash = ""
        self.void_cause = ""
        self.digest = ""
        self.verification: str = Verification.PENDING
        self.verification_flags: list[str] = []
        self.conflicts: list[str] = []

    @staticmethod
    def create_id(provider: str, round_id: str) -> UUID:
        return round_uuid(provider, round_id)

    @property
    def status(self) -> RoundStatus:
        if self.void_cause:
            return RoundStatus.VOIDED
        if self.result:
            return RoundStatus.RESULT
        if self.betting_closed:
            return RoundStatus.CLOSED
        return RoundStatus.OPEN if self.opened else RoundStatus.UNKNOWN

    @property
    def audit_flags(self) -> list[str]:
        return self.conflicts + self.verification_flags

    def provider_events(self) -> list[AnyProviderEvent]:
        return [decode_provider_event(raw) for _, raw in sorted(self.events.items(), key=_seq)]

    def record(self, provider_event: AnyProviderEvent) -> None:
        """Record one provider event; a repeat of a recorded `seq` is absorbed or flagged.
        A repeat is compared as an event, not as text: the same result with its keys in
        another order, or the same instant at another UTC offset, is the same event."""
        seq = str(provider_event.seq)
        if seq in self.events:
            if decode_provider_event(self.events[seq]) != provider_event:
                flag = f"seq {seq} repeated with a different payload"
                if flag not in self.conflicts:
                    self._conflict_flagged(flag=flag)
            return
        self._event_recorded(seq=provider_event.seq, raw=encode_provider_event(provider_event))
        if self.result:
            self._verify()

    def _verify(self) -> None:
        seqs = sorted(int(s) for s in self.events)
        missing = sorted(set(range(1, seqs[-1] + 1)) - set(seqs))
        digest = round_digest(self.provider_events())
        flags = []
        if missing:
            flags.append(f"gap in provider seq: missing {', '.join(map(str, missing))}")
        if self.round_hash and digest != self.round_hash:
            flags.append(f"round_hash {self.round_hash} differs from the bridge digest {digest}")
        verification = (
            Verification.FLAGGED
            if flags
            else (Verification.VERIFIED if self.round_hash else Verification.UNHASHED)
        )
        if (digest, verification, flags) != (
            self.digest,
            self.verification,
            self.verification_flags,
        ):
            self._verified(digest=digest, verification=verification, flags=flags)

    class EventRecorded(Aggregate.Event):
        seq: int
        raw: str

    @event(EventRecorded)
    def _event_recorded(self, seq: int, raw: str) -> None:
        self.events[str(seq)] = raw
        provider_event = decode_provider_event(raw)
        match provider_event:
            case BettingOpened() as opened:
                self.opened = True
                self.table = opened.table
                self.game = opened.game
                self.closes_at = opened.closes_at.isoformat()
            case BettingClosed():
                self.betting_closed = True
            case ResultDeclared() as declared:
                self.betting_closed = True
                self.result = dict(declared.result)
                self.round_hash = declared.round_hash
            case RoundVoided() as voided:
                self.betting_closed = True
                self.void_cause = voided.cause
            case GameEvent():
                pass
            case _:
                assert_never(provider_event)

    def close_by_transaction(self, tx_id: str) -> bool:
        """The provider's own wallet transaction `tx_id` says the round is over (Hub88
        `round_closed`, Ezugi `isEndRound`, SoftSwiss `finished`, Pragmatic `endRound`):
        betting is closed from here on, as by a BettingClosed. False if it was already."""
        if self.betting_closed:
            return False
        self._closed_by_transaction(provider=self.provider, round_id=self.round_id, tx_id=tx_id)
        return True

    class ClosedByTransaction(Aggregate.Event):
        """The round closed by a provider wallet transaction, not by a game event. Carries
        the round's names so the round book can close its book without loading the round."""

        provider: str
        round_id: str
        tx_id: str

    @event(ClosedByTransaction)
    def _closed_by_transaction(self, provider: str, round_id: str, tx_id: str) -> None:
        self.betting_closed = True

    class ConflictFlagged(Aggregate.Event):
        flag: str

    @event(ConflictFlagged)
    def _conflict_flagged(self, flag: str) -> None:
        self.conflicts.append(flag)

    class Verified(Aggregate.Event):
        digest: str
        verification: str
        flags: list[str]

    @event(Verified)
    def _verified(self, digest: str, verification: str, flags: list[str]) -> None:
        self.digest = digest
        self.verification = verification
        self.verification_flags = list(flags)


def _seq(item: tuple[str, str]) -> int:
    return int(item[0])


class Booked(enum.StrEnum):
    """Where a bet stands in its round's book."""

    OPEN = "OPEN"
    LATE = "LATE"
    """Placed after betting closed, by the log's order (I5): to be refunded."""
    DONE = "DONE"
    """Settled or refunded."""


class RoundBook(Aggregate):
    """A round's bets in log order. `bets[bet]` is a `Booked`; a bet whose credit was rolled
    back is OPEN again."""

    class Started(Aggregate.Created):
        provider: str
        round_id: str

    @event(Started)
    def __init__(self, provider: str, round_id: str) -> None:
        self.provider = provider
        self.round_id = round_id
        self.position = 0
        self.closed_at = 0
        self.bets: dict[str, str] = {}
        self.result: dict[str, str] = {}
        self.void_cause = ""
        self.bet_flags: dict[str, str] = {}

    @staticmethod
    def create_id(provider: str, round_id: str) -> UUID:
        return book_uuid(provider, round_id)

    @property
    def audit_flags(self) -> list[str]:
        """What the book could not do to a bet (a void it could not refund), for audit."""
        return list(self._bet_flags.values())

    @property
    def _bet_flags(self) -> dict[str, str]:
        # Snapshots taken before bet flags existed restore a book without the attribute.
        flags: dict[str, str] = self.__dict__.get("bet_flags", {})
        return flags

    @property
    def closed(self) -> bool:
        return self.closed_at > 0

    def open_bets(self) -> list[str]:
        return [bet for bet, state in self.bets.items() if state == Booked.OPEN]

    @property
    def settled(self) -> bool:
        return bool(self.result) and not any(s != Booked.DONE for s in self.bets.values())

    def book_bet(self, position: int, bet: str) -> bool:
        """Book a placed bet; True when the log put it after betting closed (a late bet)."""
        if position <= self.position:
            return self.bets.get(bet) == Booked.LATE
        late = self.closed
        self._bet_booked(position=position, bet=bet, late=late)
        return late

    def resolve_bet(self, position: int, bet: str) -> None:
        """The log settled or refunded `bet`; a bet already done here is left as it is (the
        round book marks the bets it resolves itself at once: `resolve_here`)."""
        if position > self.position and self.bets.get(bet) != Booked.DONE:
            self._bet_resolved(position=position, bet=bet)

    def resolve_here(self, bets: list[str]) -> None:
        """Bets the round book itself has just settled or refunded: DONE at once, in one
        event, without moving the book's position (a bet the log places after it is booked
        as ever; the log's record of each resolution, if read, changes nothing)."""
        done = [bet for bet in bets if self.bets.get(bet) != Booked.DONE]
        if done:
            self._bets_resolved(bets=done)

    def reopen_bet(self, position: int, bet: str) -> None:
        """A settled bet whose credit was rolled back is open again."""
        if position > self.position:
            self._bet_reopened(position=position, bet=bet)

    def close(self, position: int) -> None:
        if position > self.position:
            self._closed(position=position)

    def see_result(self, position: int, result: dict[str, str]) -> None:
        if position > self.position:
            self._result_seen(position=position, result=result)

    def see_void(self, position: int, cause: str) -> None:
        if position > self.position:
            self._void_seen(position=position, cause=cause)

    def flag_bet(self, bet: str, flag: str) -> None:
        """Flag a bet for audit, once per bet."""
        if bet not in self._bet_flags:
            self._bet_flagged(bet=bet, flag=flag)

    class BetBooked(Aggregate.Event):
        position: int
        bet: str
        late: bool

    @event(BetBooked)
    def _bet_booked(self, position: int, bet: str, late: bool) -> None:
        self.position = position
        if self.bets.get(bet) != Booked.DONE:
            self.bets[bet] = Booked.LATE if late else Booked.OPEN

    class BetResolved(Aggregate.Event):
        position: int
        bet: str

    @event(BetResolved)
    def _bet_resolved(self, position: int, bet: str) -> None:
        self.position = position
        self.bets[bet] = Booked.DONE

    class BetsResolved(Aggregate.Event):
        bets: list[str]

    @event(BetsResolved)
    def _bets_resolved(self, bets: list[str]) -> None:
        for bet in bets:
            self.bets[bet] = Booked.DONE

    class BetReopened(Aggregate.Event):
        position: int
        bet: str

    @event(BetReopened)
    def _bet_reopened(self, position: int, bet: str) -> None:
        self.position = position
        self.bets[bet] = Booked.OPEN

    class Closed(Aggregate.Event):
        position: int

    @event(Closed)
    def _closed(self, position: int) -> None:
        self.position = position
        if not self.closed_at:
            self.closed_at = position

    class ResultSeen(Aggregate.Event):
        position: int
        result: dict[str, str]

    @event(ResultSeen)
    def _result_seen(self, position: int, result: dict[str, str]) -> None:
        self.position = position
        self.result = dict(result)
        if not self.closed_at:
            self.closed_at = position

    class VoidSeen(Aggregate.Event):
        position: int
        cause: str

    @event(VoidSeen)
    def _void_seen(self, position: int, cause: str) -> None:
        self.position = position
        self.void_cause = cause
        if not self.closed_at:
            self.closed_at = position

    class BetFlagged(Aggregate.Event):
        bet: str
        flag: str

    @event(BetFlagged)
    def _bet_flagged(self, bet: str, flag: str) -> None:
        self.bet_flags = {**self._bet_flags, bet: flag}


class BookCursor(Aggregate):
    """How far the round-book follower has applied the ledger's notification log."""

    class Started(Aggregate.Created):
        pass

    @event(Started)
    def __init__(self) -> None:
        self.position = 0

    @staticmethod
    def create_id() -> UUID:
        return BOOK_CURSOR_ID

    def advance(self, position: int) -> None:
        if position > self.position:
            self._advanced(position=position)

    class Advanced(Aggregate.Event):
        position: int

    @event(Advanced)
    def _advanced(self, position: int) -> None:
        self.position = position
