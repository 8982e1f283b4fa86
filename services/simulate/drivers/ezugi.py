"""Ezugi: a debit per bet, a credit per debit; rollbacks repeat the debit's id."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.drivers.base import Placed
from services.simulate.drivers.base import Seat
from services.simulate.drivers.base import Wager
from services.simulate.drivers.base import require


class EzugiDriver:
    """A debit per bet, a credit per debit (`isEndRound` on the player's last one)."""

    dialect = "ezugi"

    def __init__(self, client: EzugiClient) -> None:
        self.client = client

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> Placed:
        call = self.client.debit_call(
            user=seat.player,
            token=seat.token,
            tx=wager.bet_id,
            round_id=_int_or_str(round_id),
            amount=wager.stake,
            currency=seat.currency,
        )
        answer = await self._send(call, duplicate)
        if answer["errorCode"] == 1 and answer["errorDescription"] == "Debit after rollback":
            return Placed.REFUSED
        require(answer["errorCode"] == 0, f"debit {wager.bet_id}", answer)
        return Placed.TAKEN

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        for index, wager in enumerate(wagers):
            call = self.client.credit_call(
                user=seat.player,
                tx=f"cr-{wager.bet_id}",
                debit_tx=wager.bet_id,
                round_id=_int_or_str(round_id),
                amount=wager.payout,
                currency=seat.currency,
                end_round=index == len(wagers) - 1,
            )
            answer = await self._send(call, duplicate)
            require(answer["errorCode"] == 0, f"credit {wager.bet_id}", answer)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        call = self.client.rollback_call(
            user=seat.player,
            debit_tx=wager.bet_id,
            round_id=_int_or_str(round_id),
            amount=wager.stake,
            currency=seat.currency,
        )
        answer = await self._send(call, False)
        expected = 9 if early else 0
        require(answer["errorCode"] == expected, f"rollback {wager.bet_id}", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        return None  # Ezugi has no balance call after /auth

    async def _send(self, call: PreparedCall, duplicate: bool) -> dict[str, Any]:
        first = await self.client.send(call)
        require(first["http_status"] == 200, call.path, first)
        if duplicate:
            again = await self.client.send(call)
            require(again["errorCode"] == first["errorCode"], "a repeat got another code", again)
        return first


def _int_or_str(round_id: str) -> int | str:
    return int(round_id) if round_id.isdigit() and len(round_id) < 18 else round_id
