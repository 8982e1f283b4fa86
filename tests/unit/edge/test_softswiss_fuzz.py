"""Hostile SoftSwiss calls: every one gets a SoftSwiss error, never a 500, and moves nothing."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from contracts.dialects import softswiss as wire
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.softswiss import SoftSwissClient
from tests.unit.edge.support.hostile_requests import JSON
from tests.unit.edge.support.hostile_requests import bad_integer_amounts
from tests.unit.edge.support.hostile_requests import mutate
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import refused_body

SECRET = "softswiss-TEST-ONLY-token"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PLAY: dict[str, Any] = {
    "user_id": "u-1",
    "currency": "EUR",
    "game": "softswiss:roulette",
    "game_id": "r-1",
    "finished": False,
    "actions": [{"action": "bet", "action_id": "a-1", "amount": 250}],
}
ROLLBACK: dict[str, Any] = {
    "user_id": "u-1",
    "currency": "EUR",
    "game_id": "r-1",
    "actions": [{"action": "rollback", "action_id": "rb-1", "original_action_id": "a-0"}],
}


def setup() -> tuple[Rig, SoftSwissClient, GatewayTransport]:
    r, transport = player_rig("softswiss", SECRET.encode(), max_body_bytes=4096)
    client = SoftSwissClient(transport, SECRET)
    return r, client, transport


def check(r: Rig, transport: GatewayTransport, call: PreparedCall, *, statuses: set[int]) -> None:
    body = refused_body(r, transport, call, statuses)
    assert msgspec.json.decode(body, type=wire.ErrorResponse).code != 500, body


def test_random_bodies_signed_correctly_are_bad_requests() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(
        st.sampled_from(["play", "rollback"]),
        st.one_of(st.binary(max_size=300), JSON.map(msgspec.json.encode)),
    )
    def run(path: str, body: bytes) -> None:
        check(r, transport, client.prepare_raw(path, body), statuses={400, 412})

    run()


def test_bad_amounts_are_bad_requests() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(bad_integer_amounts(), st.sampled_from(["bet", "win"]))
    def run(amount: Any, kind: str) -> None:
        action = {"action": kind, "action_id": "a-9", "amount": amount}
        body = msgspec.json.encode(mutate(PLAY, "actions", [action]))
        check(r, transport, client.prepare_raw("play", body), statuses={400})

    run()


def test_any_field_replaced_by_junk_is_refused() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(
        st.sampled_from([("play", PLAY), ("rollback", ROLLBACK)]),
        st.sampled_from(["user_id", "currency", "game_id", "finished", "actions"]),
        JSON.filter(lambda v: not isinstance(v, str | bool)),
    )
    def run(target: tuple[str, dict[str, Any]], key: str, junk: Any) -> None:
        path, template = target
        if key == "actions" and path == "play" and junk in (None, []):
            return  # no actions is a balance query, which is allowed
        body = msgspec.json.encode(mutate(template, key, junk))
        check(r, transport, client.prepare_raw(path, body), statuses={400, 412, 404})

    run()


def test_an_empty_player_or_action_id_is_a_bad_request() -> None:
    """An empty `original_action_id` names nothing; it must not leave a pre-rollback behind."""
    r, client, transport = setup()
    for path, template, key in (
        ("play", PLAY, "user_id"),
        ("rollback", ROLLBACK, "user_id"),
    ):
        body = msgspec.json.encode(mutate(template, key, ""))
        check(r, transport, client.prepare_raw(path, body), statuses={400})
    for path, template, key in (
        ("play", PLAY, "action_id"),
        ("rollback", ROLLBACK, "action_id"),
        ("rollback", ROLLBACK, "original_action_id"),
    ):
        action = mutate(template["actions"][0], key, "")
        body = msgspec.json.encode(mutate(template, "actions", [action]))
        check(r, transport, client.prepare_raw(path, body), statuses={400})


def test_any_action_field_replaced_by_junk_is_refused() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(
        st.sampled_from(
            [
                ("play", PLAY, "action_id"),
                ("play", PLAY, "amount"),
                ("rollback", ROLLBACK, "action_id"),
                ("rollback", ROLLBACK, "original_action_id"),
            ]
        ),
        st.one_of(JSON.filter(lambda v: not isinstance(v, str | int)), st.just("")),
    )
    def run(target: tuple[str, dict[str, Any], str], junk: Any) -> None:
        path, template, key = target
        action = mutate(template["actions"][0], key, junk)
        body = msgspec.json.encode(mutate(template, "actions", [action]))
        check(r, transport, client.prepare_raw(path, body), statuses={400})

    run()


def test_forged_missing_or_wrong_secret_signatures_are_forbidden() -> None:
    r, client, transport = setup()

    @FUZZ
    @given(
        st.sampled_from(["play", "rollback"]),
        st.one_of(
            st.just(""),
            st.text(max_size=64),
            st.binary(min_size=32, max_size=32).map(bytes.hex),
            st.text(min_size=1, max_size=20).map(
                lambda secret: wire.sign(msgspec.json.encode(PLAY), secret + "x")
            ),
        ),
    )
    def run(path: str, signature: str) -> None:
        body = msgspec.json.encode(PLAY if path == "play" else ROLLBACK)
        check(r, transport, client.prepare_raw(path, body, signature=signature), statuses={403})

    run()


def test_a_missing_signature_header_is_forbidden() -> None:
    r, _, transport = setup()
    call = PreparedCall(path="play", body=msgspec.json.encode(PLAY), headers={})
    check(r, transport, call, statuses={403})


def test_an_oversized_body_is_refused_before_anything_else() -> None:
    r, client, transport = setup()
    body = msgspec.json.encode(mutate(PLAY, "padding", "x" * 5000))
    check(r, transport, client.prepare_raw("play", body), statuses={413})
