"""The one place livebridge reroutes nats-py's internals, checked at start-up.

nats-py has no public hook for either of the two things the event store needs of it:
- **Header names read once** (`parse_header_lines`): nats-py decodes and checks each header
  name again on every message, testing it for whitespace one character at a time in a
  Python generator; on an event message with a dozen headers that is most of what receiving
  it costs. `DirectClient._parse_header_lines` replaces the static method nats-py's
  `Client._process_headers` calls, reading exactly as it reads.
- **Direct-get replies straight to their reader** (`DirectClient.direct`): a batch direct
  get answers with dozens of messages; nats-py's parser hands each to
  `Client._process_msg`, which `DirectClient` overrides to pass the messages of one
  subscription to a function (no `Msg`, no queue, no task switch per message).

Both lean on nats-py's private names, so both are guarded: `check()` refuses a nats-py
other than the one they were written against (`SUPPORTED`), and runs `self_test()`, which
feeds nats-py's own parser one message for the direct subscription and has nats-py's own
header reader read one header block, and fails with `NatsOverrideBroken` unless each went
through the override. `JetStreamConnection` calls `check()` before it connects, so a
nats-py that stopped calling what is rerouted stops the process at start, loudly, instead
of leaving the fast path silently unused (or the direct replies lost).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import version

from nats.aio.client import Client
from nats.protocol import parser

SUPPORTED = ("2.16.",)
"""nats-py releases whose internals the override was written against and tested on."""

_SPACE = re.compile(r"\s")
_NAMES: dict[bytes, str | None] = {}
MAX_NAMES = 1024
"""Header names remembered by `parse_header_lines` (other publishers may invent more)."""


class NatsOverrideBroken(RuntimeError):
    """The installed nats-py no longer calls what livebridge reroutes (or is not a release
    it was checked against): pin nats-py to a supported release, or port
    `services/eventstore/nats_override.py` to the new one and extend `SUPPORTED`."""


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """`Name: Value` lines -> dict, read exactly as nats-py 2.16 reads them.

    The names a stream uses are a few, so each is checked once (`_header_name`) and
    remembered.
    """
    headers: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = _NAMES[name] if name in _NAMES else _header_name(name)
        if key is not None:
            headers[key] = value.strip().decode("utf-8", "replace")
    return headers


def _header_name(raw: bytes) -> str | None:
    """A header line's name as nats-py takes it, or None if nats-py drops the line."""
    try:
        key: str | None = raw.strip().decode("ascii")
    except UnicodeDecodeError:
        key = None
    if key is not None and _SPACE.search(key):
        key = None
    if len(_NAMES) < MAX_NAMES:
        _NAMES[raw] = key
    return key


class DirectClient(Client):
    """nats-py's client, reading message headers with `parse_header_lines`, and handing
    the messages of one subscription (`direct`: its id and a function) straight to that
    function."""

    _parse_header_lines = staticmethod(parse_header_lines)
    direct: tuple[int, Callable[[bytes, bytes, bytes | None], None]] | None = None

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes
    ) -> None:
        if self.direct is not None and sid == self.direct[0]:
            self.stats["in_msgs"] += 1
            self.stats["in_bytes"] += len(data)
            self.direct[1](subject, data, headers)
            return
        await super()._process_msg(sid, subject, reply, data, headers)


def check_version(installed: str | None = None) -> None:
    """Refuse a nats-py release the override was not written against."""
    installed = installed if installed is not None else version("nats-py")
    if not installed.startswith(SUPPORTED):
        raise NatsOverrideBroken(
            f"nats-py {installed} is installed; services/eventstore/nats_override.py reroutes "
            f"internals of nats-py {', '.join(v + 'x' for v in SUPPORTED)} only. Pin nats-py "
            "to a supported release, or port the override and extend SUPPORTED."
        )


async def self_test() -> None:
    """Prove that nats-py still calls both overrides; `NatsOverrideBroken` if it does not.

    No socket: one direct-get reply is fed to nats-py's own protocol parser, which must
    hand it to `DirectClient._process_msg` (and so to the direct function), and one header
    block is read by nats-py's own `_process_headers`, which must read it with the client's
    `_parse_header_lines` (a probe subclass's, which notes each call).
    """
    received: list[tuple[bytes, bytes, bytes | None]] = []
    parsed: list[bytes] = []

    class Probe(DirectClient):
        @staticmethod
        def _parse_header_lines(raw: bytes) -> dict[str, str]:
            parsed.append(raw)
            return parse_header_lines(raw)

    client = Probe()
    client.direct = (1, lambda subject, data, headers: received.append((subject, data, headers)))
    block = b"NATS/1.0\r\nNats-Sequence: 1\r\n\r\n"
    payload = b"{}"
    frame = b"HMSG _LB_SELF_TEST.reply 1 %d %d\r\n%s%s\r\n" % (
        len(block),
        len(block) + len(payload),
        block,
        payload,
    )
    await parser.Parser(client).parse(frame)
    if received != [(b"_LB_SELF_TEST.reply", payload, block)]:
        raise NatsOverrideBroken(
            "nats-py's parser did not hand a message to DirectClient._process_msg "
            f"(the direct reader got {received!r}): batch direct gets would never be answered"
        )
    headers = await client._process_headers(b"NATS/1.0\r\nX-Self-Test: 1\r\n\r\n")
    if not parsed or headers != {"X-Self-Test": "1"}:
        raise NatsOverrideBroken(
            "nats-py's Client._process_headers did not read the headers with the client's "
            f"_parse_header_lines (it read {headers!r}): the fast header path is not in use"
        )


async def check() -> None:
    """The start-up check: a supported nats-py, still calling both overrides."""
    check_version()
    await self_test()
