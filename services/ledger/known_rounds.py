"""What this process knows of rounds without reading them: which are closed, and each
known round's table and game.

A debit used to read its round first (one JetStream request a bet), to refuse a closed
round at once and to take the round's table and game when the provider's call names none
(its table's limits are checked too). `KnownRounds` answers both from memory; a debit
reads its round only when it is unknown here and the call does not name both. It is fed
by what this process writes and reads (every round it saves or reads, `note`) and by what
the log's followers read in log order (`learn`: the round book, and in `livebridge run`
the push hub, which every process runs): a round closed by another process is known here
as soon as a follower has read its close.

Obligations: knowledge only ever refuses sooner; it never lets a bet stand. A debit on a
round not known closed is placed, and the round book, which orders every bet against its
round's close in the log, refunds one the log puts after the close (LATE_BET, I5), as it
did for the bet that read an open round just before the close. `closed` never goes back
to open. Bounded: the `MAX_ROUNDS` rounds noted last are kept, and none noted longer than
`IDLE_S` ago; the others read as unknown (a round lives a minute or two; a forgotten one is
an old one, and a call on it reads it once).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from contracts.events import AnyProviderEvent
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from services.ledger.domain import round_uuid
from services.ledger.rounds import Round
from services.ledger.rounds import decode_provider_event

MAX_ROUNDS = 10_000
IDLE_S = 120.0
"""Seconds a round is known after it was last noted: a live round is noted at its opening,
close and result, a minute or so apart. Without it the notes filled at the pace of rounds
(3 KB a thousand wallet calls at 40 players a table) for over a million calls before the
count bound held."""
ROUND_BYTES = 400
"""Measured (tests/unit/ledger/test_known_rounds.py): a round's note and its key."""


@dataclass(frozen=True, slots=True)
class RoundNote:
    """A round as this process knows it, with the names a bet reads of a `Round`."""

    table: str = ""
    game: str = ""
    betting_closed: bool = False


class KnownRounds:
    """Rounds by id, as saved here or read from the log; safe to use from any thread."""

    def __init__(
        self,
        max_rounds: int = MAX_ROUNDS,
        *,
        idle_s: float = IDLE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_rounds = max_rounds
        self.idle_s = idle_s
        self.clock = clock
        self._rounds: OrderedDict[UUID, tuple[RoundNote, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, provider: str, round_id: str) -> RoundNote | None:
        known = self._rounds.get(round_uuid(provider, round_id))
        if known is None or self.clock() - known[1] > self.idle_s:
            return None
        return known[0]

    def note(self, round_: Round) -> None:
        """`round_` as saved or read by this process."""
        self._merge(
            round_uuid(round_.provider, round_.round_id),
            RoundNote(table=round_.table, game=round_.game, betting_closed=round_.betting_closed),
        )

    def note_empty(self, provider: str, round_id: str) -> None:
        """The round was read and has no events yet: open, table and game still unknown."""
        self._merge(round_uuid(provider, round_id), RoundNote())

    def see(self, event: AnyProviderEvent) -> None:
        """A provider's round event, read from the log."""
        match event:
            case BettingOpened():
                note = RoundNote(table=event.table, game=event.game)
            case BettingClosed() | ResultDeclared() | RoundVoided():
                note = RoundNote(betting_closed=True)
            case _:
                return
        self._merge(round_uuid(event.provider, event.round_id), note)

    def learn(self, event: object) -> None:
        """A ledger event read from the log: a round's are noted, any other is ignored."""
        if isinstance(event, Round.EventRecorded):
            self.see(decode_provider_event(event.raw))
        elif isinstance(event, Round.ClosedByTransaction):
            self._merge(round_uuid(event.provider, event.round_id), RoundNote(betting_closed=True))

    def __len__(self) -> int:
        return len(self._rounds)

    def _merge(self, key: UUID, note: RoundNote) -> None:
        now = self.clock()
        with self._lock:
            found = self._rounds.get(key)
            if found is not None:
                known = found[0]
                note = RoundNote(
                    table=note.table or known.table,
                    game=note.game or known.game,
                    betting_closed=note.betting_closed or known.betting_closed,
                )
            self._rounds[key] = (note, now)
            self._rounds.move_to_end(key)
            rounds = self._rounds
            while (
                len(rounds) > self.max_rounds or now - next(iter(rounds.values()))[1] > self.idle_s
            ):
                rounds.popitem(last=False)
