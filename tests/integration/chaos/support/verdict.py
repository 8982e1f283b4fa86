"""What every short chaos run must end with, whatever its faults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def assert_lost_nothing(result: Mapping[str, Any], *, calls: int, events: int) -> None:
    """The checker found nothing lost, duplicated or violated in the run `result` reports;
    the load ran through the faults (at least `calls` wallet calls and `events` feed events
    offered) and most of it was acknowledged; the views caught up with the log."""
    assert (result["lost"], result["duplicated"], result["violations"]) == (0, 0, 0), result
    assert result["ok"] is True
    assert result["offered_by_kind"]["tx"] >= calls and result["offered_by_kind"]["event"] >= events
    assert result["acknowledged"] > 0.5 * result["offered"]
    assert result["views_caught_up"] is True
