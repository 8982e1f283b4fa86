"""The path every provider call takes, whatever its dialect, transport-free.

    IP allowlist -> rate limit -> body size -> adapter handler (signature, decode, ledger)

Each refusal is rendered by the provider's adapter, so the caller always gets its own
dialect. A handler that raises `Rejected` gets that rejection rendered; any other
exception is logged with its traceback and answered as the dialect's internal error. A
call that takes longer than the provider's `answer_within_s` gets the dialect's retryable
internal error in time (the work goes on; the provider's retry or cancel finds it). While
the ops playbook holds the provider degraded (`ProviderHealth.soft_decline`), that answer is
the dialect's soft decline instead, within the playbook's deadline. Every call's time and
whether it failed go to the provider's `ProviderHealth` (what the SLA watch reads).
Nothing here parses a body: that is the adapter's job, after its signature check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

import nats.errors
from opentelemetry import metrics
from opentelemetry import propagate
from opentelemetry import trace

from contracts.tracing import tracing_on
from services.edge.adapters.base import DialectAdapter
from services.edge.adapters.base import EdgeContext
from services.edge.adapters.base import EdgeRequest
from services.edge.adapters.base import EdgeResponse
from services.edge.adapters.base import Endpoint
from services.edge.adapters.base import Rejected
from services.edge.adapters.base import Rejection
from services.edge.adapters.registry import load_adapter
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.health import Health
from services.edge.health import ProviderHealth
from services.edge.ports import Refused
from services.edge.security import IpAllowlist
from services.edge.security import TokenBucket

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("livebridge.edge")
_meter = metrics.get_meter("livebridge.edge")
_duration = _meter.create_histogram(
    "livebridge.edge.wallet.duration", unit="ms", description="wallet call time at the edge"
)
_rejected = _meter.create_counter(
    "livebridge.edge.wallet.rejected", description="wallet calls the edge itself refused"
)


class ProviderGate:
    """One provider's guards in front of its adapter."""

    def __init__(
        self, provider: ProviderConfig, adapter: DialectAdapter, health: ProviderHealth
    ) -> None:
        self.provider = provider
        self.adapter = adapter
        self.health = health
        self.allowlist = IpAllowlist(provider.allow_ips)
        self.limiter = TokenBucket(provider.rate_limit, provider.burst)
        self.endpoints = {(e.method, e.path): e for e in adapter.endpoints()}

    def screen(
        self, endpoint: Endpoint, remote: str | None, content_length: int | None
    ) -> EdgeResponse | None:
        """The checks that need no body; None means go on."""
        if not self.allowlist.allows(remote):
            log.warning("provider %s: call from %s not in allow_ips", self.provider.id, remote)
            return self.reject(Rejection.IP_NOT_ALLOWED, endpoint)
        if not self.limiter.take():
            return self.reject(Rejection.RATE_LIMITED, endpoint)
        if content_length is not None and content_length > self.provider.max_body_bytes:
            return self.reject(Rejection.BODY_TOO_LARGE, endpoint)
        return None

    async def run(self, endpoint: Endpoint, request: EdgeRequest) -> EdgeResponse:
        if len(request.body) > self.provider.max_body_bytes:
            return self.reject(Rejection.BODY_TOO_LARGE, endpoint)
        attributes = {
            "livebridge.provider": self.provider.id,
            "livebridge.dialect": self.provider.dialect,
            "livebridge.endpoint": endpoint.label,
        }
        started = time.perf_counter()
        failed = False
        degraded = self.health.soft_decline
        within = self.provider.answer_within_s
        if degraded and self.health.soft_decline_within_s is not None:
            within = min(within, self.health.soft_decline_within_s)
        # A provider that sends W3C `traceparent` gets its own trace continued.
        caller = request.header("traceparent")
        # Without a tracing SDK every span is a no-op: not even one is made (a few percent
        # of a bet's CPU).
        span = (
            _tracer.start_as_current_span(
                f"wallet {endpoint.label}",
                context=propagate.extract({"traceparent": caller}) if caller else None,
                kind=trace.SpanKind.SERVER,
                attributes=attributes,
            )
            if tracing_on()
            else contextlib.nullcontext()
        )
        with span:
            try:
                return await asyncio.wait_for(endpoint.handler(request), within)
            except (TimeoutError, nats.errors.Error) as exc:
                # No answer in time, or NATS away under the call (its server restarting, the
                # bridge stopping). The provider retries (idempotent) or cancels; the ledger
                # call may still land, and the retry or the cancel then finds it.
                failed = True
                log.warning(
                    "provider %s %s: %s%s",
                    self.provider.id,
                    endpoint.label,
                    f"no answer within {within:.3f} s"
                    if isinstance(exc, TimeoutError)
                    else f"NATS away ({exc!r})",
                    " (degraded: soft decline)" if degraded else "",
                )
                soft = Rejection.SOFT_DECLINE if degraded else Rejection.INTERNAL
                return self.reject(soft, endpoint)
            except Rejected as exc:
                log.info("provider %s %s: %s", self.provider.id, endpoint.label, exc)
                failed = exc.rejection is not Rejection.RATE_LIMITED
                return self.reject(exc.rejection, endpoint)
            except RecursionError:
                failed = True
                # JSON nested too deeply for a decoder (see `contracts.bodies`): the same
                # body fails the same way every time, so it is malformed, never retryable.
                log.info("provider %s %s: body nested too deeply", self.provider.id, endpoint.label)
                return self.reject(Rejection.MALFORMED, endpoint)
            except Refused as exc:
                # Adapters map refusals they expect; one they did not is still no 500.
                failed = True
                log.warning("provider %s %s: unmapped %s", self.provider.id, endpoint.label, exc)
                return self.reject(Rejection.INTERNAL, endpoint)
            except Exception:
                failed = True
                log.exception("provider %s %s failed", self.provider.id, endpoint.label)
                return self.reject(Rejection.INTERNAL, endpoint)
            finally:
                took = time.perf_counter() - started
                _duration.record(took * 1000, attributes)
                self.health.record(f"wallet.{endpoint.label}", took, failed=failed)

    def reject(self, rejection: Rejection, endpoint: Endpoint) -> EdgeResponse:
        _rejected.add(
            1,
            {
                "livebridge.provider": self.provider.id,
                "livebridge.endpoint": endpoint.label,
                "livebridge.rejection": rejection.value,
            },
        )
        return self.adapter.reject(rejection, endpoint)

    async def serve(self, request: EdgeRequest) -> EdgeResponse | None:
        """Screen and run one call; None when no endpoint has that method and path."""
        endpoint = self.endpoints.get((request.method, request.path))
        if endpoint is None:
            return None
        early = self.screen(endpoint, request.remote, len(request.body))
        return early if early is not None else await self.run(endpoint, request)


class Gateway:
    """Every configured provider's gate, by provider id."""

    def __init__(
        self, providers: ProvidersConfig, context: EdgeContext, health: Health | None = None
    ) -> None:
        self.providers = providers
        self.context = context
        self.health = health or Health()
        self.gates = {
            p.id: ProviderGate(p, load_adapter(p, context), self.health[p.id])
            for p in providers.providers
        }

    def gate(self, provider_id: str) -> ProviderGate:
        return self.gates[provider_id]

    def __iter__(self) -> Iterator[ProviderGate]:
        return iter(self.gates.values())
