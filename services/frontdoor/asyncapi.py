"""The AsyncAPI 3.0 document: the bet socket and the NATS subjects the platform consumes.

Generated, never written by hand but prose: every message's payload schema comes from its
msgspec type (`msgspec.json.schema_components`, the same types `/contracts/{name}.json`
serves); channels, operations and messages are listed below from those types. Operations
are described from the point of view of the platform's applications (the player's front
on the socket, the platform's consumer on NATS): `send` is what they send, `receive` what
they receive.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from aiohttp import web

from contracts.api import Operation
from contracts.messages import SETTLE
from contracts.messages import SOCKET_IN
from contracts.messages import SOCKET_OUT
from contracts.messages import tag_of
from contracts.platform import RoundSettle
from contracts.player import BetAccepted
from contracts.player import BetRejected
from contracts.player import LimitsUpdate
from services.frontdoor.launch import SOCKET_PATH
from services.frontdoor.openapi import REF
from services.frontdoor.openapi import document_json
from services.frontdoor.openapi import ecma_patterns
from services.frontdoor.routes import RouteTable
from services.frontdoor.socket import SOCKET

HOSTS_KEPT = 16
"""Documents kept, one per host asked at, the latest: the Host header is the caller's to
choose, and one kept for every host ever named would grow without bound."""

LIMITS = (LimitsUpdate,)


def _message_name(kind: Any) -> str:
    name: str = kind.__name__
    return name[0].lower() + name[1:]


def _message(kind: Any) -> dict[str, Any]:
    doc = (kind.__doc__ or "").strip()
    return {
        "name": tag_of(kind),
        "title": tag_of(kind),
        "summary": doc.split("\n\n")[0].replace("\n", " "),
        "contentType": "application/json",
        "payload": {"$ref": REF.format(name=kind.__name__)},
    }


def _refs(channel: str, kinds: tuple[Any, ...]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{channel}/messages/{_message_name(k)}"} for k in kinds]


def build_asyncapi(*, settle_root: str, limits_subject: str, host: str) -> dict[str, Any]:
    """The document for a bridge whose socket is served at `host` and whose settlements are
    published under `settle_root` (`round.settle` unless prefixed)."""
    kinds = (*SOCKET_IN, *SOCKET_OUT, *SETTLE)
    _, components = msgspec.json.schema_components(kinds, ref_template=REF)
    socket_messages = {_message_name(k): _message(k) for k in (*SOCKET_IN, *SOCKET_OUT)}
    document: dict[str, Any] = ecma_patterns(
        {
            "asyncapi": "3.0.0",
            "info": {
                "title": "livebridge: the bet socket and the platform's subjects",
                "version": "1",
                "description": (
                    "The player's bet socket (WebSocket; the player token in the "
                    "`Authorization` header or `?token=`) and the NATS JetStream subjects "
                    "the platform consumes. Messages are JSON; amounts are decimal strings. "
                    "Every push the socket sends after a bet carries `logPosition`: reconnect "
                    "with `?position=` and `?settledPosition=` to be sent what was missed, "
                    "read again from the log. HTTP routes are in /openapi.json."
                ),
            },
            "defaultContentType": "application/json",
            "servers": {
                "livebridge": {
                    "host": host,
                    "protocol": "ws",
                    "description": "The bet socket, beside the platform API.",
                    "security": [{"$ref": "#/components/securitySchemes/playerToken"}],
                },
                "nats": {
                    "host": "nats.example.com:4222",
                    "protocol": "nats",
                    "description": "The JetStream cluster livebridge writes to.",
                },
            },
            "channels": {
                "betSocket": {
                    "address": SOCKET_PATH,
                    "title": "The bet socket",
                    "servers": [{"$ref": "#/servers/livebridge"}],
                    "messages": socket_messages,
                    "bindings": {
                        "ws": {
                            "method": "GET",
                            "query": {
                                "type": "object",
                                "properties": {
                                    "token": {"type": "string"},
                                    # the route's own, as /openapi.json has them
                                    **{
                                        p.name: {
                                            **msgspec.json.schema(p.type),
                                            "description": p.description,
                                        }
                                        for p in SOCKET.params
                                    },
                                },
                            },
                        }
                    },
                },
                "roundSettle": {
                    "address": settle_root + ".{provider}.{round}",
                    "title": "round.settle (JetStream)",
                    "description": (
                        "One message per player and settled round, in the stream "
                        "`ROUND_SETTLE` (file storage, kept); `Nats-Msg-Id` is `eventId`. "
                        "Read it with a durable consumer. The same body goes to webhooks."
                    ),
                    "servers": [{"$ref": "#/servers/nats"}],
                    "parameters": {
                        "provider": {
                            "description": "The provider id (reserved characters percent-encoded)."
                        },
                        "round": {"description": "The provider's round id (percent-encoded)."},
                    },
                    "messages": {_message_name(RoundSettle): _message(RoundSettle)},
                },
                "limitsUpdate": {
                    "address": limits_subject,
                    "title": "limits.update (core NATS)",
                    "description": "Every limits.update once it is stored in the log.",
                    "servers": [{"$ref": "#/servers/nats"}],
                    "messages": {_message_name(LimitsUpdate): _message(LimitsUpdate)},
                },
            },
            "operations": {
                "placeBet": {
                    "action": "send",
                    "channel": {"$ref": "#/channels/betSocket"},
                    "summary": "bet.place; answered bet.accepted or bet.rejected, in order",
                    "messages": _refs("betSocket", SOCKET_IN),
                    "reply": {
                        "channel": {"$ref": "#/channels/betSocket"},
                        "messages": _refs("betSocket", (BetAccepted, BetRejected)),
                    },
                },
                "receivePushes": {
                    "action": "receive",
                    "channel": {"$ref": "#/channels/betSocket"},
                    "summary": "What livebridge pushes on the socket",
                    "messages": _refs("betSocket", SOCKET_OUT),
                },
                "consumeRoundSettle": {
                    "action": "receive",
                    "channel": {"$ref": "#/channels/roundSettle"},
                    "summary": "The platform consumes settlements",
                    "messages": _refs("roundSettle", SETTLE),
                },
                "consumeLimitsUpdate": {
                    "action": "receive",
                    "channel": {"$ref": "#/channels/limitsUpdate"},
                    "summary": "Limits changed by an operator",
                    "messages": _refs("limitsUpdate", LIMITS),
                },
            },
            "components": {
                "schemas": components,
                "securitySchemes": {
                    "playerToken": {
                        "type": "httpApiKey",
                        "name": "token",
                        "in": "query",
                        "description": "The player token of a game launch (or the "
                        "`Authorization: Bearer` header).",
                    }
                },
            },
        }
    )
    return document


def mount_asyncapi(
    app: web.Application, table: RouteTable, *, settle_root: str, limits_subject: str
) -> None:
    """Serve the document at `GET /asyncapi.json` (public)."""

    @functools.lru_cache(maxsize=HOSTS_KEPT)
    def body(host: str) -> bytes:
        document = build_asyncapi(settle_root=settle_root, limits_subject=limits_subject, host=host)
        return document_json(document)

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body(request.host), content_type="application/json")

    table.add(app, ASYNCAPI, serve)


ASYNCAPI = Operation(
    method="GET",
    path="/asyncapi.json",
    operation_id="getAsyncApi",
    summary="AsyncAPI 3.0 for the bet socket and the NATS subjects the platform consumes",
    auth="public",
    tags=("documents",),
)
