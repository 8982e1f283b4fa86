"""The simulator's side of the history: every call it offers and every answer it gets or
misses, appended to a `services.checker.history.HistoryWriter` as it happens.

`RecordingTransport` wraps a dialect client's transport (a call and its answer, or the
error that left it without one: then it is indefinite); `recording_pusher` wraps a feed
push; `RecordingBank` wraps the platform's cashier. The checker reads the history after
the run and judges it against the log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from decimal import Decimal

from contracts import feeds
from contracts.events import AnyProviderEvent
from services.checker.history import Attempt
from services.checker.history import HistoryWriter
from services.simulate.clients.base import Answer
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import Transport
from services.simulate.simulation import Bank
from services.simulate.table import PushFn


class RecordingTransport:
    """A `Transport` that records each call it sends, with its answer or its failure."""

    def __init__(
        self, inner: Transport, history: HistoryWriter, *, provider: str, dialect: str
    ) -> None:
        self.inner = inner
        self.history = history
        self.provider = provider
        self.dialect = dialect

    async def send(self, call: PreparedCall) -> Answer:
        sent = time.time()
        try:
            answer = await self.inner.send(call)
        except BaseException as exc:
            self._record(call, sent, error=f"{type(exc).__name__}: {exc}"[:300])
            raise
        self._record(call, sent, status=answer.status, answer=answer.body)
        return answer

    def _record(
        self,
        call: PreparedCall,
        sent: float,
        *,
        status: int | None = None,
        answer: bytes = b"",
        error: str = "",
    ) -> None:
        self.history.wallet(
            provider=self.provider,
            dialect=self.dialect,
            path=call.path,
            query=call.query,
            body=call.body,
            sent=sent,
            status=status,
            answer=answer,
            error=error,
        )


def recording_pusher(push: PushFn, history: HistoryWriter, *, provider: str) -> PushFn:
    """A feed push that records each batch it offers and whether it was taken."""

    async def recorded(events: Sequence[AnyProviderEvent]) -> object:
        body = feeds.encoder.encode(feeds.FeedBatch(events=list(events))).decode()
        sent = time.time()
        try:
            answer = await push(events)
        except BaseException as exc:
            history.record(
                Attempt(kind="feed", provider=provider, body=body, sent=sent, error=repr(exc))
            )
            raise
        history.record(
            Attempt(
                kind="feed",
                provider=provider,
                body=body,
                sent=sent,
                answered=time.time(),
                status=200,
                answer=answer.decode(errors="replace") if isinstance(answer, bytes) else "",
            )
        )
        return answer

    return recorded


class RecordingBank:
    """The platform's cashier, recording each deposit it offers and its outcome."""

    def __init__(self, inner: Bank, history: HistoryWriter) -> None:
        self.inner = inner
        self.history = history

    async def deposit(self, player: str, currency: str, amount: Decimal, tx_id: str) -> None:
        body = json.dumps(
            {"tx_id": tx_id, "player": player, "currency": currency, "amount": str(amount)}
        )
        sent = time.time()
        status: int | None = 200
        error = answer = ""
        try:
            await self.inner.deposit(player, currency, amount, tx_id)
        except BaseException as exc:
            refused = getattr(exc, "code", None)
            status = 422 if refused else None
            error, answer = ("", str(refused)) if refused else (repr(exc)[:300], "")
            raise
        finally:
            self.history.cashier(
                provider="cashier", body=body, sent=sent, status=status, error=error, answer=answer
            )

    async def launch(self, provider: str, player: str, currency: str) -> str:
        return await self.inner.launch(provider, player, currency)

    async def balance(self, player: str, currency: str) -> Decimal:
        return await self.inner.balance(player, currency)


__all__ = ["RecordingBank", "RecordingTransport", "recording_pusher"]
