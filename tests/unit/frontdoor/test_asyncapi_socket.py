"""The bet socket's part of the AsyncAPI document says what the socket takes."""

from __future__ import annotations

import msgspec

from services.frontdoor.asyncapi import build_asyncapi
from services.frontdoor.socket import SOCKET


def test_the_socket_query_in_the_asyncapi_document_is_the_routes_own() -> None:
    # The query was written by hand: `position` and `settledPosition` had no maximum, while
    # the socket refuses a position past 18 digits (INVALID_POSITION), as /openapi.json says.
    document = build_asyncapi(settle_root="round.settle", limits_subject="lb.limits", host="h")
    query = document["channels"]["betSocket"]["bindings"]["ws"]["query"]["properties"]
    assert set(query) == {"token", *(p.name for p in SOCKET.params)}
    for param in SOCKET.params:
        assert query[param.name] == {
            **msgspec.json.schema(param.type),
            "description": param.description,
        }
    assert query["position"]["maximum"] == 10**18 - 1
