"""A Pragmatic Play client: signed form posts to the operator's `*.html` wallet endpoints.

Amounts leave as decimal strings in major units; `hash` is the MD5 of the sorted fields
plus the secret key; `timestamp` is milliseconds. A retry re-sends the same fields.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import urlencode

import msgspec

from contracts.dialects import pragmatic as wire
from services.simulate.clients.base import DialectClient
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import Transport
from services.simulate.clients.base import sends

_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def _money_fields(
    user: str, round_id: str, reference: str, amount: Decimal, game_id: str
) -> dict[str, str]:
    """What a bet and a result both carry."""
    return {
        "userId": user,
        "gameId": game_id,
        "roundId": round_id,
        "amount": str(amount),
        "reference": reference,
        "timestamp": str(int(time.time() * 1000)),
        "roundDetails": "spin",
    }


class PragmaticClient(DialectClient):
    dialect = "Pragmatic"
    decoder = _DECODER

    def __init__(
        self, transport: Transport, secret: str, *, provider_id: str = "PragmaticPlay"
    ) -> None:
        super().__init__(transport)
        self.secret = secret
        self.provider_id = provider_id

    def prepare(
        self, path: str, fields: Mapping[str, str], *, hash_: str | None = None
    ) -> PreparedCall:
        params = {"providerId": self.provider_id, **fields}
        if hash_ is None:
            body = wire.encode_form(params, self.secret)
        else:
            body = urlencode({**params, wire.HASH_FIELD: hash_}).encode()
        return self.prepare_raw(path, body)

    def prepare_raw(self, path: str, body: bytes) -> PreparedCall:
        return PreparedCall(
            path=path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )

    def authenticate_call(self, *, token: str) -> PreparedCall:
        return self.prepare("authenticate.html", {"token": token, "gameId": "lobby"})

    def balance_call(self, *, user: str) -> PreparedCall:
        return self.prepare("balance.html", {"userId": user})

    def bet_call(
        self,
        *,
        user: str,
        round_id: str,
        reference: str,
        amount: Decimal,
        game_id: str = "401",
        token: str = "",
    ) -> PreparedCall:
        fields = _money_fields(user, round_id, reference, amount, game_id)
        if token:
            fields["token"] = token
        return self.prepare("bet.html", fields)

    def result_call(
        self, *, user: str, round_id: str, reference: str, amount: Decimal, game_id: str = "401"
    ) -> PreparedCall:
        return self.prepare(
            "result.html", _money_fields(user, round_id, reference, amount, game_id)
        )

    def refund_call(self, *, user: str, reference: str, round_id: str = "") -> PreparedCall:
        fields = {"userId": user, "reference": reference}
        if round_id:
            fields["roundId"] = round_id
        return self.prepare("refund.html", fields)

    def end_round_call(self, *, user: str, round_id: str, game_id: str = "401") -> PreparedCall:
        return self.prepare(
            "endRound.html", {"userId": user, "gameId": game_id, "roundId": round_id}
        )

    authenticate = sends(authenticate_call)
    balance = sends(balance_call)
    bet = sends(bet_call)
    result = sends(result_call)
    refund = sends(refund_call)
    end_round = sends(end_round_call)
