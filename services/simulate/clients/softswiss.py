"""A SoftSwiss client: what a SoftSwiss aggregator sends to a casino wallet, signed.

Amounts go in as `Decimal` major units and leave as integer minor units (cents). A retry
of an action re-sends the same bytes (the same `action_id`); a request can carry several
actions (bets and a win of one round), and a rollback may be sent before its action.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from contracts.dialects import softswiss as wire
from contracts.money import from_minor
from contracts.money import to_minor
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import SignedJsonClient
from services.simulate.clients.base import Transport
from services.simulate.clients.base import sends


def units(amount: Decimal, currency: str) -> int:
    return to_minor(amount, currency)


def major(value: int, currency: str) -> Decimal:
    return from_minor(value, currency)


def bet(action_id: str, amount: Decimal, currency: str) -> dict[str, Any]:
    return {"action": "bet", "action_id": action_id, "amount": units(amount, currency)}


def win(action_id: str, amount: Decimal, currency: str) -> dict[str, Any]:
    return {"action": "win", "action_id": action_id, "amount": units(amount, currency)}


def rollback(action_id: str, original_action_id: str) -> dict[str, Any]:
    return {"action": "rollback", "action_id": action_id, "original_action_id": original_action_id}


class SoftSwissClient(SignedJsonClient):
    signature_header = wire.SIGNATURE_HEADER
    dialect = "SoftSwiss"

    def __init__(self, transport: Transport, auth_token: str) -> None:
        super().__init__(transport)
        self.auth_token = auth_token

    # -- pure builders -------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return wire.sign(body, self.auth_token)

    def play_call(
        self,
        *,
        user: str,
        currency: str,
        round_id: str = "",
        actions: Sequence[Mapping[str, Any]] | None = None,
        finished: bool = False,
        game: str = "softswiss:live_roulette",
        session_id: str = "",
    ) -> PreparedCall:
        payload: dict[str, Any] = {
            "user_id": user,
            "currency": currency,
            "game": game,
            "game_id": round_id,
            "finished": finished,
        }
        if session_id:
            payload["session_id"] = session_id
        if actions is not None:
            payload["actions"] = list(actions)
        return self.prepare("play", payload)

    def balance_call(self, *, user: str, currency: str, game: str = "") -> PreparedCall:
        return self.play_call(user=user, currency=currency, game=game)

    def rollback_call(
        self,
        *,
        user: str,
        currency: str,
        round_id: str,
        actions: Sequence[Mapping[str, Any]],
        finished: bool = False,
        game: str = "softswiss:live_roulette",
    ) -> PreparedCall:
        payload = {
            "user_id": user,
            "currency": currency,
            "game": game,
            "game_id": round_id,
            "finished": finished,
            "actions": list(actions),
        }
        return self.prepare("rollback", payload)

    # -- sending -------------------------------------------------------------------------

    play = sends(play_call)
    rollback = sends(rollback_call)
    balance = sends(balance_call)
