"""Concurrent writes share atomic batches, but each keeps its own outcome."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError

from services.eventstore.connection import JetStreamConnection
from services.eventstore.heads import LastSeen
from services.eventstore.recorders import JetStreamApplicationRecorder
from services.eventstore.writer import SHARE_SINGLES_FROM
from services.eventstore.writer import JetStreamWriter
from tests.integration.eventstore.support.stored import event


@pytest.fixture
def recorder(nats_url: str) -> Iterator[JetStreamApplicationRecorder]:
    connection = JetStreamConnection(nats_url, name="group-commit")
    yield JetStreamApplicationRecorder(connection, "GC" + uuid.uuid4().hex[:12].upper())
    connection.close()


def test_one_stale_write_among_many_concurrent_ones_fails_alone(
    recorder: JetStreamApplicationRecorder,
) -> None:
    wallets = [uuid.uuid4() for _ in range(40)]
    for wallet in wallets:
        recorder.insert_events([event(wallet, 1)])
    stale = wallets[7]
    recorder.insert_events([event(stale, 2, "moved on")])

    outcomes: dict[uuid.UUID, str] = {}
    ids: dict[uuid.UUID, list[int]] = {}
    start = threading.Barrier(len(wallets))

    def place_bet(wallet: uuid.UUID) -> None:
        bet = uuid.uuid4()
        start.wait()
        try:
            # For the stale wallet this writer believes version 1 is the head.
            written = recorder.insert_events([event(bet, 1), event(wallet, 2, "hold")])
        except IntegrityError:
            outcomes[wallet] = "conflict"
        else:
            assert written is not None
            outcomes[wallet] = "stored"
            ids[wallet] = list(written)

    threads = [threading.Thread(target=place_bet, args=(w,)) for w in wallets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert outcomes[stale] == "conflict"
    assert [w for w, o in outcomes.items() if o == "conflict"] == [stale]
    for wallet in wallets:
        if wallet is stale:
            continue
        bet_id, hold_id = ids[wallet]
        assert hold_id == bet_id + 1, "one write's events are contiguous in the log"
        (stored,) = recorder.select_notifications(start=hold_id, limit=1)
        assert stored.originator_id == wallet and stored.topic == "hold"
    assert [e.topic for e in recorder.select_events(stale)] == ["t", "moved on"]
    all_ids = sorted(i for pair in ids.values() for i in pair)
    assert len(all_ids) == len(set(all_ids)) == 2 * (len(wallets) - 1)


def test_two_writes_to_one_aggregate_never_share_a_batch_and_both_land_in_order(
    recorder: JetStreamApplicationRecorder,
) -> None:
    wallet = uuid.uuid4()
    recorder.insert_events([event(wallet, 1)])
    recorder.insert_events([event(uuid.uuid4(), 1), event(wallet, 2)])
    recorder.insert_events([event(uuid.uuid4(), 1), event(wallet, 3)])
    assert [e.originator_version for e in recorder.select_events(wallet)] == [1, 2, 3]


def test_each_write_is_found_whole_from_any_of_its_messages_even_in_a_shared_batch(
    recorder: JetStreamApplicationRecorder,
) -> None:
    connection = recorder.connection
    written: list[list[int]] = []
    start = threading.Barrier(30)

    def place_bet(size: int) -> None:
        start.wait()
        ids = recorder.insert_events([event(uuid.uuid4(), 1) for _ in range(size)])
        assert ids is not None
        written.append(list(ids))

    threads = [threading.Thread(target=place_bet, args=(2 + n % 4,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    alone = recorder.insert_events([event(uuid.uuid4(), 1)])
    assert alone is not None
    written.append(list(alone))

    stream_last = written[-1][-1]
    log = connection.call(connection.get_range(recorder.stream, 1, stream_last))
    batches = {m.headers.get("Nats-Batch-Id") for m in log}
    assert len(batches) < len(written), "some writes shared an atomic batch"
    by_seq = {m.seq: m for m in log}
    for ids in written:
        for seq in (ids[0], ids[-1]):
            whole = recorder.read(recorder.reader.write_containing(by_seq[seq]))
            assert [m.seq for m in whole] == ids


def test_busy_one_message_writes_share_batches_and_a_stale_one_fails_alone(
    recorder: JetStreamApplicationRecorder,
) -> None:
    """Past `SHARE_SINGLES_FROM` one-message writes in flight, they join the group commit."""
    wallets = [uuid.uuid4() for _ in range(4 * SHARE_SINGLES_FROM)]
    for wallet in wallets:
        recorder.insert_events([event(wallet, 1)])
    stale = wallets[5]
    recorder.insert_events([event(stale, 2, "moved on")])
    written: dict[uuid.UUID, int] = {}
    conflicts: list[uuid.UUID] = []
    start = threading.Barrier(len(wallets))

    def deposit(wallet: uuid.UUID) -> None:
        start.wait()
        try:
            ids = recorder.insert_events([event(wallet, 2, "deposit")])
        except IntegrityError:
            conflicts.append(wallet)
        else:
            assert ids is not None
            written[wallet] = ids[0]

    threads = [threading.Thread(target=deposit, args=(w,)) for w in wallets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert conflicts == [stale]
    connection = recorder.connection
    stored = {
        m.seq: m
        for m in connection.call(connection.get_range(recorder.stream, 1, max(written.values())))
    }
    assert len({stored[seq].headers.get("Nats-Batch-Id") for seq in written.values()}) < len(
        written
    ), "some one-message writes shared a batch"
    for wallet, seq in written.items():
        assert [e.topic for e in recorder.select_events(wallet)] == ["t", "deposit"]
        assert recorder.read(recorder.reader.write_containing(stored[seq])) == [stored[seq]]


def test_a_batch_waits_for_the_write_of_a_command_still_under_way(nats_url: str) -> None:
    """A write arriving while another command is composing waits for that command's write
    (up to the writer's gather window), and the two commit in one atomic batch."""
    connection = JetStreamConnection(nats_url, name="gather")
    recorder = JetStreamApplicationRecorder(connection, "GW" + uuid.uuid4().hex[:12].upper())
    recorder.writer = JetStreamWriter(
        connection, recorder.stream, LastSeen(), gather_s=120.0
    )  # long enough that only the composing command's write can release the first one
    try:
        composing = threading.Event()
        first_queued = threading.Event()
        ids: dict[str, list[int]] = {}

        def slow_command() -> None:
            with recorder.composing():
                composing.set()
                first_queued.wait(60)
                written = recorder.insert_events([event(uuid.uuid4(), 1), event(uuid.uuid4(), 1)])
                assert written is not None
                ids["slow"] = list(written)

        def quick_write() -> None:
            written = recorder.insert_events([event(uuid.uuid4(), 1), event(uuid.uuid4(), 1)])
            assert written is not None
            ids["quick"] = list(written)

        slow = threading.Thread(target=slow_command)
        slow.start()
        assert composing.wait(60)
        quick = threading.Thread(target=quick_write)
        quick.start()
        while recorder.writer.queued == 0:  # the quick write waits in the queue
            assert quick.is_alive(), "the quick write went out without waiting"
            time.sleep(0.01)
        first_queued.set()
        slow.join(60)
        quick.join(60)

        assert ids["slow"] == [ids["quick"][-1] + 1, ids["quick"][-1] + 2]
        log = connection.call(connection.get_range(recorder.stream, 1, ids["slow"][-1]))
        assert len({m.headers.get("Nats-Batch-Id") for m in log}) == 1, "one atomic batch"
    finally:
        connection.close()


def test_a_command_that_writes_alone_does_not_wait(recorder: JetStreamApplicationRecorder) -> None:
    """Its own write ends its composing: nothing else is under way, so the batch goes out."""
    recorder.writer = JetStreamWriter(
        recorder.connection, recorder.stream, LastSeen(), gather_s=600
    )
    with recorder.composing():
        written = recorder.insert_events([event(uuid.uuid4(), 1), event(uuid.uuid4(), 1)])
    assert written is not None and len(written) == 2
