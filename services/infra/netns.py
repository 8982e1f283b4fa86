"""Network namespaces for a cluster that can be partitioned: one per node, made and removed
by the caller (a test, `livebridge chaos --cluster`).

`Net()` names three namespaces `<tag>n1..3`, each with `eth0` at `<subnet>.i` behind a veth
pair to a bridge `<tag>br` at `<subnet>.254` in the caller's namespace; the subnet is a
random private /24 in 10.64-127.x, used by nothing else. `cut(i)` takes node i's veth down:
the node runs on, alone, unreachable by its peers and by clients; `heal(i)` brings it back.
Traffic stays inside those namespaces and the bridge: nothing is routed anywhere else.

Needs CAP_NET_ADMIN and the `ip` command. `up()` raises `NetnsUnavailable` saying which
command failed and why, after removing whatever it had made.
"""

from __future__ import annotations

import random
import subprocess
import uuid


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (no `ip`, or no CAP_NET_ADMIN)."""


def ip(*args: str) -> None:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise NetnsUnavailable(f"`ip` cannot be run ({exc}): install iproute2") from exc
    if done.returncode != 0:
        raise NetnsUnavailable(
            f"`ip {' '.join(args)}` failed: {done.stderr.strip()} (network namespaces need "
            "CAP_NET_ADMIN: run as root or with that capability)"
        )


class Net:
    """Three namespaces, one per node, on a bridge of their own (see the module doc)."""

    def __init__(self, size: int = 3) -> None:
        self.tag = "lb" + uuid.uuid4().hex[:4]
        self.subnet = f"10.{random.randint(64, 127)}.{random.randint(0, 255)}"
        self.hosts = [f"{self.subnet}.{i}" for i in range(1, size + 1)]
        self.namespaces = [f"{self.tag}n{i}" for i in range(1, size + 1)]

    @property
    def wrappers(self) -> list[list[str]]:
        """The command each node runs under: `ip netns exec <its namespace>`."""
        return [["ip", "netns", "exec", ns] for ns in self.namespaces]

    def veth(self, i: int) -> str:
        return f"{self.tag}v{i + 1}"

    def up(self) -> None:
        try:
            bridge = f"{self.tag}br"
            ip("link", "add", bridge, "type", "bridge")
            ip("addr", "add", f"{self.subnet}.254/24", "dev", bridge)
            ip("link", "set", bridge, "up")
            for i, ns in enumerate(self.namespaces):
                ip("netns", "add", ns)
                veth = self.veth(i)
                ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
                ip("link", "set", veth, "master", bridge)
                ip("link", "set", veth, "up")
                ip("-n", ns, "addr", "add", f"{self.hosts[i]}/24", "dev", "eth0")
                ip("-n", ns, "link", "set", "eth0", "up")
                ip("-n", ns, "link", "set", "lo", "up")
        except NetnsUnavailable:
            self.down()
            raise

    def down(self) -> None:
        for cmd in (
            ["link", "del", f"{self.tag}br"],
            *(["netns", "del", n] for n in self.namespaces),
        ):
            subprocess.run(["ip", *cmd], capture_output=True, check=False)

    def cut(self, i: int) -> None:
        ip("link", "set", self.veth(i), "down")

    def heal(self, i: int) -> None:
        ip("link", "set", self.veth(i), "up")
