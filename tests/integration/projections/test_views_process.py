"""`livebridge run`'s views in a process of their own: they follow the log while the bridge
holds their leases, the process is started again if it dies, and it ends with the app."""

from __future__ import annotations

import asyncio
import ctypes
import os
import platform
import signal
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from projections.catalog import VIEWS
from projections.catalog import view_env
from projections.run import reading_views
from services.bench.memory import children
from services.bridge import viewsproc
from services.bridge.viewsproc import views_process
from services.ledger.application import Ledger


def views_children() -> list[int]:
    """This process's children that are views' processes."""
    return [
        pid
        for pid in children(os.getpid())
        if b"--for-bridge" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def log_env(nats_url: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM_PREFIX": "VP" + uuid.uuid4().hex[:8].upper(),
    }


async def test_the_views_process_follows_the_log_while_the_leases_are_held(
    nats_url: str, database_url: str, schema: str
) -> None:
    log = log_env(nats_url)
    env = {**log, **view_env(database_url, schema=schema)}
    ledger = Ledger(log)
    try:
        ledger.open_wallet("vp-1", "EUR")
        ledger.deposit("vp-1", "EUR", Decimal("10.00"), tx_id="dep-vp-1")
        head = ledger.recorder.max_notification_id()
        held = False
        gates = {name: (lambda: held) for name in VIEWS}
        async with views_process(env, gates):
            (child,) = views_children()
            with reading_views(env, app_name=ledger.name) as views:
                await asyncio.sleep(0.5)  # ten looks at the leases: nothing runs without one
                assert views.balances.wallet("vp-1", ledger.name) is None
                held = True
                await asyncio.to_thread(views.wait, head, 30)
                found = views.balances.wallet("vp-1", ledger.name)
                assert found is not None and found.balances[0].balance == Decimal("10.00")
        assert views_children() == []
        assert child not in children(os.getpid())
    finally:
        ledger.close()


async def test_a_views_process_that_dies_is_started_again_and_catches_up(
    nats_url: str, database_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(viewsproc, "RESTART_PAUSE_S", 0.2)
    log = log_env(nats_url)
    env = {**log, **view_env(database_url, schema=schema)}
    ledger = Ledger(log)
    try:
        ledger.open_wallet("vp-2", "EUR")
        async with views_process(env, {n: lambda: True for n in VIEWS}):
            (first,) = views_children()
            os.kill(first, signal.SIGKILL)
            ledger.deposit("vp-2", "EUR", Decimal("7.00"), tx_id="dep-vp-2")
            with reading_views(env, app_name=ledger.name) as views:
                head = ledger.recorder.max_notification_id()
                await asyncio.to_thread(views.wait, head, 60)
                found = views.balances.wallet("vp-2", ledger.name)
                assert found is not None and found.balances[0].balance == Decimal("7.00")
            (second,) = views_children()
            assert second != first
    finally:
        ledger.close()


TGKILL = {"x86_64": 234, "aarch64": 131}
"""The `tgkill` system call's number: a signal sent to one thread of another process."""


def signal_thread(pid: int, tid: int, sig: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(TGKILL[platform.machine()], pid, tid, sig) != 0:
        raise OSError(ctypes.get_errno(), "tgkill")


async def test_a_sigterm_taken_by_any_thread_of_the_views_process_stops_it(
    nats_url: str, database_url: str, schema: str
) -> None:
    """A SIGTERM sent to the process is taken by any of its threads; the child must stop
    whichever took it (waiting without a timeout, it did not, and was killed 30 s later)."""
    env = {**log_env(nats_url), **view_env(database_url, schema=schema)}
    async with views_process(env, {n: lambda: True for n in VIEWS}):
        (child,) = views_children()
        others = [int(t) for t in os.listdir(f"/proc/{child}/task") if int(t) != child]
        signal_thread(child, others[0], signal.SIGTERM)
        for _ in range(100):  # the watch reaps it within 50 ms of its end
            if child not in children(os.getpid()):
                break
            await asyncio.sleep(0.1)
        assert child not in children(os.getpid()), "the SIGTERM went unanswered"
