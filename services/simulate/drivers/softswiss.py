"""SoftSwiss: bets and wins are `/play` actions; rollbacks name the original action."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet as ss_bet
from services.simulate.clients.softswiss import rollback as ss_rollback
from services.simulate.clients.softswiss import win as ss_win
from services.simulate.drivers.base import PaysRoundInOneSum
from services.simulate.drivers.base import Placed
from services.simulate.drivers.base import Seat
from services.simulate.drivers.base import Wager
from services.simulate.drivers.base import require


class SoftSwissDriver(PaysRoundInOneSum):
    """Bets are `/play` bet actions; one win action per player closes the round (`finished`),
    or, for a lost round, the player's last bet sent `finished` (`finish_lost`)."""

    dialect = "softswiss"

    def __init__(self, client: SoftSwissClient, game: str = "softswiss:live") -> None:
        self.client = client
        self.game = game

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> Placed:
        await self._bet(seat, round_id, wager, duplicate=duplicate, finished=False)
        return Placed.TAKEN

    async def finish_lost(
        self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool
    ) -> None:
        """A bet with `finished` and no win after it: the round is lost (scenario C)."""
        await self._bet(seat, round_id, wager, duplicate=duplicate, finished=True)

    async def _bet(
        self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool, finished: bool
    ) -> None:
        call = self.client.play_call(
            user=seat.player,
            currency=seat.currency,
            round_id=round_id,
            actions=[ss_bet(wager.bet_id, wager.stake, seat.currency)],
            finished=finished,
            game=self.game,
        )
        answer = await self._send(call, duplicate)
        require(answer["http_status"] == 200, f"bet {wager.bet_id}", answer)

    async def pay_round(
        self, seat: Seat, round_id: str, total: Decimal, *, duplicate: bool
    ) -> None:
        call = self.client.play_call(
            user=seat.player,
            currency=seat.currency,
            round_id=round_id,
            actions=[ss_win(f"win-{round_id}-{seat.player}", total, seat.currency)],
            finished=True,
            game=self.game,
        )
        answer = await self._send(call, duplicate)
        require(answer["http_status"] == 200, f"win {round_id} {seat.player}", answer)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        call = self.client.rollback_call(
            user=seat.player,
            currency=seat.currency,
            round_id=round_id,
            actions=[ss_rollback(f"rb-{wager.bet_id}", wager.bet_id)],
            game=self.game,
        )
        answer = await self._send(call, False)
        require(answer["http_status"] == 200, f"rollback {wager.bet_id}", answer)
        tx_id = answer["transactions"][0]["tx_id"]
        require(bool(tx_id) != early, f"rollback {wager.bet_id} tx_id (early={early})", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        answer = await self.client.balance(user=seat.player, currency=seat.currency)
        require(answer["http_status"] == 200, "balance", answer)
        return Decimal(answer["balance"]).scaleb(-2)

    async def _send(self, call: PreparedCall, duplicate: bool) -> dict[str, Any]:
        body = await self.client.send(call)
        if duplicate:
            again = await self.client.send(call)
            again_ids = [t["tx_id"] for t in again.get("transactions") or []]
            first_ids = [t["tx_id"] for t in body.get("transactions") or []]
            require(again_ids == first_ids, "a repeated action got another tx_id", again)
        return body
