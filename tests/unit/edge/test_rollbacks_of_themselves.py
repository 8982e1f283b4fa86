"""A Hub88 or SoftSwiss rollback that names itself as the transaction it undoes can never
succeed: it is refused as malformed, never answered as a failure to retry, and moves
nothing (on the real ledger it lost 64 attempts to itself, then asked to be sent again)."""

from __future__ import annotations

import msgspec

from contracts.dialects import hub88
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import rollback
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import refused_body
from tests.unit.edge.support.wallet_gateway import refused_status

SECRET = "softswiss-TEST-ONLY-token"


def test_a_softswiss_rollback_of_itself_is_a_bad_request() -> None:
    r, transport = player_rig("softswiss", SECRET.encode())
    client = SoftSwissClient(transport, SECRET)
    call = client.rollback_call(
        user="u-1", currency="EUR", round_id="r-1", actions=[rollback("rb-1", "rb-1")]
    )
    body = msgspec.json.decode(refused_body(r, transport, call, statuses=(400,)))
    assert body["code"] == 400 and "names itself" in body["message"], body


def test_a_hub88_rollback_of_itself_is_a_syntax_error() -> None:
    r, transport = player_rig("hub88", HUB88_PUBLIC_PEM, "tok-1")
    client = Hub88Client(transport, load_private_key(HUB88_PRIVATE_PEM))
    call = client.rollback_call(user="u-1", token="tok-1", round_id="r-1", tx="rb-1", ref_tx="rb-1")
    status = refused_status(r, transport, call, hub88.Response, hub88.Status.OK)
    assert status == hub88.Status.WRONG_SYNTAX
