"""What the ledger relies on beyond the library's suites: conflicts, atomicity, crash safety."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from nats.errors import ConnectionClosedError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import StorageType
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from services.eventstore.connection import READ_PATIENCE
from services.eventstore.connection import JetStreamConnection
from services.eventstore.connection import JetStreamError
from services.eventstore.connection import OutMsg
from services.eventstore.recorders import JetStreamApplicationRecorder
from services.infra.natsserver import NatsServer
from tests.integration.eventstore.support.stored import event

BATCHING_NOT_ENABLED = 10174


@pytest.fixture
def connection(nats_url: str) -> Iterator[JetStreamConnection]:
    conn = JetStreamConnection(nats_url, name="guarantees")
    yield conn
    conn.close()


def fresh_stream() -> str:
    return "G" + uuid.uuid4().hex[:16].upper()


def write_next_version(url: str, stream: str, originator: str, loaded: Any, results: Any) -> None:
    """Child process: load the aggregate's head, wait for the other child, append the next."""
    conn = JetStreamConnection(url, name="child")
    try:
        recorder = JetStreamApplicationRecorder(conn, stream)
        oid = uuid.UUID(originator)
        head = recorder.select_events(oid, desc=True, limit=1)[0].originator_version
        loaded.wait(30)  # both children hold the same head now
        try:
            recorder.insert_events([event(oid, head + 1)])
            results.put("stored")
        except IntegrityError:
            results.put("conflict")
    finally:
        conn.close()


def test_two_processes_writing_one_aggregate_one_wins_and_the_other_gets_a_conflict(
    nats_url: str, connection: JetStreamConnection
) -> None:
    stream = fresh_stream()
    recorder = JetStreamApplicationRecorder(connection, stream)
    oid = uuid.uuid4()
    recorder.insert_events([event(oid, 1)])

    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    loaded = ctx.Barrier(2)
    children = [
        ctx.Process(target=write_next_version, args=(nats_url, stream, str(oid), loaded, results))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0

    assert sorted([results.get(timeout=5), results.get(timeout=5)]) == ["conflict", "stored"]
    versions = [e.originator_version for e in recorder.select_events(oid)]
    assert versions == [1, 2]


def test_a_batch_across_two_aggregates_with_one_stale_expectation_stores_nothing(
    connection: JetStreamConnection,
) -> None:
    stream = fresh_stream()
    mine = JetStreamApplicationRecorder(connection, stream)
    other_writer = JetStreamApplicationRecorder(connection, stream)
    wallet, bet = uuid.uuid4(), uuid.uuid4()
    mine.insert_events([event(wallet, 1), event(bet, 1)])
    before = mine.max_notification_id()

    # Another writer moves the wallet on; `mine` still believes version 1 is its head.
    other_writer.insert_events([event(wallet, 2, "other")])
    with pytest.raises(IntegrityError):
        mine.insert_events([event(bet, 2), event(wallet, 2), event(bet, 3)])

    assert [e.topic for e in mine.select_events(wallet)] == ["t", "other"]
    assert [e.originator_version for e in mine.select_events(bet)] == [1]
    assert mine.max_notification_id() == (before or 0) + 1


def test_a_batch_refused_at_its_start_raises_that_refusal_and_stores_nothing(
    connection: JetStreamConnection,
) -> None:
    """The rest of a batch goes out before its first message is answered: a refusal of
    the start (here: a stream without atomic batches) is still the one raised."""
    stream = fresh_stream()
    config = StreamConfig(name=stream, subjects=[f"{stream}.>"], storage=StorageType.FILE)
    connection.call(connection.ensure_stream(config))
    messages = [OutMsg(f"{stream}.a{n}", b"x", {}) for n in range(3)]
    with pytest.raises(JetStreamError) as refused:
        connection.call(connection.publish_atomic(messages))
    assert refused.value.err_code == BATCHING_NOT_ENABLED
    assert connection.call(connection.stream_info(stream)).state.messages == 0


def test_duplicate_versions_in_one_write_are_refused_before_anything_is_sent(
    connection: JetStreamConnection,
) -> None:
    recorder = JetStreamApplicationRecorder(connection, fresh_stream())
    oid = uuid.uuid4()
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(oid, 1), event(oid, 1)])
    assert recorder.max_notification_id() is None


def test_kill_9_during_a_write_loop_loses_no_acknowledged_write_and_leaves_no_partial_batch(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = NatsServer(tmp_path_factory.mktemp("crash")).start()
    conn = JetStreamConnection(server.url, name="crash")
    try:
        recorder = JetStreamApplicationRecorder(conn, "CRASH")
        acknowledged: list[uuid.UUID] = []
        failed: list[BaseException] = []
        stop = threading.Event()

        def write_loop() -> None:
            while not stop.is_set():
                oid = uuid.uuid4()
                try:
                    ids = recorder.insert_events([event(oid, 1), event(oid, 2), event(oid, 3)])
                except Exception as error:  # a write may fail only if the server stays down
                    failed.append(error)
                    continue
                assert ids is not None and len(ids) == 3
                acknowledged.append(oid)

        writer = threading.Thread(target=write_loop)
        writer.start()
        time.sleep(1.0)
        server.kill()  # kill -9 while writes are in flight
        time.sleep(0.5)
        server.start()
        time.sleep(1.5)
        stop.set()
        writer.join(90)

        assert len(acknowledged) > 10
        assert not failed, failed[:3]
        for oid in acknowledged:
            assert [e.originator_version for e in recorder.select_events(oid)] == [1, 2, 3]
        stored = recorder.select_notifications(start=None, limit=1_000_000)
        per_aggregate = Counter(n.originator_id for n in stored)
        assert set(per_aggregate.values()) == {3}, "a batch was stored in part"
        assert [n.id for n in stored] == list(range(1, len(stored) + 1))
    finally:
        conn.close()
        server.close()


class LoseAcks:
    """Fault injection: the first `n` writes reach the server (or not), then time out."""

    def __init__(self, connection: JetStreamConnection, n: int, *, deliver: bool) -> None:
        self.real = connection.publish_atomic
        self.left = n
        self.deliver = deliver

    async def __call__(self, messages: Sequence[OutMsg]) -> int:
        if self.left > 0:
            self.left -= 1
            if self.deliver:
                await self.real(messages)
            raise TimeoutError
        return await self.real(messages)


@pytest.mark.parametrize("deliver", [True, False], ids=["stored-ack-lost", "never-arrived"])
def test_a_write_whose_ack_is_lost_is_stored_exactly_once_and_reported_as_stored(
    connection: JetStreamConnection, monkeypatch: pytest.MonkeyPatch, deliver: bool
) -> None:
    recorder = JetStreamApplicationRecorder(connection, fresh_stream())
    wallet, bet = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([event(wallet, 1)])
    monkeypatch.setattr(connection, "publish_atomic", LoseAcks(connection, 2, deliver=deliver))

    ids = recorder.insert_events([event(wallet, 2), event(bet, 1)])

    assert ids == [2, 3]
    assert [e.originator_version for e in recorder.select_events(wallet)] == [1, 2]
    assert [e.originator_version for e in recorder.select_events(bet)] == [1]
    assert recorder.max_notification_id() == 3


def test_after_a_lost_ack_a_real_conflict_is_still_a_conflict(
    connection: JetStreamConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = JetStreamApplicationRecorder(connection, fresh_stream())
    rival = JetStreamApplicationRecorder(connection, recorder.stream)
    oid = uuid.uuid4()
    recorder.insert_events([event(oid, 1)])
    rival.insert_events([event(oid, 2, "rival")])
    monkeypatch.setattr(connection, "publish_atomic", LoseAcks(connection, 1, deliver=False))

    with pytest.raises(IntegrityError):
        recorder.insert_events([event(oid, 2, "mine")])
    assert [e.topic for e in recorder.select_events(oid)] == ["t", "rival"]


@pytest.fixture
def reads(connection: JetStreamConnection, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many messages each direct get of `connection` brought back, from now on."""
    counted: list[int] = []
    real = connection.get_batch

    async def counting(stream: str, subject: str, start: int, batch: int) -> Any:
        page, last = await real(stream, subject, start, batch)
        counted.append(len(page))
        return page, last

    monkeypatch.setattr(connection, "get_batch", counting)
    return counted


def test_a_load_after_a_snapshot_seeks_its_first_event_instead_of_reading_the_history(
    connection: JetStreamConnection, reads: list[int]
) -> None:
    """Versions after `gt` come back exactly, whether the aggregate's events are spread
    evenly or bunched among others, and without reading the earlier history."""
    recorder = JetStreamApplicationRecorder(connection, fresh_stream())
    whale, crowd = uuid.uuid4(), [uuid.uuid4() for _ in range(5)]
    version = 0
    for round_number in range(40):
        burst = 1 + (round_number * 7) % 13  # uneven: interpolation alone would miss
        recorder.insert_events([event(whale, version + n) for n in range(1, burst + 1)])
        version += burst
        recorder.insert_events([event(c, round_number + 1) for c in crowd])
    for gt in (100, 101, 150, version - 1, version):
        reads.clear()
        fresh = JetStreamApplicationRecorder(connection, recorder.stream)  # nothing cached
        got = [e.originator_version for e in fresh.select_events(whale, gt=gt)]
        assert got == list(range(gt + 1, version + 1))
        assert sum(reads) <= (version - gt) + 20, f"read {sum(reads)} messages for gt={gt}"
    assert [e.originator_version for e in fresh.select_events(whale, gt=120, lte=125)] == [
        121,
        122,
        123,
        124,
        125,
    ]


def test_catching_up_a_cached_aggregate_reads_only_what_came_after_its_head(
    connection: JetStreamConnection, reads: list[int]
) -> None:
    recorder = JetStreamApplicationRecorder(connection, fresh_stream())
    rival = JetStreamApplicationRecorder(connection, recorder.stream)  # another process
    wallet = uuid.uuid4()
    recorder.insert_events([event(wallet, v) for v in range(1, 51)])
    reads.clear()
    assert recorder.select_events(wallet, gt=50) == []
    assert sum(reads) == 0
    rival.insert_events([event(wallet, 51)])
    assert [e.originator_version for e in recorder.select_events(wallet, gt=50)] == [51]
    assert sum(reads) == 1, "only the rival's new event is read"


class LandLate:
    """Fault injection for the lost-ack window: the first attempt's ack is lost while the
    server still holds the write; the retry is refused; the held write lands just after the
    read-back looked for it and found nothing, before the verified rebuild."""

    def __init__(self, connection: JetStreamConnection) -> None:
        self.publish_atomic = connection.publish_atomic
        self.next_by_subject = connection.next_by_subject
        self.held: list[OutMsg] | None = None
        self.attempts = 0

    async def publish(self, messages: Sequence[OutMsg]) -> int:
        self.attempts += 1
        if self.attempts == 1:
            self.held = list(messages)
            raise TimeoutError
        if self.attempts == 2:
            raise JetStreamError(10071, "wrong last sequence")
        return await self.publish_atomic(messages)

    async def read_back(self, stream: str, subject: str, start: int) -> Any:
        found = await self.next_by_subject(stream, subject, start)
        if self.held is not None:
            held, self.held = self.held, None
            await self.publish_atomic(held)
        return found


def test_a_write_landing_after_its_read_back_is_reported_stored_not_a_conflict(
    connection: JetStreamConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = JetStreamApplicationRecorder(connection, fresh_stream())
    wallet, bet = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([event(wallet, 1)])
    late = LandLate(connection)
    monkeypatch.setattr(connection, "publish_atomic", late.publish)
    monkeypatch.setattr(connection, "next_by_subject", late.read_back)

    ids = recorder.insert_events([event(wallet, 2), event(bet, 1)])

    assert late.held is None  # it did land late
    assert ids == [2, 3]
    assert [e.originator_version for e in recorder.select_events(wallet)] == [1, 2]
    assert [e.originator_version for e in recorder.select_events(bet)] == [1]
    assert recorder.max_notification_id() == 3


def test_a_read_is_asked_again_while_no_leader_answers_and_a_real_error_is_not(
    connection: JetStreamConnection,
) -> None:
    """After a leader dies, reads time out, find no responders or get 10008 until the
    cluster has elected another: each is asked again; an error that will not pass is not."""
    answers: list[Exception | int] = [
        NatsTimeoutError(),
        NoRespondersError(),
        JetStreamError(10008, "JetStream system temporarily unavailable"),
        7,
    ]
    asked: list[float] = []

    async def read(wait_s: float) -> int:
        asked.append(wait_s)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert connection.call(connection._patiently(read)) == 7
    assert len(asked) == 4 and all(wait_s > 0 for wait_s in asked)

    refused: list[float] = []

    async def missing(wait_s: float) -> int:
        refused.append(wait_s)
        raise JetStreamError(10059, "stream not found")

    with pytest.raises(JetStreamError, match="10059"):
        connection.call(connection._patiently(missing))
    assert len(refused) == 1, "an error that cannot pass is raised at once"

    started = time.monotonic()
    with pytest.raises(NotFoundError):
        connection.call(connection.stream_info(fresh_stream()))
    assert time.monotonic() - started < READ_PATIENCE / 2, "a missing stream is not waited on"


def test_a_read_whose_connection_is_gone_is_not_asked_again(nats_url: str) -> None:
    """Waiting for a leader needs a server to ask: with the client closed (a bridge
    stopping, its nats-server dead) a failed read is raised at once, not for 25 s."""
    conn = JetStreamConnection(nats_url, name="gone")
    asked: list[float] = []

    async def read(wait_s: float) -> int:
        asked.append(wait_s)
        await conn.nc.close()
        raise NatsTimeoutError()

    try:
        with pytest.raises(NatsTimeoutError):
            conn.call(conn._patiently(read))
        assert len(asked) == 1
    finally:
        conn.close()


def test_a_call_pending_when_its_connection_closes_fails_at_once(
    connection: JetStreamConnection,
) -> None:
    """A thread waiting on a call the closed loop will never finish (a wallet call whose
    reply a restarted server lost, as the bridge stops) is told so at once: before, it
    waited out `CALL_TIMEOUT` and held the bridge's exit for 30 s."""
    outcome: list[BaseException] = []
    started = threading.Event()

    async def unanswered() -> None:
        started.set()
        await asyncio.sleep(3600)

    def caller() -> None:
        try:
            connection.call(unanswered())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(5)
    closed_at = time.monotonic()
    connection.close()
    thread.join(5)
    assert not thread.is_alive(), "the caller still waits on a closed connection"
    assert time.monotonic() - closed_at < 5
    assert [type(e) for e in outcome] == [ConnectionClosedError]


def test_a_write_to_a_socket_the_server_just_closed_is_a_lost_connection(
    connection: JetStreamConnection,
) -> None:
    """uvloop raises a bare RuntimeError for a write to a closed transport (a nats-server
    killed before nats-py noticed); callers are told the connection is lost, as for any
    outage, while any other RuntimeError still reads as the defect it is."""

    async def fails(message: str) -> None:
        raise RuntimeError(message)

    closed = "unable to perform operation on <TCPTransport closed=True>; the handler is closed"
    with pytest.raises(ConnectionClosedError):
        connection.call(fails(closed))
    with pytest.raises(RuntimeError, match="a defect"):
        connection.call(fails("a defect"))
