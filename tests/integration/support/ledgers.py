"""The real ledger of an integration test: its log in the test's JetStream streams."""

from __future__ import annotations

from services.ledger.application import Ledger


def jetstream_env(nats_url: str, stream_prefix: str, **env: str) -> dict[str, str]:
    """A ledger's settings for events stored on the nats-server at `nats_url`, in the
    streams named by `stream_prefix`; `env` adds settings."""
    return {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM_PREFIX": stream_prefix,
        **env,
    }


def jetstream_ledger(nats_url: str, stream_prefix: str, **env: str) -> Ledger:
    """A `Ledger` on `jetstream_env`."""
    return Ledger(jetstream_env(nats_url, stream_prefix, **env))
