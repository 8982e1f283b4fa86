"""Where the feeds deliver: the ledger's event port, and who hears about gaps.

`EventSink.record_event` is synchronous (the ledger core is) and idempotent on
`(provider, round_id, seq)`: the feeds may hand it an event twice (after a crash between
recording and storing a cursor) and rely on that. It raises on failure; the feed then
keeps the event and retries later, it never skips it.

A gap (a `seq` that never came) is reported to a `GapListener` once per missing run, then
the later events are recorded anyway: the ledger sees the hole in the round's sequence
numbers itself and flags the round for audit (invariant I8).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from opentelemetry import metrics

from contracts.events import AnyProviderEvent

log = logging.getLogger(__name__)
_meter = metrics.get_meter("livebridge.edge.feeds")
_gap_counter = _meter.create_counter(
    "livebridge.feed.gaps", unit="{gap}", description="runs of provider events that never came"
)


class EventSink(Protocol):
    def record_event(self, event: AnyProviderEvent) -> None:
        """Record one provider event; idempotent on (provider, round_id, seq); raises on failure."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Sequence numbers of one round that never arrived before the feed moved past them."""

    provider: str
    round_id: str
    missing: tuple[int, ...]


GapListener = Callable[[Gap], None]


def log_gap(gap: Gap) -> None:
    """The default listener: a warning and the `livebridge.feed.gaps` counter."""
    _gap_counter.add(1, {"provider": gap.provider})
    log.warning(
        "feed gap: provider %s round %s never sent seq %s; later events recorded anyway, "
        "the ledger flags the round for audit",
        gap.provider,
        gap.round_id,
        ",".join(map(str, gap.missing)),
    )
