"""Service levels per provider (`[sla]` in `livebridge.toml`) and the test of one window.

    [sla]
    check_every_s = 1.0        # how often the watch looks (default 1 s)
    sample_every_s = 10.0      # how often call samples go to the log (the wallet KPIs)
    subject = "livebridge.ops" # NATS: <subject>.provider.error.<provider>, ...
      [[sla.webhook]]          # alert webhooks, signed like round.settle's
      name = "pager"
      url = "https://ops.example/alerts"
      secret_env = "OPS_ALERT_SECRET"
      [sla.provider.evolution] # one table per watched provider
      latency_p99_ms = 500     # wallet calls and feed polls over the window
      error_rate = 0.05        # failed / calls over the window
      feed_gap_rate = 0.01     # event loss rate (KPI) over the window
      uptime = 0.99            # lowest table uptime (KPI) over the window
      qos_rtt_p99_ms = 400     # players' bet-signal round trip (QoS samples)
      qos_min_sessions = 3     # fewer player sessions reporting: the RTT not judged
      window_s = 60            # the window every figure is taken over
      min_calls = 20           # fewer calls than this: latency and errors not judged
      recover_after_s = 300    # healthy this long after a breach: the playbook undoes
      sessions_per_s = 0       # new sessions admitted a second while degraded
      soft_decline_within_s = 0.3  # while degraded, a wallet call not answered within
                               # this gets the dialect's soft decline
      actions = ["throttle_sessions", "switch_feed", "hide_tables", "soft_decline"]

Every threshold is optional (absent: not judged). `breaches(...)` is pure: the figures of
one window in, the reasons it breaches out (empty: healthy).

The QoS round trip is reported by the players themselves, so no one player may make it
(`qos_rtt_figure`): each reporter's own p99 is taken over the window (a player session's
samples, or all the samples operator keys relayed, as one reporter), and the figure is
the median of those (the lower of the middle two): a provider breaches only when most of
its reporters see it slow. Player sessions alone are judged from `qos_min_sessions`
sessions on; the operators' relay, which speaks for the platform's players, is judged
even alone.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import get_args

import msgspec

from contracts.ops import PlaybookAction
from services.ops.kpis import MAX_WINDOW
from services.platform.service import parse_endpoints
from services.platform.webhooks import Endpoint

ACTIONS: tuple[PlaybookAction, ...] = get_args(PlaybookAction)


class ProviderSla(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    latency_p99_ms: float | None = None
    error_rate: float | None = None
    feed_gap_rate: float | None = None
    uptime: float | None = None
    qos_rtt_p99_ms: float | None = None
    qos_min_sessions: int = 3
    window_s: float = 60.0
    min_calls: int = 20
    recover_after_s: float = 300.0
    sessions_per_s: float = 0.0
    soft_decline_within_s: float | None = None
    actions: tuple[PlaybookAction, ...] = ACTIONS

    def __post_init__(self) -> None:
        for name in ("window_s", "recover_after_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.window_s > MAX_WINDOW.total_seconds():  # inf: every check failed, none judged
            raise ValueError(
                f"window_s must be at most {MAX_WINDOW.total_seconds():.0f} s "
                f"({MAX_WINDOW.days} days, the longest the KPIs are read over)"
            )
        for name in ("error_rate", "feed_gap_rate", "uptime"):
            share = getattr(self, name)
            if share is not None and not 0 <= share <= 1:
                # `uptime = 99` meant 99 %: as 9,900 % every window would breach it
                raise ValueError(f"{name} is a share from 0 to 1 (0.99 for 99%), not {share:g}")
        for name in ("latency_p99_ms", "qos_rtt_p99_ms", "soft_decline_within_s"):
            limit = getattr(self, name)
            if limit is not None and not 0 < limit < math.inf:
                raise ValueError(f"{name} must be a positive finite number, not {limit:g}")
        if self.min_calls < 1 or self.qos_min_sessions < 1 or self.sessions_per_s < 0:
            raise ValueError(
                "min_calls and qos_min_sessions must be 1 or more and sessions_per_s 0 or more"
            )


@dataclass(frozen=True, kw_only=True)
class SlaConfig:
    providers: Mapping[str, ProviderSla] = field(default_factory=dict)
    webhooks: Sequence[Endpoint] = ()
    subject: str = "livebridge.ops"
    check_every_s: float = 1.0
    sample_every_s: float = 10.0
    judge: bool = True
    """False (`LIVEBRIDGE_SLA_WATCH=0`): this process only samples its calls into the log;
    another bridge judges and acts."""


def parse_sla(raw: Mapping[str, Any], path: Path, env: Mapping[str, str]) -> SlaConfig:
    table = dict(raw)
    webhooks = parse_endpoints(table.pop("webhook", []), path, env)
    providers = {}
    for provider, fields in dict(table.pop("provider", {})).items():
        try:
            providers[provider] = msgspec.convert(fields, ProviderSla)
        except (msgspec.ValidationError, ValueError) as exc:
            raise ValueError(f"{path}: [sla.provider.{provider}]: {exc}") from None
    try:
        rest = msgspec.convert(table, _SlaTop)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{path}: [sla]: {exc}") from None
    watch = env.get("LIVEBRIDGE_SLA_WATCH", "1").strip()
    if watch not in ("0", "1"):
        raise ValueError(f"LIVEBRIDGE_SLA_WATCH={watch!r}: 1 (judge and act) or 0 (sample only)")
    return SlaConfig(
        providers=providers,
        webhooks=webhooks,
        subject=rest.subject,
        check_every_s=rest.check_every_s,
        sample_every_s=rest.sample_every_s,
        judge=watch == "1",
    )


class _SlaTop(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    subject: str = "livebridge.ops"
    check_every_s: float = 1.0
    sample_every_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("check_every_s", "sample_every_s"):
            every = getattr(self, name)
            if not 0 < every < math.inf:  # 0 or less: the watch would loop without a pause
                raise ValueError(f"{name} must be a positive finite number of seconds")


def load_sla(path: Path, env: Mapping[str, str]) -> SlaConfig:
    """The `[sla]` table of the config file; none watched when there is no file or table."""
    if not path.is_file():
        return SlaConfig()
    return parse_sla(tomllib.loads(path.read_text()).get("sla", {}), path, env)


@dataclass(frozen=True, kw_only=True)
class Window:
    """What the watch saw of one provider over its SLA window (None: nothing to judge)."""

    calls: int = 0
    failed: int = 0
    latency_p99_s: float | None = None
    feed_gap_rate: float | None = None
    uptime: float | None = None
    qos_rtt_p99_ms: float | None = None


def breaches(sla: ProviderSla, seen: Window) -> list[str]:
    """Why `seen` breaches `sla`, one reason each, in words an auditor reads."""
    found = []
    if seen.calls >= sla.min_calls:
        p99 = seen.latency_p99_s
        if sla.latency_p99_ms is not None and p99 is not None and p99 * 1000 > sla.latency_p99_ms:
            found.append(f"latency p99 {p99 * 1000:.0f} ms > {sla.latency_p99_ms:g} ms")
        rate = seen.failed / seen.calls
        if sla.error_rate is not None and rate > sla.error_rate:
            found.append(
                f"error rate {rate:.1%} > {sla.error_rate:.1%} ({seen.failed} of {seen.calls})"
            )
    gap = seen.feed_gap_rate
    if sla.feed_gap_rate is not None and gap is not None and gap > sla.feed_gap_rate:
        found.append(f"feed gap rate {gap:.2%} > {sla.feed_gap_rate:.2%}")
    up = seen.uptime
    if sla.uptime is not None and up is not None and up < sla.uptime:
        found.append(f"table uptime {up:.2%} < {sla.uptime:.2%}")
    rtt = seen.qos_rtt_p99_ms
    if sla.qos_rtt_p99_ms is not None and rtt is not None and rtt > sla.qos_rtt_p99_ms:
        found.append(f"QoS bet RTT p99 {rtt:.0f} ms > {sla.qos_rtt_p99_ms:g} ms")
    return found


def qos_rtt_figure(
    reports: Mapping[str | None, Sequence[float]], min_sessions: int
) -> float | None:
    """The QoS bet RTT p99 a provider is judged on, from its round trips by reporter (a
    player session, or None: the operators' relay): the lower median of each reporter's
    own p99. None (not judged) without a report, or with fewer than `min_sessions`
    sessions reporting and no relay."""
    figures = sorted(percentile(rtts, 0.99) for rtts in reports.values() if rtts)
    if not figures or (len(figures) < min_sessions and not reports.get(None)):
        return None
    return figures[(len(figures) - 1) // 2]


def percentile(values: Sequence[float], q: float) -> float:
    """PostgreSQL's `percentile_cont`: linear between the two nearest ranks."""
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)
