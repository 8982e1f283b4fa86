"""The real ledger of an integration test: its log in the test's JetStream streams."""

from __future__ import annotations

from services.ledger.application import Ledger


def jetstream_ledger(nats_url: str, stream_prefix: str, **env: str) -> Ledger:
    """A `Ledger` whose events are stored on the nats-server at `nats_url`, in the streams
    named by `stream_prefix`; `env` adds ledger settings."""
    return Ledger(
        {
            "PERSISTENCE_MODULE": "services.eventstore",
            "NATS_URL": nats_url,
            "NATS_STREAM_PREFIX": stream_prefix,
            **env,
        }
    )
