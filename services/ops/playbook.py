"""The SLA watch and the automated playbook: judge each provider, act, recover by itself.

Every `check_every_s` each provider with an `[sla.provider.<id>]` table is judged over its
window (`services.ops.sla.breaches`): its wallet calls and feed polls (latency p99, error
rate) from the edge's `ProviderHealth`, its event loss rate and lowest table uptime from
the KPIs (the views), its players' bet-signal RTT from the QoS samples (the median of
each reporting session's p99: `services.ops.sla.qos_rtt_figure`).

A breach is a `provider.error` in the `Watch` log, then the playbook's steps, each a
`playbook.step` with its reason, in this order (those the SLA lists in `actions`):

1. `throttle_sessions`: `POST /platform/v1/sessions` for the provider admits
   `sessions_per_s` new sessions a second (0: none), the rest `LBRG-503 RETRY`;
2. `switch_feed`: its pull or socket feed reads from `feed_url_alternate` (only where one
   is configured);
3. `hide_tables`: the provider marked down in the table status (its tables hidden and
   closed to bets on every bridge);
4. `soft_decline`: a wallet call not answered within `soft_decline_within_s` gets the
   dialect's retryable decline instead of its internal error.

Once the provider has been healthy for `recover_after_s`, the steps are undone in reverse
order (each a `playbook.step` with `undo`), and a `provider.recovered` clears the alert.
Alerts and steps are published on NATS (`<subject>.provider.error.<provider>`,
`<subject>.playbook.step.<provider>`, `<subject>.provider.recovered.<provider>`), and the
alert and its clearing are POSTed to every `[[sla.webhook]]`, signed like `round.settle`.

Every `sample_every_s` the calls seen since the last sample go to the log per provider
(`CallsSampled`): the wallet latency KPIs are computed from those, never from memory.

One bridge judges (`LIVEBRIDGE_SLA_WATCH=0` on the others): the others sample their calls
into the log (the KPIs merge every bridge's) and follow the judge's steps from the log,
applying each to themselves (throttle, feed switch, soft decline; the tables' status is
shared). At start the watch reads its log back: a provider still in breach stays so (its steps are
applied again to this process), so a restart neither forgets an alert nor raises it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol

import aiohttp
import msgspec
from aiohttp import web

from contracts.ops import PlaybookAction
from contracts.ops import PlaybookStep
from contracts.ops import ProviderRecovered
from contracts.player import ProviderError
from services.edge.health import Health
from services.frontdoor.throttle import SESSION_THROTTLE
from services.frontdoor.throttle import SessionThrottle
from services.ops.kpis import KpiBoard
from services.ops.kpis import kpi_rows
from services.ops.latency import sample as latency_sample
from services.ops.qos import QOS_RECENT
from services.ops.qos import RecentRtt
from services.ops.sla import ProviderSla
from services.ops.sla import SlaConfig
from services.ops.sla import Window
from services.ops.sla import breaches
from services.ops.sla import percentile
from services.ops.sla import qos_rtt_figure
from services.ops.watch import Fact
from services.ops.watch import Watch
from services.platform.stream import token
from services.platform.webhooks import SignedPoster

log = logging.getLogger(__name__)

CODE = "LBRG-503 PROVIDER_DOWN"


class TableStatus(Protocol):
    """Where a provider's tables are hidden (`services.frontdoor.tables.TableStatuses`)."""

    async def set_provider(self, provider: str, *, up: bool, reason: str = "") -> Any: ...


class Publish(Protocol):
    """A NATS client's `publish`."""

    def __call__(self, subject: str, payload: bytes) -> Awaitable[None]: ...


@dataclass
class _State:
    breached_at: datetime | None = None
    healthy_since: float | None = None
    taken: list[PlaybookAction] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Playbook:
    config: SlaConfig
    health: Health
    watch: Callable[[], Watch]
    throttle: SessionThrottle
    publish: Callable[[], Publish]
    tables: Callable[[], TableStatus | None] = lambda: None
    board: KpiBoard | None = None
    qos: Callable[[], RecentRtt | None] = lambda: None
    posters: Sequence[SignedPoster] = ()
    switchable: Collection[str] = ()
    """Providers whose feed has an alternate endpoint."""
    clock: Callable[[], float] = time.monotonic
    states: dict[str, _State] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _deliveries: set[asyncio.Task[Any]] = field(default_factory=set)
    _read_to: int = 0
    _followed: dict[str, set[PlaybookAction]] = field(default_factory=dict)

    # The loop.

    async def run(self) -> None:
        """Watch until `stop` is set: resume from the log, then judge and sample."""
        resumed = not self.config.judge
        last_sample = self.clock()
        while not self.stop.is_set():
            try:
                if not resumed:  # in the loop: a resume that fails (NATS away) is tried again
                    await self.resume()
                    resumed = True
                await (self.tick() if self.config.judge else self.follow())
                if self.clock() - last_sample >= self.config.sample_every_s:
                    last_sample = self.clock()
                    await self.sample()
            except Exception:
                log.exception("SLA watch: a check failed; trying again at the next")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.config.check_every_s)
        await self.sample()
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _read_log(self) -> None:
        """Fold the breaches, steps and recoveries the log gained since the last read."""
        facts = await asyncio.to_thread(self.watch().facts, self._read_to)
        for position, fact in facts:
            self._read_to = position
            state = self.states.setdefault(fact.provider, _State())
            if isinstance(fact, ProviderError):
                state.breached_at = fact.occurred_at
            elif isinstance(fact, PlaybookStep):
                if fact.undo and fact.action in state.taken:
                    state.taken.remove(fact.action)
                elif not fact.undo:
                    state.taken.append(fact.action)
            else:
                self.states[fact.provider] = _State()

    async def resume(self) -> None:
        """The judge at start: a breach the log still holds stays, its steps in force here."""
        await self._read_log()
        for provider, state in self.states.items():
            sla = self.config.providers.get(provider)
            if sla is not None and state.breached_at is not None:
                for action in state.taken:
                    await self._apply(provider, sla, action, on=True, reason="resumed")

    async def follow(self) -> None:
        """A bridge that does not judge takes the judge's steps from the log, for itself (the
        tables' status is shared already: not set again)."""
        await self._read_log()
        for provider, state in self.states.items():
            sla = self.config.providers.get(provider)
            if sla is None:
                continue
            wanted: set[PlaybookAction] = {a for a in state.taken if a != "hide_tables"}
            applied = self._followed.setdefault(provider, set())
            for action in sorted(wanted - applied):
                await self._apply(provider, sla, action, on=True, reason="the judge's step")
            for action in sorted(applied - wanted):
                await self._apply(provider, sla, action, on=False, reason="the judge's undo")
            self._followed[provider] = wanted

    async def tick(self) -> None:
        for provider, sla in self.config.providers.items():
            reasons = breaches(sla, await self.window(provider, sla))
            state = self.states.setdefault(provider, _State())
            if reasons:
                state.healthy_since = None
                await self._breach(provider, sla, state, reasons)
            elif state.breached_at is not None:
                now = self.clock()
                if state.healthy_since is None:
                    state.healthy_since = now
                elif now - state.healthy_since >= sla.recover_after_s:
                    await self._recover(provider, sla, state)

    async def window(self, provider: str, sla: ProviderSla) -> Window:
        calls = self.health[provider].recent(sla.window_s)
        seen = Window(
            calls=len(calls),
            failed=sum(1 for c in calls if c.failed),
            latency_p99_s=percentile([c.seconds for c in calls], 0.99) if calls else None,
        )
        if (sla.feed_gap_rate is not None or sla.uptime is not None) and self.board is not None:
            gap, up = await asyncio.to_thread(self._from_views, provider, sla.window_s)
            seen = dataclasses.replace(seen, feed_gap_rate=gap, uptime=up)
        recent = self.qos()
        if sla.qos_rtt_p99_ms is not None and recent is not None:
            rtt = qos_rtt_figure(recent.reports(provider, sla.window_s), sla.qos_min_sessions)
            seen = dataclasses.replace(seen, qos_rtt_p99_ms=rtt)
        return seen

    def _from_views(self, provider: str, window_s: float) -> tuple[float | None, float | None]:
        assert self.board is not None
        until = self.board.clock()
        since = until - timedelta(seconds=window_s)
        try:  # the round KPIs only: the wallet samples are not judged from the log
            found = self.board.source().kpi_rounds(
                since, until, "all", self.board.settings.down_after_s
            )
        except Exception as error:  # the views away: judge on what else there is
            log.warning("SLA watch: views not read for %s: %s", provider, error)
            return None, None
        rows = [r for r in kpi_rows(found, []) if r.provider == provider]
        expected = sum(r.events_expected for r in rows)
        lost = sum(r.feed_gaps + r.late_repairs for r in rows)
        uptimes = [r.table_uptime for r in rows if r.table_uptime is not None]
        return (lost / expected if expected else None), (min(uptimes) if uptimes else None)

    # Breach and recovery.

    async def _breach(
        self, provider: str, sla: ProviderSla, state: _State, reasons: list[str]
    ) -> None:
        """Raise the alert and take the steps not taken yet: what a failed write (NATS
        away) left undone is done at the next check, without a second alert."""
        reason = "; ".join(reasons)
        if state.breached_at is None:
            alert = ProviderError(provider=provider, code=CODE, message=reason, occurred_at=_now())
            log.warning("provider %s breaches its SLA: %s", provider, reason)
            await self._record(alert, webhook=True)
            state.breached_at = alert.occurred_at
        for action in sla.actions:
            if action in state.taken or (
                action == "switch_feed" and provider not in self.switchable
            ):
                continue
            await self._apply(provider, sla, action, on=True, reason=reason)
            await self._record(
                PlaybookStep(
                    provider=provider,
                    action=action,
                    undo=False,
                    reason=reason,
                    occurred_at=_now(),
                )
            )
            state.taken.append(action)

    async def _recover(self, provider: str, sla: ProviderSla, state: _State) -> None:
        assert state.breached_at is not None
        reason = f"healthy for {sla.recover_after_s:g} s after the breach at {state.breached_at}"
        for action in reversed(state.taken):
            await self._apply(provider, sla, action, on=False, reason=reason)
            await self._record(
                PlaybookStep(
                    provider=provider, action=action, undo=True, reason=reason, occurred_at=_now()
                )
            )
        cleared = ProviderRecovered(
            provider=provider, message=reason, occurred_at=_now(), breached_at=state.breached_at
        )
        log.warning("provider %s recovered: %s", provider, reason)
        await self._record(cleared, webhook=True)
        self.states[provider] = _State()

    async def _apply(
        self, provider: str, sla: ProviderSla, action: PlaybookAction, *, on: bool, reason: str
    ) -> None:
        health = self.health[provider]
        if action == "throttle_sessions":
            if on:
                self.throttle.throttle(provider, sla.sessions_per_s, reason)
            else:
                self.throttle.release(provider)
        elif action == "switch_feed":
            health.alternate_feed = on
        elif action == "hide_tables":
            tables = self.tables()
            if tables is None:
                log.warning("provider %s: no table status to hide its tables in", provider)
            else:
                await tables.set_provider(provider, up=not on, reason=reason if on else "")
        elif action == "soft_decline":
            health.soft_decline_within_s = sla.soft_decline_within_s
            health.soft_decline = on

    async def _record(self, fact: Fact, *, webhook: bool = False) -> None:
        """The fact in the log first (an alert nobody can find later did not happen), then on
        NATS and to the webhooks."""
        event_id = await asyncio.to_thread(self.watch().note, fact)
        kind = type(fact).__struct_config__.tag
        body = msgspec.json.encode(fact)
        try:
            await self.publish()(f"{self.config.subject}.{kind}.{token(fact.provider)}", body)
        except Exception as error:  # NATS away: the log has it; the webhooks still go
            log.warning("SLA watch: %s for %s not published: %s", kind, fact.provider, error)
        if webhook:
            for poster in self.posters:
                task = asyncio.create_task(poster.deliver(body, event_id, self.stop))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    async def sample(self) -> None:
        """The calls since the last sample, per provider and endpoint, into the log."""
        started = _now()
        for provider, health in list(self.health.providers.items()):
            calls = health.drain()
            if not calls:
                continue
            by_endpoint: dict[str, list[float]] = {}
            failed: dict[str, int] = {}
            for call in calls:
                by_endpoint.setdefault(call.endpoint, []).append(call.seconds)
                failed[call.endpoint] = failed.get(call.endpoint, 0) + call.failed
            samples = [
                latency_sample(e, seconds, failed[e]) for e, seconds in sorted(by_endpoint.items())
            ]
            await asyncio.to_thread(self.watch().sample, provider, started, samples)


PLAYBOOK = web.AppKey("ops_playbook", Playbook)
WATCH = web.AppKey("ops_watch", Watch)


def setup_watch(
    app: web.Application,
    *,
    config: SlaConfig,
    env: Callable[[], Mapping[str, str]],
    health: Health,
    throttle: SessionThrottle,
    publish: Callable[[], Publish],
    board: KpiBoard,
    tables: Callable[[], TableStatus | None] = lambda: None,
    switchable: Collection[str] = (),
) -> None:
    """Run the `Watch` log (the wallet KPIs read it) and the playbook while the app runs."""
    app[SESSION_THROTTLE] = throttle

    async def running(app: web.Application) -> AsyncIterator[None]:
        watch = await asyncio.to_thread(Watch, dict(env()))
        app[WATCH] = watch
        board.wallet_samples = watch.samples
        async with aiohttp.ClientSession() as session:
            playbook = Playbook(
                config=config,
                health=health,
                watch=lambda: watch,
                throttle=throttle,
                publish=publish,
                tables=tables,
                board=board,
                qos=lambda: app.get(QOS_RECENT),
                posters=[SignedPoster(session, endpoint) for endpoint in config.webhooks],
                switchable=switchable,
            )
            app[PLAYBOOK] = playbook
            task = asyncio.create_task(playbook.run(), name="sla-watch")
            try:
                yield
            finally:
                playbook.stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
                board.wallet_samples = None
                await asyncio.to_thread(watch.close)

    app.cleanup_ctx.append(running)
