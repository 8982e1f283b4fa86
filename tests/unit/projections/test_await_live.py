"""A rebuild waits for a live view that is moving, and not for one nothing has moved."""

from __future__ import annotations

import time
from typing import Any
from typing import cast

import pytest

from projections.rebuild import _await_live

HEAD = 100


class Live:
    """A live view whose position is read from a script, one read at a time."""

    def __init__(self, *positions: int | None) -> None:
        self.positions = list(positions)
        self.reads = 0

    def max_tracking_id(self, application_name: str) -> int | None:
        self.reads += 1
        return self.positions.pop(0) if len(self.positions) > 1 else self.positions[0]


def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_a_live_view_nothing_moved_during_the_rebuild_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept = no_sleep(monkeypatch)
    live = Live(None)  # empty when the rebuild began, and still
    began = time.monotonic() - 6.0  # the rebuild read the log for longer than stall_s
    _await_live(cast(Any, live), "app", HEAD, 5.0, (0, began))
    assert slept == [], "waited for a view no runner feeds"


def test_a_live_view_that_moved_during_the_rebuild_is_waited_for_until_the_head(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept = no_sleep(monkeypatch)
    live = Live(40, 70, 90, HEAD)  # a runner feeding it, behind the rebuild
    began = time.monotonic() - 6.0
    _await_live(cast(Any, live), "app", HEAD, 5.0, (10, began))
    assert len(slept) == 3 and live.reads == 4
