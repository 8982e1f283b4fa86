"""Per-round ordering of provider events by `seq`: the pure, synchronous part of a feed.

The sequencer hands events on in `seq` order, each once. For every round it knows `last`,
the highest seq up to which every event has been handed on (or declared missing):

- `seq <= last` is a duplicate, unless it was declared missing: a late arrival is handed
  on (the ledger fills the hole) and the round stops counting it as missing. A duplicate
  is offered back as a `repeat`, for the ledger to compare with what it recorded;
- `seq == last + 1` is handed on, with every held event that now follows without a hole;
- `seq > last + 1` is held until the hole fills. If it has not filled `gap_timeout`
  seconds after the round last made progress (or the round holds `max_held` events),
  `expire` declares the missing seqs a `Gap` and hands on what was held. A repeat of a
  held event with another payload is kept beside it (the first such, per seq), and
  offered back by `changed_repeats` once the held one is handed on.

A round that ended (its result or void handed on) with nothing held or missing is forgotten
once it has been silent for `idle_s`; the count bound `max_rounds` holds beside it. A
forgotten round that speaks again starts from its stored position (the feed processor
seeds it).

Clocks are passed in, so tests decide when time passes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from contracts.events import AnyProviderEvent
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from services.edge.feeds.sink import Gap

RoundKey = tuple[str, str]
IDLE_S = 120.0
"""Seconds an ended round is kept after its last event, for the repeats a provider sends
soon after. Without it ended rounds stayed until 10,000 were kept (570 B each), filling
at the pace of rounds for over a million wallet calls."""


@dataclass(slots=True)
class _Round:
    last: int = 0
    held: dict[int, AnyProviderEvent] = field(default_factory=dict)
    missing: set[int] = field(default_factory=set)
    waiting_since: float | None = None
    ended: bool = False
    seen_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Offered:
    """What one offered event led to: events to hand on now, in order, or nothing."""

    ready: list[AnyProviderEvent]
    duplicate: bool = False
    held: bool = False
    repeat: AnyProviderEvent | None = None
    """A duplicate of an event handed on already (not of one still held): for the sink,
    which absorbs the same payload and flags another."""


class Sequencer:
    """Orders events per (provider, round_id). Not thread-safe: one owner calls it."""

    def __init__(
        self,
        *,
        gap_timeout: float = 5.0,
        max_held: int = 1000,
        max_rounds: int = 10_000,
        idle_s: float = IDLE_S,
    ) -> None:
        self.gap_timeout = gap_timeout
        self.max_held = max_held
        self.max_rounds = max_rounds
        self.idle_s = idle_s
        self._rounds: OrderedDict[RoundKey, _Round] = OrderedDict()
        self._requeued: set[RoundKey] = set()
        self._changed: dict[RoundKey, dict[int, AnyProviderEvent]] = {}
        """Per round, the first repeat with another payload of each seq still held."""

    def knows(self, key: RoundKey) -> bool:
        return key in self._rounds

    def seed(self, key: RoundKey, last: int, missing: Iterable[int] = ()) -> None:
        """Start a round at `last`, its seqs declared `missing` still awaited (restored from
        storage after a restart)."""
        if key not in self._rounds:
            self._rounds[key] = _Round(last=last, missing=set(missing))
            self._evict()

    def last(self, key: RoundKey) -> int:
        state = self._rounds.get(key)
        return 0 if state is None else state.last

    def missing(self, key: RoundKey) -> list[int]:
        """The seqs of a round declared missing that have not come since, in order."""
        state = self._rounds.get(key)
        return [] if state is None else sorted(state.missing)

    def offer(self, event: AnyProviderEvent, now: float) -> Offered:
        key = (event.provider, event.round_id)
        state = self._rounds.get(key)
        if state is None:
            state = self._rounds[key] = _Round()
            self._evict()
        self._rounds.move_to_end(key)
        state.seen_at = now
        seq = event.seq
        if seq <= state.last:
            if seq in state.missing:
                state.missing.discard(seq)
                return Offered([event])
            return Offered(self._drain(state, now), duplicate=True, repeat=event)
        if seq in state.held:
            if event != state.held[seq]:
                self._changed.setdefault(key, {}).setdefault(seq, event)
            return Offered(self._drain(state, now), duplicate=True)
        state.held[seq] = event
        ready = self._drain(state, now)
        if state.held and state.waiting_since is None:
            state.waiting_since = now
        return Offered(ready, held=seq in state.held)

    def changed_repeats(self, key: RoundKey) -> list[AnyProviderEvent]:
        """The repeats with another payload of events that were held then and are handed on
        now, each once: for the sink to flag once it has recorded the first."""
        changed = self._changed.get(key)
        if not changed:
            return []
        state = self._rounds.get(key)
        held = state.held if state is not None else {}
        ready = [changed.pop(seq) for seq in sorted(changed) if seq not in held]
        if not changed:
            del self._changed[key]
        return ready

    def requeue(self, events: list[AnyProviderEvent]) -> None:
        """Take back events that were handed on but could not be recorded; `retry` hands
        them on again, as does the next event of their round."""
        for event in events:
            key = (event.provider, event.round_id)
            state = self._rounds.setdefault(key, _Round())
            self._requeued.add(key)
            if event.seq <= state.last:
                state.last = event.seq - 1
            state.held[event.seq] = event
            if isinstance(event, ResultDeclared | RoundVoided):
                state.ended = False

    def retry(self, now: float) -> list[AnyProviderEvent]:
        """Hand on again, in order, the requeued events that nothing handed on since: the
        sender was told they were taken (or held), it may never send them again."""
        ready: list[AnyProviderEvent] = []
        for key in sorted(self._requeued):
            state = self._rounds.get(key)
            if state is not None:
                ready += self._drain(state, now)
        self._requeued.clear()
        return ready

    def expire(self, now: float) -> list[tuple[Gap, list[AnyProviderEvent]]]:
        """Declare the holes that waited too long; return each gap and the events it frees.
        Forget the ended rounds silent for `idle_s`."""
        out: list[tuple[Gap, list[AnyProviderEvent]]] = []
        for key, state in list(self._rounds.items()):
            if state.ended and not state.held and not state.missing:
                if now - state.seen_at >= self.idle_s:
                    del self._rounds[key]
                continue
            if not state.held or state.waiting_since is None:
                continue
            if now - state.waiting_since < self.gap_timeout and len(state.held) < self.max_held:
                continue
            missing: list[int] = []
            ready: list[AnyProviderEvent] = []
            for seq in sorted(state.held):
                missing.extend(range(state.last + 1, seq))
                state.last = seq
                ready.append(state.held.pop(seq))
            state.missing.update(missing)
            state.waiting_since = None
            self._note_end(state, ready)
            out.append((Gap(provider=key[0], round_id=key[1], missing=tuple(missing)), ready))
        return out

    def held(self, key: RoundKey) -> list[AnyProviderEvent]:
        """The events of a round waiting for a missing seq, in seq order."""
        state = self._rounds.get(key)
        return [] if state is None else [state.held[seq] for seq in sorted(state.held)]

    def pending(self) -> int:
        return sum(len(s.held) for s in self._rounds.values())

    def _drain(self, state: _Round, now: float) -> list[AnyProviderEvent]:
        ready: list[AnyProviderEvent] = []
        # A seq declared missing is passed too: requeued events of a declared gap straddle it.
        while state.last + 1 in state.held or state.last + 1 in state.missing:
            state.last += 1
            if state.last in state.held:
                state.missing.discard(state.last)
                ready.append(state.held.pop(state.last))
        if ready:
            state.waiting_since = now if state.held else None
            self._note_end(state, ready)
        return ready

    @staticmethod
    def _note_end(state: _Round, ready: list[AnyProviderEvent]) -> None:
        if any(isinstance(e, ResultDeclared | RoundVoided) for e in ready):
            state.ended = True

    def _evict(self) -> None:
        # Forget the least recently seen rounds first, ended ones before open ones; a
        # forgotten round is restored from the cursor store if it ever speaks again.
        excess = len(self._rounds) - self.max_rounds
        if excess <= 0:
            return
        for key in [k for k, s in self._rounds.items() if s.ended and not s.held][:excess]:
            del self._rounds[key]
            excess -= 1
        for key in [k for k, s in self._rounds.items() if not s.held][: max(excess, 0)]:
            del self._rounds[key]
