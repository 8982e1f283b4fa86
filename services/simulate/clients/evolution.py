"""An Evolution One Wallet client: what Evolution sends, with `authToken` in the query.

Amounts leave as JSON numbers (Decimal, never float); `uuid` is fresh per call; a cancel
repeats its debit's `transaction.id` and `refId`, as Evolution does. Every request carries
`someFakeField`, as Evolution's test tool does, to prove unknown fields are ignored.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from contracts.dialects import evolution as wire
from services.simulate.clients.base import DialectClient
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import Transport
from services.simulate.clients.base import sends

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


class EvolutionClient(DialectClient):
    dialect = "Evolution"
    decoder = _DECODER

    def __init__(self, transport: Transport, auth_token: str) -> None:
        super().__init__(transport)
        self.auth_token = auth_token

    def prepare(
        self, path: str, payload: Mapping[str, Any], *, auth: str | None = None
    ) -> PreparedCall:
        return self.prepare_raw(path, _ENCODER.encode(payload), auth=auth)

    def prepare_raw(self, path: str, body: bytes, *, auth: str | None = None) -> PreparedCall:
        return PreparedCall(
            path=path,
            body=body,
            headers={"Content-Type": "application/json"},
            query={wire.AUTH_QUERY: self.auth_token if auth is None else auth},
        )

    def check_call(self, *, sid: str, user: str) -> PreparedCall:
        return self.prepare(
            "check",
            {"sid": sid, "userId": user, "channel": {"type": "P"}, "uuid": str(uuid.uuid4())},
        )

    def balance_call(self, *, sid: str, user: str, currency: str) -> PreparedCall:
        return self.prepare(
            "balance",
            {
                "sid": sid,
                "userId": user,
                "currency": currency,
                "game": None,
                "uuid": str(uuid.uuid4()),
            },
        )

    def transaction_call(
        self,
        path: str,
        *,
        sid: str,
        user: str,
        currency: str,
        game_id: str,
        tx_id: str,
        ref_id: str,
        amount: Decimal,
        table: str = "vip-roulette-1",
        game_type: str = "roulette",
    ) -> PreparedCall:
        return self.prepare(
            path,
            {
                "sid": sid,
                "userId": user,
                "currency": currency,
                "game": {
                    "id": game_id,
                    "type": game_type,
                    "details": {"table": {"id": table, "vid": None}},
                },
                "transaction": {"id": tx_id, "refId": ref_id, "amount": amount},
                "uuid": str(uuid.uuid4()),
                "someFakeField": "ignored",
            },
        )

    check = sends(check_call)
    balance = sends(balance_call)

    async def debit(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.transaction_call("debit", **kwargs))

    async def credit(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.transaction_call("credit", **kwargs))

    async def cancel(self, **kwargs: Any) -> dict[str, Any]:
        return await self.send(self.transaction_call("cancel", **kwargs))
