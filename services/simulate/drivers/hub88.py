"""Hub88: a bet and a win per bet; a bet without a clear answer is rolled back."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import TransportError
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.drivers.base import Placed
from services.simulate.drivers.base import Retry
from services.simulate.drivers.base import Seat
from services.simulate.drivers.base import Wager
from services.simulate.drivers.base import require


class Hub88Driver:
    """A bet per bet, a win per bet (`round_closed` on the player's last one).

    As Hub88 does: a bet answered `RS_ERROR_UNKNOWN`, or not answered at all, is rolled
    back; wins and rollbacks are resent until they get an answer that is not unknown.
    """

    dialect = "hub88"

    def __init__(
        self, client: Hub88Client, game_code: str = "live_table", retry: Retry | None = None
    ) -> None:
        self.client = client
        self.game_code = game_code
        self.retry = retry or Retry()

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> Placed:
        call = self.client.bet_call(
            user=seat.player,
            token=seat.token,
            round_id=round_id,
            tx=wager.bet_id,
            amount=wager.stake,
            currency=seat.currency,
            game_code=self.game_code,
            request_uuid=f"q-{wager.bet_id}",
        )
        answer = await self._send(call, duplicate)
        if answer["status"] == _HUB88_UNKNOWN:
            await self.rollback(seat, round_id, wager, early=False)
            return Placed.ABANDONED
        if answer["status"] == "RS_ERROR_TRANSACTION_ROLLED_BACK":
            return Placed.REFUSED
        require(answer["status"] == "RS_OK", f"bet {wager.bet_id}", answer)
        return Placed.TAKEN

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        for index, wager in enumerate(wagers):
            call = self.client.win_call(
                user=seat.player,
                token=seat.token,
                round_id=round_id,
                tx=f"win-{wager.bet_id}",
                bet_tx=wager.bet_id,
                amount=wager.payout,
                currency=seat.currency,
                game_code=self.game_code,
                round_closed=index == len(wagers) - 1,
                request_uuid=f"q-win-{wager.bet_id}",
            )
            answer = await self.retry.send(partial(self._send, call, duplicate), _unknown)
            require(answer["status"] == "RS_OK", f"win {wager.bet_id}", answer)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        call = self.client.rollback_call(
            user=seat.player,
            token=seat.token,
            round_id=round_id,
            tx=f"rb-{wager.bet_id}",
            ref_tx=wager.bet_id,
            game_code=self.game_code,
        )
        answer = await self.retry.send(lambda: self._send(call, False), _unknown)
        require(answer["status"] == "RS_OK", f"rollback {wager.bet_id}", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        answer = await self.client.balance(user=seat.player, token=seat.token)
        require(answer["status"] == "RS_OK", "balance", answer)
        return Decimal(answer["balance"]).scaleb(-5)

    async def _once(self, call: PreparedCall) -> dict[str, Any]:
        try:
            return await self.client.send(call)
        except (TransportError, TimeoutError) as exc:
            return {"status": _HUB88_UNKNOWN, "http_status": 0, "raw": f"no answer: {exc}"}

    async def _send(self, call: PreparedCall, duplicate: bool) -> dict[str, Any]:
        first = await self._once(call)
        if duplicate and first["status"] != _HUB88_UNKNOWN:
            again = await self.retry.send(partial(self._once, call), _unknown)
            require(again["status"] == first["status"], "a repeat got another status", again)
            require(again.get("balance") == first.get("balance"), "a repeat moved money", again)
        return first


_HUB88_UNKNOWN = "RS_ERROR_UNKNOWN"


def _unknown(answer: dict[str, Any]) -> bool:
    return bool(answer["status"] == _HUB88_UNKNOWN)
