"""A Hub88 client: what Hub88 sends to an operator wallet, signed with its RSA key.

Amounts go in as `Decimal` major units and leave as integers x 100 000. Every call gets a
fresh `request_uuid`; a retry (same `transaction_uuid`) re-sends the same bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from contracts.dialects import hub88 as wire
from contracts.money import from_minor, to_minor
from services.simulate.clients.base import Answer, PreparedCall, Transport, decode_answer

_ENCODER = msgspec.json.Encoder()


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("a Hub88 signing key must be an RSA private key")
    return key


def units(amount: Decimal, currency: str) -> int:
    return to_minor(amount, currency, wire.SCALE)


def major(value: int, currency: str) -> Decimal:
    return from_minor(value, currency, wire.SCALE)


class Hub88Client:
    def __init__(self, transport: Transport, private_key: rsa.RSAPrivateKey) -> None:
        self.transport = transport
        self.key = private_key

    # -- pure builders -------------------------------------------------------------------

    def prepare(self, path: str, payload: Mapping[str, Any]) -> PreparedCall:
        body = _ENCODER.encode(payload)
        return self.prepare_raw(path, body)

    def prepare_raw(self, path: str, body: bytes, *, signature: str | None = None) -> PreparedCall:
        headers = {
            wire.SIGNATURE_HEADER: signature
            if signature is not None
            else wire.sign(body, self.key),
            "Content-Type": "application/json",
        }
        return PreparedCall(path=path, body=body, headers=headers)

    def bet_call(
        self,
        *,
        user: str,
        token: str,
        round_id: str,
        tx: str,
        amount: Decimal,
        currency: str,
        game_code: str = "live_roulette",
        round_closed: bool = False,
        request_uuid: str | None = None,
    ) -> PreparedCall:
        return self.prepare(
            "transaction/bet",
            {
                "user": user,
                "transaction_uuid": tx,
                "supplier_transaction_id": f"sup-{tx}",
                "token": token,
                "round_closed": round_closed,
                "round": round_id,
                "reward_uuid": None,
                "request_uuid": request_uuid or str(uuid.uuid4()),
                "is_free": False,
                "is_aggregated": False,
                "game_code": game_code,
                "currency": currency,
                "bet": "zero",
                "amount": units(amount, currency),
                "meta": {"selection": "home_team", "odds": 2.5},
            },
        )

    def win_call(
        self,
        *,
        user: str,
        token: str,
        round_id: str,
        tx: str,
        bet_tx: str,
        amount: Decimal,
        currency: str,
        game_code: str = "live_roulette",
        round_closed: bool = True,
        request_uuid: str | None = None,
    ) -> PreparedCall:
        return self.prepare(
            "transaction/win",
            {
                "user": user,
                "transaction_uuid": tx,
                "supplier_transaction_id": f"sup-{tx}",
                "token": token,
                "round_closed": round_closed,
                "round": round_id,
                "reward_uuid": None,
                "request_uuid": request_uuid or str(uuid.uuid4()),
                "reference_transaction_uuid": bet_tx,
                "is_free": False,
                "is_aggregated": False,
                "game_code": game_code,
                "currency": currency,
                "bet": "zero",
                "amount": units(amount, currency),
                "meta": {},
            },
        )

    def rollback_call(
        self,
        *,
        user: str,
        token: str,
        round_id: str,
        tx: str,
        ref_tx: str,
        game_code: str = "live_roulette",
        round_closed: bool = False,
        request_uuid: str | None = None,
    ) -> PreparedCall:
        return self.prepare(
            "transaction/rollback",
            {
                "user": user,
                "transaction_uuid": tx,
                "supplier_transaction_id": f"sup-{tx}",
                "token": token,
                "round_closed": round_closed,
                "round": round_id,
                "request_uuid": request_uuid or str(uuid.uuid4()),
                "reference_transaction_uuid": ref_tx,
                "game_code": game_code,
                "meta": {},
            },
        )

    def balance_call(
        self, *, user: str, token: str, game_code: str = "live_roulette"
    ) -> PreparedCall:
        return self.prepare(
            "user/balance",
            {
                "user": user,
                "token": token,
                "request_uuid": str(uuid.uuid4()),
                "game_code": game_code,
            },
        )

    def info_call(self, *, user: str, token: str) -> PreparedCall:
        return self.prepare(
            "user/info", {"user": user, "token": token, "request_uuid": str(uuid.uuid4())}
        )

    # -- sending -------------------------------------------------------------------------

    async def send(self, call: PreparedCall) -> dict[str, Any]:
        answer = await self.transport.send(call)
        return decode(answer)

    async def bet(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.bet_call(**kwargs))

    async def win(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.win_call(**kwargs))

    async def rollback(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.rollback_call(**kwargs))

    async def balance(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.balance_call(**kwargs))


def decode(answer: Answer) -> dict[str, Any]:
    return decode_answer(answer, "Hub88")
