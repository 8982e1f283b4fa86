"""Pragmatic Play: `bet.html` per bet, `result.html` and `endRound.html` per player."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.drivers.base import PaysRoundInOneSum
from services.simulate.drivers.base import Placed
from services.simulate.drivers.base import Retry
from services.simulate.drivers.base import Seat
from services.simulate.drivers.base import Wager
from services.simulate.drivers.base import require


class PragmaticDriver(PaysRoundInOneSum):
    """A `bet.html` per bet, one `result.html` per player and round, then `endRound.html`.

    Pragmatic resends the identical request after error 100 (102 on endRound), the only
    codes it retries; a bet still failing is refunded [INFER: "retransmission 3 times ...
    then cancel"].
    """

    dialect = "pragmatic"

    def __init__(self, client: PragmaticClient, retry: Retry | None = None) -> None:
        self.client = client
        self.retry = retry or Retry()

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> Placed:
        call = self.client.bet_call(
            user=seat.player,
            round_id=round_id,
            reference=wager.bet_id,
            amount=wager.stake,
            token=seat.token,
        )
        answer = await self._send(call, duplicate)
        if answer["error"] in _PP_RETRY:
            await self.rollback(seat, round_id, wager, early=False)
            return Placed.ABANDONED
        if answer["error"] == 3:
            return Placed.REFUSED
        require(answer["error"] == 0, f"bet {wager.bet_id}", answer)
        return Placed.TAKEN

    async def pay_round(
        self, seat: Seat, round_id: str, total: Decimal, *, duplicate: bool
    ) -> None:
        call = self.client.result_call(
            user=seat.player, round_id=round_id, reference=f"res-{round_id}-{seat.player}",
            amount=total,
        )  # fmt: skip
        answer = await self._send(call, duplicate)
        require(answer["error"] == 0, f"result {round_id} {seat.player}", answer)
        ended = await self._send(self.client.end_round_call(user=seat.player, round_id=round_id))
        require(ended["error"] == 0, f"endRound {round_id} {seat.player}", ended)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        call = self.client.refund_call(user=seat.player, reference=wager.bet_id, round_id=round_id)
        answer = await self._send(call)
        require(answer["error"] == 0, f"refund {wager.bet_id}", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        answer = await self._send(self.client.balance_call(user=seat.player))
        require(answer["error"] == 0, "balance", answer)
        return Decimal(str(answer["cash"]))

    async def _retrying(self, call: PreparedCall) -> dict[str, Any]:
        answer = await self.retry.send(
            lambda: self.client.send(call), lambda a: a.get("error") in _PP_RETRY
        )
        if answer.get("error") not in _PP_RETRY:
            require(answer["http_status"] == 200, call.path, answer)
        return answer

    async def _send(self, call: PreparedCall, duplicate: bool = False) -> dict[str, Any]:
        answer = await self._retrying(call)
        if duplicate and answer["error"] == 0:
            again = await self._retrying(call)
            require(again["error"] == answer["error"], f"a repeat of {call.path}", again)
        return answer


_PP_RETRY = frozenset({100, 102})
