"""The history of a run: one JSON line per attempt the simulator made, and what came back.

Every line is an `Attempt`: what was offered (`kind` `wallet`, `feed` or `cashier`, the
dialect, provider, path, query and body exactly as sent), when, and either the answer
(`status`, `answer`) or why there was none (`error`: a timeout or a dropped connection,
which leaves the operation indefinite). Lines are appended and flushed one by one, so a
run that is killed leaves a history that ends at its last complete line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import msgspec


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One call the simulator made and what it got: an answer, or `error` (none)."""

    kind: str
    """`wallet` (a provider's wallet call), `feed` (a batch of game events pushed) or
    `cashier` (the platform moving money in or out of a wallet)."""
    provider: str
    dialect: str = ""
    path: str = ""
    query: dict[str, str] = {}
    body: str = ""
    sent: float = 0.0
    answered: float = 0.0
    status: int | None = None
    """The HTTP status (cashier calls: 200 done, 422 refused)."""
    answer: str = ""
    error: str = ""
    """Why no answer came (timeout, connection dropped): the attempt is indefinite."""


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Attempt)


class HistoryWriter:
    """Appends attempts to a JSON-lines file; safe from several threads and tasks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.count = 0

    def record(self, attempt: Attempt) -> None:
        line = _ENCODER.encode(attempt).decode() + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            self.count += 1

    def wallet(
        self,
        *,
        provider: str,
        dialect: str,
        path: str,
        query: Mapping[str, str],
        body: bytes,
        sent: float,
        status: int | None = None,
        answer: bytes = b"",
        error: str = "",
    ) -> None:
        self.record(
            Attempt(
                kind="wallet",
                provider=provider,
                dialect=dialect,
                path=path,
                query=dict(query),
                body=body.decode(errors="replace"),
                sent=sent,
                answered=time.time(),
                status=status,
                answer=answer.decode(errors="replace"),
                error=error,
            )
        )

    def cashier(
        self,
        *,
        provider: str,
        body: str,
        sent: float,
        path: str = "",
        status: int | None = None,
        answer: str = "",
        error: str = "",
    ) -> None:
        """A deposit offered to the platform's cashier (`provider` names which one), and its
        outcome: the checker counts the money in from these."""
        self.record(
            Attempt(
                kind="cashier",
                provider=provider,
                path=path,
                body=body,
                sent=sent,
                answered=time.time(),
                status=status,
                answer=answer,
                error=error,
            )
        )

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_history(path: Path) -> Iterator[Attempt]:
    """Every complete line of a history (a torn last line, from a kill, is skipped)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.endswith("\n"):
                yield _DECODER.decode(line)
