"""`Server`: what every server livebridge or its tests start has to offer its caller.

`start()` returns it running, `stop()` ends it (a later `start()` brings it back on the
same port), `close()` ends it for good and frees what it made. As a context manager it is
started on the way in and closed on the way out, whatever happened inside.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self


class Server(abc.ABC):
    @abc.abstractmethod
    def start(self) -> Self: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
