"""The `round.settle` JetStream stream: layout, publishing exactly once, and where it stands.

Stream `ROUND_SETTLE` (file storage, append-only: deny delete and purge), subjects
`round.settle.<provider>.<round>`; a token that holds a character NATS reserves (`.`, `*`,
`>`, whitespace) is percent-encoded, so `R-1.5` becomes `R-1%2E5`.

Settlements are published in atomic batches (ADR-50, `allow_atomic`), so a round of a
thousand players costs a few fsyncs, not a thousand. Exactly once: each message carries
`Nats-Msg-Id` = its `eventId` (the server drops a repeat inside its duplicate window) and
headers `Livebridge-Log-Position` / `Livebridge-Log-Index` naming the ledger event that
completed it (and its rank among that event's settlements).
The stream's last message is therefore the publisher's tracking position: after a crash
at any point the publisher resumes right after it, and never publishes a settlement twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy
from nats.js.api import RetentionPolicy
from nats.js.api import StorageType
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from contracts.platform import ENCODER
from contracts.platform import RoundSettle

POSITION = "Livebridge-Log-Position"
INDEX = "Livebridge-Log-Index"
MSG_ID = "Nats-Msg-Id"
BATCH = 500
"""Settlements per atomic batch (the server takes at most 1,000 messages in one)."""
REQUEST_TIMEOUT = 10.0
FOREIGN_SCAN = 1000
"""Messages without a log position (not the publisher's) passed over at the stream's end."""

_RESERVED = re.compile(r"[.*>%\s]")


def token(value: str) -> str:
    """A subject token for `value`: reserved characters percent-encoded, never empty."""
    return _RESERVED.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), value) or "_"


@dataclass(frozen=True, slots=True)
class SettleStream:
    """Where settlements go. Tests and tenants give each their own name and subject root."""

    name: str = "ROUND_SETTLE"
    root: str = "round.settle"
    replicas: int = 1
    duplicate_window: float = 120.0

    @classmethod
    def prefixed(cls, prefix: str, replicas: int = 1) -> SettleStream:
        """`<prefix>_ROUND_SETTLE` on `<prefix>.round.settle.>` (no prefix: the defaults)."""
        if not prefix:
            return cls(replicas=replicas)
        return cls(name=f"{prefix}_ROUND_SETTLE", root=f"{prefix}.round.settle", replicas=replicas)

    def subject(self, settle: RoundSettle) -> str:
        return f"{self.root}.{token(settle.provider)}.{token(settle.round_id)}"

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=[f"{self.root}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.NEW,
            num_replicas=self.replicas,
            duplicate_window=self.duplicate_window,
            allow_direct=True,
            allow_atomic=True,
            deny_delete=True,
            deny_purge=True,
        )

    async def ensure(self, js: JetStreamContext) -> None:
        """Create the stream if it does not exist; allow atomic batches on an older one."""
        try:
            info = await js.stream_info(self.name)
        except NotFoundError:
            await js.add_stream(self.config())
            return
        if not info.config.allow_atomic:
            await js.update_stream(replace(info.config, allow_atomic=True))

    async def head(self, js: JetStreamContext) -> tuple[int, str]:
        """(stream sequence, message id) of the last settlement; (0, "") before the first."""
        last = (await js.stream_info(self.name)).state.last_seq
        if not last:
            return (0, "")
        try:
            msg = await js.get_msg(self.name, seq=last)
        except NotFoundError:
            return (0, "")
        return (last, str((msg.headers or {}).get(MSG_ID, "")))

    async def message_id(self, js: JetStreamContext, seq: int) -> str | None:
        """The message id stored at `seq`, or None when there is no such message."""
        try:
            msg = await js.get_msg(self.name, seq=seq)
        except NotFoundError:
            return None
        return str((msg.headers or {}).get(MSG_ID, ""))

    async def last_published(self, js: JetStreamContext) -> tuple[int, int]:
        """(log position, index) of the last settlement published; (0, -1) before the first.

        A message another client put under the stream's subjects carries no position: it
        is passed over (read as "nothing published yet", the publisher sent the whole log
        again, each batch refused as duplicates for the duplicate window, then stored
        twice). More than `FOREIGN_SCAN` of them in a row is a `SettlePublishError`."""
        last = (await js.stream_info(self.name)).state.last_seq
        for seq in range(last, max(0, last - FOREIGN_SCAN), -1):
            try:
                msg = await js.get_msg(self.name, seq=seq)
            except NotFoundError:
                continue
            headers = msg.headers or {}
            if POSITION in headers:
                return (int(headers[POSITION]), int(headers.get(INDEX, "0")))
        if last > FOREIGN_SCAN:
            raise SettlePublishError(
                f"the last {FOREIGN_SCAN} messages of stream {self.name} carry no "
                f"{POSITION}: none is a settlement; find who publishes under {self.root}.>"
            )
        return (0, -1)

    async def publish(self, js: JetStreamContext, settle: RoundSettle, index: int) -> int:
        """Publish one settlement; returns its stream sequence (the original one on a repeat)."""
        ack = await js.publish(
            self.subject(settle),
            ENCODER.encode(settle),
            stream=self.name,
            headers=_headers(settle, index),
        )
        return ack.seq

    async def publish_batch(
        self,
        nc: Client,
        items: Sequence[tuple[RoundSettle, int]],
        batch_id: str,
        *,
        traces: Sequence[Mapping[str, str]] = (),
        after: int | None = None,
    ) -> int:
        """Publish settlements, in order, as one atomic batch (one fsync for all of them).

        Returns the stream sequence of the last one. `traces[i]` (W3C trace headers) goes
        on the i-th message, so its deliveries continue the bet's trace. `after`: the
        stream's last sequence as the publisher knows it; the batch is refused unless the
        stream still ends there (a publisher that another has replaced writes nothing).

        Raises `SettlePublishError` when the server refuses the batch; nothing is stored then.
        """
        last = len(items)
        for number, (settle, index) in enumerate(items, start=1):
            subject, data = self.subject(settle), ENCODER.encode(settle)
            headers = _headers(settle, index)
            if number <= len(traces):
                headers |= traces[number - 1]
            if number == 1 and after is not None:
                headers[EXPECTED_LAST_SEQUENCE] = str(after)
            if last > 1:
                headers |= {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(number)}
            if number == last:
                if last > 1:
                    headers["Nats-Batch-Commit"] = "1"
                reply = await nc.request(subject, data, headers=headers, timeout=REQUEST_TIMEOUT)
                return int(_check(reply.data)["seq"])
            elif number == 1:
                reply = await nc.request(subject, data, headers=headers, timeout=REQUEST_TIMEOUT)
                if reply.data:
                    _check(reply.data)
            else:
                await nc.publish(subject, data, headers=headers)
        raise ValueError("an empty batch")


class SettlePublishError(RuntimeError):
    """JetStream refused a settlement batch (nothing of it was stored)."""


def _check(data: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(data)
    error = body.get("error")
    if error:
        raise SettlePublishError(
            f"JetStream refused round.settle batch: {error.get('err_code')} "
            f"{error.get('description')}"
        )
    return body


EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"


def _headers(settle: RoundSettle, index: int) -> dict[str, str]:
    return {MSG_ID: settle.event_id, POSITION: str(settle.log_position), INDEX: str(index)}
