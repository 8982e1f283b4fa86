"""glibc's arenas are limited before the bridge's threads start, and its heap is trimmed:
each checked in a fresh interpreter, since the arena limit holds for a whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from services.bridge import malloc


def printed(script: str, env: dict[str, str], *argv: str) -> list[str]:
    """The words `script` printed, run with `argv` in a fresh interpreter with only `env`."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


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
    return printed(THREADED_HEAP, env)


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


LARGE_BUFFERS = """
import ctypes, os, sys
from services.bridge import heapwatch, malloc

libc = malloc.glibc()
fixed = malloc.map_large_chunks(os.environ, libc) if sys.argv[1] == "fix" else None
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 7 * 2**20  # a settle checkpoint's size
libc.free(libc.malloc(size))
second = libc.malloc(size)
mapped_kb = heapwatch.sample(libc)["malloc_mmapped_kb"]
libc.free(second)
print(fixed, mapped_kb >= size // 1024)
"""


def run_large_buffers(fix: bool, env: dict[str, str] | None = None) -> list[str]:
    return printed(
        LARGE_BUFFERS, {"PATH": "/usr/bin:/bin", **(env or {})}, "fix" if fix else "leave"
    )


def test_a_large_buffer_freed_once_does_not_move_the_next_into_the_heap() -> None:
    """Fixed, the threshold maps every such buffer and unmaps it when freed."""
    fixed, mapped = run_large_buffers(fix=True)
    assert fixed == str(malloc.MMAP_THRESHOLD)
    assert mapped == "True"


def test_with_glibc_s_own_threshold_the_second_buffer_comes_from_the_heap() -> None:
    """The control: glibc raised its threshold to the freed buffer's size, and served the
    next one from the heap, where it stays resident after `free` until a trim."""
    fixed, mapped = run_large_buffers(fix=False)
    assert (fixed, mapped) == ("None", "False")


def test_an_operator_s_malloc_mmap_threshold_is_left_to_glibc() -> None:
    fixed, mapped = run_large_buffers(fix=True, env={"MALLOC_MMAP_THRESHOLD_": "65536"})
    assert (fixed, mapped) == ("None", "True")
