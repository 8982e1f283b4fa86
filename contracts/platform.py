"""What livebridge tells the platform: one `round.settle` message per player and settled round.

The platform receives these in two ways, with the same JSON body:

- **JetStream**: stream `ROUND_SETTLE`, subjects `round.settle.<provider>.<round>`. Subscribe
  with a durable consumer; the stream keeps every settlement, so a platform that was down
  reads on from its consumer's position. The message id (`Nats-Msg-Id` header) is `eventId`.
- **Webhook**: an HTTP POST of the body to each configured URL, with headers
  `X-Livebridge-Event-Id`, `X-Livebridge-Timestamp` (Unix seconds) and
  `X-Livebridge-Signature: sha256=<hex>`, the HMAC-SHA256, under the endpoint's secret, of
  `timestamp + "." + body` (the raw body bytes as received). Answer 2xx once the settlement
  is stored; anything else, or no answer within the timeout, is retried with exponential
  backoff. A delivery can repeat (a lost answer is retried), so process each `eventId` once.

Settlements of one player arrive in the order the ledger recorded them. Money amounts are
decimal strings in the currency's precision (`"5.00"` EUR, `"500"` JPY), never numbers.

Schemas only grow: new fields come with defaults; a breaking change gets a new `event` tag.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import msgspec

from contracts.wallet import Outcome


class TransactionType(enum.StrEnum):
    DEBIT = "DEBIT"
    """Money taken from the player's wallet (a stake)."""
    CREDIT = "CREDIT"
    """Money paid to the player's wallet (a win, a push, a refund)."""


class BetState(enum.StrEnum):
    SETTLED = "SETTLED"
    """The bet is resolved as `outcome` and `payout` say."""
    REOPENED = "REOPENED"
    """The bet's earlier settlement no longer stands: the provider rolled its credit back.
    The payout is taken back (a `DEBIT` under the rollback's transaction id), the stake is
    held again (a `CREDIT` of the stake), and the bet awaits a corrected credit, which a
    later `round.settle` reports (its stake a `DEBIT` again). Until then `payout` is `0.00`
    and `outcome` `LOSE`: nothing stands paid."""


class SettledBet(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One bet of the player in the round, as it was settled."""

    bet_id: str
    """The provider's bet reference (or its transaction id when it has no bet reference)."""
    stake: Decimal
    payout: Decimal
    """What the bet paid back, stake included: `0.00` for a lost bet, the stake for a push."""
    outcome: Outcome
    """`WIN`, `LOSE`, `PUSH` or `VOID` (a voided bet is refunded: `payout` equals `stake`)."""
    cause: str = ""
    """Why a `VOID` bet was refunded: the provider's reason for a voided round, `LATE_BET`
    for a bet the log placed after betting closed, `PROVIDER_CANCELLED` (or the provider's
    cause) for a rollback; empty for other outcomes."""
    status: BetState = BetState.SETTLED
    """`REOPENED` when this message says the bet's earlier settlement no longer stands."""


class SettleTransaction(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One money movement on the player's wallet that belongs to this round."""

    id: str
    """The ledger's transaction id (`trn_...`), stable forever."""
    type: TransactionType
    amount: Decimal
    provider_tx_id: str = ""
    """The provider's own transaction id, for matching with provider reports."""
    cause: str | msgspec.UnsetType = msgspec.UNSET
    """`PROMO`, `JACKPOT` or `ADJUSTMENT` for money the provider paid (or, an adjustment,
    took) outside any bet; absent for a bet's stake and settlement."""


class RoundSettle(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="event", tag="round.settle"
):
    """A round is over for one player: every bet is settled and the wallet says `balanceAfter`.

    A provider's payment outside any bet (a promotion, free round or free bet win, a
    jackpot, an adjustment) is a settlement of its own: no `bets`, one transaction whose
    `cause` says what it is; `roundId` is the round it names, else its provider transaction id.

    `eventId` is unique per settlement and stable across redeliveries and rebuilds: it is the
    key to process each settlement exactly once. `logPosition` is the ledger's position of
    the event that settled the round; it grows with every settlement of the same player.
    """

    event_id: str
    round_id: str
    provider: str
    player: str
    currency: str
    bets: tuple[SettledBet, ...]
    transactions: tuple[SettleTransaction, ...]
    balance_after: Decimal
    settled_at: datetime
    log_position: int
    session_id: str = ""
    table: str = ""
    game: str = ""
    result: dict[str, str] = {}
    """The round's result as the provider declared it (`{"number": "17"}` for roulette),
    when livebridge had it at settlement; empty otherwise."""
    void_cause: str = ""
    """The provider's reason when the whole round was voided; empty otherwise."""


AnyPlatformEvent = RoundSettle

ENCODER = msgspec.json.Encoder()
DECODER: msgspec.json.Decoder[AnyPlatformEvent] = msgspec.json.Decoder(AnyPlatformEvent)
