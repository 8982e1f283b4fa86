"""Schemathesis against the served `/openapi.json`: every operation, over real HTTP.

A whole bridge (real NATS, real PostgreSQL) answers requests schemathesis generates from
the document it serves (schema-valid ones: with the path parameters of what exists, so they
reach the success paths, and freely generated ones), with an operator key that has every scope
(or a player token where the operation takes one). Each answer must be no 5xx, a documented
status, the documented content type and a body matching the documented schema. Examples
per operation are bounded so the whole run stays within seconds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.integration.frontdoor.conftest import KEYS
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_documents import served_document
from tests.integration.frontdoor.test_sessions import funded_launch

Operation = schemathesis.APIOperation[Any, Any, Any, Any]

EXAMPLES = 12
"""Generated cases per operation: with ~40 operations this keeps the run to seconds."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
KNOWN_EXAMPLES = 6
"""Cases per operation with its path parameters drawn from what exists (then `EXAMPLES`
generated freely)."""
POSITIVE = (
    "GET /platform/v1/wallets/{player}",
    "GET /platform/v1/players/{player}/transactions",
    "GET /platform/v1/players/{player}/protection",
    "POST /platform/v1/players/{player}/protection",
    "PUT /platform/v1/players/{player}/limits-profile",
    "GET /platform/v1/player/sessions/{session_id}",
    "POST /platform/v1/player/sessions/{session_id}/token",
    "POST /platform/v1/sessions/{session_id}/close",
    "GET /platform/v1/providers/{provider}/tables",
    "PUT /platform/v1/providers/{provider}/tables/{table}/status",
    "PUT /platform/v1/limits/rules",
    "GET /contracts/{name}.json",
)
"""Operations whose valid requests must reach their success path (a 2xx) at least once."""
TIMEOUT_S = 5.0
"""A request still unanswered after this is a hang, and fails the test."""


def view_behind(response: schemathesis.Response) -> bool:
    """A documented retry, not a fault: `atLeast` asked for a log position past the view's
    (schemathesis picks any integer; the view catches up once the log reaches it)."""
    if response.status_code != 503:
        return False
    body = response.json()
    return isinstance(body, dict) and body.get("error") == "LBRG-503 VIEW_BEHIND"


@dataclass(frozen=True, kw_only=True)
class Credentials:
    operator: str
    player: str

    def for_operation(self, operation: Operation) -> dict[str, str]:
        security = operation.definition.raw.get("security", [])
        names = {name for requirement in security for name in requirement}
        token = self.player if names == {"playerToken"} else self.operator
        return {"Authorization": f"Bearer {token}"} if names else {}


def exercise(
    operation: Operation,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    known: dict[str, str],
    succeeded: set[str],
) -> None:
    """`KNOWN_EXAMPLES` schema-valid cases of `operation` with its path parameters drawn
    from what exists (`known`: the seeded player, session, provider and table), so valid
    requests reach the handlers' success paths, not only their 404s; then `EXAMPLES`
    generated freely.
    Operations that answered 2xx at least once are added to `succeeded`."""
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in known.items() if name in names}
    if fixed:
        strategy = operation.as_strategy(path_parameters=fixed)
        _conforms(strategy, KNOWN_EXAMPLES, operation, base_url, session, headers, succeeded)
    _conforms(operation.as_strategy(), EXAMPLES, operation, base_url, session, headers, succeeded)


def _conforms(
    strategy: Any,
    examples: int,
    operation: Operation,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    succeeded: set[str],
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def answer_conforms(case: schemathesis.Case[Operation]) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=TIMEOUT_S)
        if 200 <= response.status_code < 300:
            succeeded.add(operation.label)
        checks = [c for c in CHECKS if c is not not_a_server_error or not view_behind(response)]
        case.validate_response(
            response, checks=checks, headers=headers, transport_kwargs={"base_url": base_url}
        )

    answer_conforms()


def conform(
    document: dict[str, Any],
    base_url: str,
    credentials: Credentials,
    known: dict[str, str],
    succeeded: set[str],
) -> list[str]:
    """Every operation of `document` tried against `base_url`; the failures, one per line."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    operations = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                failures.append(f"an operation schemathesis cannot read: {result.err()}")
                continue
            operation = result.ok()
            operations += 1
            try:
                exercise(
                    operation,
                    base_url,
                    session,
                    credentials.for_operation(operation),
                    known,
                    succeeded,
                )
            except (Exception, BaseExceptionGroup) as failure:
                failures.append(f"{operation.label}: {failure}")
    assert operations >= 10, f"only {operations} operations in the document"
    return failures


async def test_every_documented_operation_answers_within_its_schema_and_never_with_a_5xx(
    bridge: Bridge,
) -> None:
    session = await funded_launch(bridge, "pia")
    document = await served_document(bridge, "/openapi.json")
    credentials = Credentials(operator=KEYS["admin"], player=session["playerToken"])
    base_url = str(bridge.client.make_url("")).rstrip("/")
    known = {
        "player": "pia",
        "session_id": session["sessionId"],
        "provider": "evo",
        "table": "T1",
        "name": "bet.place",
    }
    succeeded: set[str] = set()
    failures = await asyncio.to_thread(conform, document, base_url, credentials, known, succeeded)
    assert not failures, "\n\n".join(failures)
    # Valid requests reached the success paths, not only the refusals.
    for label in POSITIVE:
        assert label in succeeded, f"{label} never answered 2xx: {sorted(succeeded)}"
