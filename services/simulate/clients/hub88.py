"""A Hub88 client: what Hub88 sends to an operator wallet, signed with its RSA key.

Amounts go in as `Decimal` major units and leave as integers x 100 000. Every call gets a
fresh `request_uuid`; a retry (same `transaction_uuid`) re-sends the same bytes.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from contracts.dialects import hub88 as wire
from contracts.money import from_minor
from contracts.money import to_minor
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import SignedJsonClient
from services.simulate.clients.base import Transport
from services.simulate.clients.base import sends


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("a Hub88 signing key must be an RSA private key")
    return key


def units(amount: Decimal, currency: str) -> int:
    return to_minor(amount, currency, wire.SCALE)


def major(value: int, currency: str) -> Decimal:
    return from_minor(value, currency, wire.SCALE)


class Hub88Client(SignedJsonClient):
    signature_header = wire.SIGNATURE_HEADER
    dialect = "Hub88"

    def __init__(self, transport: Transport, private_key: rsa.RSAPrivateKey) -> None:
        super().__init__(transport)
        self.key = private_key

    # -- pure builders -------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return wire.sign(body, self.key)

    def _transaction_call(
        self,
        path: str,
        *,
        user: str,
        token: str,
        round_id: str,
        tx: str,
        round_closed: bool,
        request_uuid: str | None = None,
        **fields: Any,
    ) -> PreparedCall:
        return self.prepare(
            path,
            {
                "user": user,
                "transaction_uuid": tx,
                "supplier_transaction_id": f"sup-{tx}",
                "token": token,
                "round_closed": round_closed,
                "round": round_id,
                "request_uuid": request_uuid or str(uuid.uuid4()),
                **fields,
            },
        )

    def _money_call(
        self,
        path: str,
        *,
        amount: Decimal,
        currency: str,
        game_code: str = "live_roulette",
        **transaction: Any,
    ) -> PreparedCall:
        return self._transaction_call(
            path,
            reward_uuid=None,
            is_free=False,
            is_aggregated=False,
            game_code=game_code,
            currency=currency,
            bet="zero",
            amount=units(amount, currency),
            **transaction,
        )

    def bet_call(self, *, round_closed: bool = False, **bet: Any) -> PreparedCall:
        """A debit of `amount` `currency` for `user` (`token`) in `round_id`, as `tx`;
        optional `game_code` and `request_uuid`."""
        meta = {"selection": "home_team", "odds": 2.5}
        return self._money_call("transaction/bet", round_closed=round_closed, meta=meta, **bet)

    def win_call(self, *, bet_tx: str, round_closed: bool = True, **win: Any) -> PreparedCall:
        """A credit paying out the bet `bet_tx`; the other fields as `bet_call`'s."""
        return self._money_call(
            "transaction/win",
            round_closed=round_closed,
            meta={},
            reference_transaction_uuid=bet_tx,
            **win,
        )

    def rollback_call(
        self,
        *,
        ref_tx: str,
        game_code: str = "live_roulette",
        round_closed: bool = False,
        **transaction: Any,
    ) -> PreparedCall:
        """Undoes the bet `ref_tx`; `user`, `token`, `round_id`, `tx`, optional
        `request_uuid`."""
        return self._transaction_call(
            "transaction/rollback",
            round_closed=round_closed,
            reference_transaction_uuid=ref_tx,
            game_code=game_code,
            meta={},
            **transaction,
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

    # -- sending -------------------------------------------------------------------------

    bet = sends(bet_call)
    win = sends(win_call)
    rollback = sends(rollback_call)
    balance = sends(balance_call)
