"""The round.settle wire contract against its golden example (schemas only grow)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from contracts.platform import DECODER
from contracts.platform import ENCODER
from contracts.platform import BetState
from contracts.platform import RoundSettle
from contracts.platform import SettledBet
from contracts.platform import SettleTransaction
from contracts.platform import TransactionType
from contracts.wallet import Outcome

GOLDEN = Path(__file__).parent / "golden" / "round_settle_v1.json"
GOLDEN_RESULT = Path(__file__).parent / "golden" / "round_settle_v1_result.json"
GOLDEN_REOPENED = Path(__file__).parent / "golden" / "round_settle_v1_reopened.json"

EXAMPLE = RoundSettle(
    event_id="rs_4f1c0e6a9b2d4c7e8f0a1b2c3d4e5f60",
    round_id="R-2025-10-17-18:45:03-Table23",
    provider="evolution",
    player="player-42",
    currency="EUR",
    bets=(
        SettledBet(
            bet_id="bet_9f2", stake=Decimal("5.00"), payout=Decimal("180.00"), outcome=Outcome.WIN
        ),
    ),
    transactions=(
        SettleTransaction(
            id="trn_bet_9f2",
            type=TransactionType.DEBIT,
            amount=Decimal("5.00"),
            provider_tx_id="evo-tx-1",
        ),
        SettleTransaction(
            id="trn_pay_9f2",
            type=TransactionType.CREDIT,
            amount=Decimal("180.00"),
            provider_tx_id="evo-tx-2",
        ),
    ),
    balance_after=Decimal("1320.40"),
    settled_at=datetime(2025, 10, 17, 18, 45, 41, tzinfo=UTC),
    log_position=918273,
    session_id="sess_abc123",
    table="Table23",
    game="roulette",
)


VOIDED = msgspec.structs.replace(
    EXAMPLE,
    bets=(
        msgspec.structs.replace(
            EXAMPLE.bets[0], payout=Decimal("5.00"), outcome=Outcome.VOID, cause="DEALER_ERROR"
        ),
    ),
    transactions=(
        EXAMPLE.transactions[0],  # the same stake, refunded
        SettleTransaction(id="trn_refund_9f2", type=TransactionType.CREDIT, amount=Decimal("5.00")),
    ),
    result={"number": "17"},
    void_cause="DEALER_ERROR",
)

# The provider rolled the credit back: the win no longer stands, the bet awaits another.
REOPENED = msgspec.structs.replace(
    EXAMPLE,
    event_id="rs_0b5d2f7c9e1a3b4c5d6e7f8091a2b3c4",
    bets=(
        msgspec.structs.replace(
            EXAMPLE.bets[0],
            payout=Decimal("0.00"),
            outcome=Outcome.LOSE,
            status=BetState.REOPENED,
        ),
    ),
    transactions=(
        SettleTransaction(
            id="trn_rollback_9f2",
            type=TransactionType.DEBIT,
            amount=Decimal("180.00"),
            provider_tx_id="evo-tx-3",
        ),
        SettleTransaction(id="trn_rehold_9f2", type=TransactionType.CREDIT, amount=Decimal("5.00")),
    ),
    balance_after=Decimal("1145.40"),
    log_position=918301,
)


def test_the_golden_v1_body_decodes_to_the_example() -> None:
    assert DECODER.decode(GOLDEN.read_bytes()) == EXAMPLE


@pytest.mark.parametrize(
    ("path", "example"),
    [(GOLDEN_RESULT, VOIDED), (GOLDEN_REOPENED, REOPENED)],
    ids=["with-the-result-and-a-voids-cause", "of-a-reopened-bet"],
)
def test_a_grown_body_decodes_and_encodes_as_golden(path: Path, example: RoundSettle) -> None:
    golden = path.read_bytes()
    assert DECODER.decode(golden) == example
    assert msgspec.json.format(ENCODER.encode(example), indent=2) + b"\n" == golden


def test_a_body_without_the_optional_fields_still_decodes() -> None:
    body = msgspec.json.decode(GOLDEN.read_bytes())
    for optional in ("sessionId", "table", "game"):
        del body[optional]
    del body["transactions"][0]["providerTxId"]
    decoded = DECODER.decode(msgspec.json.encode(body))
    assert decoded.session_id == "" and decoded.transactions[0].provider_tx_id == ""


def test_another_event_tag_or_a_non_numeric_amount_is_refused() -> None:
    body = msgspec.json.decode(GOLDEN.read_bytes())
    with pytest.raises(msgspec.ValidationError):
        DECODER.decode(msgspec.json.encode({**body, "event": "round.settle.v2"}))
    with pytest.raises(msgspec.ValidationError):
        DECODER.decode(msgspec.json.encode({**body, "balanceAfter": True}))


def test_a_bet_without_a_status_is_settled() -> None:
    body = msgspec.json.decode(GOLDEN_REOPENED.read_bytes())
    del body["bets"][0]["status"]
    assert DECODER.decode(msgspec.json.encode(body)).bets[0].status is BetState.SETTLED
