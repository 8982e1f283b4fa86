"""SLA judgement, its configuration, and the session throttle: pure, no sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.frontdoor.throttle import SessionThrottle
from services.ops.sla import ProviderSla
from services.ops.sla import Window
from services.ops.sla import breaches
from services.ops.sla import load_sla
from services.ops.sla import percentile
from services.ops.sla import qos_rtt_figure


def test_each_threshold_breached_gives_its_own_reason() -> None:
    sla = ProviderSla(
        latency_p99_ms=200,
        error_rate=0.1,
        feed_gap_rate=0.01,
        uptime=0.99,
        qos_rtt_p99_ms=300,
        min_calls=10,
    )
    seen = Window(
        calls=20,
        failed=3,
        latency_p99_s=0.25,
        feed_gap_rate=0.02,
        uptime=0.98,
        qos_rtt_p99_ms=350,
    )
    assert breaches(sla, seen) == [
        "latency p99 250 ms > 200 ms",
        "error rate 15.0% > 10.0% (3 of 20)",
        "feed gap rate 2.00% > 1.00%",
        "table uptime 98.00% < 99.00%",
        "QoS bet RTT p99 350 ms > 300 ms",
    ]
    assert breaches(sla, Window(calls=20, failed=2, latency_p99_s=0.2)) == []


def test_too_few_calls_are_not_judged_and_absent_thresholds_never_breach() -> None:
    sla = ProviderSla(latency_p99_ms=200, error_rate=0.1, min_calls=10)
    assert breaches(sla, Window(calls=9, failed=9, latency_p99_s=5.0)) == []
    assert breaches(ProviderSla(), Window(calls=100, failed=100, uptime=0.0)) == []


def test_percentile_is_postgres_percentile_cont() -> None:
    assert percentile([0.01, 0.02, 0.03, 0.04], 0.5) == pytest.approx(0.025)
    assert percentile([0.01, 0.02, 0.03, 0.04], 0.99) == pytest.approx(0.0397)
    assert percentile([7.0], 0.99) == 7.0


def test_the_sla_table_is_read_with_its_webhooks_and_refused_when_wrong(tmp_path: Path) -> None:
    config = tmp_path / "livebridge.toml"
    config.write_text(
        '[sla]\ncheck_every_s = 2\n[[sla.webhook]]\nname = "pager"\nurl = "http://x/a"\n'
        'secret_env = "S"\n[sla.provider.evo]\nerror_rate = 0.05\nactions = ["soft_decline"]\n'
    )
    found = load_sla(config, {"S": "secret"})
    assert found.check_every_s == 2 and found.webhooks[0].secret == "secret"
    assert found.providers["evo"] == ProviderSla(error_rate=0.05, actions=("soft_decline",))
    assert load_sla(tmp_path / "absent.toml", {}).providers == {}
    for wrong in ("window_s = 0", 'actions = ["reboot"]', "latency_p99 = 3"):
        config.write_text(f"[sla.provider.evo]\n{wrong}\n")
        with pytest.raises(ValueError, match=r"\[sla.provider.evo\]"):
            load_sla(config, {})


def test_a_throttled_provider_admits_its_rate_and_names_the_reason() -> None:
    throttle = SessionThrottle()
    assert throttle.admit("evo") is None
    throttle.throttle("evo", 0, "error rate 50%")
    refused = throttle.admit("evo")
    assert refused is not None and "error rate 50%" in refused
    assert throttle.admit("hub88") is None
    throttle.throttle("evo", 1, "slow")
    assert throttle.admit("evo") is None  # one a second: the first goes through
    assert throttle.admit("evo") is not None
    throttle.release("evo")
    assert throttle.admit("evo") is None and not throttle.throttled("evo")


def test_the_example_configuration_sla_reads() -> None:
    example = Path(__file__).resolve().parents[3] / "infra" / "livebridge.example.toml"
    found = load_sla(example, {})
    assert set(found.providers) == {"ezugi"} and found.providers["ezugi"].error_rate == 0.05


def test_the_qos_figure_is_the_lower_median_of_each_reporters_p99() -> None:
    slow, quick = [60_000.0] * 100, [80.0]
    assert qos_rtt_figure({"s1": slow}, 3) is None  # one session alone is not judged
    assert qos_rtt_figure({"s1": slow, "s2": quick, "s3": [90.0]}, 3) == 90.0
    assert qos_rtt_figure({"s1": slow, "s2": quick}, 2) == 80.0  # a tie: the quicker half
    assert qos_rtt_figure({None: [400.0]}, 3) == 400.0  # the operators' relay, alone
    assert qos_rtt_figure({None: quick, "s1": slow}, 3) == 80.0
    assert qos_rtt_figure({}, 1) is None


@pytest.mark.parametrize(
    "wrong",
    [
        "uptime = 99",  # meant 99 %: every window would breach it and hide the tables
        "error_rate = 5",
        "feed_gap_rate = -0.01",
        "latency_p99_ms = -5",  # every window would breach it
        "qos_rtt_p99_ms = 0",
        "soft_decline_within_s = inf",
        "window_s = inf",  # every check failed on the window's arithmetic: never judged
        "window_s = 1e12",
    ],
)
def test_a_threshold_no_window_could_meet_or_breach_is_refused(tmp_path: Path, wrong: str) -> None:
    config = tmp_path / "livebridge.toml"
    config.write_text(f"[sla.provider.evo]\n{wrong}\n")
    with pytest.raises(ValueError, match=r"\[sla.provider.evo\].*" + wrong.split()[0]):
        load_sla(config, {})


@pytest.mark.parametrize(
    "wrong",
    ["check_every_s = 0", "check_every_s = -1", "sample_every_s = 0", "check_every_s = inf"],
)
def test_a_watch_period_that_is_no_pause_is_refused(tmp_path: Path, wrong: str) -> None:
    config = tmp_path / "livebridge.toml"
    config.write_text(f"[sla]\n{wrong}\n")
    with pytest.raises(ValueError, match=r"\[sla\].*" + wrong.split()[0]):
        load_sla(config, {})
