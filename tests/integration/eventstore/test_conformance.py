"""The JetStream persistence module passes the eventsourcing library's own test suites.

Every case runs against the session's real nats-server 2.15 (fsync always), and every
recorder gets fresh streams, so notification ids start at 1 as the suites expect.
"""

from __future__ import annotations

import gc
import os
import uuid
from typing import Any

import pytest
from eventsourcing.persistence import AggregateRecorder
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.persistence import TrackingRecorder
from eventsourcing.tests.application import ExampleApplicationTestCase
from eventsourcing.tests.persistence import AggregateRecorderTestCase
from eventsourcing.tests.persistence import ApplicationRecorderTestCase
from eventsourcing.tests.persistence import InfrastructureFactoryTestCase
from eventsourcing.tests.persistence import NonInterleavingNotificationIDsBaseCase
from eventsourcing.tests.persistence import ProcessRecorderTestCase
from eventsourcing.tests.persistence import TrackingRecorderTestCase
from eventsourcing.utils import Environment

from services.eventstore import JetStreamFactory
from services.eventstore.connection import JetStreamConnection
from services.eventstore.recorders import JetStreamAggregateRecorder
from services.eventstore.recorders import JetStreamApplicationRecorder
from services.eventstore.recorders import JetStreamProcessRecorder
from services.eventstore.recorders import JetStreamTrackingRecorder
from services.infra.natsserver import NatsServer


class OnJetStream:
    """Mixin: a connection to the session's server, and a fresh stream per recorder."""

    nats_url: str
    _connections: list[JetStreamConnection]

    @pytest.fixture(autouse=True)
    def _server(self, nats_server: NatsServer) -> Any:
        self.nats_url = nats_server.url
        self._connections = []
        yield
        for connection in self._connections:
            connection.close()

    def connect(self) -> JetStreamConnection:
        connection = JetStreamConnection(self.nats_url, name="conformance")
        self._connections.append(connection)
        return connection

    @staticmethod
    def fresh_stream() -> str:
        return "C" + uuid.uuid4().hex[:16].upper()


class TestAggregateRecorder(OnJetStream, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return JetStreamAggregateRecorder(self.connect(), self.fresh_stream())


class TestApplicationRecorder(
    OnJetStream, ApplicationRecorderTestCase[JetStreamApplicationRecorder]
):
    def create_recorder(self) -> JetStreamApplicationRecorder:
        return JetStreamApplicationRecorder(self.connect(), self.fresh_stream())

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestNonInterleavingNotificationIds(OnJetStream, NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return JetStreamApplicationRecorder(self.connect(), self.fresh_stream())


class TestTrackingRecorder(OnJetStream, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return JetStreamTrackingRecorder(self.connect(), self.fresh_stream())


class TestProcessRecorder(OnJetStream, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return JetStreamProcessRecorder(self.connect(), self.fresh_stream())


class CustomTrackingRecorder(JetStreamTrackingRecorder):
    pass


class TestInfrastructureFactory(OnJetStream, InfrastructureFactoryTestCase[JetStreamFactory]):
    def setUp(self) -> None:
        self.env = Environment(
            "TestCase",
            {
                "PERSISTENCE_MODULE": "services.eventstore",
                "NATS_URL": self.nats_url,
                "NATS_STREAM_PREFIX": self.fresh_stream(),
            },
        )
        super().setUp()

    def expected_factory_class(self) -> type[JetStreamFactory]:
        return JetStreamFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return JetStreamAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return JetStreamApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return JetStreamTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return JetStreamProcessRecorder


class TestExampleApplication(OnJetStream, ExampleApplicationTestCase):
    expected_factory_topic = "services.eventstore.factory:JetStreamFactory"

    def setUp(self) -> None:
        self._saved = dict(os.environ)
        os.environ["PERSISTENCE_MODULE"] = "services.eventstore"
        os.environ["NATS_URL"] = self.nats_url
        os.environ["NATS_STREAM_PREFIX"] = self.fresh_stream()
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        gc.collect()  # the suite leaves its application open; close it while the server runs
        os.environ.clear()
        os.environ.update(self._saved)


del AggregateRecorderTestCase
del ApplicationRecorderTestCase
del NonInterleavingNotificationIDsBaseCase
del TrackingRecorderTestCase
del ProcessRecorderTestCase
del InfrastructureFactoryTestCase
del ExampleApplicationTestCase
