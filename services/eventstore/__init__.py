"""A persistence module for the `eventsourcing` library whose store is NATS JetStream.

Select it with `PERSISTENCE_MODULE=services.eventstore` and `NATS_URL=...`; see
`factory.py` for the settings and `recorders.py` for the guarantees. It knows nothing of
casinos. Its files: `layout.py` (subjects, headers, notifications), `writer.py` (atomic
writes that land once), `reader.py` (by aggregate, by position, by write), `heads.py`,
`recorders.py` (the library's recorders over a writer and a reader), `connection.py` (one
nats-py connection on its loop thread), `nats_override.py` (the one place nats-py's
internals are rerouted, version-checked and self-tested at start-up), `coalesce.py`
(group commit), `transcoder.py`, `factory.py`.

Its public read API, for readers that go below the library's notifications (the dispute
replay reads a round's events by position and a bet's whole writes): the application
recorder (`read` runs its `reader`'s reads on the store's loop), the headers every
message carries, a message as a notification, the write a message belongs to, runs of
nearby positions, and an application's stream name.
"""

from services.eventstore.factory import JetStreamFactory
from services.eventstore.layout import HEADER_TOPIC
from services.eventstore.layout import HEADER_VERSION
from services.eventstore.layout import as_notification
from services.eventstore.layout import stream_name
from services.eventstore.layout import write_of
from services.eventstore.reader import runs
from services.eventstore.recorders import JetStreamApplicationRecorder

__all__ = [
    "HEADER_TOPIC",
    "HEADER_VERSION",
    "JetStreamApplicationRecorder",
    "JetStreamFactory",
    "as_notification",
    "runs",
    "stream_name",
    "write_of",
]
