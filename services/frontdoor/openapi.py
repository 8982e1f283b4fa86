"""The OpenAPI 3.1 document, generated from the route table and the msgspec types.

Nothing here is written by hand but prose: paths, parameters, bodies and responses come
from each `contracts.api.Operation`; schemas from `msgspec.json.schema_components`; every
error response lists the `LBRG` codes the operation (and its authentication) can answer,
each with an example body. The full code table is in `info.description` and in the
`ErrorCode` schema.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import msgspec

from contracts.api import AUTH_ERRORS
from contracts.api import BODY_ERRORS
from contracts.api import ERRORS
from contracts.api import ErrorBody
from contracts.api import Operation
from contracts.api import error_text
from services.frontdoor.auth import PROTECTED

REF = "#/components/schemas/{name}"
_PLAIN_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
COMMON_ERRORS = ("INTERNAL",)
"""Answered by any operation: a fault inside livebridge (never for bad input)."""
GUARDED_ERRORS = ("RETRY",)
"""Answered by any operation behind the guard (`auth.PROTECTED`): the ledger's log (NATS)
did not answer in time, a transient condition (`auth.guard`)."""

SECURITY_SCHEMES = {
    "operatorKey": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "An operator API key from livebridge.toml ([[operator.key]]), sent as "
            "`Authorization: Bearer <secret>`. Each key has scopes; `admin` has all."
        ),
    },
    "playerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "The player token a game launch returns (HS256, at most 10 minutes); it acts "
            "on its own session only."
        ),
    },
}


def ecma_patterns(document: Any) -> Any:
    """`document` with every `pattern` written for JSON Schema's regex dialect (ECMA-262).

    The id policy's patterns are Python's: they end in `\\Z` and name control and
    surrogate code points as themselves, which JSON tools cannot read (a lone surrogate is
    not UTF-8). Here `\\Z` becomes `$` (ECMA's `$` without the multiline flag matches at
    the end only) and every non-printable or non-ASCII character a `\\uXXXX` escape.
    """
    if isinstance(document, dict):
        return {
            key: _ecma(value)
            if key == "pattern" and isinstance(value, str)
            else ecma_patterns(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [ecma_patterns(item) for item in document]
    return document


def document_json(document: object) -> bytes:
    """A generated document (OpenAPI, AsyncAPI, a contract's JSON Schema) as served: JSON
    with every non-ASCII character escaped, since the id patterns name surrogate code
    points, which only escaped JSON can carry."""
    return json.dumps(document, ensure_ascii=True).encode()


def _ecma(pattern: str) -> str:
    if pattern.endswith("\\Z"):
        pattern = pattern[:-2] + "$"
    return "".join(c if " " <= c <= "~" else f"\\u{ord(c):04x}" for c in pattern)


def error_table() -> str:
    rows = [f"| `{error_text(code)}` | {meaning} |" for code, (_, meaning) in ERRORS.items()]
    return "\n".join(["| error | meaning |", "|---|---|", *rows])


def build_openapi(operations: Iterable[Operation], *, version: str = "1") -> dict[str, Any]:
    ops = list(operations)
    types = {t for op in ops for t in (op.request, op.response, op.rejection) if t is not None}
    ordered = [ErrorBody, *sorted(types, key=lambda t: getattr(t, "__name__", str(t)))]
    schemas, components = msgspec.json.schema_components(ordered, ref_template=REF)
    schema_of = dict(zip(ordered, schemas, strict=True))
    components["ErrorCode"] = {
        "type": "string",
        "enum": [error_text(code) for code in ERRORS],
        "description": "Every `error` value livebridge answers.",
    }
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for op in ops:
        paths[_PLAIN_PARAM.sub(r"{\1}", op.path)][op.method.lower()] = _operation(op, schema_of)
    document: dict[str, Any] = ecma_patterns(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "livebridge platform API",
                "version": version,
                "description": (
                    "The casino platform's way into livebridge: balances, cashier, game "
                    "launch and sessions, disputes. Errors are "
                    '`{"error": "LBRG-<status> <CODE>", "message": "..."}`:\n\n' + error_table()
                ),
            },
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
        }
    )
    return document


def _operation(op: Operation, schema_of: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": msgspec.json.schema(p.type),
            }
            for p in op.params
        ],
        "responses": _responses(op, schema_of),
    }
    if op.description:
        item["description"] = op.description
    if op.request is not None:
        item["requestBody"] = {"required": True, "content": _json(schema_of[op.request])}
    match op.auth:
        case "operator":
            assert op.scope is not None
            item["security"] = [{"operatorKey": [op.scope.value]}]
        case "player":
            item["security"] = [{"playerToken": []}]
        case "player_or_operator":
            assert op.scope is not None
            item["security"] = [{"playerToken": []}, {"operatorKey": [op.scope.value]}]
        case "public":
            item["security"] = []
    return item


def _responses(op: Operation, schema_of: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        ok["content"] = _json(schema_of[op.response])
    responses: dict[str, Any] = {str(op.status): ok}
    by_status: dict[int, list[str]] = defaultdict(list)
    body_errors = BODY_ERRORS if op.request is not None else ()
    guarded = GUARDED_ERRORS if op.path.startswith(PROTECTED) else ()
    listed = (*AUTH_ERRORS[op.auth], *body_errors, *op.errors, *guarded, *COMMON_ERRORS)
    for code in dict.fromkeys(listed):
        by_status[ERRORS[code][0]].append(code)
    for status, codes in sorted(by_status.items()):
        content = _json(schema_of[ErrorBody])
        if op.rejection is not None:
            content = _json({"oneOf": [schema_of[ErrorBody], schema_of[op.rejection]]})
        content["application/json"]["examples"] = {
            code: {"value": {"error": error_text(code), "message": ERRORS[code][1]}}
            for code in codes
        }
        responses[str(status)] = {
            "description": "; ".join(f"`{error_text(code)}`" for code in codes),
            "content": content,
        }
    return responses


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
