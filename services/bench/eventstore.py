"""The foundation's figures: raw JetStream durable publish rate, recorder writes, aggregate loads.

Raw and recorder writes run at the same concurrency against the same server, so their
ratio shows what the persistence module costs on top of JetStream itself.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import nats

from services.eventstore.connection import JetStreamConnection
from services.eventstore.layout import ledger_stream_config
from services.eventstore.recorders import JetStreamApplicationRecorder

CONCURRENCY = 64
PAYLOAD = b'{"amount":"5.00","currency":"EUR","player":"p-000123","round":"R-1"}' * 3


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def raw_publish_rate(url: str, seconds: float) -> float:
    """Durable publishes per second from nats-py, CONCURRENCY publishers, one subject each."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = "RAW" + uuid.uuid4().hex[:8].upper()
    await js.add_stream(ledger_stream_config(stream, [f"{stream}.e.*"]))
    count = 0
    deadline = time.perf_counter() + seconds

    async def publisher(number: int) -> None:
        nonlocal count
        subject = f"{stream}.e.p{number}"
        while time.perf_counter() < deadline:
            await js.publish(subject, PAYLOAD)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(publisher(n) for n in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    await nc.close()
    return count / elapsed


def recorder_write_rate(recorder: JetStreamApplicationRecorder, seconds: float) -> float:
    """insert_events of one event on a new aggregate, from CONCURRENCY threads."""
    from eventsourcing.persistence import StoredEvent

    deadline = time.perf_counter() + seconds
    counts = [0] * CONCURRENCY

    def writer(number: int) -> None:
        while time.perf_counter() < deadline:
            event = StoredEvent(uuid.uuid4(), 1, "bench.Placed", PAYLOAD)
            recorder.insert_events([event])
            counts[number] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(writer, range(CONCURRENCY)))
    return sum(counts) / (time.perf_counter() - started)


def load_latencies(recorder: JetStreamApplicationRecorder, loads: int) -> list[float]:
    from eventsourcing.persistence import StoredEvent

    oid = uuid.uuid4()
    events = [StoredEvent(oid, v, "bench.Placed", PAYLOAD) for v in range(1, 101)]
    recorder.insert_events(events)
    fresh = JetStreamApplicationRecorder(recorder.connection, recorder.stream)  # no cache
    samples = []
    for _ in range(loads):
        started = time.perf_counter()
        assert len(fresh.select_events(oid)) == 100
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(url: str, seconds: float = 6.0, rounds: int = 3, loads: int = 300) -> dict[str, float]:
    """Raw and recorder rates alternate in `rounds` rounds; each figure is the median.

    Alternating keeps a busy disk from favouring one side: both see the same machine.
    The load latencies are those of `loads` aggregate loads.
    """
    raws: list[float] = []
    writes: list[float] = []
    connection = JetStreamConnection(url, name="bench")
    try:
        recorder = JetStreamApplicationRecorder(connection, "BENCH" + uuid.uuid4().hex[:8])
        for _ in range(rounds):
            raws.append(asyncio.run(raw_publish_rate(url, seconds / rounds)))
            writes.append(recorder_write_rate(recorder, seconds / rounds))
        latencies = load_latencies(recorder, loads)
    finally:
        connection.close()
    raw, written = statistics.median(raws), statistics.median(writes)
    return {
        "raw_publish_per_s": round(raw, 1),
        "recorder_write_per_s": round(written, 1),
        "recorder_write_ratio": round(written / raw, 3),
        "load_100_p50_ms": round(statistics.median(latencies), 3),
        "load_100_p99_ms": round(percentile(latencies, 0.99), 3),
    }
