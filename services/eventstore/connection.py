"""One nats-py connection on its own asyncio loop thread, with the JetStream calls recorders need.

The `eventsourcing` library is synchronous and calls recorders from many threads; nats-py
is asyncio-only. `JetStreamConnection` owns one loop in a daemon thread and runs
coroutines on it with `call()`, so every recorder built by one factory shares one
connection and one reply-inbox multiplexer.

The raw protocol used here (nats-py 2.16 has no helpers for it):
- atomic batch publish (ADR-50, server >= 2.12): `Nats-Batch-Id`, `Nats-Batch-Sequence`,
  `Nats-Batch-Commit: 1` on the last message, whose PubAck carries the final sequence;
- batch direct get (ADR-31, server >= 2.11): `{"seq", "batch", "next_by_subj"}` (or no
  subject: by position; or `multi_last`: the last message of each subject) to
  `$JS.API.DIRECT.GET.<stream>`, answered by a run of messages ended by a 204 EOB, which
  go from nats-py's parser straight to the reader (`nats_override.DirectClient`, checked
  before every connect);
- leader message get `$JS.API.STREAM.MSG.GET.<stream>` with `last_by_subj`, which is
  coherent with the writes it follows.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import TypeVar

import uvloop
from nats.aio.client import Client
from nats.errors import ConnectionClosedError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import StreamConfig
from nats.js.api import StreamInfo
from nats.js.errors import APIError
from nats.js.errors import BadRequestError
from nats.js.errors import NotFoundError

from services.eventstore import greenloop
from services.eventstore import nats_override
from services.eventstore.nats_override import DirectClient
from services.eventstore.nats_override import parse_header_lines

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0
STOPPED_CHECK_S = 0.25
"""How often a thread waiting on a call looks whether the loop that was to answer it has
stopped: a call pending when its connection closes fails that soon, not `CALL_TIMEOUT` later."""
CLOSED_TRANSPORT = "the handler is closed"
"""What uvloop's `RuntimeError` says of a write to a transport that is already closed."""
MAX_BATCH = 1000
"""Messages in one atomic batch: the server's default limit (jetstream.limits.batch)."""
REQUEST_TIMEOUT = 5.0
NO_RESPONDERS = 503
UNAVAILABLE = 10008
"""JetStream's "system temporarily unavailable": no leader yet, after a node restart."""
READ_PATIENCE = 25.0
"""Seconds a read is asked again while the cluster elects a leader (`_patiently`).

nats-server's Raft calls an election 4 to 9 s after the leader's last heartbeat and calls
it again on a split vote; a client whose node died reconnects first. 10 s was too short
on a loaded two-core machine (a round-book read after a leader kill timed out in CI)."""
CUT_OFF_PATIENCE = 10.0
"""Seconds a read is asked again while the client has no server at all (a restart of a
lone nats-server recovers its JetStream within them; a cluster's client moves to another
node in one or two)."""
PING_INTERVAL = 1
"""Seconds between the client's pings: two unanswered and the connection is given up."""
PLAIN_HEADERS = b"NATS/1.0\r\n"
"""How a header block without an inline status starts."""
MULTI_LAST = 256
"""Subjects per `multi_last` direct get (the server caps the answer's size)."""


class JetStreamError(RuntimeError):
    """JetStream answered with an error code the recorders do not map to a library error."""

    def __init__(self, err_code: int, description: str) -> None:
        super().__init__(f"JetStream error {err_code}: {description}")
        self.err_code = err_code
        self.description = description


class StoredMsg:
    """A message as the stream stores it: subject, sequence, headers and payload.

    Headers that come off the wire stay bytes until they are asked for: `header` finds one
    without reading the others (loading an event needs two of a dozen), `headers` reads
    them all, once.
    """

    __slots__ = ("_headers", "_raw", "data", "seq", "subject")

    def __init__(
        self,
        subject: str,
        seq: int,
        data: bytes,
        headers: dict[str, str] | None = None,
        raw_headers: bytes = b"",
    ) -> None:
        self.subject = subject
        self.seq = seq
        self.data = data
        self._headers = headers
        self._raw = raw_headers

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = message_headers(self._raw)
        return self._headers

    def find_header(self, name: str) -> str | None:
        """One header's value, as `headers.get(name)` gives it for the headers the server
        and the recorders write (no white space around a name)."""
        if self._headers is not None:
            return self._headers.get(name)
        return header_value(self._raw, name)

    def header(self, name: str) -> str:
        """One header's value, as `headers[name]` gives it (KeyError if there is none)."""
        value = self.find_header(name)
        if value is None:
            raise KeyError(name)
        return value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredMsg):
            return NotImplemented
        return (self.subject, self.seq, self.data, self.headers) == (
            other.subject,
            other.seq,
            other.data,
            other.headers,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StoredMsg({self.subject!r}, seq={self.seq})"


@dataclass(frozen=True, slots=True)
class OutMsg:
    subject: str
    data: bytes
    headers: dict[str, str]


class _BatchCollector:
    """Gathers one batch-get reply run; `done` resolves to the stream's last seq at EOB."""

    def __init__(self, done: asyncio.Future[int]) -> None:
        self.done = done
        self.messages: list[StoredMsg] = []

    def add(self, raw_headers: bytes, data: bytes) -> None:
        if self.done.done():
            return
        if raw_headers.startswith(PLAIN_HEADERS):  # a stored message: no status line
            subject = header_value(raw_headers, "Nats-Subject")
            seq = header_value(raw_headers, "Nats-Sequence")
            if subject is not None and seq is not None:
                self.messages.append(StoredMsg(subject, int(seq), data, raw_headers=raw_headers))
                return
        headers = message_headers(raw_headers)
        status = headers.get("Status")
        if status == "204":
            self.done.set_result(int(headers.get("Nats-Last-Sequence", "0")))
        elif status == "404":
            self.done.set_result(0)
        else:
            description = headers.get("Description", "a direct get answered with no message")
            self.done.set_exception(JetStreamError(int(status or 0), description))


class _FirstAnswer:
    """The answer to a batch's first message: empty once it is staged, else a refusal."""

    def __init__(self, done: asyncio.Future[bytes]) -> None:
        self.done = done

    def add(self, raw_headers: bytes, data: bytes) -> None:
        if self.done.done():
            return
        status = message_headers(raw_headers).get("Status") if raw_headers else None
        if status == str(NO_RESPONDERS):
            self.done.set_exception(NoRespondersError())
        else:
            self.done.set_result(data)


class _Call(Generic[T]):
    """One thread's coroutine on the loop; the thread waits on `_done` until it finishes."""

    __slots__ = ("_done", "_task", "coro")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro = coro
        self._task: asyncio.Task[T] | None = None
        self._done = threading.Lock()
        self._done.acquire()

    def finish(self, task: asyncio.Task[T]) -> None:
        self._task = task
        self._done.release()

    def wait(self, timeout: float, stopped: threading.Event) -> T:
        """The coroutine's result; a closed connection's loop (`stopped`) never gives one."""
        deadline, left = time.monotonic() + timeout, timeout
        while not self._done.acquire(timeout=min(STOPPED_CHECK_S, left)):
            if stopped.is_set():
                if self._done.acquire(blocking=False):  # it finished as the loop stopped
                    break
                raise ConnectionClosedError  # the call will never be answered
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer from the JetStream loop within {timeout} s")
        assert self._task is not None
        return self._task.result()


class JetStreamConnection:
    """A nats connection plus the loop thread it lives on. Close it when done."""

    def __init__(self, url: str, *, name: str = "livebridge") -> None:
        self.url = url
        # uvloop: the loop thread is on every bet's path (its reads, its write, their acks).
        self._loop = uvloop.new_event_loop()
        self._stopped = threading.Event()
        """Set once the loop has stopped: nothing pending on it will ever finish."""
        self._thread = threading.Thread(target=self._run_loop, name=f"nats-{name}")
        self._thread.daemon = True
        self._thread.start()
        self.executor = greenloop.LoopExecutor(self._loop)
        """Runs synchronous functions in greenlets on this loop: their waits for JetStream
        cost no hand-off between threads (`services.eventstore.greenloop`)."""
        self._closed = False
        self._replies: dict[str, _BatchCollector | _FirstAnswer] = {}
        self._arrivals: list[_Call[Any]] = []
        self._arrivals_lock = threading.Lock()
        self._wake_pending = False
        self._tokens = itertools.count()
        self.nc: Client = self.call(self._connect(name))

    def _run_loop(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            self._stopped.set()

    async def _connect(self, name: str) -> Client:
        await nats_override.check()  # fails loudly if nats-py no longer calls what it reroutes
        nc = DirectClient()
        await nc.connect(
            self.url.split(","),  # one URL, or a cluster's, comma-separated
            name=name,
            connect_timeout=5,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,  # type: ignore[arg-type]  # annotated int; it is slept
            # A server cut off by the network sends no RST: without pings answered the
            # client moves to another node in ~PING_INTERVAL * 3 s, not minutes.
            ping_interval=PING_INTERVAL,
            max_outstanding_pings=2,
            error_cb=self._on_error,
        )
        self._inbox = nc.new_inbox()
        replies = await nc.subscribe(f"{self._inbox}.*")
        nc.direct = (replies._id, self._on_reply)
        return nc

    async def _on_error(self, error: Exception) -> None:
        log.warning("nats connection to %s: %s", self.url, error or type(error).__name__)

    def _on_reply(self, subject: bytes, data: bytes, headers: bytes | None) -> None:
        collector = self._replies.get(subject.decode())
        if collector is not None:
            collector.add(headers or b"", data)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        """Run `coro` on the connection's loop and wait for its result.

        Calls arriving while the loop is busy are started together by one wake-up, and each
        caller waits on a lock of its own: with dozens of writer threads, the loop thread
        would otherwise spend much of its time on one self-pipe write and one condition
        notify per call (measured: a third of the recorder's write rate).

        A write to a socket the server has just closed, before nats-py has noticed, raises
        uvloop's `RuntimeError` ("... the handler is closed"): the connection is lost, and
        that is what the caller is told (`ConnectionClosedError`), an outage, not a defect.
        """
        try:
            return self._call(coro, timeout)
        except RuntimeError as error:
            if CLOSED_TRANSPORT in str(error):
                raise ConnectionClosedError from error
            raise

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if self._closed:
            coro.close()
            raise ConnectionClosedError
        if threading.current_thread() is self._thread:
            if greenloop.on_loop():  # a command run on this loop (`executor`): no hand-off
                return greenloop.wait(greenloop.within(coro, timeout))
            coro.close()
            raise RuntimeError("a blocking JetStream call on the connection's own loop thread")
        call = _Call(coro)
        with self._arrivals_lock:
            self._arrivals.append(call)
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            self._loop.call_soon_threadsafe(self._start_arrivals)
        return call.wait(timeout, self._stopped)

    def _start_arrivals(self) -> None:
        with self._arrivals_lock:
            arrivals, self._arrivals = self._arrivals, []
            self._wake_pending = False
        for call in arrivals:
            self._loop.create_task(call.coro).add_done_callback(call.finish)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        nc = getattr(self, "nc", None)
        if threading.current_thread() is self._thread:  # closed from a callback or __del__
            if nc is not None:
                self._loop.create_task(nc.close())
            self._loop.call_soon(self._loop.stop)
            return
        if nc is not None and not nc.is_closed:
            try:
                asyncio.run_coroutine_threadsafe(nc.drain(), self._loop).result(10)
            except Exception:  # the server may be gone; close without draining
                asyncio.run_coroutine_threadsafe(nc.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # -- streams ---------------------------------------------------------------------------

    async def ensure_stream(self, config: StreamConfig) -> None:
        """Create the stream if it does not exist; an existing one is left as it is."""
        try:
            await self.stream_info(str(config.name))
        except NotFoundError:
            await self.nc.jetstream().add_stream(config)

    async def stream_info(self, stream: str) -> StreamInfo:
        """The stream's configuration and state, asked again while no leader answers."""

        async def once(wait_s: float) -> StreamInfo:
            try:
                return await self.nc.jetstream(timeout=wait_s).stream_info(stream)
            except APIError as exc:
                if exc.code == NO_RESPONDERS or exc.err_code == UNAVAILABLE:
                    raise JetStreamError(exc.err_code or NO_RESPONDERS, str(exc)) from exc
                raise

        return await self._patiently(once)

    # -- reads -----------------------------------------------------------------------------

    async def last_by_subject(self, stream: str, subject: str) -> StoredMsg | None:
        """The last message on `subject` (wildcards allowed), from the stream leader."""
        return await self._leader_get(stream, {"last_by_subj": subject})

    async def next_by_subject(self, stream: str, subject: str, seq: int) -> StoredMsg | None:
        """The first message on `subject` at or after `seq`, from the stream leader."""
        return await self._leader_get(stream, {"seq": seq, "next_by_subj": subject})

    async def _leader_get(self, stream: str, request: dict[str, Any]) -> StoredMsg | None:
        """`$JS.API.STREAM.MSG.GET`: answered by the leader, coherent with acked writes."""
        return await self._patiently(lambda wait_s: self._leader_get_once(stream, request, wait_s))

    async def _leader_get_once(
        self, stream: str, request: dict[str, Any], wait_s: float
    ) -> StoredMsg | None:
        reply = await self.nc.request(
            f"$JS.API.STREAM.MSG.GET.{stream}", json.dumps(request).encode(), timeout=wait_s
        )
        body = json.loads(reply.data)
        if "error" in body:
            if body["error"].get("code") == 404:
                return None
            raise JetStreamError(body["error"].get("err_code", 0), body["error"]["description"])
        message = body["message"]
        return StoredMsg(
            message["subject"],
            int(message["seq"]),
            base64.b64decode(message.get("data", "")),
            raw_headers=base64.b64decode(message.get("hdrs", "")),
        )

    async def _patiently(self, read: Callable[[float], Awaitable[R]]) -> R:
        """`read(wait_s)`, asked again for up to `READ_PATIENCE` s while nobody answers it.

        In the seconds after a node restarts or is cut off, the stream has no leader, or
        one the client's server does not know yet: a request then times out, finds no
        responders, or is answered "JetStream system temporarily unavailable" (10008). A
        read changes nothing, so asking again is safe; a write is never asked again here
        (the recorders decide, knowing its message ids).

        Waiting for a leader needs a server to ask: once the client has had no server for
        `CUT_OFF_PATIENCE` s (nats-server down, not electing), or the connection is closed,
        the read gives up, so a bridge stopping with its server dead is not held up.
        """
        loop = self._loop
        deadline = loop.time() + READ_PATIENCE
        pause = 0.05
        cut_off_since: float | None = None
        while True:
            wait_s = max(0.5, min(REQUEST_TIMEOUT, deadline - loop.time()))
            try:
                return await read(wait_s)
            except (NatsTimeoutError, TimeoutError, NoRespondersError) as exc:
                problem: Exception = exc
            except JetStreamError as exc:
                if exc.err_code not in (NO_RESPONDERS, UNAVAILABLE):
                    raise
                problem = exc
            if self.nc.is_connected:
                cut_off_since = None
            elif cut_off_since is None:
                cut_off_since = loop.time()
            cut_off = cut_off_since is not None and loop.time() - cut_off_since > CUT_OFF_PATIENCE
            if self._closed or self.nc.is_closed or cut_off or loop.time() + pause > deadline:
                raise problem
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    async def get_batch(
        self, stream: str, subject: str, start_seq: int, batch: int
    ) -> tuple[list[StoredMsg], int]:
        """Up to `batch` messages on `subject` from `start_seq`, and the stream's last seq.

        Answered by any replica (direct get); callers that need read-your-writes compare
        what they get with a sequence they know was written.
        """
        request = {"seq": max(start_seq, 1), "batch": batch, "next_by_subj": subject}
        return await self._direct_batch(stream, request)

    async def get_range(self, stream: str, start_seq: int, count: int) -> list[StoredMsg]:
        """Up to `count` consecutive messages from `start_seq`, whatever their subjects.

        With no subject to match, the server reads them off in order: much cheaper than a
        read on a subject, for which it searches the stream message by message.
        """
        messages, _ = await self._direct_batch(stream, {"seq": max(start_seq, 1), "batch": count})
        return messages

    async def last_of_each(self, stream: str, subjects: Sequence[str]) -> dict[str, StoredMsg]:
        """The last message of each of `subjects` that has one, by subject (direct gets of
        `MULTI_LAST` subjects each; the server keeps every subject's last sequence)."""
        chunks = [subjects[i : i + MULTI_LAST] for i in range(0, len(subjects), MULTI_LAST)]
        pages = await asyncio.gather(
            *(self._direct_batch(stream, {"multi_last": list(chunk)}) for chunk in chunks)
        )
        return {m.subject: m for messages, _ in pages for m in messages}

    async def _direct_batch(
        self, stream: str, request: dict[str, Any]
    ) -> tuple[list[StoredMsg], int]:
        """One direct batch get, asked again while nobody serves them yet (status 503) or
        the replica asked does not answer (`_patiently`).

        On a cluster, the replicas of a stream just created (or just elected) subscribe
        to its direct gets a moment later: until then the request has no responders.
        """
        return await self._patiently(
            lambda wait_s: self._direct_batch_once(stream, request, wait_s)
        )

    async def _direct_batch_once(
        self, stream: str, request: dict[str, Any], wait_s: float
    ) -> tuple[list[StoredMsg], int]:
        token = f"{self._inbox}.{next(self._tokens)}"
        collector = _BatchCollector(self._loop.create_future())
        self._replies[token] = collector
        try:
            await self.nc.publish(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=token
            )
            stream_last = await asyncio.wait_for(collector.done, wait_s)
            return collector.messages, stream_last
        finally:
            del self._replies[token]

    # -- writes ----------------------------------------------------------------------------

    async def publish_atomic(self, messages: Sequence[OutMsg]) -> int:
        """Store `messages` all or nothing; returns the sequence of the last one.

        A single message is a plain JetStream publish. Raises `JetStreamError` with the
        server's code when the batch is refused (10071 and 10164: a stale expectation).
        """
        if len(messages) == 1:
            only = messages[0]
            reply = await self.nc.request(
                only.subject, only.data, headers=only.headers, timeout=REQUEST_TIMEOUT
            )
            return pub_ack_seq(reply.data)
        batch_id = uuid.uuid4().hex  # a fresh one per attempt: the server drops failed batches
        # The first message's answer (empty, or why the batch cannot start) is not waited
        # for before the rest are sent: the server takes one connection's messages in order,
        # so a batch refused at its start refuses its commit too, and a round trip a batch
        # is saved. The refusal of the start is the one raised.
        started = _FirstAnswer(self._loop.create_future())
        start_token = f"{self._inbox}.{next(self._tokens)}"
        self._replies[start_token] = started
        try:
            last = len(messages)
            for number, message in enumerate(messages, start=1):
                headers = dict(message.headers)
                headers["Nats-Batch-Id"] = batch_id
                headers["Nats-Batch-Sequence"] = str(number)
                if number == 1:
                    await self.nc.publish(
                        message.subject, message.data, reply=start_token, headers=headers
                    )
                elif number < last:
                    await self.nc.publish(message.subject, message.data, headers=headers)
                else:
                    headers["Nats-Batch-Commit"] = "1"
                    reply = await self.nc.request(
                        message.subject, message.data, headers=headers, timeout=REQUEST_TIMEOUT
                    )
            start = await asyncio.wait_for(started.done, REQUEST_TIMEOUT)
        finally:
            del self._replies[start_token]
        if start:
            pub_ack_seq(start)  # raises the server's refusal
        return pub_ack_seq(reply.data)


def pub_ack_seq(data: bytes) -> int:
    """The stored sequence from a PubAck (for a duplicate, the original's sequence)."""
    body = json.loads(data)
    error = body.get("error")
    if error:
        raise JetStreamError(int(error.get("err_code", 0)), str(error.get("description", "")))
    return int(body["seq"])


def header_value(raw: bytes, name: str) -> str | None:
    """The value of header `name` in a header block (of its last line, as in the dict
    `parse_header_lines` makes), or None: one header found without reading the others."""
    key = b"\r\n" + name.encode() + b":"
    at = raw.rfind(key)
    if at < 0:
        return None
    start = at + len(key)
    end = raw.find(b"\r\n", start)
    return raw[start : end if end >= 0 else len(raw)].strip().decode("utf-8", "replace")


def message_headers(raw: bytes | None) -> dict[str, str]:
    """A `NATS/1.0` header block -> dict, an inline status as `Status` and `Description`
    (as nats-py gives them)."""
    if not raw:
        return {}
    first, _, lines = raw.partition(b"\r\n")
    headers = parse_header_lines(lines)
    code, _, description = first[len(b"NATS/1.0") :].strip().partition(b" ")
    if code.isdigit():
        headers["Status"] = code.decode()
        if description:
            headers["Description"] = description.decode("utf-8", "replace")
    return headers


__all__ = [
    "BadRequestError",
    "JetStreamConnection",
    "JetStreamError",
    "OutMsg",
    "StoredMsg",
]
