"""A persistence module for the `eventsourcing` library whose store is NATS JetStream.

Select it with `PERSISTENCE_MODULE=services.eventstore` and `NATS_URL=...`; see
`factory.py` for the settings and `recorders.py` for the stream layout and guarantees.
It knows nothing of casinos.

Its public read API, for readers that go below the library's notifications (the dispute
replay reads a round's subjects and a bet's whole writes): the application recorder,
the headers every message carries, an aggregate's subject token, a message as a
notification, the write a message belongs to and an application's stream name.
"""

from services.eventstore.factory import JetStreamFactory
from services.eventstore.recorders import (
    HEADER_TOPIC,
    HEADER_VERSION,
    JetStreamApplicationRecorder,
    aggregate_token,
    as_notification,
    stream_name,
    write_of,
)

__all__ = [
    "HEADER_TOPIC",
    "HEADER_VERSION",
    "JetStreamApplicationRecorder",
    "JetStreamFactory",
    "aggregate_token",
    "as_notification",
    "stream_name",
    "write_of",
]
