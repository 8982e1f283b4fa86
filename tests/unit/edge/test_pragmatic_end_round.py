"""Pragmatic retries an endRound on error 102, its own code for an internal error there:
a ledger that gave up on a write (`RETRY_EXHAUSTED`) answers endRound so, and a money call
100, as the gateway's own internal error does."""

from __future__ import annotations

from decimal import Decimal

from contracts.wallet import AnyWalletCommand
from contracts.wallet import Refusal
from contracts.wallet import WalletReply
from services.simulate.clients.pragmatic import PragmaticClient
from tests.unit.edge.support.fake_ledger import FakeRefused
from tests.unit.edge.support.wallet_gateway import player_rig

SECRET = "end-round-TEST-ONLY-secret"


async def test_an_end_round_the_ledger_gave_up_on_is_102_and_a_result_100() -> None:
    r, transport = player_rig("pragmatic", SECRET.encode(), "tok-1")
    client = PragmaticClient(transport, SECRET)
    bet = await client.bet(user="u-1", round_id="r-1", reference="b-1", amount=Decimal(5))
    assert bet["error"] == 0, bet

    def gave_up(command: AnyWalletCommand) -> WalletReply:
        raise FakeRefused(Refusal.RETRY_EXHAUSTED, command.tx_id)

    r.ledger.execute = gave_up  # type: ignore[method-assign]
    ended = await client.end_round(user="u-1", round_id="r-1")
    assert ended["error"] == 102, ended
    result = await client.result(user="u-1", round_id="r-1", reference="w-1", amount=Decimal(0))
    assert result["error"] == 100, result
