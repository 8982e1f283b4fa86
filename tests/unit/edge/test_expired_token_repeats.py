"""A debit taken while its token was live, repeated after the token died (expired, revoked,
rotated, ended with its platform session), is a repeat (I3: the original answer, nothing
moves), not a token error; the same transaction id with another payload gets the
dialect's duplicate answer; a new debit on that dead token is still refused in the
dialect's words, moving nothing. Providers retry a bet for a long time (Hub88: up to 500
times with exponential back-off), well past an idle token's expiry or a platform session
ended by player protection, and a token error would make them roll back a bet the player
holds. Another player's token refuses a debit before the ledger is asked anything."""

from __future__ import annotations

from tests.unit.edge.support import token_repeats as scenarios
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig


def world_of(r: Rig) -> scenarios.World:
    """The rig's store, clock and ledger, counting the edge's `answered` questions."""
    asked: list[tuple[str, str]] = []
    answered = r.ledger.answered

    def counted(provider: str, tx_id: str) -> bool:
        asked.append((provider, tx_id))
        return answered(provider, tx_id)

    r.ledger.answered = counted  # type: ignore[method-assign]

    async def snapshot() -> object:
        return r.ledger.snapshot()

    return scenarios.World(r.sessions, r.clock, snapshot, lambda: len(asked))


@scenarios.EVERY_FATE
@scenarios.EVERY_DIALECT
async def test_a_debit_repeated_after_its_token_died_is_a_repeat_and_a_new_one_is_refused(
    dialect: scenarios.Dialect, fate: scenarios.Fate
) -> None:
    r, transport = player_rig(dialect.name, dialect.secret, options=dialect.options)
    await scenarios.repeat_after(dialect, fate, transport, world_of(r))


@scenarios.EVERY_DIALECT
async def test_another_players_expired_token_refuses_a_repeat_without_asking_the_ledger(
    dialect: scenarios.Dialect,
) -> None:
    r, transport = player_rig(dialect.name, dialect.secret, options=dialect.options)
    r.fund("u-2", "100.00")
    await scenarios.another_players_token(dialect, transport, world_of(r))


async def test_a_pragmatic_bet_repeated_on_a_revoked_token_is_answered_in_its_own_currency() -> (
    None
):
    pragmatic = scenarios.PRAGMATIC
    r = rig(provider(pragmatic.name, pragmatic.secret, currencies=("USD", "EUR")))
    for currency in ("EUR", "USD"):
        r.fund("u-1", "100.00", currency)
    transport = GatewayTransport(r.gate(pragmatic.name))
    await scenarios.pragmatic_repeat_in_the_earlier_currency(transport, world_of(r))
