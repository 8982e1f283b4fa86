"""A debit taken while its token was live, repeated after the token expired, is a repeat
(I3: the original answer, nothing moves), not a token error; a new debit on that expired
token is still refused in the dialect's words, moving nothing. Providers retry a bet for
a long time (Hub88: up to 500 times with exponential back-off), well past an idle token's
expiry, and a token error would make them roll back a bet the player holds."""

from __future__ import annotations

import pytest

from tests.unit.edge.support.token_repeats import DIALECTS, TOKEN, TTL, Dialect, repeat_after_expiry
from tests.unit.edge.support.wallet_gateway import player_rig


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
async def test_a_debit_repeated_after_its_token_expired_is_a_repeat_and_a_new_one_is_refused(
    dialect: Dialect,
) -> None:
    r, transport = player_rig(dialect.name, dialect.secret, TOKEN, ttl=TTL, options=dialect.options)

    def expire() -> None:
        r.clock[0] += TTL + 1

    async def snapshot() -> object:
        return r.ledger.snapshot()

    await repeat_after_expiry(dialect, transport, expire, snapshot)
