"""`POST /qos/v1/samples`: video quality from the player's front, aggregated as metrics.

The player's front posts with its own player token (from the game launch: the samples
are counted against its session), or the platform relays them with an operator key
(scope `sessions`). A player reports only while its platform session is open (a closed
one answers `LBRG-409 SESSION_CLOSED`, as every call of a closed session does: its token
outlives the close by minutes) and only on the providers that session launched: a batch
naming another is refused whole (`LBRG-403 PROVIDER_NOT_IN_SESSION`), so no player can
speak for a provider it never played (its samples feed the SLA watch, whose playbook may
hide that provider's tables on every bridge). A batch holds 1 to 100
samples (`contracts.ops.QosBatch`, 64 KiB at most); each key, and each player session,
may post `rate` batches a second (burst `burst`), beyond which it gets
`LBRG-429 RATE_LIMITED` and nothing is counted.
A batch with one bad sample is refused whole (`LBRG-400 INVALID_REQUEST`).

Each sample is aggregated per provider, table, region and protocol into OpenTelemetry
instruments, which Prometheus scrapes from `/metrics`: histograms
`livebridge_qos_bet_rtt_milliseconds`, `livebridge_qos_bitrate_kbps`, `livebridge_qos_fps`,
counters `livebridge_qos_samples_total`, `livebridge_qos_dropped_frames_total`,
`livebridge_qos_buffer_events_total` and `livebridge_qos_resolution_total` (by
`resolution`). Quantiles and rates are PromQL's (`histogram_quantile`, `rate`).

The SLA watch judges `qos_rtt_p99_ms` on `RecentRtt`, which keeps each round trip with
who reported it (the player session, or the operators' relay), so that no one session's
reports make the provider's figure (`services.ops.sla.qos_rtt_figure`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections import deque
from collections.abc import Callable

from aiohttp import web
from opentelemetry import metrics

from contracts.api import Operation
from contracts.api import Scope
from contracts.ops import QosAccepted
from contracts.ops import QosBatch
from contracts.ops import QosSample
from services.frontdoor.auth import OPERATOR
from services.frontdoor.http import ApiError
from services.frontdoor.http import json_response
from services.frontdoor.http import read_json
from services.frontdoor.launch import PLATFORM_SESSIONS
from services.frontdoor.players import PLAYER
from services.frontdoor.players import PlayerClaims
from services.frontdoor.routes import RouteTable

_meter = metrics.get_meter("livebridge.qos")
_rtt = _meter.create_histogram(
    "livebridge.qos.bet_rtt",
    unit="ms",
    description="bet signal round trip at the player's front",
    explicit_bucket_boundaries_advisory=[25, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000],
)
_bitrate = _meter.create_histogram("livebridge.qos.bitrate_kbps", description="video bitrate")
_fps = _meter.create_histogram(
    "livebridge.qos.fps",
    description="frames per second",
    explicit_bucket_boundaries_advisory=[5, 10, 15, 20, 24, 25, 30, 50, 60],
)
_samples = _meter.create_counter("livebridge.qos.samples", description="QoS samples received")
_dropped = _meter.create_counter("livebridge.qos.dropped_frames", description="frames dropped")
_buffering = _meter.create_counter("livebridge.qos.buffer_events", description="stalls")
_resolutions = _meter.create_counter(
    "livebridge.qos.resolution", description="samples by the resolution they played at"
)

QOS = Operation(
    method="POST",
    path="/qos/v1/samples",
    operation_id="postQosSamples",
    summary="Video quality samples from the player's front (1 to 100 a batch)",
    auth="player_or_operator",
    scope=Scope.SESSIONS,
    request=QosBatch,
    response=QosAccepted,
    errors=("RATE_LIMITED", "NOT_YOUR_SESSION", "SESSION_CLOSED", "PROVIDER_NOT_IN_SESSION"),
    tags=("operations",),
)


MAX_BUCKETS = 10_000
"""Most keys and player sessions the rate limiter holds a bucket for (some 250 B each:
145 measured, and the key)."""


class _Buckets:
    """A token bucket per operator key or player session, bounded: a bucket idle until it
    is full again is forgotten (a fresh one is the same), and past `max_keys` the least
    recently used goes (a session would have to wait out `max_keys` others posting within
    its refill time to find its bucket full again)."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_BUCKETS,
    ) -> None:
        self.rate, self.burst = rate, burst
        self.clock = clock
        self.max_keys = max_keys
        self._full_after = burst / rate if rate > 0 else math.inf
        self._tokens: OrderedDict[str, tuple[float, float]] = OrderedDict()  # least recent first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tokens)

    def take(self, key: str) -> bool:
        with self._lock:
            now = self.clock()
            tokens, at = self._tokens.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            taken = tokens >= 1
            self._tokens[key] = (tokens - 1 if taken else tokens, now)
            while len(self._tokens) > self.max_keys or (
                self._tokens and now - next(iter(self._tokens.values()))[1] >= self._full_after
            ):
                self._tokens.popitem(last=False)
            return taken


def record(sample: QosSample) -> None:
    labels = {
        "provider": sample.provider,
        "table": sample.table,
        "region": sample.region,
        "protocol": sample.protocol,
    }
    _samples.add(1, labels)
    _dropped.add(sample.dropped_frames, labels)
    _buffering.add(sample.buffer_events, labels)
    if sample.bet_rtt_ms is not None:
        _rtt.record(sample.bet_rtt_ms, labels)
    if sample.bitrate_kbps is not None:
        _bitrate.record(sample.bitrate_kbps, labels)
    if sample.fps is not None:
        _fps.record(sample.fps, labels)
    if sample.resolution is not None:
        _resolutions.add(1, {**labels, "resolution": sample.resolution})


class RecentRtt:
    """The last few minutes of bet-signal round trips per provider, by who reported them:
    what the SLA watch judges `qos_rtt_p99_ms` on (live, in memory; the metrics are the
    record). Bounded whatever the run's length or the players' number: each reporter (a
    provider and a player session, or the operators' relay) keeps its latest
    `per_reporter` round trips, at most `max_reporters` reporters are kept (the one that
    reported least recently leaves first), and those silent for `keep_s` are dropped."""

    def __init__(
        self,
        keep_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        per_reporter: int = 100,
        max_reporters: int = 1_000,
    ) -> None:
        self.keep_s = keep_s
        self.clock = clock
        self.per_reporter = per_reporter
        self.max_reporters = max_reporters
        self._seen: OrderedDict[tuple[str, str | None], deque[tuple[float, float]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, provider: str, session: str | None, rtt_ms: float) -> None:
        """One round trip `session` reported (None: relayed by an operator key)."""
        now = self.clock()
        key = (provider, session)
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                seen = self._seen[key] = deque(maxlen=self.per_reporter)
            self._seen.move_to_end(key)
            seen.append((now, rtt_ms))
            while self._seen:
                _, oldest = next(iter(self._seen.items()))
                if len(self._seen) <= self.max_reporters and oldest[-1][0] >= now - self.keep_s:
                    break
                self._seen.popitem(last=False)

    def reports(self, provider: str, window_s: float) -> dict[str | None, list[float]]:
        """The round trips of `provider` over the last `window_s`, by who reported them."""
        since = self.clock() - window_s
        found: dict[str | None, list[float]] = {}
        with self._lock:
            for (named, session), seen in self._seen.items():
                recent = [rtt for at, rtt in seen if at >= since] if named == provider else []
                if recent:
                    found[session] = recent
        return found

    def __len__(self) -> int:
        """Round trips held, all providers and reporters."""
        with self._lock:
            return sum(len(seen) for seen in self._seen.values())


QOS_RECENT = web.AppKey("qos_recent", RecentRtt)


def setup_qos(
    app: web.Application, table: RouteTable, *, rate: float = 20.0, burst: float = 40.0
) -> None:
    """Mount `POST /qos/v1/samples`: `rate` batches a second per operator key."""
    buckets = _Buckets(rate, burst)
    recent = app[QOS_RECENT] = RecentRtt()

    async def samples(request: web.Request) -> web.Response:
        key = request.get(OPERATOR)
        player = None if key else request[PLAYER]
        caller = f"{key.operator}/{key.key_id}" if key else f"session/{request[PLAYER].session_id}"
        if not buckets.take(caller):
            raise ApiError("RATE_LIMITED", f"more than {rate:g} QoS batches a second; slow down")
        batch = await read_json(request, QosBatch)
        if player is not None:
            await _reporting(request.app, player, {s.provider for s in batch.samples})
        for sample in batch.samples:
            record(sample)
            if sample.bet_rtt_ms is not None:
                session = player.session_id if player else None
                recent.add(sample.provider, session, sample.bet_rtt_ms)
        return json_response(QosAccepted(accepted=len(batch.samples)))

    table.add(app, QOS, samples)


async def _reporting(app: web.Application, player: PlayerClaims, providers: set[str]) -> None:
    """Refuse a player's samples unless its own session is open and launched every provider
    they name."""
    sessions = app[PLATFORM_SESSIONS]
    session = await sessions.get(player.session_id)
    if session is None or session.player != player.player:
        raise ApiError("NOT_YOUR_SESSION", "a player reports QoS for its own session only")
    if not session.open(sessions.clock()):
        raise ApiError("SESSION_CLOSED", f"session {session.session_id} is over; relaunch")
    foreign = sorted(providers - session.tokens.keys())
    if foreign:
        raise ApiError(
            "PROVIDER_NOT_IN_SESSION",
            f"session {session.session_id} launched no game of {', '.join(foreign)}: "
            "a player reports QoS only on the providers its session launched",
        )
