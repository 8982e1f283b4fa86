"""A large ledger log for the read-side figures, and the raw JetStream read rate over it.

The log is made of real ledger events (wallets opened and credited, through the domain
and the application's mapper), appended in atomic batches of 1,000, so projections can
rebuild from it and replays run against a log of realistic size.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import nats
from eventsourcing.persistence import StoredEvent
from nats.aio.msg import Msg

from services.eventstore.connection import MAX_BATCH
from services.ledger.application import Ledger
from services.ledger.domain import Wallet

PER_WALLET = 100


def fill_ledger_log(app: Ledger, events: int) -> float:
    """Append about `events` wallet events to `app`'s log; returns events per second."""
    started = time.perf_counter()
    pending: list[StoredEvent] = []
    for number in range(max(1, -(-events // PER_WALLET))):
        wallet = Wallet(player=f"fill-{number}", currency="EUR")
        for deposit in range(PER_WALLET - 1):
            wallet.deposit(f"trn_fill_{number}_{deposit}", Decimal("1.00"), "cashier:bench")
        pending.extend(app.mapper.to_stored_event(e) for e in wallet.collect_events())
        if len(pending) + PER_WALLET > MAX_BATCH:
            app.recorder.insert_events(pending)
            pending = []
    if pending:
        app.recorder.insert_events(pending)
    return events / (time.perf_counter() - started)


async def raw_read_rate(url: str, stream: str, subjects: str) -> tuple[int, float]:
    """Read the whole stream with batch direct gets from nats-py; (messages, per second).

    Replies are taken by a subscription callback, the cheapest way nats-py offers.
    """
    nc = await nats.connect(url)
    inbox = nc.new_inbox()
    page_done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    state = {"page": 0, "next": 1}

    async def on_reply(msg: Msg) -> None:
        headers = msg.headers or {}
        if "Status" in headers:
            page_done.set_result(state["page"])
        else:
            state["page"] += 1
            state["next"] = int(headers["Nats-Sequence"]) + 1

    await nc.subscribe(inbox, cb=on_reply)
    count = 0
    started = time.perf_counter()
    while True:
        state["page"] = 0
        page_done = asyncio.get_running_loop().create_future()
        request = {"seq": state["next"], "batch": MAX_BATCH, "next_by_subj": subjects}
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox)
        page = await asyncio.wait_for(page_done, 30)
        count += page
        if page < MAX_BATCH:
            break
    elapsed = time.perf_counter() - started
    await nc.close()
    return count, count / elapsed


def measure_raw_read(url: str, stream: str) -> dict[str, float]:
    count, rate = asyncio.run(raw_read_rate(url, stream, f"{stream}.e.*"))
    return {"log_events": float(count), "raw_read_per_s": round(rate, 1)}
