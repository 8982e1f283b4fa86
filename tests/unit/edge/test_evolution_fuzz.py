"""Hostile Evolution calls: every one gets an Evolution status other than OK, no 500, no change."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from contracts.dialects import evolution as wire
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.evolution import EvolutionClient
from tests.unit.edge.support.hostile_requests import JSON
from tests.unit.edge.support.hostile_requests import bad_decimal_amounts
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import refused_body
from tests.unit.edge.support.wallet_gateway import refused_status

SECRET = "evo-auth-token-TEST-ONLY"
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATHS = ["check", "balance", "debit", "credit", "cancel"]
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def tx(tx_id: str, amount: Any) -> dict[str, Any]:
    return {
        "sid": "sid-1",
        "userId": "u-1",
        "currency": "EUR",
        "game": {"id": "g-1", "type": "roulette"},
        "transaction": {"id": tx_id, "refId": "bet-" + tx_id, "amount": amount},
        "uuid": "q",
    }


def setup() -> tuple[Rig, EvolutionClient, GatewayTransport]:
    r, transport = player_rig("evolution", SECRET.encode(), "sid-1", max_body_bytes=4096)
    client = EvolutionClient(transport, SECRET)
    asyncio.run(client.send(client.prepare("debit", tx("d-0", Decimal("1")))))
    return r, client, transport


def refused(r: Rig, transport: GatewayTransport, call: PreparedCall) -> str:
    return refused_status(r, transport, call, wire.Response, wire.Status.OK)


@FUZZ
@given(path=st.sampled_from(PATHS), body=st.one_of(JSON, st.binary(max_size=200)))
def test_random_bodies_get_an_evolution_error(path: str, body: Any) -> None:
    r, client, transport = setup()
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    reply = msgspec.json.decode(refused_body(r, transport, client.prepare_raw(path, raw), (200,)))
    assert reply["status"] in set(wire.Status) and reply["status"] != "OK", reply


@FUZZ
@given(path=st.sampled_from(PATHS), token=st.text(max_size=40))
def test_a_wrong_or_missing_auth_token_is_invalid_token_id(path: str, token: str) -> None:
    r, client, transport = setup()
    call = client.prepare(path, tx("d-1", Decimal(1)), auth=token if token != SECRET else "")
    assert refused(r, transport, call) == wire.Status.INVALID_TOKEN_ID


@FUZZ
@given(path=st.sampled_from(["debit", "credit", "cancel"]), amount=bad_decimal_amounts())
def test_negative_over_precise_nan_or_non_numeric_amounts_are_invalid(
    path: str, amount: Any
) -> None:
    r, client, transport = setup()
    tx_id = "d-0" if path != "debit" else "d-1"
    status = refused(r, transport, client.prepare(path, tx(tx_id, amount)))
    assert status == wire.Status.INVALID_PARAMETER


@FUZZ
@given(size=st.integers(min_value=4097, max_value=20000))
def test_oversized_bodies_are_refused(size: int) -> None:
    r, client, transport = setup()
    call = client.prepare("debit", {**tx("d-1", Decimal(1)), "pad": "x" * size})
    assert refused(r, transport, call) == wire.Status.INVALID_PARAMETER


def test_an_empty_user_round_transaction_or_bet_id_is_invalid_parameter() -> None:
    r, client, transport = setup()
    for path in ("debit", "credit", "cancel"):
        for field in ("userId", "game.id", "transaction.id", "transaction.refId"):
            body = tx("d-0" if path == "cancel" else "t-9", Decimal("1"))
            outer, _, inner = field.partition(".")
            if inner:
                body[outer] = {**body[outer], inner: ""}
            else:
                body[outer] = ""
            status = refused(r, transport, client.prepare(path, body))
            assert status == wire.Status.INVALID_PARAMETER, (path, field)
