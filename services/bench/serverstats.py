"""What nats-server handled while a block ran, from its monitoring endpoint.

Messages in (publishes, requests such as a direct get or a KV read, each message of an
atomic batch), messages out (acks, replies, deliveries) and JetStream API calls (stream
and consumer requests; a direct get is not one): divided by the bets of a run, they say
what a bet asks of the server, which is what its CPU per bet is spent on.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field


def counters(monitor_url: str) -> dict[str, int]:
    """The server's running totals: `in_msgs`, `out_msgs`, `api_calls`."""
    with urllib.request.urlopen(f"{monitor_url}/varz", timeout=5) as resp:
        varz = json.loads(resp.read())
    with urllib.request.urlopen(f"{monitor_url}/jsz", timeout=5) as resp:
        jsz = json.loads(resp.read())
    return {
        "in_msgs": int(varz["in_msgs"]),
        "out_msgs": int(varz["out_msgs"]),
        "api_calls": int(jsz["api"]["total"]),
    }


@dataclass
class Handled:
    """How many of each counter the server added while the `handled` block ran."""

    counts: dict[str, int] = field(default_factory=dict)

    def per(self, name: str, units: int) -> float:
        return self.counts.get(name, 0) / max(units, 1)


@contextmanager
def handled(monitor_url: str | None) -> Iterator[Handled]:
    """Count what the server at `monitor_url` handles during the block (None: nothing)."""
    result = Handled()
    before = counters(monitor_url) if monitor_url else {}
    yield result
    if monitor_url:
        after = counters(monitor_url)
        result.counts = {name: after[name] - before[name] for name in before}
