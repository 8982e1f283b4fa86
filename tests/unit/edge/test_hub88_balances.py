"""Hub88 balances in a currency finer than Hub88's integer form (x 100 000): rounded down."""

from __future__ import annotations

from decimal import Decimal

from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig


async def test_a_bitcoin_balance_is_never_shown_above_what_the_player_can_stake() -> None:
    r = rig(provider("hub88", HUB88_PUBLIC_PEM, currencies=("BTC",)))
    r.fund("u-1", "0.00001700", "BTC")
    r.session("hub88", "tok-1", "u-1", "BTC")
    client = Hub88Client(GatewayTransport(r.gate("hub88")), load_private_key(HUB88_PRIVATE_PEM))
    # 0.000017 BTC is 1.7 of Hub88's units: one unit can be staked, not two.
    answer = await client.balance(user="u-1", token="tok-1")
    assert (answer["status"], answer["balance"]) == ("RS_OK", 1), answer
    bet = await client.bet(
        user="u-1",
        token="tok-1",
        round_id="r-1",
        tx="b-1",
        amount=Decimal("0.00001"),
        currency="BTC",
    )
    assert (bet["status"], bet["balance"]) == ("RS_OK", 0), "0.7 units left: none to stake"
