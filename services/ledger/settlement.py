"""Settlement: how a bet's money moves when it is paid, refunded or reopened, and what a
provider's credit should have paid by the payout rules.

The three moves check everything before their first event, so a refusal leaves the wallet
and the bet unchanged; each happens once per bet (I4). The command handlers
(`services.ledger.commands`) and the round book (`services.ledger.book`) both settle
through these, and the round's view (`services.ledger.round_state`) checks late credits
with `late_checks`.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from decimal import Decimal

from contracts import money
from services.ledger.domain import Bet
from services.ledger.domain import Wallet
from services.ledger.payouts import expected_payout
from services.ledger.payouts import outcome_for
from services.ledger.rounds import Round
from services.ledger.views import BetStatus


def settle_bet(
    wallet: Wallet,
    bet: Bet,
    payout: Decimal,
    expected: Decimal | None,
    tx_id: str,
    *,
    flagged: bool | None = None,
) -> None:
    """Capture the stake and credit the payout: the bet is settled once (I4).

    Every check runs before the first event, so a refusal leaves both aggregates unchanged.
    """
    bet.require_open()
    wallet.capture(bet.key)
    wallet.credit_win(bet.key, payout)
    bet.settle(outcome_for(bet.stake, payout), payout, expected, tx_id, flagged=flagged)


def refund_bet(wallet: Wallet, bet: Bet, cause: str, tx_id: str = "") -> None:
    """Refund an open bet (release its hold) or reverse a settled one, once (I4).

    Every check runs before the first event, so a refusal leaves both aggregates unchanged.
    """
    bet.require_not_refunded()
    if bet.status == BetStatus.OPEN:
        wallet.release(bet.key, cause)
    else:
        wallet.reverse_settlement(bet.key, bet.stake, bet.payout, cause)
    bet.refund(cause, tx_id)


def reopen_bet(wallet: Wallet, bet: Bet, cause: str, tx_id: str) -> None:
    """Undo a settled bet's credit: the payout goes back, the stake is held again, and the
    bet is open for a corrected credit. Checks run before the first event."""
    bet.require_settled()
    wallet.take_back_win(bet.key, bet.stake, bet.payout, bet.round_key, cause)
    bet.reopen(cause, tx_id)


def expected_of(bet: Bet, round_: Round | None) -> Decimal | None:
    """The ledger's own payout for `bet` from its round's declared result, if it has one."""
    if round_ is None:
        return None
    return expected_for(bet, round_.result, round_.game)


def expected_for(bet: Bet, result: Mapping[str, str], game: str) -> Decimal | None:
    return expected_payout(
        bet.selections,
        bet.stake,
        bet.currency,
        result,
        game=bet.game or game,
        bet_id=bet.bet_id,
    )


def late_checks(
    bets: Iterable[Bet], result: Mapping[str, str], game: str
) -> dict[str, tuple[Decimal | None, bool]]:
    """Bets the provider settled before the result reached the ledger, checked now as they
    were credited: per credit, what it paid against the sum of the expected payouts."""
    credits: dict[str, list[Bet]] = {}
    for bet in bets:
        if bet.status == BetStatus.SETTLED and bet.expected_payout is None and result:
            credits.setdefault(bet.settled_by or bet.key, []).append(bet)
    checks: dict[str, tuple[Decimal | None, bool]] = {}
    for covered in credits.values():
        expected = [expected_for(bet, result, game) for bet in covered]
        known = [e for e in expected if e is not None]
        paid = sum((bet.payout for bet in covered), Decimal(0))
        flagged = len(known) == len(covered) and sum(known, Decimal(0)) != paid
        for bet, own in zip(covered, expected, strict=True):
            checks[bet.key] = (own, flagged)
    return checks


def share_credit(
    amount: Decimal, bets: list[Bet], expected: list[Decimal | None], currency: str
) -> tuple[list[Decimal], bool | None]:
    """Each bet's part of a provider credit, and whether the credit is flagged.

    One bet takes the whole credit and is cross-checked on its own (None). A credit covering
    several bets (10 on red and 10 on black, paid 20) is checked against the sum of their
    expected payouts: when it matches, each bet gets its own expected payout; when it differs,
    the credit is shared pro rata to stake and every bet it covers is flagged; when a payout
    cannot be computed, it is shared pro rata and checked once the result is known.
    """
    if len(bets) == 1:
        return [amount], None
    stakes = [bet.stake for bet in bets]
    known = [e for e in expected if e is not None]
    if len(known) < len(bets):
        return _split(amount, stakes, currency), False
    if sum(known, Decimal(0)) == amount:
        return known, False
    return _split(amount, stakes, currency), True


def _split(amount: Decimal, stakes: list[Decimal], currency: str) -> list[Decimal]:
    """Share a round-level credit over the player's bets pro rata to stake, exactly."""
    if len(stakes) == 1:
        return [amount]
    unit = money.quantum(currency)
    total = sum(stakes, Decimal(0))
    shares = [(amount * stake / total).quantize(unit, rounding="ROUND_DOWN") for stake in stakes]
    shares[-1] += amount - sum(shares, Decimal(0))
    return shares
