"""A persistence module for the `eventsourcing` library whose store is NATS JetStream.

Select it with `PERSISTENCE_MODULE=services.eventstore` and `NATS_URL=...`; see
`factory.py` for the settings and `recorders.py` for the stream layout and guarantees.
It knows nothing of casinos.
"""

from services.eventstore.factory import JetStreamFactory

__all__ = ["JetStreamFactory"]
