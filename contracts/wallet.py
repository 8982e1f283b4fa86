"""Canonical wallet commands: what every provider dialect is translated into at the edge.

A provider calls livebridge in its own dialect; the dialect adapter verifies and decodes
the call and sends one of these commands to the ledger, which answers with a `WalletReply`
or refuses with a `Refusal` code. The adapter renders either back in the dialect.

Identity rules, the same for every dialect:
- `provider` + `tx_id` names one provider transaction forever. A repeat with the same
  payload gets the original reply (`replayed=True`) and moves no money; a repeat with
  another payload is refused with `DUPLICATE_CONFLICT`.
- `provider` + `bet_id` names one bet; a credit or rollback points at it.
- `provider` + `round_id` names one game round.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from contracts.ids import OptionalId


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    """One pick on the table: `market` such as `roulette_straight`, `value` such as `17`.

    Both follow `contracts.ids` (at most 128 characters, no control or invisible
    characters): a bet's picks are stored in the round view, whose PostgreSQL jsonb holds
    no NUL."""

    market: OptionalId
    value: OptionalId = ""
    amount: Decimal | None = None
    """The part of the bet's stake on this pick, when the provider says; None splits evenly."""


class _Transaction(msgspec.Struct, frozen=True, kw_only=True):
    """One provider transaction (`provider` + `tx_id`) on the player's wallet in `currency`."""

    provider: str
    tx_id: str
    player: str
    currency: str


class _BetMove(_Transaction, frozen=True, kw_only=True):
    """A stake or a win for a bet in round `round_id`."""

    amount: Decimal
    round_id: str
    bet_id: str = ""
    """The provider's bet reference. Empty on a debit: the bet is named by `tx_id`; empty on
    a credit: every open bet of the player in the round."""
    game: str = ""


class Debit(_BetMove, frozen=True, kw_only=True, tag="wallet.debit"):
    """The provider takes a stake from the player's wallet for a bet in a round.

    The stake is held when the round is known to the ledger and captured when the bet is
    settled; it is refused if the round's betting window has closed.
    """

    table: str = ""
    session_id: str = ""
    selections: tuple[Selection, ...] = ()
    closes_round: bool = False
    limits_profile: str = ""
    """The limit profile the player bets under; empty: the player's assigned profile."""


class Credit(_BetMove, frozen=True, kw_only=True, tag="wallet.credit"):
    """The provider pays a win (or reports a loss with amount 0) for a bet or a round."""

    session_id: str = ""
    closes_round: bool = False


class Rollback(_Transaction, frozen=True, kw_only=True, tag="wallet.rollback"):
    """The provider cancels an earlier transaction: the stake (or win) goes back.

    A rollback that arrives before the transaction it cancels is remembered; the late
    transaction is then refused (`TRANSACTION_ROLLED_BACK`) or accepted without effect,
    as `late_original` says, so each dialect gets the behaviour its provider expects.
    """

    ref_tx_id: str
    """The provider transaction being cancelled."""
    ref_bet_id: str = ""
    """The bet being cancelled, where the provider names it (Evolution `refId`): a rollback
    whose `ref_tx_id` the ledger does not know cancels this bet's debit, if the player has
    such a bet. A provider may cancel a bet under a fresh transaction id."""
    round_id: str = ""
    amount: Decimal | None = None
    """What the provider says it rolls back (Ezugi `rollbackAmount`), if it says: a rollback
    of a debit must name the debit's amount, another one is refused (`INVALID_AMOUNT`)."""
    cause: str = "PROVIDER_CANCELLED"
    late_original: str = "refuse"
    """`refuse` or `absorb`: what happens to the cancelled transaction if it arrives later."""
    session_id: str = ""
    game: str = ""
    """The provider's game, when the rollback names one (Hub88 `game_code`): a repeat of the
    rollback must name the same."""
    closes_round: bool = False
    only_open: bool = False
    """True: cancel only a bet still open; a settled one is refused (`BET_ALREADY_SETTLED`)
    and nothing moves (Evolution `cancel`, Pragmatic `refund`). False: reverse whatever
    the transaction did (Hub88)."""


class AwardCause(enum.StrEnum):
    """Why a provider pays a player outside any bet's settlement."""

    PROMO = "PROMO"
    """A promotion, a free round's or free bet's win, a reward (Evolution `promo_payout`,
    Pragmatic `bonusWin`/`promoWin`, Hub88 free bets, SoftSwiss `freespins`): paid from the
    promotions account."""
    JACKPOT = "JACKPOT"
    """A jackpot win (Pragmatic `jackpotWin`, Evolution `JackpotWin`): paid from the house."""
    ADJUSTMENT = "ADJUSTMENT"
    """A correction the provider makes to the player's balance (Pragmatic `adjustment`):
    either sign, against the house; a negative one never takes more than is available."""


class Award(_Transaction, frozen=True, kw_only=True, tag="wallet.award"):
    """The provider pays the player (or, an adjustment, takes) money that settles no bet.

    Exactly once by `provider` + `tx_id`, like every transaction. A zero award moves no
    money but is remembered (a Hub88 free bet: its win names it by `ref_tx_id`).
    """

    amount: Decimal
    """Paid to the player; negative only for an ADJUSTMENT (taken from the player)."""
    cause: AwardCause
    round_id: str = ""
    game: str = ""
    reference: str = ""
    """The provider's name for what pays: campaign, promotion type, jackpot id, voucher."""
    ref_tx_id: str = ""
    """An earlier award this one pays out (a Hub88 free bet's win names the free bet)."""
    session_id: str = ""
    closes_round: bool = False


AnyWalletCommand = Debit | Credit | Rollback | Award


class Outcome(enum.StrEnum):
    WIN = "WIN"
    LOSE = "LOSE"
    PUSH = "PUSH"
    VOID = "VOID"
    RETRY = "RETRY"


class WalletReply(msgspec.Struct, frozen=True, kw_only=True):
    """The ledger's answer to a wallet command, after its events are fsynced in JetStream."""

    tx_ref: str
    """The ledger's own id for the transaction (`trn_...`), stable across replays."""
    player: str
    currency: str
    balance: Decimal
    """Cash balance after this transaction."""
    available: Decimal
    """Balance minus holds."""
    replayed: bool = False
    """True when this is a repeat of an earlier transaction, answered from memory."""
    absorbed: bool = False
    """True when the transaction was accepted without effect (it was rolled back before it
    came), and on a rollback that found nothing to undo (its target unknown, now
    remembered, or already rolled back): Evolution answers that `BET_DOES_NOT_EXIST`."""
    kind: str = ""
    """`debit`, `credit`, `rollback` or `award`: what the original transaction was."""
    log_position: int = 0


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    player: str
    currency: str
    balance: Decimal
    held: Decimal
    available: Decimal


class Refusal(enum.StrEnum):
    """Why the ledger refused a command. Stable codes; dialect adapters map each to their own."""

    INVALID_AMOUNT = "INVALID_AMOUNT"
    UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY"
    UNKNOWN_WALLET = "UNKNOWN_WALLET"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    DUPLICATE_CONFLICT = "DUPLICATE_CONFLICT"
    BET_NOT_FOUND = "BET_NOT_FOUND"
    BET_ALREADY_SETTLED = "BET_ALREADY_SETTLED"
    BET_REFUNDED = "BET_REFUNDED"
    """The bet was refunded (rolled back or voided): it can be neither settled nor undone."""
    TRANSACTION_NOT_FOUND = "TRANSACTION_NOT_FOUND"
    TRANSACTION_ROLLED_BACK = "TRANSACTION_ROLLED_BACK"
    BETTING_CLOSED = "BETTING_CLOSED"
    ROUND_CLOSED = "ROUND_CLOSED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    """Over a limit of the player's profile (per round) or protection (loss, stake, deposit)."""
    STAKE_OUT_OF_LIMITS = "STAKE_OUT_OF_LIMITS"
    """The stake is under the minimum or over the maximum bet of the player's profile."""
    SELF_EXCLUDED = "SELF_EXCLUDED"
    """The player is self-excluded, timed out or flagged high-risk: no bet is taken."""
    RETRY_EXHAUSTED = "RETRY_EXHAUSTED"
