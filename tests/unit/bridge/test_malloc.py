"""glibc's arenas are limited before the bridge's threads start, and its heap is trimmed:
each checked in a fresh interpreter, since the arena limit holds for a whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from services.bridge import malloc


def test_this_machine_has_glibc_so_the_heap_measures_apply() -> None:
    """The bridge ships on Debian (glibc); elsewhere the measures are skipped at run time."""
    assert malloc.glibc() is not None


THREADED_HEAP = """
import ctypes, os, sys, tempfile, threading
from services.bridge import malloc

limited = malloc.limit_arenas(os.environ)
libc = malloc.glibc()
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
start = threading.Barrier(16)

def churn() -> None:
    start.wait()
    for _ in range(200):
        blocks = [libc.malloc(4096) for _ in range(32)]
        for block in blocks:
            libc.free(block)

threads = [threading.Thread(target=churn) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with tempfile.NamedTemporaryFile("r") as report:
    libc.fopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    stream = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    heaps = report.read().count("<heap nr=")
trimmed_ms = malloc.trim(libc)
print(limited, heaps, trimmed_ms >= 0)
"""


def run_threaded_heap(env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(THREADED_HEAP)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


def test_sixteen_threads_allocating_at_once_share_the_two_arenas_the_bridge_allows() -> None:
    limited, heaps, trimmed = run_threaded_heap({"PATH": "/usr/bin:/bin"})
    assert limited == str(malloc.ARENAS)
    assert 1 <= int(heaps) <= malloc.ARENAS
    assert trimmed == "True"


def test_an_operator_s_malloc_arena_max_is_left_to_glibc() -> None:
    limited, heaps, _ = run_threaded_heap({"PATH": "/usr/bin:/bin", "MALLOC_ARENA_MAX": "4"})
    assert limited == "None"
    assert int(heaps) <= 4


def test_without_a_limit_the_same_threads_spread_over_more_arenas() -> None:
    """The control: the limit above is what keeps the heaps few, not the workload."""
    _, heaps, _ = run_threaded_heap({"PATH": "/usr/bin:/bin", "MALLOC_ARENA_MAX": "16"})
    assert int(heaps) > malloc.ARENAS
