"""Hostile Ezugi calls: every one gets an Ezugi errorCode, never a 500, and moves nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from contracts.dialects import ezugi as wire
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.ezugi import EzugiClient
from tests.unit.edge.support.hostile_requests import JSON
from tests.unit.edge.support.hostile_requests import bad_decimal_amounts
from tests.unit.edge.support.hostile_requests import mutate
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import refused_body

SECRET = "ezugi-TEST-ONLY-secret"
OPERATOR = 10178001
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COMMON = {
    "operatorId": OPERATOR,
    "uid": "u-1",
    "token": "tok-1",
    "transactionId": "d-1",
    "roundId": 5501,
    "currency": "EUR",
    "gameId": 1,
    "tableId": 101,
}
TEMPLATES: dict[str, tuple[dict[str, Any], str]] = {
    "debit": ({**COMMON, "debitAmount": 2.5}, "debitAmount"),
    "credit": (
        {**COMMON, "transactionId": "c-1", "debitTransactionId": "d-0", "creditAmount": 5},
        "creditAmount",
    ),
    "rollback": ({**COMMON, "transactionId": "d-0", "rollbackAmount": 2.5}, "rollbackAmount"),
}
PATHS = ["auth", "debit", "credit", "rollback"]


def setup() -> tuple[Rig, EzugiClient, GatewayTransport]:
    r, transport = player_rig(
        "ezugi", SECRET.encode(), "tok-1", options={"operator_id": OPERATOR}, max_body_bytes=4096
    )
    return r, EzugiClient(transport, SECRET, OPERATOR), transport


def check(r: Rig, transport: GatewayTransport, call: PreparedCall) -> int:
    body = refused_body(r, transport, call, statuses=(200, 503))
    reply = msgspec.json.decode(body, type=wire.TransactionResponse)
    assert reply.errorCode != 0, body
    return reply.errorCode


def test_the_debit_template_is_valid_so_refusals_below_are_earned() -> None:
    _, client, transport = setup()
    body = msgspec.json.encode(TEMPLATES["debit"][0])
    answer = asyncio.run(transport.send(client.prepare_raw("debit", body)))
    assert msgspec.json.decode(answer.body)["errorCode"] == 0


def test_random_bodies_signed_correctly_are_general_errors() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(
        st.sampled_from(PATHS), st.one_of(st.binary(max_size=300), JSON.map(msgspec.json.encode))
    )
    def run(path: str, body: bytes) -> None:
        assert check(r, transport, client.prepare_raw(path, body)) in {1, 6, 9}

    run()


def test_bad_amounts_are_general_errors() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(st.sampled_from(sorted(TEMPLATES)), bad_decimal_amounts())
    def run(path: str, amount: Any) -> None:
        template, field = TEMPLATES[path]
        body = msgspec.json.encode(mutate(template, field, amount))
        assert check(r, transport, client.prepare_raw(path, body)) == 1

    run()


FIELDS = ["operatorId", "uid", "token", "transactionId", "roundId", "currency"]
JUNK_FIELDS: dict[str, list[str]] = {
    "debit": FIELDS,
    "credit": [*FIELDS, "debitTransactionId"],
    "rollback": FIELDS,
}
IDS: dict[str, list[str]] = {
    "debit": ["uid", "transactionId", "roundId"],
    "credit": ["uid", "transactionId", "debitTransactionId", "roundId"],
    "rollback": ["uid", "transactionId", "roundId"],
}


def test_any_field_replaced_by_junk_is_refused() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(
        st.sampled_from([(p, k) for p, keys in JUNK_FIELDS.items() for k in keys]),
        st.one_of(
            JSON.filter(lambda v: not isinstance(v, str | int) or isinstance(v, bool)),
            st.just(""),
        ),
    )
    def run(target: tuple[str, str], junk: Any) -> None:
        path, key = target
        if key == "token" and junk == "" and path != "debit":
            return  # credits and rollbacks need no token: an empty one is valid
        template, _ = TEMPLATES[path]
        body = msgspec.json.encode(mutate(template, key, junk))
        check(r, transport, client.prepare_raw(path, body))

    run()


def test_an_empty_id_is_a_general_error_even_when_an_open_bet_is_in_the_round() -> None:
    """An empty `debitTransactionId` must not read as "every open bet of the round"."""
    r, client, transport = setup()
    placed = client.prepare("debit", {**TEMPLATES["debit"][0], "transactionId": "d-0"})
    assert msgspec.json.decode(asyncio.run(transport.send(placed)).body)["errorCode"] == 0
    for path, keys in IDS.items():
        for key in keys:
            body = msgspec.json.encode(mutate(TEMPLATES[path][0], key, ""))
            assert check(r, transport, client.prepare_raw(path, body)) == 1, (path, key)


def test_forged_missing_or_wrong_secret_hashes_are_refused() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(
        st.sampled_from(PATHS),
        st.one_of(
            st.just(""),
            st.text(max_size=64),
            st.binary(min_size=32, max_size=32).map(lambda b: wire.sign(b, "x")),
            st.text(min_size=1, max_size=20).map(lambda s: s + "-wrong"),
        ),
    )
    def run(path: str, secret_or_signature: str) -> None:
        template = TEMPLATES.get(path, ({"operatorId": OPERATOR, "token": "tok-1"}, ""))[0]
        body = msgspec.json.encode(template)
        wrong_secret = wire.sign(body, secret_or_signature)
        for signature in (secret_or_signature, wrong_secret):
            assert check(r, transport, client.prepare_raw(path, body, signature=signature)) == 1

    run()


def test_a_missing_hash_header_is_refused() -> None:
    r, _, transport = setup()
    call = PreparedCall(path="debit", body=msgspec.json.encode(TEMPLATES["debit"][0]), headers={})
    assert check(r, transport, call) == 1


def test_an_oversized_body_is_refused_before_anything_else() -> None:
    r, client, transport = setup()
    body = msgspec.json.encode(mutate(TEMPLATES["debit"][0], "padding", "x" * 5000))
    assert check(r, transport, client.prepare_raw("debit", body)) == 1
