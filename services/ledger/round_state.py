"""The round as the ledger tells it (`RoundState`), built from its aggregates as loaded.

One builder for every reader: `Ledger.round_state` and `round_header` pass what the
ledger finds, and the dispute replay (`projections.rounds.replay`) passes what it loaded
from the log itself, so the replay checks the view against the ledger's own rule, never
against a copy of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import msgspec

from contracts.wallet import Outcome
from services.ledger.domain import Bet
from services.ledger.rounds import Round
from services.ledger.rounds import RoundBook
from services.ledger.settlement import late_checks
from services.ledger.views import BetStatus
from services.ledger.views import BetView
from services.ledger.views import RoundState
from services.ledger.views import RoundStatus
from services.ledger.views import Verification


def round_state_of(
    provider: str,
    round_id: str,
    round_: Round | None,
    book: RoundBook | None,
    bets: list[Bet],
    bridge_settled: bool,
) -> RoundState:
    """The round as the ledger tells it (`Ledger.round_state`), from its aggregates as
    loaded: the provider's `round_`, its `book` and its `bets` in log order."""
    result = round_.result if round_ else {}
    views = bet_views(bets, result, round_.game if round_ else "")
    status = RoundStatus(round_.status) if round_ else RoundStatus.UNKNOWN
    if status is RoundStatus.RESULT and book is not None and book.settled:
        status = RoundStatus.SETTLED
    book_flags = tuple(book.audit_flags) if book else ()
    known = RoundState(provider=provider, round_id=round_id, status=status, bets=views)
    if round_ is None:
        # Without game events (a provider with no feed) the first bet names the table
        # and the game, as the dispute view shows them.
        return msgspec.structs.replace(
            known,
            table=bets[0].table if bets else "",
            game=bets[0].game if bets else "",
            audit_flags=book_flags,
            bridge_settled=bridge_settled,
        )
    return msgspec.structs.replace(
        known,
        bridge_settled=bridge_settled,
        table=round_.table,
        game=round_.game,
        closes_at=datetime.fromisoformat(round_.closes_at) if round_.closes_at else None,
        last_seq=max((int(s) for s in round_.events), default=0),
        result=dict(round_.result),
        round_hash=round_.round_hash,
        digest=round_.digest,
        verification=Verification(round_.verification),
        audit_flags=(*round_.audit_flags, *book_flags),
        void_cause=round_.void_cause,
    )


def bet_views(bets: list[Bet], result: Mapping[str, str], game: str) -> tuple[BetView, ...]:
    """The views of a round's bets, each provider credit cross-checked as a whole."""
    checks = late_checks(bets, result, game)
    return tuple(_bet_view(bet, checks.get(bet.key)) for bet in bets)


def _bet_view(bet: Bet, late_check: tuple[Decimal | None, bool] | None) -> BetView:
    expected, flagged = late_check or (bet.expected_payout, bet.flagged)
    return BetView(
        bet_key=bet.key,
        provider=bet.provider,
        bet_id=bet.bet_id,
        player=bet.player,
        currency=bet.currency,
        stake=bet.stake,
        status=BetStatus(bet.status),
        outcome=Outcome(bet.outcome) if bet.outcome else None,
        payout=bet.payout if bet.status != BetStatus.OPEN else Decimal(0),
        expected_payout=expected,
        flagged=flagged,
        cause=bet.cause,
        late=bet.cause == "LATE_BET",
    )
