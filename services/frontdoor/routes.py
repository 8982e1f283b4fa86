"""The route table: every platform route with its `contracts.api.Operation`.

Routes are mounted through `RouteTable.add`, which registers the operation beside the
handler; routes mounted by another room (the read API in `projections/http.py`) are
described with `document`. The guard enforces what the table says and the OpenAPI
document is generated from it, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator

from aiohttp import web

from contracts.api import Operation

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RouteTable:
    def __init__(self) -> None:
        self._operations: dict[tuple[str, str], Operation] = {}

    def document(self, *operations: Operation) -> None:
        for operation in operations:
            key = (operation.method, operation.path)
            if key in self._operations:
                raise ValueError(f"{operation.method} {operation.path} is documented twice")
            self._operations[key] = operation

    def add(self, app: web.Application, operation: Operation, handler: Handler) -> None:
        self.document(operation)
        app.router.add_route(operation.method, operation.path, handler)

    def find(self, method: str, path: str) -> Operation | None:
        """The operation at `method` and `path`; a HEAD is its GET's (aiohttp serves HEAD
        wherever GET is, and answers `Allow: GET, HEAD`), without the body."""
        return self._operations.get(("GET" if method == "HEAD" else method, path))

    def __iter__(self) -> Iterator[Operation]:
        return iter(sorted(self._operations.values(), key=lambda o: (o.path, o.method)))
