"""One wallet driver per dialect: the simulated provider's wallet calls, in its own words.

A driver turns the table's intentions (place this bet, settle these bets, roll that one
back) into the dialect's calls through its client, and reports what the bridge answered
in plain terms. Every driver can resend a call's exact bytes (`duplicate=True`), as a
provider does after a timeout, and checks the repeat got the same answer.

Retries follow each provider's own rules (`reference/provider-dialects.md`): Pragmatic
resends the identical request after error 100 (102 on endRound), and refunds a bet still
failing; Evolution resends after `TEMPORARY_ERROR` / `UNKNOWN_ERROR`, and cancels a debit
still failing; Hub88 rolls a bet back after `RS_ERROR_UNKNOWN` or no answer, and resends
wins and rollbacks. (HTTP-level retries of 5xx and network errors are the transport's,
`clients.base.HttpTransport`.) A bet the provider gave up on and rolled back is
`Placed.ABANDONED`: it stands nowhere, and the table books it so.

The table keeps its own books (`table.py`); a driver only says whether the bridge took a
call. `DriverError` means the bridge answered something the dialect's rules say it must
not (a 500, a refused repeat, a missing field): the simulation stops on it.
"""

from services.simulate.drivers.base import DriverError
from services.simulate.drivers.base import FinishesOnBet
from services.simulate.drivers.base import Placed
from services.simulate.drivers.base import Retry
from services.simulate.drivers.base import Seat
from services.simulate.drivers.base import Wager
from services.simulate.drivers.base import WalletDriver
from services.simulate.drivers.evolution import EvolutionDriver
from services.simulate.drivers.ezugi import EzugiDriver
from services.simulate.drivers.hub88 import Hub88Driver
from services.simulate.drivers.pragmatic import PragmaticDriver
from services.simulate.drivers.softswiss import SoftSwissDriver

__all__ = [
    "DriverError",
    "EvolutionDriver",
    "EzugiDriver",
    "FinishesOnBet",
    "Hub88Driver",
    "Placed",
    "PragmaticDriver",
    "Retry",
    "Seat",
    "SoftSwissDriver",
    "Wager",
    "WalletDriver",
]
