"""The canonical player contract against its golden examples (schemas only grow)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from contracts.messages import MESSAGES
from contracts.player import BetAccepted
from contracts.player import BetPlace
from contracts.player import BetRejected
from contracts.player import BettingClose
from contracts.player import BettingOpen
from contracts.player import CloseReason
from contracts.player import EffectiveLimits
from contracts.player import LimitsUpdate
from contracts.player import ProviderError
from contracts.player import ServerTime
from contracts.player import SessionClose
from contracts.player import Settlement
from contracts.player import Stake
from contracts.wallet import Selection
from tests.unit.platform.test_contract import EXAMPLE as ROUND_SETTLE

GOLDEN = Path(__file__).parent / "golden"
AT = datetime(2025, 10, 17, 18, 45, 3, tzinfo=UTC)

EXAMPLES: dict[str, Any] = {
    "bet.place": BetPlace(
        idempotency_key="c0a4-77f1",
        session_id="ses_abc123",
        round_id="R-2025-10-17-18:45:03-Table23",
        selection=(Selection(market="roulette_straight", value="17"),),
        stake=Stake(amount="5.00", currency="EUR"),
        limits_profile="VIP_A",
    ),
    "bet.accepted": BetAccepted(
        idempotency_key="c0a4-77f1",
        bet_id="bet_9f2",
        round_id="R-2025-10-17-18:45:03-Table23",
        balance_hold=Decimal("-5.00"),
        available=Decimal("1315.40"),
        effective_limits=EffectiveLimits(profile="VIP_A", max_bet=Decimal("5000.00")),
        server_time=AT,
        transaction_id="trn_bet_9f2",
        log_position=918270,
    ),
    "bet.rejected": BetRejected(
        idempotency_key="c0a4-77f1",
        code="LBRG-409 BETTING_CLOSED",
        message="round R-2025-10-17-18:45:03-Table23 closed betting at 18:45:18",
        server_time=AT,
        round_id="R-2025-10-17-18:45:03-Table23",
    ),
    "limits.update": LimitsUpdate(
        provider="evolution",
        table="Table23",
        currency="EUR",
        limits=EffectiveLimits(
            profile="VIP_A",
            min_bet=Decimal("1.00"),
            max_bet=Decimal("5000.00"),
            max_round=Decimal("20000.00"),
        ),
        effective_at=AT,
    ),
    "server.time": ServerTime(server_time=AT),
    "session.close": SessionClose(
        session_id="ses_abc123", reason=CloseReason.OPERATOR, closed_at=AT
    ),
    "provider.error": ProviderError(
        provider="evolution",
        table="Table23",
        code="LBRG-503 PROVIDER_DOWN",
        message="evolution has not answered for 30 s; its tables are hidden",
        occurred_at=AT,
        retryable=True,
    ),
    "betting.opened": BettingOpen(
        provider="evolution",
        table="Table23",
        round_id="R-2025-10-17-18:45:03-Table23",
        closes_at=datetime(2025, 10, 17, 18, 45, 18, tzinfo=UTC),
        server_time=AT,
        log_position=918201,
    ),
    "betting.closed": BettingClose(
        provider="evolution",
        table="Table23",
        round_id="R-2025-10-17-18:45:03-Table23",
        server_time=datetime(2025, 10, 17, 18, 45, 18, tzinfo=UTC),
        log_position=918305,
    ),
    "round.settled": Settlement(settle=ROUND_SETTLE, log_position=ROUND_SETTLE.log_position),
}


def golden(name: str) -> Path:
    return GOLDEN / f"{name.replace('.', '_')}_v1.json"


def test_every_contract_message_but_round_settle_has_a_golden_example_here() -> None:
    # round.settle has its own in tests/unit/platform/golden.
    assert set(EXAMPLES) == set(MESSAGES) - {"round.settle"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_golden_body_decodes_to_the_example_and_encodes_back(name: str) -> None:
    kind = MESSAGES[name]
    body = golden(name).read_bytes()
    assert msgspec.json.decode(body, type=kind) == EXAMPLES[name]
    assert msgspec.json.format(msgspec.json.encode(EXAMPLES[name]), indent=2) + b"\n" == body
    assert msgspec.json.decode(body)["type"] == name


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_body_with_only_the_required_fields_decodes(name: str) -> None:
    kind = MESSAGES[name]
    required = set(msgspec.json.schema(kind)["$defs"][kind.__name__].get("required", []))
    body = {k: v for k, v in msgspec.json.decode(golden(name).read_bytes()).items()}
    trimmed = {k: v for k, v in body.items() if k in required or k == "type"}
    msgspec.json.decode(msgspec.json.encode(trimmed), type=kind)
