"""Every message of the canonical contract by name, for the generated JSON Schemas
(`/contracts/{name}.json`) and the golden tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from contracts.platform import RoundSettle
from contracts.player import (
    BetAccepted,
    BetPlace,
    BetRejected,
    BettingClose,
    BettingOpen,
    LimitsUpdate,
    ProviderError,
    ServerTime,
    SessionClose,
    Settlement,
)

MESSAGES: Final[Mapping[str, Any]] = {
    "bet.place": BetPlace,
    "bet.accepted": BetAccepted,
    "bet.rejected": BetRejected,
    "round.settle": RoundSettle,
    "limits.update": LimitsUpdate,
    "session.close": SessionClose,
    "provider.error": ProviderError,
    "server.time": ServerTime,
    "betting.opened": BettingOpen,
    "betting.closed": BettingClose,
    "round.settled": Settlement,
}
