"""Evolution One Wallet: sids from `/check`, a debit and a credit per bet (`refId`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.drivers.base import Placed
from services.simulate.drivers.base import Retry
from services.simulate.drivers.base import Seat
from services.simulate.drivers.base import Wager
from services.simulate.drivers.base import require


class EvolutionDriver:
    """`/check` rotates each player's sid once; a debit per bet, a credit per bet (`refId`).

    Evolution answers a repeated debit `BET_ALREADY_EXIST` and a repeated credit
    `BET_ALREADY_SETTLED`: both mean "done already" to the provider. After
    `TEMPORARY_ERROR` or `UNKNOWN_ERROR` it resends the identical request; a debit still
    failing is cancelled.
    """

    dialect = "evolution"

    def __init__(self, client: EvolutionClient, retry: Retry | None = None) -> None:
        self.client = client
        self.retry = retry or Retry()
        self.sids: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def _sid(self, seat: Seat) -> str:
        async with self._lock:
            if seat.player not in self.sids:
                answer = await self.client.check(sid=seat.token, user=seat.player)
                require(answer["status"] == "OK", f"check {seat.player}", answer)
                self.sids[seat.player] = answer["sid"]
            return self.sids[seat.player]

    def _call(self, path: str, seat: Seat, round_id: str, tx: str, ref: str, amount: Decimal,
              sid: str) -> PreparedCall:  # fmt: skip
        return self.client.transaction_call(
            path,
            sid=sid,
            user=seat.player,
            currency=seat.currency,
            game_id=round_id,
            tx_id=tx,
            ref_id=ref,
            amount=amount,
        )

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> Placed:
        sid = await self._sid(seat)
        call = self._call("debit", seat, round_id, wager.bet_id, wager.bet_id, wager.stake, sid)
        answer, retried = await self._retrying(call)
        if answer["status"] in _EVO_RETRY:
            await self._cancel(seat, round_id, wager, {"OK", "BET_DOES_NOT_EXIST"})
            return Placed.ABANDONED
        if duplicate:
            again, _ = await self._retrying(call)
            expected = {answer["status"], "BET_ALREADY_EXIST"}
            require(again["status"] in expected, f"repeated debit {wager.bet_id}", again)
        if answer["status"] == "FINAL_ERROR_ACTION_FAILED":
            return Placed.REFUSED
        # After a retry, "already exists" means the first attempt landed after all.
        done = {"OK", "BET_ALREADY_EXIST"} if retried else {"OK"}
        require(answer["status"] in done, f"debit {wager.bet_id}", answer)
        return Placed.TAKEN

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        sid = await self._sid(seat)
        for wager in wagers:
            call = self._call(
                "credit", seat, round_id, f"cr-{wager.bet_id}", wager.bet_id, wager.payout, sid
            )
            answer, retried = await self._retrying(call)
            done = {"OK", "BET_ALREADY_SETTLED"} if retried else {"OK"}
            require(answer["status"] in done, f"credit {wager.bet_id}", answer)
            if duplicate:
                again, _ = await self._retrying(call)
                ok = again["status"] in ("OK", "BET_ALREADY_SETTLED")
                require(ok, f"repeated credit {wager.bet_id}", again)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        await self._cancel(seat, round_id, wager, {"BET_DOES_NOT_EXIST" if early else "OK"})

    async def _cancel(self, seat: Seat, round_id: str, wager: Wager, expected: set[str]) -> None:
        sid = await self._sid(seat)
        call = self._call("cancel", seat, round_id, wager.bet_id, wager.bet_id, wager.stake, sid)
        answer, retried = await self._retrying(call)
        if retried:
            expected = expected | {"BET_ALREADY_SETTLED"}  # the first attempt landed
        require(answer["status"] in expected, f"cancel {wager.bet_id}", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        answer = await self.client.balance(
            sid=await self._sid(seat), user=seat.player, currency=seat.currency
        )
        require(answer["status"] == "OK", "balance", answer)
        return Decimal(answer["balance"])

    async def _retrying(self, call: PreparedCall) -> tuple[dict[str, Any], bool]:
        """The answer after Evolution's retries, and whether it took more than one try."""
        tries = 0

        async def once() -> dict[str, Any]:
            nonlocal tries
            tries += 1
            return await self.client.send(call)

        answer = await self.retry.send(once, lambda a: a.get("status") in _EVO_RETRY)
        if answer.get("status") not in _EVO_RETRY:
            require(answer["http_status"] == 200, call.path, answer)
        return answer, tries > 1


_EVO_RETRY = frozenset({"TEMPORARY_ERROR", "UNKNOWN_ERROR"})
