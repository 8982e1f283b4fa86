"""Telemetry for `livebridge run`: the OpenTelemetry SDK set up from the standard `OTEL_*`
variables, Prometheus text at `/metrics`, and logs that carry the trace.

- **Metrics** go to a Prometheus reader (`opentelemetry-exporter-prometheus`) in
  `prometheus_client`'s default registry, which also holds its process and Python runtime
  collectors (`process_*`, `python_gc_*`, `python_info`); `GET /metrics` serves that
  registry in the format the scraper asks for (Prometheus text or OpenMetrics). With
  `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`) set, they are
  also pushed over OTLP/HTTP every `OTEL_METRIC_EXPORT_INTERVAL` ms.
- **Traces**: an SDK tracer provider (sampler from `OTEL_TRACES_SAMPLER`); spans are
  exported over OTLP/HTTP in batches when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
  `..._TRACES_ENDPOINT`) is set. Headers, timeouts and protocol details are the
  exporter's own `OTEL_EXPORTER_OTLP_*` variables.
- `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the resource (service name
  `livebridge` unless set); `OTEL_SDK_DISABLED=true` leaves every instrument a no-op;
  `OTEL_TRACES_EXPORTER=none` / `OTEL_METRICS_EXPORTER=none` keep a signal off OTLP.
- **Logs**: `LIVEBRIDGE_LOG_FORMAT=json` writes one JSON object per line
  (`python-json-logger`) with `trace_id` and `span_id` of the span current when the line
  was logged; otherwise plain text lines as before. The HTTP access lines (`AccessLog`)
  never show a credential carried in a query.

OpenTelemetry lets a process set its global providers once: `install_metrics` and
`install_traces` do it at most once and return what was set. The SDK flushes what is
still buffered for OTLP when the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from opentelemetry import metrics
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics import MetricsTimeoutError
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import format_span_id
from opentelemetry.trace import format_trace_id
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from pythonjsonlogger.json import JsonFormatter

from contracts.dialects.evolution import AUTH_QUERY
from services.frontdoor.auth import TOKEN_QUERY

log = logging.getLogger(__name__)

SERVICE = "livebridge"
TEXT_FORMAT = "%(asctime)s %(name)s %(message)s"

_lock = threading.Lock()
_meters: MeterProvider | None = None
_tracers: TracerProvider | None = None


def _on(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in ("true", "1", "yes")


def _otlp(environ: Mapping[str, str], signal: str) -> bool:
    """Whether `signal` ("TRACES" or "METRICS") goes out over OTLP."""
    if environ.get(f"OTEL_{signal}_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def resource() -> Resource:
    """The SDK's resource from `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`."""
    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: SERVICE}))
    return detected


def install_metrics(environ: Mapping[str, str]) -> MeterProvider | None:
    """The global meter provider: Prometheus always, OTLP when configured (once a process)."""
    global _meters
    with _lock:
        if _meters is None and not _on(environ, "OTEL_SDK_DISABLED"):
            readers: list[MetricReader] = [PrometheusMetricReader()]
            if _otlp(environ, "METRICS"):
                readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
            _meters = MeterProvider(resource=resource(), metric_readers=readers)
            metrics.set_meter_provider(_meters)
        return _meters


def tracer_provider(environ: Mapping[str, str]) -> TracerProvider:
    """An SDK tracer provider, exporting over OTLP/HTTP when the environment names an endpoint."""
    provider = TracerProvider(resource=resource())
    if _otlp(environ, "TRACES"):
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def install_traces(environ: Mapping[str, str]) -> TracerProvider | None:
    """The global tracer provider (once a process)."""
    global _tracers
    with _lock:
        if _tracers is None and not _on(environ, "OTEL_SDK_DISABLED"):
            _tracers = tracer_provider(environ)
            trace.set_tracer_provider(_tracers)
        return _tracers


class TraceIds(logging.Filter):
    """Adds `trace_id` and `span_id` (hex, as OTLP backends show them) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format_trace_id(context.trace_id) if context.is_valid else None
        record.span_id = format_span_id(context.span_id) if context.is_valid else None
        return True


def log_format(environ: Mapping[str, str]) -> str:
    """`LIVEBRIDGE_LOG_FORMAT`: `text` (unset or empty) or `json`; a ValueError names any
    other (`xml`, `jsonl` were text lines without a word)."""
    found = environ.get("LIVEBRIDGE_LOG_FORMAT", "").strip().lower() or "text"
    if found not in ("text", "json"):
        raise ValueError(f"LIVEBRIDGE_LOG_FORMAT={found!r}: give text or json")
    return found


def log_handler(environ: Mapping[str, str]) -> logging.Handler:
    """Text lines, or JSON lines with the trace when `LIVEBRIDGE_LOG_FORMAT=json`."""
    handler = logging.StreamHandler()
    handler.addFilter(TraceIds())
    if log_format(environ) == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


class AccessLog(AbstractAccessLogger):
    """aiohttp's access line (its default fields) with the value of each query parameter
    that is a credential hidden: Evolution sends its shared secret as `?authToken=` on
    every wallet call, a browser's bet socket its player token as `?token=`."""

    CREDENTIALS = frozenset({AUTH_QUERY, TOKEN_QUERY})

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        target = request.path_qs
        if not self.CREDENTIALS.isdisjoint(request.query):
            query = [(k, "***" if k in self.CREDENTIALS else v) for k, v in request.query.items()]
            target = str(request.rel_url.with_query(query))
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d "%s" "%s"',
            request.remote or "-",
            request.method,
            target,
            request.version.major,
            request.version.minor,
            response.status,
            response.body_length,
            request.headers.get("Referer", "-"),
            request.headers.get("User-Agent", "-"),
        )


def setup_telemetry(environ: Mapping[str, str]) -> None:
    """What `livebridge run` does first: logging, then the metrics and trace pipelines."""
    logging.basicConfig(level=logging.INFO, handlers=[log_handler(environ)])
    install_metrics(environ)
    install_traces(environ)


async def serve_metrics(request: web.Request) -> web.Response:
    """`GET /metrics`: the default registry, as the scraper's `Accept` asks."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    try:
        body = await asyncio.to_thread(encoder, REGISTRY)
    except MetricsTimeoutError:  # the SDK's 10 s for every gauge's callback ran out
        log.warning("GET /metrics: the gauges' callbacks took longer than the SDK's 10 s")
        return web.Response(
            status=503,
            text="LBRG-503 METRICS_TIMEOUT the gauges took too long to read; scrape again\n",
            headers={"Retry-After": "10"},
        )
    return web.Response(body=body, headers={"Content-Type": content_type})
