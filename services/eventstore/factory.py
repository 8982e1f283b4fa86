"""The `eventsourcing` infrastructure factory for JetStream.

Selected the library's way: `PERSISTENCE_MODULE=services.eventstore`. Settings, each
looked up as `<APPNAME>_<KEY>` first, then `<KEY>`:

| key | default | meaning |
|---|---|---|
| `NATS_URL` | required | the JetStream server or cluster |
| `NATS_STREAM_PREFIX` | `LB` | streams `<prefix>_<APPNAME>`, `<prefix>_<APPNAME>_SNAPSHOTS` |
| `NATS_REPLICAS` | `1` | stream replicas (R3 in production) |
| `CREATE_TABLE` | `y` | create missing streams (`n`: expect them to exist) |
| `NATS_LAST_SEEN_HEADS` | `100000` | aggregate heads each recorder remembers (`HEAD_BYTES` each) |

One factory holds one connection, shared by every recorder it builds; `close()` drains it.
"""

from __future__ import annotations

from typing import TypeVar

from eventsourcing.persistence import AggregateRecorder
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.persistence import InfrastructureFactoryError
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.utils import Environment
from eventsourcing.utils import EnvType
from eventsourcing.utils import resolve_topic
from eventsourcing.utils import strtobool

from services.eventstore.connection import JetStreamConnection
from services.eventstore.heads import LAST_SEEN_HEADS
from services.eventstore.layout import stream_name
from services.eventstore.recorders import JetStreamAggregateRecorder
from services.eventstore.recorders import JetStreamApplicationRecorder
from services.eventstore.recorders import JetStreamProcessRecorder
from services.eventstore.recorders import JetStreamTrackingRecorder

R = TypeVar("R", JetStreamApplicationRecorder, JetStreamTrackingRecorder, JetStreamProcessRecorder)


class JetStreamFactory(InfrastructureFactory[JetStreamTrackingRecorder]):
    NATS_URL = "NATS_URL"
    NATS_STREAM_PREFIX = "NATS_STREAM_PREFIX"
    NATS_REPLICAS = "NATS_REPLICAS"
    CREATE_TABLE = "CREATE_TABLE"
    NATS_LAST_SEEN_HEADS = "NATS_LAST_SEEN_HEADS"

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        url = self.env.get(self.NATS_URL)
        if not url:
            raise InfrastructureFactoryError(
                f"{self.NATS_URL} is not set: the JetStream persistence module needs the URL "
                "of a nats-server >= 2.12 with JetStream (e.g. nats://127.0.0.1:4222)"
            )
        self.connection = JetStreamConnection(url, name=self.env.name or "eventstore")
        self.prefix = self.env.get(self.NATS_STREAM_PREFIX, "LB")
        self.replicas = int(self.env.get(self.NATS_REPLICAS, "1"))
        self.heads = int(self.env.get(self.NATS_LAST_SEEN_HEADS) or LAST_SEEN_HEADS)

    def _stream(self, suffix: str = "") -> str:
        return stream_name(self.prefix, (self.env.name or "APP") + suffix)

    def _create(self) -> bool:
        return bool(strtobool(self.env.get(self.CREATE_TABLE, "yes") or "yes"))

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        snapshots = purpose == "snapshots"
        return JetStreamAggregateRecorder(
            self.connection,
            self._stream("_" + purpose.upper() if purpose != "events" else "_AGGREGATES"),
            snapshots=snapshots,
            create_stream=self._create(),
            replicas=self.replicas,
            heads=self.heads,
        )

    def _recorder(self, cls: type[R]) -> R:
        """A recorder on the application's stream, built as the settings say."""
        return cls(
            self.connection,
            self._stream(),
            create_stream=self._create(),
            replicas=self.replicas,
            heads=self.heads,
        )

    def _configured(self, topic_key: str, default: type[R]) -> type[R]:
        """The recorder class the environment names under `topic_key`, else `default`."""
        topic = self.env.get(topic_key)
        found: type[R] = resolve_topic(topic) if topic else default
        return found

    def application_recorder(self) -> ApplicationRecorder:
        return self._recorder(
            self._configured(self.APPLICATION_RECORDER_TOPIC, JetStreamApplicationRecorder)
        )

    def tracking_recorder(
        self, tracking_recorder_class: type[JetStreamTrackingRecorder] | None = None
    ) -> JetStreamTrackingRecorder:
        return self._recorder(
            tracking_recorder_class
            or self._configured(self.TRACKING_RECORDER_TOPIC, JetStreamTrackingRecorder)
        )

    def process_recorder(self) -> ProcessRecorder:
        return self._recorder(
            self._configured(self.PROCESS_RECORDER_TOPIC, JetStreamProcessRecorder)
        )

    def close(self) -> None:
        self.connection.close()
        super().close()
