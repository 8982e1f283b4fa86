"""A three-node JetStream cluster on loopback, from the wheel's nats-server.

`NatsCluster(store_dir)` gives each node a store under `store_dir/<name>`, a client port, a
monitoring port and a cluster port, all free ports on 127.0.0.1, and routes from every node
to the other two (`infra/nats/cluster/node.conf`: `sync_interval: always`, so each replica
fsyncs before its vote counts). `start()` returns once a JetStream meta leader is elected
and every node knows it, `placed()` (or `wait_for_placement()`) once the leader places a
stream on every node (a moment later; entering the cluster as a context does both); `url`
lists every node's client URL, comma-separated, the form `LIVEBRIDGE_NATS_URL` takes for
an external cluster too (`monitor_url` likewise).

Each node is a `NatsServer`: `kill()`, `start()` and the bridge's `NatsKeeper` work on a
node as on the single server. Streams and KV buckets made on the cluster are R3 when
created with `replicas=3` (`LIVEBRIDGE_NATS_REPLICAS`, 3 by default with `CLUSTER=1`).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from typing import Self

import nats
from nats.js.api import StorageType
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError
from nats.js.errors import ServiceUnavailableError

from services.infra.natsserver import NatsServer
from services.infra.natsserver import NatsServerError
from services.infra.natsserver import free_port
from services.infra.server import Server

CONFIG = Path(__file__).resolve().parents[2] / "infra" / "nats" / "cluster" / "node.conf"
SIZE = 3
NO_SUITABLE_PEERS = 10005
"""JetStream's "no suitable peers for placement": a new meta leader has routes to its
peers but has not yet heard their statistics, and takes them for offline."""
PROBE = "LB_PLACEMENT_PROBE"


class NatsCluster(Server):
    """Three `NatsServer` nodes routed to each other; a context manager like one server."""

    def __init__(
        self,
        store_dir: Path,
        *,
        size: int = SIZE,
        cluster_name: str = "livebridge",
        hosts: Sequence[str] = (),
        wrappers: Sequence[Sequence[str]] = (),
    ):
        """`hosts[i]` and `wrappers[i]`: node i's address and the command it runs under
        (default 127.0.0.1, none); a test puts each node in a network namespace this way."""
        self.store_dir = Path(store_dir)
        self.cluster_name = cluster_name
        names = [f"n{i + 1}" for i in range(size)]
        self.cluster_ports = {name: free_port() for name in names}
        host = dict(zip(names, hosts or ["127.0.0.1"] * size, strict=True))
        wrapper = dict(zip(names, wrappers or [()] * size, strict=True))
        self.nodes: dict[str, NatsServer] = {}
        for name in names:
            routes = ",".join(
                f"nats://{host[other]}:{port}" for other, port in self.cluster_ports.items()
                if other != name
            )  # fmt: skip
            self.nodes[name] = NatsServer(
                self.store_dir / name,
                config=CONFIG,
                extra_args=(
                    "--server_name", name,
                    "--cluster_name", cluster_name,
                    "--cluster", f"nats://{host[name]}:{self.cluster_ports[name]}",
                    "--routes", routes,
                ),
                host=host[name],
                wrapper=wrapper[name],
            )  # fmt: skip

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes.values())

    @property
    def monitor_url(self) -> str:
        return ",".join(node.monitor_url for node in self.nodes.values())

    def start(self, timeout: float = 60.0) -> Self:
        deadline = time.monotonic() + timeout
        starting = [node for node in self.nodes.values() if not node.running()]
        for node in starting:
            node.launch()
        for node in starting:
            node.wait_ready(max(1.0, deadline - time.monotonic()))
        self.wait_for_leader(max(1.0, deadline - time.monotonic()))
        return self

    def _meta(self, node: str) -> dict[str, Any]:
        try:
            url = f"{self.nodes[node].monitor_url}/jsz"
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                meta: dict[str, Any] = json.loads(resp.read()).get("meta_cluster") or {}
                return meta
        except (OSError, ValueError):
            return {}

    def meta_leader(self, node: str) -> str | None:
        """The JetStream meta leader `node` knows of, or None (no quorum, or no answer)."""
        leader = self._meta(node).get("leader")
        return str(leader) if leader else None

    def peers_current(self, leader: str) -> bool:
        """Whether the meta leader sees every other running node as a current peer (until
        then, placing an R3 stream may fail with "no suitable peers")."""
        replicas = self._meta(leader).get("replicas") or []
        current = {r.get("name") for r in replicas if r.get("current") and not r.get("offline")}
        running = {name for name, node in self.nodes.items() if node.running()} - {leader}
        return running <= current

    def wait_for_leader(self, timeout: float = 30.0) -> str:
        """Block until every running node names the same meta leader; return its name."""
        deadline = time.monotonic() + timeout
        while True:
            seen = {self.meta_leader(n) for n, node in self.nodes.items() if node.running()}
            if len(seen) == 1 and None not in seen:
                leader = str(seen.pop())
                if leader in self.nodes and self.peers_current(leader):
                    return leader
            if time.monotonic() > deadline:
                raise NatsServerError(
                    f"JetStream cluster in {self.store_dir} elected no leader in {timeout}s "
                    f"(nodes report {sorted(map(str, seen))}); see each node's nats-server.log"
                )
            time.sleep(0.1)

    def stream_leader(self, stream: str) -> str | None:
        """The node leading `stream`'s replicas, as the first node that answers tells it."""
        for node in self.nodes.values():
            if not node.running():
                continue
            url = f"{node.monitor_url}/jsz?streams=true&raft=true"
            try:
                with urllib.request.urlopen(url, timeout=1.0) as resp:
                    jsz = json.loads(resp.read())
            except (OSError, ValueError):
                continue
            for account in jsz.get("account_details") or []:
                for found in account.get("stream_detail") or []:
                    if found.get("name") == stream:
                        leader = (found.get("cluster") or {}).get("leader")
                        if leader:
                            return str(leader)
        return None

    def wait_for_placement(self, timeout: float = 30.0) -> None:
        """`placed()` for a caller without a loop of its own running (a thread and a loop
        of their own, whatever the caller runs)."""
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, self.placed(timeout)).result()

    async def placed(self, within_s: float = 30.0) -> None:
        """Return once the cluster places a stream on every node (a probe stream, in memory,
        made and deleted). A leader and current peers are not enough: for a moment after
        they are, the leader refuses an R3 stream with "no suitable peers for placement,
        peer offline", and `livebridge run CLUSTER=1` failed to start on it."""
        deadline = time.monotonic() + within_s
        client = await nats.connect(self.url.split(","), connect_timeout=2)
        try:
            js = client.jetstream(timeout=2.0)
            probe = StreamConfig(
                name=PROBE,
                subjects=[f"lb.{PROBE.lower()}"],
                num_replicas=len(self.nodes),
                storage=StorageType.MEMORY,
            )
            while True:
                try:
                    await js.add_stream(probe)
                    break
                except (BadRequestError, ServiceUnavailableError, TimeoutError) as refused:
                    transient = not isinstance(refused, BadRequestError) or (
                        refused.err_code == NO_SUITABLE_PEERS
                    )
                    if not transient or time.monotonic() > deadline:
                        raise NatsServerError(
                            f"JetStream cluster in {self.store_dir} places no stream on its "
                            f"{len(self.nodes)} nodes: {refused}"
                        ) from refused
                    await asyncio.sleep(0.2)
            await js.delete_stream(PROBE)
        finally:
            await client.close()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def __enter__(self) -> Self:
        """`start()`, then `wait_for_placement()`: what a caller making R3 streams needs."""
        try:
            self.start()
            self.wait_for_placement()
            return self
        except BaseException:  # the nodes that did start must not outlive the failure
            self.stop()
            raise
