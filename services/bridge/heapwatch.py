"""Where the bridge's memory goes, for finding what grows in a long run (issue 17).

Off unless `LIVEBRIDGE_HEAP_WATCH_DIR` names a directory. Then every
`LIVEBRIDGE_HEAP_WATCH_EVERY_S` seconds (default 60) `watch_ctx` appends a line to
`<dir>/heap.tsv`, each layer's view of the process's memory: the RSS by what holds it
(glibc's heaps, thread stacks, other anonymous memory, which is mostly pymalloc's arenas,
and files: `/proc/self/smaps`), glibc's heap (`mallinfo2`: in use, free inside the heaps,
mapped chunks), pymalloc's arenas and the blocks in use and free in them, and the threads.
Python objects that pile up show in pymalloc's used bytes; RSS that grows while those and
glibc's in-use bytes stay flat is the allocators keeping free memory.

Cheap enough for a loaded bridge (a few ms a sample). Two costlier options:
`LIVEBRIDGE_HEAP_WATCH_CENSUS=1` writes `<dir>/census-<n>.tsv`, every gc-tracked type by
number, and `<dir>/containers-<n>.tsv`, every container of 500 entries or more by its
holder, tracked or not (`containers`; together 1-2 s of held GIL);
`LIVEBRIDGE_HEAP_WATCH_FRAMES=<n>` turns tracemalloc on as `livebridge run` starts (or,
with `LIVEBRIDGE_HEAP_WATCH_TRACE_FROM=<k>`, at snapshot `k`: after the warm-up, so that
only what is allocated after it is traced and the start is not slowed) and dumps a
snapshot to `<dir>/heap-<n>.snap`, and `python -m services.bridge.heapwatch DIR A B [N]`
prints the `N` tracebacks (default 25) whose memory grew most from snapshot `A` to `B`.
Tracing from the start made the bridge too slow to answer 160 simulated players within
their timeouts at load 10: start it late, or run fewer.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import inspect
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections import OrderedDict
from collections import deque
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from typing import Any

from services.bridge.background import beside_app
from services.bridge.config import seconds
from services.bridge.malloc import glibc

if TYPE_CHECKING:
    from aiohttp import web

MIB = 2**20

KIND_COLUMNS = ("heap_kb", "arenas_kb", "stacks_kb", "anon_kb", "files_kb")
COLUMNS = (
    "unix_s",
    "rss_kb",
    *KIND_COLUMNS,
    "traced_kb",
    "traced_peak_kb",
    "malloc_in_use_kb",
    "malloc_free_kb",
    "malloc_mmapped_kb",
    "py_blocks",
    "pymalloc_arenas_kb",
    "pymalloc_used_kb",
    "pymalloc_free_kb",
    "threads",
)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def directory(environ: Mapping[str, str]) -> Path | None:
    raw = environ.get("LIVEBRIDGE_HEAP_WATCH_DIR", "")
    return Path(raw) if raw else None


def census_on(environ: Mapping[str, str]) -> bool:
    """Whether the watch writes a census of what the collector tracks."""
    return directory(environ) is not None and environ.get("LIVEBRIDGE_HEAP_WATCH_CENSUS") == "1"


def check(environ: Mapping[str, str]) -> None:
    """With the watch on, each of its settings is usable; a ValueError names the one that
    is not (checked before `livebridge run` starts anything)."""
    if directory(environ) is not None:
        _frames(environ)
        _trace_from(environ)
        _every_s(environ)


def _frames(environ: Mapping[str, str]) -> int:
    return _count(environ, "LIVEBRIDGE_HEAP_WATCH_FRAMES")


def _trace_from(environ: Mapping[str, str]) -> int:
    return _count(environ, "LIVEBRIDGE_HEAP_WATCH_TRACE_FROM")


def _count(environ: Mapping[str, str], name: str) -> int:
    raw = environ.get(name, "").strip() or "0"
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"{name}={raw!r}: give a whole number, 0 or more")
    return int(raw)


def _every_s(environ: Mapping[str, str]) -> float:
    return seconds(environ, "LIVEBRIDGE_HEAP_WATCH_EVERY_S", 60)


def start(environ: Mapping[str, str]) -> bool:
    """Turn tracemalloc on as the process starts when the watch asks for frames from its
    first snapshot; whether it did."""
    frames = _frames(environ)
    if directory(environ) is None or frames <= 0 or _trace_from(environ) > 0:
        return False
    tracemalloc.start(frames)
    return True


def _kind(start: int, end: int, name: str, after_guard: bool) -> str:
    """What a mapping of `/proc/self/smaps` holds, from its name and size: glibc gives a
    thread's stack 8 MiB above a guard page of its own mapping, and an arena's heap
    up to 64 MiB aligned to it; the rest of the anonymous memory is pymalloc's arenas
    (1 MiB each, merged by the kernel when adjacent) and `malloc`'s large chunks."""
    size = end - start
    if name == "[heap]":
        return "heap_kb"
    if name.startswith("/"):
        return "files_kb"
    if name:
        return "anon_kb"
    if after_guard and size == 8 * MIB:
        return "stacks_kb"
    if start % (64 * MIB) == 0 and size <= 64 * MIB:
        return "arenas_kb"
    return "anon_kb"


def resident_by_kind() -> dict[str, int]:
    """The RSS in KB by what holds it (see `_kind`)."""
    found = dict.fromkeys(KIND_COLUMNS, 0)
    kind = "anon_kb"
    guard_end = -1
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split(maxsplit=5)
            if "-" in head[0] and len(head) >= 5:
                low, high = (int(part, 16) for part in head[0].split("-"))
                name = head[5].strip() if len(head) > 5 else ""
                kind = _kind(low, high, name, after_guard=low == guard_end)
                guard_end = high if head[1] == "---p" and high - low == 4096 else -1
            elif head[0] == "Rss:":
                found[kind] += int(head[1])
    return found


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pymalloc_kb(libc: ctypes.CDLL | None) -> dict[str, int]:
    """CPython's small-object allocator: its arenas (1 MiB each, given back only when every
    block in one is free), the bytes of the blocks in use and of the free ones in them,
    from `_PyObject_DebugMallocStats`' report."""
    found = {"pymalloc_arenas_kb": 0, "pymalloc_used_kb": 0, "pymalloc_free_kb": 0}
    report = getattr(ctypes.pythonapi, "_PyObject_DebugMallocStats", None)
    if libc is None or report is None:
        return found
    libc.fopen.restype = ctypes.c_void_p
    libc.fclose.argtypes = [ctypes.c_void_p]
    report.argtypes = [ctypes.c_void_p]
    with tempfile.NamedTemporaryFile("r") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        report(stream)
        libc.fclose(stream)
        lines = out.read().splitlines()
    names = {
        "# arenas allocated current": ("pymalloc_arenas_kb", 1024),
        "# bytes in allocated blocks": ("pymalloc_used_kb", 1 / 1024),
        "# bytes in available blocks": ("pymalloc_free_kb", 1 / 1024),
    }
    for line in lines:
        name, _, value = line.partition("=")
        if name.strip() in names:
            column, scale = names[name.strip()]
            found[column] = int(int(value.strip().replace(",", "")) * scale)
    return found


def sample(libc: ctypes.CDLL | None) -> dict[str, int]:
    """One line of `heap.tsv`: the process's memory as each layer sees it."""
    traced, peak = tracemalloc.get_traced_memory()
    row = {
        "unix_s": int(time.time()),
        "rss_kb": rss_kb(),
        **resident_by_kind(),
        "traced_kb": traced // 1024,
        "traced_peak_kb": peak // 1024,
        "malloc_in_use_kb": 0,
        "malloc_free_kb": 0,
        "malloc_mmapped_kb": 0,
        "py_blocks": sys.getallocatedblocks(),
        **pymalloc_kb(libc),
        "threads": threading.active_count(),
    }
    if libc is not None and hasattr(libc, "mallinfo2"):
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
        row["malloc_in_use_kb"] = info.uordblks // 1024
        row["malloc_free_kb"] = info.fordblks // 1024
        row["malloc_mmapped_kb"] = info.hblkhd // 1024
    return row


CONTAINERS = (dict, set, frozenset, list, deque, OrderedDict)
MIN_CONTAINER = 500


def containers(least: int = MIN_CONTAINER) -> list[tuple[int, str, str]]:
    """(entries, type, holder) of every container of `least` entries or more that a
    gc-tracked object holds, most entries first: a cache or a map that keeps growing shows
    here as the same holder with more entries, including the dicts of strings and sets of
    ids that the collector does not track (and `census` does not count). The holder is
    the holding object's type and the attribute or key that names the container."""
    found: dict[int, tuple[int, str, str]] = {}
    for holder in gc.get_objects():
        if isinstance(holder, (type, ModuleType)) or inspect.isframe(holder):
            continue
        for held in gc.get_referents(holder):
            if id(held) in found or not isinstance(held, CONTAINERS) or len(held) < least:
                continue
            found[id(held)] = (len(held), type(held).__qualname__, _named(holder, held))
    return sorted(found.values(), reverse=True)


def _named(holder: object, held: object) -> str:
    """`Type.attribute` (or `Type[key]`) naming `held` inside `holder`."""
    kind = type(holder).__qualname__
    attributes = getattr(holder, "__dict__", None)
    places = [attributes] if isinstance(attributes, dict) else []
    if isinstance(holder, dict):
        places.append(holder)
    for place in places:
        for key, value in place.items():
            if value is held:
                return f"{kind}.{key}" if place is attributes else f"{kind}[{key!r:.60}]"
    for slot in getattr(type(holder), "__slots__", ()):
        if getattr(holder, slot, None) is held:
            return f"{kind}.{slot}"
    return kind


def dump(
    where: Path, number: int, libc: ctypes.CDLL | None, census: bool = False
) -> dict[str, int]:
    """Write snapshot `number` and its line of `heap.tsv`; the line."""
    where.mkdir(parents=True, exist_ok=True)
    tsv = where / "heap.tsv"
    if not tsv.exists():
        tsv.write_text("n\t" + "\t".join(COLUMNS) + "\n")
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        snapshot.dump(str(where / f"heap-{number}.snap"))
    if census:
        counts = Counter(type(found).__qualname__ for found in gc.get_objects())
        lines = (f"{count}\t{name}\n" for name, count in counts.most_common())
        (where / f"census-{number}.tsv").write_text("".join(lines))
        held = (f"{size}\t{kind}\t{owner}\n" for size, kind, owner in containers())
        (where / f"containers-{number}.tsv").write_text("".join(held))
    row = sample(libc)
    with open(tsv, "a") as out:
        out.write(f"{number}\t" + "\t".join(str(row[c]) for c in COLUMNS) + "\n")
    return row


def watch_ctx(
    environ: Mapping[str, str],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` dumping a snapshot every interval while tracemalloc traces."""

    def start() -> Coroutine[Any, Any, None] | None:
        where = directory(environ)
        if where is None:
            return None
        trace = (_frames(environ), _trace_from(environ))
        return _dumping(where, _every_s(environ), census_on(environ), trace)

    return beside_app(start, "heap-watch")


async def _dumping(
    where: Path, every_s: float, census: bool, trace: tuple[int, int] = (0, 0)
) -> None:
    libc = glibc()
    frames, trace_from = trace
    number = 0
    while True:
        if frames > 0 and number == trace_from and not tracemalloc.is_tracing():
            tracemalloc.start(frames)
        await asyncio.to_thread(dump, where, number, libc, census)
        number += 1
        await asyncio.sleep(every_s)


def grown(where: Path, first: int, last: int, top: int = 25) -> list[str]:
    """The `top` tracebacks whose memory grew most from snapshot `first` to `last`."""
    before = tracemalloc.Snapshot.load(str(where / f"heap-{first}.snap"))
    after = tracemalloc.Snapshot.load(str(where / f"heap-{last}.snap"))
    lines = []
    for stat in after.compare_to(before, "traceback")[:top]:
        lines.append(
            f"{stat.size_diff / 1024:+10.1f} KB {stat.count_diff:+8d} blocks "
            f"(now {stat.size / 1024:.1f} KB in {stat.count})"
        )
        lines.extend(f"    {line}" for line in stat.traceback.format(most_recent_first=True))
    return lines


def main(argv: list[str]) -> None:
    where, first, last = Path(argv[0]), int(argv[1]), int(argv[2])
    top = int(argv[3]) if len(argv) > 3 else 25
    print("\n".join(grown(where, first, last, top)))


if __name__ == "__main__":
    main(sys.argv[1:])
