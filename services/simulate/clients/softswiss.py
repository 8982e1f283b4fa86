"""A SoftSwiss client: what a SoftSwiss aggregator sends to a casino wallet, signed.

Amounts go in as `Decimal` major units and leave as integer minor units (cents). A retry
of an action re-sends the same bytes (the same `action_id`); a request can carry several
actions (bets and a win of one round), and a rollback may be sent before its action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from contracts.dialects import softswiss as wire
from contracts.money import from_minor, to_minor
from services.simulate.clients.base import Answer, PreparedCall, Transport, decode_answer

_ENCODER = msgspec.json.Encoder()


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


class SoftSwissClient:
    def __init__(self, transport: Transport, auth_token: str) -> None:
        self.transport = transport
        self.auth_token = auth_token

    # -- pure builders -------------------------------------------------------------------

    def prepare(self, path: str, payload: Mapping[str, Any]) -> PreparedCall:
        return self.prepare_raw(path, _ENCODER.encode(payload))

    def prepare_raw(self, path: str, body: bytes, *, signature: str | None = None) -> PreparedCall:
        headers = {
            wire.SIGNATURE_HEADER: signature
            if signature is not None
            else wire.sign(body, self.auth_token),
            "Content-Type": "application/json",
        }
        return PreparedCall(path=path, body=body, headers=headers)

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

    async def send(self, call: PreparedCall) -> dict[str, Any]:
        return decode(await self.transport.send(call))

    async def play(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.play_call(**kwargs))

    async def rollback(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.rollback_call(**kwargs))

    async def balance(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.balance_call(**kwargs))


def decode(answer: Answer) -> dict[str, Any]:
    return decode_answer(answer, "SoftSwiss")
