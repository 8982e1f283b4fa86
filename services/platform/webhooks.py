"""Webhook delivery of `round.settle`: signed, retried with backoff, parked, re-sendable.

Each configured endpoint has its own durable pull consumer on the settle stream
(`webhook_<name>`). Its messages are dealt to `lanes` concurrent lanes by player, and a lane
delivers one message at a time in stream order (log order): a player's settlements arrive
in order, while a slow answer for one player does not hold up every other. A platform that
is down only makes the consumer wait; the stream keeps everything.

Per message: POST the JSON body with `X-Livebridge-Event-Id`, `X-Livebridge-Timestamp` and
`X-Livebridge-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, and the bet's
W3C `traceparent` (a `round.settle deliver` span continues the trace stored on the message,
with a client span per attempt). A 2xx answer acks it. Anything else (status, a redirect,
which is not followed, connection error, timeout) is retried after a wait drawn between
half and all of `min(backoff_max, backoff_base * 2**attempt)` seconds (exponential,
jittered so that senders do not retry in step), keeping the message in progress. After
`max_attempts` failures it is **parked** (JetStream KV bucket `<stream>_WEBHOOK_PARKED`,
key `<endpoint>.<stream seq>`) and acked; later settlements of the same player are parked
behind it, so a player's order is never broken, while other players' settlements flow.
If parking it fails (the KV store away), it is nak'ed for redelivery and the player's later
settlements are parked behind it all the same until it is back.
`resend` (CLI: `livebridge webhooks resend`) delivers the parked ones in order and removes
each one delivered.

A delivery can repeat (the platform stored it but its answer was lost): receivers process
each `eventId` once (`contracts.platform`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
import random
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Annotated

import aiohttp
import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy
from nats.js.api import ConsumerConfig
from nats.js.api import DeliverPolicy
from nats.js.api import KeyValueConfig
from nats.js.api import StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.errors import NoKeysError
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue
from opentelemetry import trace

from contracts import bodies
from contracts.tracing import inject
from contracts.tracing import parent_context
from contracts.urls import fetchable
from services.platform.retry import until_stopped
from services.platform.retry import wait
from services.platform.stream import POSITION
from services.platform.stream import SettleStream

log = logging.getLogger(__name__)

LANE_DEPTH = 8
MAX_LANES = 1024
ANSWER_READ = 64 * 1024
"""The largest answer body read (and discarded) to keep its connection for the next POST."""
LOCATION_SHOWN = 200
"""Characters of a redirect's `Location` kept in the failure a parked settlement shows."""
ACK_WAIT = 120.0

EVENT_ID = "X-Livebridge-Event-Id"
TIMESTAMP = "X-Livebridge-Timestamp"
SIGNATURE = "X-Livebridge-Signature"
TRACEPARENT = "traceparent"
"""W3C trace context of the bet, on the stream's message and on each POST."""
_tracer = trace.get_tracer("livebridge.platform")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = 300.0,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent. Any
    header, however garbled, verifies or not; none raises."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False  # the signed text is `sign`'s stamp: Unix seconds in ASCII digits
    stamp = int(timestamp)
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    # bytes, not text: `compare_digest` refuses non-ASCII text (a header's surrogates too)
    return hmac.compare_digest(
        sign(secret, stamp, body).encode(), signature.encode(errors="surrogateescape")
    )


class Endpoint(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One platform URL receiving settlements. `name`: 1 to 64 letters, digits, `_`, `-`.

    Read from `[[webhooks]]` (and `[[sla.webhook]]`), where any other key is refused: a
    mistyped `max_attempt` would leave the default without a word."""

    name: str
    url: str
    secret: str
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 24
    """Attempts before a settlement is parked (none would park each one untried)."""
    backoff_base: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    backoff_max: Annotated[float, msgspec.Meta(ge=0)] = 600.0
    """With the defaults a message is retried for at least 73 minutes before it is parked,
    so a platform down for an hour gets everything in order without an operator."""
    lanes: Annotated[int, msgspec.Meta(ge=1, le=MAX_LANES)] = 8
    """Deliveries in flight at once, each lane serving its own players in order (with
    none, nothing would ever be delivered; each is a task and a queue made at start, so a
    mistyped 80000000 would take the bridge's memory before the first POST)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.name):
            # it names the endpoint's consumer, `webhook_<name>` (JetStream: 255 at most)
            raise ValueError(
                f"webhook endpoint name {self.name!r}: use 1 to 64 letters, digits, _ and -"
            )
        if not self.secret:
            raise ValueError(f"webhook endpoint {self.name!r} has no secret")
        for what, value in (
            ("timeout", self.timeout),
            ("backoff_base", self.backoff_base),
            ("backoff_max", self.backoff_max),
        ):
            if not math.isfinite(value):  # TOML's `inf`: a lane waiting forever
                raise ValueError(f"webhook endpoint {self.name!r}: {what} must be finite")
        if not fetchable(self.url):
            # aiohttp refuses it only at the first POST: every settlement would be retried
            # for an hour, then parked
            raise ValueError(
                f"webhook endpoint {self.name!r}: url {self.url!r} is not an http:// or "
                "https:// URL with a host"
            )

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed attempt `attempt` (from 0): exponential, capped, half jittered."""
        # 2.0**1024 raises: past the cap the exponent no longer matters
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** min(attempt, 1000))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Parked(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    event_id: str
    player: str
    attempts: int
    error: str
    parked_at: float


class _Head(msgspec.Struct):
    """The fields of a settlement that delivery needs; the body is sent as it is."""

    eventId: str
    player: str


_HEAD = msgspec.json.Decoder(_Head)


@dataclass
class ParkedStore:
    """Parked deliveries of every endpoint, in a JetStream KV bucket."""

    kv: KeyValue

    @classmethod
    async def open(cls, js: JetStreamContext, bucket: str, replicas: int = 1) -> ParkedStore:
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            kv = await js.create_key_value(
                KeyValueConfig(
                    bucket=bucket, storage=StorageType.FILE, history=1, replicas=replicas
                )
            )
        return cls(kv)

    async def park(self, endpoint: str, entry: Parked) -> None:
        await self.kv.put(f"{endpoint}.{entry.seq:020d}", msgspec.json.encode(entry))

    async def remove(self, endpoint: str, seq: int) -> None:
        await self.kv.delete(f"{endpoint}.{seq:020d}")

    async def get(self, endpoint: str, seq: int) -> Parked | None:
        try:
            entry = await self.kv.get(f"{endpoint}.{seq:020d}")
        except (NoKeysError, NotFoundError):
            return None
        return msgspec.json.decode(entry.value, type=Parked) if entry.value else None

    async def list(self, endpoint: str) -> list[Parked]:
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return []
        tails = (k.removeprefix(f"{endpoint}.") for k in keys if k.startswith(f"{endpoint}."))
        entries = [await self.get(endpoint, int(tail)) for tail in sorted(tails) if tail.isdigit()]
        return [entry for entry in entries if entry is not None]


@dataclass
class Outcome:
    ok: bool
    error: str = ""


@dataclass
class SignedPoster:
    """POST a body to one endpoint, signed, retried with backoff: what every webhook does
    (settlements here, the ops alerts in `services.ops.alerts`)."""

    session: aiohttp.ClientSession
    endpoint: Endpoint
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time
    delivered: int = 0

    async def attempt(self, body: bytes, event_id: str) -> Outcome:
        """One POST; ok on a 2xx answer."""
        stamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            EVENT_ID: event_id,
            TIMESTAMP: str(stamp),
            SIGNATURE: sign(self.endpoint.secret, stamp, body),
        }
        with _tracer.start_as_current_span(
            f"POST webhook {self.endpoint.name}",
            kind=trace.SpanKind.CLIENT,
            attributes={"http.request.method": "POST", "livebridge.event_id": event_id},
        ) as span:
            outcome = await self._post(body, inject(headers))
            if not outcome.ok:
                span.set_status(trace.StatusCode.ERROR, outcome.error)
            return outcome

    async def _post(self, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            async with self.session.post(
                self.endpoint.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.endpoint.timeout),
                # Following a 3xx would re-ask with a bodiless GET, and that page's 200 would
                # count the body as delivered though the endpoint never accepted it.
                allow_redirects=False,
            ) as response:
                if (response.content_length or ANSWER_READ + 1) <= ANSWER_READ:
                    await response.read()  # a short answer: its connection is kept
                # a longer one (or of no stated length) is left unread and its connection
                # closed: the receiver's body, however large, never enters the bridge's memory
                if 200 <= response.status < 300:
                    return Outcome(True)
                if 300 <= response.status < 400:
                    # The receiver's text, shown by `webhooks parked` and in the logs: quoted,
                    # its control characters escaped (a terminal's escape sequences) and cut.
                    where = response.headers.get("Location", "nowhere")[:LOCATION_SHOWN]
                    return Outcome(False, f"HTTP {response.status} redirected to {where!r}")
                return Outcome(False, f"HTTP {response.status}")
        except TimeoutError:
            return Outcome(False, f"no answer within {self.endpoint.timeout}s")
        except aiohttp.ClientError as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}")

    async def deliver(
        self, body: bytes, event_id: str, stop: asyncio.Event, msg: Msg | None = None
    ) -> Outcome:
        """Up to `max_attempts` attempts with backoff; keeps `msg` in progress meanwhile."""
        outcome = Outcome(False, "not attempted")
        for attempt in range(self.endpoint.max_attempts):
            outcome = await self.attempt(body, event_id)
            if outcome.ok:
                self.delivered += 1
                return outcome
            if attempt + 1 == self.endpoint.max_attempts or stop.is_set():
                break
            log.info(
                "webhook %s: %s failed (%s), attempt %d of %d",
                self.endpoint.name,
                event_id,
                outcome.error,
                attempt + 1,
                self.endpoint.max_attempts,
            )
            delay = self.endpoint.backoff(attempt, self.rng)
            while delay > 0 and not stop.is_set():
                step = min(delay, 10.0)
                if msg is not None:
                    await msg.in_progress()
                await wait(stop, step)
                delay -= step
        return outcome


@dataclass
class WebhookDelivery:
    """Deliver the settle stream to one endpoint until stopped; `resend` the parked ones."""

    js: JetStreamContext
    session: aiohttp.ClientSession
    stream: SettleStream
    endpoint: Endpoint
    parked: ParkedStore
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time
    _parked_players: set[str] = field(default_factory=set)
    _parked_seqs: dict[int, str] = field(default_factory=dict)
    """stream seq -> player of each parked settlement known here."""
    _in_lanes: set[int] = field(default_factory=set)
    _unparked: dict[str, int] = field(default_factory=dict)
    """player -> stream seq of the settlement that ran out of attempts but could not be
    parked (nak'ed for redelivery): the player counts as parked until it is handled."""

    def __post_init__(self) -> None:
        self.poster = SignedPoster(self.session, self.endpoint, self.rng, lambda: self.clock())

    @property
    def delivered(self) -> int:
        return self.poster.delivered

    @property
    def durable(self) -> str:
        return f"webhook_{self.endpoint.name}"

    async def attempt(self, body: bytes, event_id: str) -> Outcome:
        """One signed POST; ok on a 2xx answer."""
        return await self.poster.attempt(body, event_id)

    async def deliver(
        self, body: bytes, event_id: str, stop: asyncio.Event, msg: Msg | None = None
    ) -> Outcome:
        """Up to `max_attempts` attempts with backoff; keeps `msg` in progress meanwhile."""
        return await self.poster.deliver(body, event_id, stop, msg)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver the stream to the endpoint, in order, until `stop` is set."""
        await until_stopped(
            stop,
            self._consume,
            pause=1.0,
            log=log,
            stopped=lambda: f"webhook {self.endpoint.name}: delivery loop failed",
        )

    def _config(self, start: int = 0) -> ConsumerConfig:
        """The durable consumer: from the stream's start, or from stream sequence `start`."""
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            filter_subject=f"{self.stream.root}.>",
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start else DeliverPolicy.ALL,
            opt_start_seq=start or None,
            max_ack_pending=self.endpoint.lanes * LANE_DEPTH,
            ack_wait=ACK_WAIT,
            max_deliver=-1,
        )

    async def _reclaim(self) -> None:
        """Take back what an earlier holder of the consumer took and never acknowledged.

        A bridge killed, paused or cut off while delivering leaves its fetched settlements
        pending on the consumer until their ack wait (`ACK_WAIT`) ends, while the consumer
        deals the players' later settlements to the next holder: those would arrive first.
        So a delivery starting on a consumer with settlements pending makes it again from
        its ack floor: everything not acknowledged comes again, in stream order, before
        anything later (one delivered but not acknowledged repeats, under its event id).
        """
        try:
            info = await self.js.consumer_info(self.stream.name, self.durable)
        except NotFoundError:
            return
        if not info.num_ack_pending:
            return
        start = (info.ack_floor.stream_seq or 0 if info.ack_floor else 0) + 1
        log.warning(
            "webhook %s: %d settlement(s) left unacknowledged by an earlier delivery; "
            "delivering again from stream seq %d",
            self.endpoint.name,
            info.num_ack_pending,
            start,
        )
        await self.js.delete_consumer(self.stream.name, self.durable)
        await self.js.add_consumer(self.stream.name, config=self._config(start))

    async def _consume(self, stop: asyncio.Event) -> None:
        await self.stream.ensure(self.js)
        await self._reclaim()
        lanes = self.endpoint.lanes
        sub = await self.js.pull_subscribe(
            f"{self.stream.root}.>",
            durable=self.durable,
            stream=self.stream.name,
            config=self._config(),
        )
        queues: list[asyncio.Queue[Msg | None]] = [
            asyncio.Queue(maxsize=LANE_DEPTH) for _ in range(lanes)
        ]
        workers = [asyncio.create_task(self._lane(q, stop)) for q in queues]
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(lanes, timeout=0.5)
                except TimeoutError:
                    continue
                for msg in msgs:
                    seq = msg.metadata.sequence.stream
                    if seq in self._in_lanes:
                        continue  # redelivered while still waiting in its lane
                    try:
                        if POSITION not in (msg.headers or {}):  # the publisher's mark
                            raise msgspec.DecodeError(f"no {POSITION} header")
                        player = bodies.decode_with(_HEAD, msg.data).player
                    except msgspec.DecodeError as error:
                        # Not one the publisher wrote: redelivered, it would end this loop
                        # at every fetch, and no settlement after it would ever go out.
                        log.error(
                            "webhook %s: stream seq %d is no settlement (%s); skipped",
                            self.endpoint.name,
                            seq,
                            error,
                        )
                        await msg.term()
                        continue
                    self._in_lanes.add(seq)
                    await queues[zlib.crc32(player.encode()) % lanes].put(msg)
        finally:
            for queue in queues:
                await queue.put(None)
            await asyncio.gather(*workers, return_exceptions=True)
            await sub.unsubscribe()

    async def _lane(self, queue: asyncio.Queue[Msg | None], stop: asyncio.Event) -> None:
        """One player's settlements always go to the same lane, which delivers in order."""
        while (msg := await queue.get()) is not None:
            try:
                if stop.is_set():
                    await msg.nak()  # redelivered, in order, when delivery starts again
                else:
                    await self._handle(msg, stop)
            except Exception:
                log.exception("webhook %s: delivery failed; redelivering", self.endpoint.name)
                with contextlib.suppress(Exception):
                    await msg.nak()
            finally:
                self._in_lanes.discard(msg.metadata.sequence.stream)

    async def _handle(self, msg: Msg, stop: asyncio.Event) -> None:
        head = bodies.decode_with(_HEAD, msg.data)  # a settlement: _consume decoded it
        seq = msg.metadata.sequence.stream
        if head.player in self._parked_players:
            # Parked entries may have been resent meanwhile: look again before queueing.
            await self._look_again(head.player)
        if head.player in self._parked_players and self._unparked.get(head.player) != seq:
            await self._park(seq, head, 0, "parked behind an earlier settlement of this player")
            await msg.ack()
            return
        with _tracer.start_as_current_span(
            f"round.settle deliver {self.endpoint.name}",
            context=parent_context((msg.headers or {}).get(TRACEPARENT)),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "livebridge.event_id": head.eventId,
                "livebridge.webhook": self.endpoint.name,
            },
        ) as span:
            outcome = await self.deliver(msg.data, head.eventId, stop, msg)
            if not outcome.ok:
                span.set_status(trace.StatusCode.ERROR, outcome.error)
        if outcome.ok:
            await msg.ack()
        elif stop.is_set():
            await msg.nak()
            return
        else:
            self._unparked[head.player] = seq
            self._parked_players.add(head.player)
            await self._park(seq, head, self.endpoint.max_attempts, outcome.error)
            await msg.ack()
        if self._unparked.get(head.player) == seq:
            del self._unparked[head.player]

    async def _park(self, seq: int, head: _Head, attempts: int, error: str) -> None:
        log.warning(
            "webhook %s: settlement %s (stream seq %d) parked: %s",
            self.endpoint.name,
            head.eventId,
            seq,
            error,
        )
        entry = Parked(
            seq=seq,
            event_id=head.eventId,
            player=head.player,
            attempts=attempts,
            error=error,
            parked_at=self.clock(),
        )
        await self.parked.park(self.endpoint.name, entry)
        self._parked_seqs[seq] = head.player
        self._parked_players.add(head.player)

    async def _look_again(self, player: str) -> None:
        """Look whether `player`, taken for parked, still is: a resend delivers a player's
        parked settlements oldest first, removing each, so its oldest one known is read.
        (Reading every parked entry before each settlement of a parked player took most of
        a second once thousands were parked, and delivery fell ever further behind.)"""
        for seq in sorted(s for s, who in self._parked_seqs.items() if who == player):
            if await self.parked.get(self.endpoint.name, seq) is not None:
                return
            del self._parked_seqs[seq]
        if player not in self._unparked:
            self._parked_players.discard(player)

    async def _refresh_parked(self) -> None:
        entries = await self.parked.list(self.endpoint.name)
        self._parked_seqs = {entry.seq: entry.player for entry in entries}
        self._parked_players = set(self._parked_seqs.values()) | set(self._unparked)

    async def start_parked(self) -> None:
        await self._refresh_parked()

    async def resend(self, stop: asyncio.Event | None = None) -> tuple[int, int]:
        """Deliver the parked settlements in order; (delivered, still parked)."""
        stop = stop or asyncio.Event()
        delivered = 0
        blocked: set[str] = set()
        entries = await self.parked.list(self.endpoint.name)
        for entry in entries:
            if entry.player in blocked:
                continue
            msg = await self.js.get_msg(self.stream.name, seq=entry.seq)
            outcome = await self.deliver(msg.data or b"", entry.event_id, stop)
            if outcome.ok:
                await self.parked.remove(self.endpoint.name, entry.seq)
                delivered += 1
            else:
                blocked.add(entry.player)
        await self._refresh_parked()
        return delivered, len(entries) - delivered
