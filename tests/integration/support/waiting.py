"""Waiting on processes a test started (`livebridge run`, nats-servers): the seconds it took."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(condition: Callable[[], bool], within: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"{what} not within {within} s"
        time.sleep(0.1)
    return time.monotonic() - started
