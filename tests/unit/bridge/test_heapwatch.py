"""The heap watch tells what holds the bridge's memory and what grew between two
snapshots: the tool that found (or ruled out) each suspect of issue 17."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import services
from services.bridge import heapwatch
from services.bridge.malloc import glibc


def test_the_kinds_of_resident_memory_add_up_to_the_rss() -> None:
    release = threading.Event()
    waiting = [threading.Thread(target=release.wait) for _ in range(3)]
    for thread in waiting:
        thread.start()
    try:
        kinds = heapwatch.resident_by_kind()
        total = heapwatch.rss_kb()
    finally:
        release.set()
        for thread in waiting:
            thread.join()
    assert kinds["stacks_kb"] > 0
    assert set(kinds) == set(heapwatch.KIND_COLUMNS)
    assert 0.9 * total <= sum(kinds.values()) <= 1.1 * total


def test_without_frames_the_watch_samples_but_does_not_trace(tmp_path: Path) -> None:
    """Tracing is opt-in (it slows every call); the cheap sample is always written."""
    assert not heapwatch.start({"LIVEBRIDGE_HEAP_WATCH_DIR": str(tmp_path)})
    row = heapwatch.dump(tmp_path, 0, glibc(), census=True)
    header, line = (tmp_path / "heap.tsv").read_text().splitlines()
    assert header.split("\t") == ["n", *heapwatch.COLUMNS]
    assert int(line.split("\t")[2]) == row["rss_kb"] > 0
    assert row["malloc_in_use_kb"] > 0
    assert not list(tmp_path.glob("heap-*.snap"))
    assert "function" in (tmp_path / "census-0.tsv").read_text()
    assert (tmp_path / "containers-0.tsv").exists()


class _Holder:
    def __init__(self) -> None:
        self.untracked = {f"id-{n}": f"value-{n}" for n in range(2000)}
        self.small = set(range(10))


def test_the_containers_name_their_holder_even_when_the_collector_does_not_track_them() -> None:
    """A dict of strings is invisible to the census (`gc.get_objects` skips it); the
    container census finds it through what holds it, by its attribute's name."""
    holder = _Holder()
    holder.untracked["one-more"] = "x"
    found = {owner: (size, kind) for size, kind, owner in heapwatch.containers(least=1000)}
    assert found["_Holder.untracked"] == (2001, "dict")
    assert not any(owner.endswith(".small") for owner in found)
    del holder


GROWING = """
import sys
from pathlib import Path
from services.bridge import heapwatch

where = Path(sys.argv[1])
watched = {"LIVEBRIDGE_HEAP_WATCH_DIR": str(where), "LIVEBRIDGE_HEAP_WATCH_FRAMES": "4"}
assert heapwatch.start(watched)
kept = []

def remember_forever() -> None:
    kept.extend(bytearray(1000) for _ in range(5000))

heapwatch.dump(where, 0, None)
remember_forever()
heapwatch.dump(where, 1, None)
print("\\n".join(heapwatch.grown(where, 0, 1, top=1)))
"""


def test_the_traceback_that_grew_most_comes_first(tmp_path: Path) -> None:
    """Run in a process of its own: tracemalloc traces a whole interpreter."""
    script = tmp_path / "grower.py"
    script.write_text(GROWING)
    found = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(Path(services.__file__).parent.parent)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first, *trace = found.splitlines()
    grew_kb = float(first.split()[0])
    assert 5000 <= grew_kb <= 6000
    assert any("kept.extend(bytearray(1000)" in line for line in trace)


LATE = """
import asyncio
import sys
import tracemalloc
from pathlib import Path
from services.bridge import heapwatch

where = Path(sys.argv[1])
watched = {
    "LIVEBRIDGE_HEAP_WATCH_DIR": str(where),
    "LIVEBRIDGE_HEAP_WATCH_FRAMES": "2",
    "LIVEBRIDGE_HEAP_WATCH_TRACE_FROM": "2",
    "LIVEBRIDGE_HEAP_WATCH_EVERY_S": "0.01",
}
assert not heapwatch.start(watched)
assert not tracemalloc.is_tracing()

async def main() -> None:
    task = asyncio.create_task(heapwatch._dumping(where, 0.01, False, (2, 2)))
    while not (where / "heap-3.snap").exists():
        await asyncio.sleep(0.01)
    task.cancel()

asyncio.run(main())
"""


def test_tracing_can_start_after_the_warm_up(tmp_path: Path) -> None:
    """`..._TRACE_FROM=k`: no tracing (and no slower start) before snapshot `k`."""
    script = tmp_path / "late.py"
    script.write_text(LATE)
    subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(Path(services.__file__).parent.parent)},
        check=True,
        timeout=60,
    )
    assert sorted(p.name for p in tmp_path.glob("heap-*.snap"))[:2] == [
        "heap-2.snap",
        "heap-3.snap",
    ]
    assert len((tmp_path / "heap.tsv").read_text().splitlines()) >= 5  # header, snapshots 0-3
