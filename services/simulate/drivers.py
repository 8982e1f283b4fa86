"""One wallet driver per dialect: the simulated provider's wallet calls, in its own words.

A driver turns the table's intentions (place this bet, settle these bets, roll that one
back) into the dialect's calls through its client, and reports what the bridge answered
in plain terms. Every driver can resend a call's exact bytes (`duplicate=True`), as a
provider does after a timeout, and checks the repeat got the same answer.

The table keeps its own books (`table.py`); a driver only says whether the bridge took a
call. `DriverError` means the bridge answered something the dialect's rules say it must
not (a 500, a refused repeat, a missing field): the simulation stops on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet as ss_bet
from services.simulate.clients.softswiss import rollback as ss_rollback
from services.simulate.clients.softswiss import win as ss_win


class DriverError(AssertionError):
    """The bridge answered against the dialect's rules."""


@dataclass(frozen=True, slots=True)
class Seat:
    """A player at the table: id, currency, and the token the platform launched them with."""

    player: str
    currency: str
    token: str


@dataclass(frozen=True, slots=True)
class Wager:
    """One bet as the provider knows it; `payout` is set when the round is settled."""

    bet_id: str
    stake: Decimal
    payout: Decimal = Decimal(0)


class WalletDriver(Protocol):
    dialect: str

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> bool:
        """Place a bet; True when the bridge took it (a bet after its pre-rollback may be
        taken without effect: the table's books say whether it stands)."""

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        """Pay the player's standing bets of the round (zero for a loss) and close it."""

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        """Cancel a bet; `early` sends it before the bet itself (a pre-rollback)."""

    async def balance(self, seat: Seat) -> Decimal | None:
        """The balance the bridge reports in this dialect, or None when it has no call."""


def _require(condition: bool, what: str, answer: Any) -> None:
    if not condition:
        raise DriverError(f"{what}: {answer}")


class SoftSwissDriver:
    """Bets are `/play` bet actions; one win action per player closes the round (`finished`)."""

    dialect = "softswiss"

    def __init__(self, client: SoftSwissClient, game: str = "softswiss:live") -> None:
        self.client = client
        self.game = game

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> bool:
        call = self.client.play_call(
            user=seat.player,
            currency=seat.currency,
            round_id=round_id,
            actions=[ss_bet(wager.bet_id, wager.stake, seat.currency)],
            game=self.game,
        )
        answer = await self._send(call, duplicate)
        _require(answer["http_status"] == 200, f"bet {wager.bet_id}", answer)
        return True

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        if not wagers:
            return
        total = sum((w.payout for w in wagers), Decimal(0))
        call = self.client.play_call(
            user=seat.player,
            currency=seat.currency,
            round_id=round_id,
            actions=[ss_win(f"win-{round_id}-{seat.player}", total, seat.currency)],
            finished=True,
            game=self.game,
        )
        answer = await self._send(call, duplicate)
        _require(answer["http_status"] == 200, f"win {round_id} {seat.player}", answer)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        call = self.client.rollback_call(
            user=seat.player,
            currency=seat.currency,
            round_id=round_id,
            actions=[ss_rollback(f"rb-{wager.bet_id}", wager.bet_id)],
            game=self.game,
        )
        answer = await self._send(call, False)
        _require(answer["http_status"] == 200, f"rollback {wager.bet_id}", answer)
        tx_id = answer["transactions"][0]["tx_id"]
        _require(bool(tx_id) != early, f"rollback {wager.bet_id} tx_id (early={early})", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        answer = await self.client.balance(user=seat.player, currency=seat.currency)
        _require(answer["http_status"] == 200, "balance", answer)
        return Decimal(answer["balance"]).scaleb(-2)

    async def _send(self, call: PreparedCall, duplicate: bool) -> dict[str, Any]:
        from services.simulate.clients.softswiss import decode

        first = await self.client.transport.send(call)
        body = decode(first)
        if duplicate:
            again = decode(await self.client.transport.send(call))
            again_ids = [t["tx_id"] for t in again.get("transactions") or []]
            first_ids = [t["tx_id"] for t in body.get("transactions") or []]
            _require(again_ids == first_ids, "a repeated action got another tx_id", again)
        return body


class EzugiDriver:
    """A debit per bet, a credit per debit (`isEndRound` on the player's last one)."""

    dialect = "ezugi"

    def __init__(self, client: EzugiClient) -> None:
        self.client = client

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> bool:
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
            return False
        _require(answer["errorCode"] == 0, f"debit {wager.bet_id}", answer)
        return True

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
            _require(answer["errorCode"] == 0, f"credit {wager.bet_id}", answer)

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
        _require(answer["errorCode"] == expected, f"rollback {wager.bet_id}", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        return None  # Ezugi has no balance call after /auth

    async def _send(self, call: PreparedCall, duplicate: bool) -> dict[str, Any]:
        from services.simulate.clients.ezugi import decode

        first = decode(await self.client.transport.send(call))
        _require(first["http_status"] == 200, call.path, first)
        if duplicate:
            again = decode(await self.client.transport.send(call))
            _require(again["errorCode"] == first["errorCode"], "a repeat got another code", again)
        return first


class Hub88Driver:
    """A bet per bet, a win per bet (`round_closed` on the player's last one)."""

    dialect = "hub88"

    def __init__(self, client: Hub88Client, game_code: str = "live_table") -> None:
        self.client = client
        self.game_code = game_code

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> bool:
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
        if answer["status"] == "RS_ERROR_TRANSACTION_ROLLED_BACK":
            return False
        _require(answer["status"] == "RS_OK", f"bet {wager.bet_id}", answer)
        return True

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
            answer = await self._send(call, duplicate)
            _require(answer["status"] == "RS_OK", f"win {wager.bet_id}", answer)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        call = self.client.rollback_call(
            user=seat.player,
            token=seat.token,
            round_id=round_id,
            tx=f"rb-{wager.bet_id}",
            ref_tx=wager.bet_id,
            game_code=self.game_code,
        )
        answer = await self._send(call, False)
        _require(answer["status"] == "RS_OK", f"rollback {wager.bet_id}", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        answer = await self.client.balance(user=seat.player, token=seat.token)
        _require(answer["status"] == "RS_OK", "balance", answer)
        return Decimal(answer["balance"]).scaleb(-5)

    async def _send(self, call: PreparedCall, duplicate: bool) -> dict[str, Any]:
        from services.simulate.clients.hub88 import decode

        first = decode(await self.client.transport.send(call))
        if duplicate:
            again = decode(await self.client.transport.send(call))
            _require(again["status"] == first["status"], "a repeat got another status", again)
            _require(again.get("balance") == first.get("balance"), "a repeat moved money", again)
        return first


def _int_or_str(round_id: str) -> int | str:
    return int(round_id) if round_id.isdigit() and len(round_id) < 18 else round_id


class EvolutionDriver:
    """`/check` rotates each player's sid once; a debit per bet, a credit per bet (`refId`).

    Evolution answers a repeated debit `BET_ALREADY_EXIST` and a repeated credit
    `BET_ALREADY_SETTLED`: both mean "done already" to the provider.
    """

    dialect = "evolution"

    def __init__(self, client: EvolutionClient) -> None:
        self.client = client
        self.sids: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def _sid(self, seat: Seat) -> str:
        async with self._lock:
            if seat.player not in self.sids:
                answer = await self.client.check(sid=seat.token, user=seat.player)
                _require(answer["status"] == "OK", f"check {seat.player}", answer)
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

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> bool:
        sid = await self._sid(seat)
        call = self._call("debit", seat, round_id, wager.bet_id, wager.bet_id, wager.stake, sid)
        answer = await self._send(call)
        if duplicate:
            again = await self._send(call)
            expected = {answer["status"], "BET_ALREADY_EXIST"}
            _require(again["status"] in expected, f"repeated debit {wager.bet_id}", again)
        if answer["status"] == "FINAL_ERROR_ACTION_FAILED":
            return False
        _require(answer["status"] == "OK", f"debit {wager.bet_id}", answer)
        return True

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        sid = await self._sid(seat)
        for wager in wagers:
            call = self._call(
                "credit", seat, round_id, f"cr-{wager.bet_id}", wager.bet_id, wager.payout, sid
            )
            answer = await self._send(call)
            _require(answer["status"] == "OK", f"credit {wager.bet_id}", answer)
            if duplicate:
                again = await self._send(call)
                ok = again["status"] in ("OK", "BET_ALREADY_SETTLED")
                _require(ok, f"repeated credit {wager.bet_id}", again)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        sid = await self._sid(seat)
        call = self._call("cancel", seat, round_id, wager.bet_id, wager.bet_id, wager.stake, sid)
        answer = await self._send(call)
        expected = "BET_DOES_NOT_EXIST" if early else "OK"
        _require(answer["status"] == expected, f"cancel {wager.bet_id}", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        answer = await self.client.balance(
            sid=await self._sid(seat), user=seat.player, currency=seat.currency
        )
        _require(answer["status"] == "OK", "balance", answer)
        return Decimal(answer["balance"])

    async def _send(self, call: PreparedCall) -> dict[str, Any]:
        answer = await self.client.send(call)
        _require(answer["http_status"] == 200, call.path, answer)
        return answer


class PragmaticDriver:
    """A `bet.html` per bet, one `result.html` per player and round, then `endRound.html`."""

    dialect = "pragmatic"

    def __init__(self, client: PragmaticClient) -> None:
        self.client = client

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> bool:
        call = self.client.bet_call(
            user=seat.player,
            round_id=round_id,
            reference=wager.bet_id,
            amount=wager.stake,
            token=seat.token,
        )
        answer = await self._send(call, duplicate)
        if answer["error"] == 3:
            return False
        _require(answer["error"] == 0, f"bet {wager.bet_id}", answer)
        return True

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        if not wagers:
            return
        total = sum((w.payout for w in wagers), Decimal(0))
        call = self.client.result_call(
            user=seat.player, round_id=round_id, reference=f"res-{round_id}-{seat.player}",
            amount=total,
        )  # fmt: skip
        answer = await self._send(call, duplicate)
        _require(answer["error"] == 0, f"result {round_id} {seat.player}", answer)
        ended = await self._send(self.client.end_round_call(user=seat.player, round_id=round_id))
        _require(ended["error"] == 0, f"endRound {round_id} {seat.player}", ended)

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        call = self.client.refund_call(user=seat.player, reference=wager.bet_id, round_id=round_id)
        answer = await self._send(call)
        _require(answer["error"] == 0, f"refund {wager.bet_id}", answer)

    async def balance(self, seat: Seat) -> Decimal | None:
        answer = await self._send(self.client.balance_call(user=seat.player))
        _require(answer["error"] == 0, "balance", answer)
        return Decimal(str(answer["cash"]))

    async def _send(self, call: PreparedCall, duplicate: bool = False) -> dict[str, Any]:
        answer = await self.client.send(call)
        _require(answer["http_status"] == 200, call.path, answer)
        if duplicate:
            again = await self.client.send(call)
            _require(again["error"] == answer["error"], f"a repeat of {call.path}", again)
        return answer
