"""An Ezugi client: what Ezugi's live tables send to an operator wallet, signed.

Amounts go in as `Decimal` major units and leave as exact JSON numbers. A retry re-sends
the same bytes (same `transactionId`); a rollback repeats its debit's `transactionId` and
may be sent before the debit.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import msgspec

from contracts.dialects import ezugi as wire
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import SignedJsonClient
from services.simulate.clients.base import Transport
from services.simulate.clients.base import sends

_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def _ms() -> int:
    return int(time.time() * 1000)


class EzugiClient(SignedJsonClient):
    signature_header = wire.SIGNATURE_HEADER
    encoder = msgspec.json.Encoder(decimal_format="number")
    dialect = "Ezugi"
    decoder = _DECODER

    def __init__(self, transport: Transport, secret: str, operator_id: int) -> None:
        super().__init__(transport)
        self.secret = secret
        self.operator_id = operator_id

    # -- pure builders -------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return wire.sign(body, self.secret)

    def _common(
        self, *, user: str, token: str, tx: str, round_id: int | str, currency: str, table: int
    ) -> dict[str, Any]:
        return {
            "serverId": 102,
            "operatorId": self.operator_id,
            "token": token,
            "uid": user,
            "transactionId": tx,
            "roundId": round_id,
            "gameId": 1,
            "tableId": table,
            "currency": currency,
            "seatId": "s1",
            "platformId": 0,
            "timestamp": _ms(),
        }

    def auth_call(self, *, token: str) -> PreparedCall:
        return self.prepare(
            "auth",
            {"operatorId": self.operator_id, "token": token, "platformId": 0, "timestamp": _ms()},
        )

    def debit_call(
        self,
        *,
        user: str,
        token: str,
        tx: str,
        round_id: int | str,
        amount: Decimal,
        currency: str,
        table: int = 1,
        bet_type: int = 101,
    ) -> PreparedCall:
        payload = self._common(
            user=user, token=token, tx=tx, round_id=round_id, currency=currency, table=table
        )
        payload.update(debitAmount=amount, betTypeID=bet_type)
        return self.prepare("debit", payload)

    def credit_call(
        self,
        *,
        user: str,
        tx: str,
        debit_tx: str,
        round_id: int | str,
        amount: Decimal,
        currency: str,
        end_round: bool = True,
        token: str = "",
        table: int = 1,
        return_reason: int = 0,
    ) -> PreparedCall:
        payload = self._common(
            user=user, token=token, tx=tx, round_id=round_id, currency=currency, table=table
        )
        payload.update(
            creditAmount=amount,
            debitTransactionId=debit_tx,
            isEndRound=end_round,
            returnReason=return_reason,
            creditIndex="1|1",
            gameDataString="",
            betTypeID=101,
        )
        return self.prepare("credit", payload)

    def rollback_call(
        self,
        *,
        user: str,
        debit_tx: str,
        round_id: int | str,
        amount: Decimal,
        currency: str,
        token: str = "",
        table: int = 1,
    ) -> PreparedCall:
        payload = self._common(
            user=user, token=token, tx=debit_tx, round_id=round_id, currency=currency, table=table
        )
        payload.update(rollbackAmount=amount, betTypeID=101)
        return self.prepare("rollback", payload)

    # -- sending -------------------------------------------------------------------------

    auth = sends(auth_call)
    debit = sends(debit_call)
    credit = sends(credit_call)
    rollback = sends(rollback_call)
