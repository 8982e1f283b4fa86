"""A three-node JetStream cluster from the wheel on free loopback ports, per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.infra.natscluster import NatsCluster


@pytest.fixture(scope="module")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


def cluster_env(cluster: NatsCluster, stream_prefix: str) -> dict[str, str]:
    """The ledger's settings on `cluster`, its streams at R3."""
    return {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": cluster.url,
        "NATS_STREAM_PREFIX": stream_prefix,
        "NATS_REPLICAS": "3",
        "LEDGER_BRIDGE_SETTLED_PROVIDERS": "pp",
    }
