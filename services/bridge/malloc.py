"""glibc's allocator, kept from growing in a bridge that runs for months (issue 17).

CPython takes objects over 512 bytes, and the C extensions all they use (msgspec's and
nats-py's buffers, psycopg's results), from `malloc`. glibc gives threads that contend
for the heap arenas of their own, up to eight per core, and a chunk freed in one arena is
reused only by the threads on that arena: the bridge runs some 115 threads (the edge's
ledger workers, each view's pools, the followers), and with an arena each its free chunks
pile up between live ones. Its RSS climbed after every Python-level bound was reached,
while `mallinfo2` counted as much free memory inside the arenas as in use.

Three measures, all skipped where the C library is not glibc:

- `limit_arenas()`: `mallopt(M_ARENA_MAX, ARENAS)` as `livebridge run` starts, before the
  bridge starts its threads (an arena is created on contention, so the limit holds for
  every thread started after it). It is what `MALLOC_ARENA_MAX=2` in the environment does,
  without a launcher that has to set it: when the variable is set, glibc already read
  it and this leaves it alone.
- `map_large_chunks()`: `mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)` as `run` starts, so
  that a large buffer goes back to the system when freed rather than into the heap
  (what `MALLOC_MMAP_THRESHOLD_` in the environment does; when set, it is left alone).
- `trim()`: `malloc_trim(0)` gives the whole free pages inside every arena back to the
  system; `trim_ctx` runs it every `TRIM_EVERY_S` seconds in a worker thread.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import platform
import time
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from services.bridge.background import beside_app

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("livebridge.malloc")

ARENAS = 2
"""Arenas with the bridge's default: two threads can allocate at once, and the heap of a
long run stays flat (see the README's "Memory" for the figures with and without)."""
TRIM_EVERY_S = 60.0
M_ARENA_MAX = -8
"""`mallopt`'s parameter number for the arena limit (glibc `malloc.h`)."""
MMAP_THRESHOLD = 128 * 1024
"""Chunks this size or larger are mapped on their own and unmapped when freed. glibc
starts there but raises the threshold to the size of each mapped chunk freed (up to
32 MiB), and its trim threshold to twice that: after the settle publisher's checkpoint
(6.8 MB every minute, encoded twice) had been freed once, the next ones came from the
heap and stayed resident until the next `trim()` (the bridge's 20-30 MB sawtooth).
Fixed, a large buffer costs a `mmap` and a `munmap` and its pages' first touch."""
M_MMAP_THRESHOLD = -3


def glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc (it has `malloc_trim`), else None."""
    if platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(environ: Mapping[str, str], libc: ctypes.CDLL | None = None) -> int | None:
    """Limit glibc to `ARENAS` arenas unless `MALLOC_ARENA_MAX` is set; the limit set, or
    None when it was left to the environment or the C library is not glibc."""
    return _mallopt(
        environ.get("MALLOC_ARENA_MAX"),
        libc,
        M_ARENA_MAX,
        ARENAS,
        "mallopt(M_ARENA_MAX, %d) refused; glibc keeps its arenas",
    )


def map_large_chunks(environ: Mapping[str, str], libc: ctypes.CDLL | None = None) -> int | None:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD` unless `MALLOC_MMAP_THRESHOLD_` is
    set; the threshold set, or None when it was left to the environment or to a C library
    that is not glibc."""
    return _mallopt(
        environ.get("MALLOC_MMAP_THRESHOLD_"),
        libc,
        M_MMAP_THRESHOLD,
        MMAP_THRESHOLD,
        "mallopt(M_MMAP_THRESHOLD, %d) refused",
    )


def _mallopt(
    from_environment: str | None,
    libc: ctypes.CDLL | None,
    parameter: int,
    value: int,
    refused: str,
) -> int | None:
    """`mallopt(parameter, value)` unless the environment set it (`from_environment`, which
    glibc read as it started); `value`, or None when left alone, not glibc, or refused (then
    logged as `refused`)."""
    if from_environment:
        return None
    libc = libc or glibc()
    if libc is None:
        return None
    if not libc.mallopt(parameter, value):
        log.warning(refused, value)
        return None
    return value


def trim(libc: ctypes.CDLL) -> float:
    """Give the free pages of every arena back to the system; the CPU milliseconds it took
    (the calling thread's: other threads wait for an arena's lock meanwhile)."""
    started = time.thread_time()
    libc.malloc_trim(0)
    return (time.thread_time() - started) * 1000


def trim_ctx(
    every_s: float = TRIM_EVERY_S, libc: Callable[[], ctypes.CDLL | None] = glibc
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` that trims the heap every `every_s` seconds while the app runs."""

    def start() -> Coroutine[Any, Any, None] | None:
        found = libc()
        return None if found is None else _trimming(found, every_s)

    return beside_app(start, "malloc-trim")


async def _trimming(libc: ctypes.CDLL, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        cpu_ms = await asyncio.to_thread(trim, libc)
        log.debug("malloc_trim(0): %.1f ms of CPU", cpu_ms)
