"""What drivers share: the table's words (seats, wagers, what became of a bet), the driver
protocol, the provider's retry rhythm, `DriverError`, and the `settle` of the dialects that
pay a player's round in one sum."""

from __future__ import annotations

import asyncio
import enum
from abc import ABC
from abc import abstractmethod
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from typing import Protocol
from typing import runtime_checkable


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


class Placed(enum.Enum):
    """What became of a bet the provider sent."""

    TAKEN = "taken"
    """The bridge took it (a bet after its pre-rollback may be taken without effect: the
    table's books say whether it stands)."""
    REFUSED = "refused"
    """The bridge refused it, as the dialect says it must after a pre-rollback."""
    ABANDONED = "abandoned"
    """No answer in time or an unknown error, past the provider's retries: the provider
    rolled it back (refund, cancel, rollback), so it stands nowhere."""


class WalletDriver(Protocol):
    dialect: str

    async def bet(self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool) -> Placed:
        """Place a bet, retrying and rolling back as the provider would."""

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        """Pay the player's standing bets of the round (zero for a loss) and close it."""

    async def rollback(self, seat: Seat, round_id: str, wager: Wager, *, early: bool) -> None:
        """Cancel a bet; `early` sends it before the bet itself (a pre-rollback)."""

    async def balance(self, seat: Seat) -> Decimal | None:
        """The balance the bridge reports in this dialect, or None when it has no call."""


@runtime_checkable
class FinishesOnBet(Protocol):
    """A dialect whose provider may end a player's lost round on a bet: the request that
    places it says the round is finished, and no win follows (SoftSwiss acceptance
    scenario C)."""

    async def finish_lost(
        self, seat: Seat, round_id: str, wager: Wager, *, duplicate: bool
    ) -> None:
        """Place the player's last bet of the round, ending the round lost for them: the
        bridge settles every bet of theirs still open in it as lost, this one too."""


class PaysRoundInOneSum(ABC):
    """The `settle` of a dialect that pays each player's round in one sum (Pragmatic's
    `result.html`, SoftSwiss's win action): the payouts of their standing bets added up.
    A player with no standing bet is sent nothing, and their round is not closed."""

    async def settle(
        self, seat: Seat, round_id: str, wagers: Sequence[Wager], *, duplicate: bool
    ) -> None:
        if wagers:
            total = sum((w.payout for w in wagers), Decimal(0))
            await self.pay_round(seat, round_id, total, duplicate=duplicate)

    @abstractmethod
    async def pay_round(
        self, seat: Seat, round_id: str, total: Decimal, *, duplicate: bool
    ) -> None:
        """Pay the player `total` for the round (zero for a loss) and close it."""


def require(condition: bool, what: str, answer: Any) -> None:
    if not condition:
        raise DriverError(f"{what}: {answer}")


@dataclass(frozen=True, slots=True)
class Retry:
    """How often, and how patiently, a provider resends the identical request."""

    attempts: int = 5
    backoff_s: float = 0.05

    async def send(
        self,
        send: Callable[[], Awaitable[dict[str, Any]]],
        again: Callable[[dict[str, Any]], bool],
    ) -> dict[str, Any]:
        """`send()` until `again(answer)` is false or the attempts run out; the last answer."""
        answer = await send()
        for attempt in range(1, self.attempts):
            if not again(answer):
                break
            await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            answer = await send()
        return answer
