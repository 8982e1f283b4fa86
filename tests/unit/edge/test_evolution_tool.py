"""Evolution's integration test tool, call by call: the requests it sends in its scenarios
(shaped as in its published run, reference/provider-dialects.md section 1) get the
statuses and balances it expects."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from contracts.dialects import evolution as wire
from services.simulate.clients.evolution import EvolutionClient
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import refused_status

SECRET = "evo-auth-token-TEST-ONLY"
TABLE = {"table": {"id": "uwd2bl2khwcikjlz", "vid": None}}


def setup() -> tuple[Rig, EvolutionClient, GatewayTransport]:
    r, transport = player_rig("evolution", SECRET.encode(), "sid-1")
    return r, EvolutionClient(transport, SECRET), transport


def at_the_table(sid: str) -> dict[str, Any]:
    """The tool's balance call from a table between rounds: a game, but no round yet."""
    return {
        "currency": "EUR",
        "game": {"id": None, "type": "blackjack", "details": TABLE},
        "sid": sid,
        "userId": "u-1",
        "uuid": "0765cbd8-094c-4cad-a2f1-5c345119bfb5",
        "someFakeField": "someFakeField",
    }


def test_a_balance_call_from_a_table_between_rounds_is_answered_with_the_balance() -> None:
    _, client, _ = setup()
    answer = asyncio.run(client.send(client.prepare("balance", at_the_table("sid-1"))))
    assert (answer["status"], answer["balance"]) == ("OK", Decimal("100.00")), answer


def test_a_balance_call_from_a_table_with_a_stale_sid_is_invalid_sid() -> None:
    _, client, _ = setup()
    answer = asyncio.run(client.send(client.prepare("balance", at_the_table("sid-old"))))
    assert answer["status"] == "INVALID_SID", answer


@pytest.mark.parametrize("amount", ["1_0", " 2", "+3", "1e1", "\u0663", "\uff15"])
def test_a_promo_payout_amount_in_no_plain_decimal_text_is_invalid_and_pays_nothing(
    amount: str,
) -> None:
    r, client, transport = setup()
    payout = {
        "sid": "sid-1",
        "userId": "u-1",
        "currency": "EUR",
        "game": None,
        "promoTransaction": {"id": "promo-1", "type": "NewType", "amount": amount},
        "uuid": "q",
    }
    call = client.prepare("promo_payout", payout)
    assert refused_status(r, transport, call, wire.Response, "OK") == "INVALID_PARAMETER"
