"""The KPI and QoS settings of the environment: a value the bridge could not use is refused
as `livebridge run` starts, naming the variable, never found at each scrape."""

from __future__ import annotations

import pytest

from services.ops.kpis import KpiBoard
from services.ops.kpis import KpiSettings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVEBRIDGE_KPI_WINDOW_S", "inf"),  # every /metrics scrape: OverflowError
        ("LIVEBRIDGE_KPI_WINDOW_S", "1e15"),  # the window would start before year 1
        ("LIVEBRIDGE_KPI_WINDOW_S", "7948800.5"),  # longer than /ops/v1/kpis reads
        ("LIVEBRIDGE_KPI_WINDOW_S", "nan"),
        ("LIVEBRIDGE_KPI_LATE_SETTLEMENT_S", "-1"),
        ("LIVEBRIDGE_KPI_TABLE_DOWN_AFTER_S", "infinity"),
        ("LIVEBRIDGE_QOS_RATE", "inf"),
        ("LIVEBRIDGE_QOS_BURST", "0.5"),  # no batch could ever be taken
    ],
)
def test_a_setting_the_kpis_could_not_use_is_refused_naming_the_variable(
    name: str, value: str
) -> None:
    with pytest.raises(ValueError, match=name):
        KpiSettings.from_env({name: value})


def test_the_longest_trailing_window_is_read_without_overflow() -> None:
    settings = KpiSettings.from_env({"LIVEBRIDGE_KPI_WINDOW_S": "7948800"})
    board = KpiBoard(lambda: _NoRows(), settings)
    assert (board.window().until - board.window().since).days == 92


class _NoRows:
    def kpi_rounds(self, *_args: object) -> list[dict[str, object]]:
        return []

    def kpi_bets(self, *_args: object) -> list[dict[str, object]]:
        return []
