"""The ledger as the edge sees it: a synchronous port, called from a thread pool.

`LedgerPort` is the public API of `services.ledger.application` (the ledger is an
`eventsourcing` Application: synchronous, blocking on JetStream acks). The edge never
calls it on the event loop: `AsyncLedger` runs each call in a dedicated executor, or in
the one the port names for the command (an optional `executor_for(command)`: the ledger
runs bets on its event store's loop); asks it, when the port can tell (an optional
`answered(provider, tx_id)`), whether a transaction was answered before; and
turns the ledger's refusal (any exception carrying a `Refusal` in `.code`, i.e.
`services.ledger.errors.LedgerRefused`) into `Refused`, which adapters render in their
dialect. Any other exception propagates; the gateway answers it with the dialect's
internal error, and the provider's retry finds the ledger's idempotent answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol
from typing import TypeGuard
from typing import TypeVar
from typing import cast

from opentelemetry import trace

from contracts.tracing import tracing_on
from contracts.wallet import AnyWalletCommand
from contracts.wallet import Balance
from contracts.wallet import Refusal
from contracts.wallet import WalletReply

T = TypeVar("T")
_tracer = trace.get_tracer("livebridge.ledger")


class LedgerPort(Protocol):
    def execute(self, command: AnyWalletCommand) -> WalletReply: ...

    def balance(self, player: str, currency: str) -> Balance: ...


class Refused(Exception):
    """The ledger refused a command; `code` is stable, `message` is for humans and logs."""

    def __init__(self, code: Refusal, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else str(code))
        self.code = code
        self.message = message


class AsyncLedger:
    """`LedgerPort` made awaitable. Owns its executor unless one is given.

    `port` may be a zero-argument callable returning the port, resolved on first use, for
    composition roots that build the ledger in a `cleanup_ctx` after routes are mounted.
    """

    def __init__(
        self,
        port: LedgerPort | Callable[[], LedgerPort],
        executor: Executor | None = None,
        workers: int = 64,
    ) -> None:
        self._port: LedgerPort | None = None
        self._factory: Callable[[], LedgerPort] | None = None
        if _is_port(port):
            self._port = port
        else:
            self._factory = cast("Callable[[], LedgerPort]", port)
        self._own = executor is None
        self._executor = executor or ThreadPoolExecutor(workers, thread_name_prefix="edge-ledger")

    @property
    def port(self) -> LedgerPort:
        if self._port is None:
            assert self._factory is not None
            self._port = self._factory()
        return self._port

    async def execute(self, command: AnyWalletCommand) -> WalletReply:
        port = self.port
        route = getattr(port, "executor_for", None)
        executor = route(command) if route is not None else None
        return await self._call(functools.partial(_traced_execute, port, command), executor)

    async def balance(self, player: str, currency: str) -> Balance:
        return await self._call(functools.partial(self.port.balance, player, currency))

    async def answered(self, provider: str, tx_id: str) -> bool:
        """Whether the ledger has answered this transaction before, so that `execute` answers
        it as a repeat; False from a port without the optional `answered(provider, tx_id)`."""
        answered: Callable[[str, str], bool] | None = getattr(self.port, "answered", None)
        if answered is None:
            return False
        return await self._call(functools.partial(answered, provider, tx_id))

    async def _call(self, fn: functools.partial[T], executor: Executor | None = None) -> T:
        loop = asyncio.get_running_loop()
        # The caller's context (its OpenTelemetry span) goes with the call into the thread,
        # so the event store stamps the request's traceparent on what it writes.
        context = contextvars.copy_context()
        try:
            return await loop.run_in_executor(executor or self._executor, context.run, fn)
        except Exception as exc:
            code = getattr(exc, "code", None)
            if isinstance(code, Refusal):
                raise Refused(code, str(exc)) from exc
            raise

    def close(self) -> None:
        if self._own:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _traced_execute(port: LedgerPort, command: AnyWalletCommand) -> WalletReply:
    """The ledger command as a `ledger <Command>` span (its writes are children of it)."""
    if not tracing_on():
        return port.execute(command)
    with _tracer.start_as_current_span(
        f"ledger {type(command).__name__}",
        attributes={"livebridge.provider": command.provider, "livebridge.tx_id": command.tx_id},
    ):
        return port.execute(command)


def _is_port(candidate: object) -> TypeGuard[LedgerPort]:
    return hasattr(candidate, "execute") and hasattr(candidate, "balance")
