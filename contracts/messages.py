"""Every message of the canonical contract by name (`MESSAGES`, for the generated JSON
Schemas at `/contracts/{name}.json` and the golden tests), and which way each goes: on the
bet socket (`SOCKET_IN`, `SOCKET_OUT`) or on `round.settle` (`SETTLE`), as the AsyncAPI
document lists them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Final

import msgspec

from contracts.platform import RoundSettle
from contracts.player import BetAccepted
from contracts.player import BetPlace
from contracts.player import BetRejected
from contracts.player import BettingClose
from contracts.player import BettingOpen
from contracts.player import LimitsUpdate
from contracts.player import ProviderError
from contracts.player import ServerTime
from contracts.player import SessionClose
from contracts.player import Settlement

SOCKET_IN: Final[tuple[Any, ...]] = (BetPlace,)
"""What a player's front sends on the bet socket."""
SOCKET_OUT: Final[tuple[Any, ...]] = (
    BetAccepted,
    BetRejected,
    ServerTime,
    BettingOpen,
    BettingClose,
    Settlement,
    LimitsUpdate,
    ProviderError,
    SessionClose,
)
"""What the bridge sends on the bet socket."""
SETTLE: Final[tuple[Any, ...]] = (RoundSettle,)
"""What the bridge publishes on `round.settle` for the platform."""


def tag_of(kind: Any) -> str:
    """The message's name on the wire: its `type` tag."""
    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType), kind
    return str(info.tag)


MESSAGES: Final[Mapping[str, Any]] = {tag_of(k): k for k in (*SOCKET_IN, *SOCKET_OUT, *SETTLE)}
