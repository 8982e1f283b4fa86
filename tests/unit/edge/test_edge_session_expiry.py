"""Expired sessions, dialect by dialect: a bet on an expired token is refused in the
dialect's own words and moves nothing; the calls the provider sends after a session may
have ended (wins, credits, rollbacks) still settle."""

from __future__ import annotations

from decimal import Decimal

from services.edge.config import OptionValue
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet
from services.simulate.clients.softswiss import win
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import player_rig

EZUGI_SECRET = "ezugi-TEST-ONLY-secret"
SOFTSWISS_SECRET = "softswiss-TEST-ONLY-token"
TTL = 60.0


def expire(r: Rig) -> None:
    r.clock[0] += TTL + 1


def ezugi_rig() -> tuple[Rig, EzugiClient]:
    options: dict[str, OptionValue] = {"operator_id": 7}
    r, transport = player_rig("ezugi", EZUGI_SECRET.encode(), "tok-1", ttl=TTL, options=options)
    return r, EzugiClient(transport, EZUGI_SECRET, 7)


async def test_ezugi_auth_with_an_expired_launch_token_is_error_6_and_issues_nothing() -> None:
    r, client = ezugi_rig()
    expire(r)
    answer = await client.auth(token="tok-1")
    assert (answer["errorCode"], answer["errorDescription"]) == (6, "Token expired")
    assert "uid" not in answer and not answer.get("token")


async def test_ezugi_debit_with_an_expired_session_is_error_6_and_moves_nothing() -> None:
    r, client = ezugi_rig()
    expire(r)
    before = r.ledger.snapshot()
    answer = await client.debit(
        user="u-1", token="tok-1", tx="d-1", round_id=1, amount=Decimal(1), currency="EUR"
    )
    assert (answer["errorCode"], answer["errorDescription"]) == (6, "Token expired")
    assert r.ledger.snapshot() == before


async def test_ezugi_credit_after_the_session_expired_still_pays_its_debit() -> None:
    r, client = ezugi_rig()
    await client.debit(
        user="u-1", token="tok-1", tx="d-1", round_id=1, amount=Decimal(1), currency="EUR"
    )
    expire(r)
    answer = await client.credit(
        user="u-1", tx="c-1", debit_tx="d-1", round_id=1, amount=Decimal(3), currency="EUR"
    )
    assert answer["errorCode"] == 0 and answer["balance"] == Decimal("102")


async def test_softswiss_bet_on_an_expired_session_is_412_code_101_and_moves_nothing() -> None:
    r, transport = player_rig("softswiss", SOFTSWISS_SECRET.encode(), "ses-1", ttl=TTL)
    client = SoftSwissClient(transport, SOFTSWISS_SECRET)
    seat = {"user": "u-1", "currency": "EUR", "session_id": "ses-1"}
    taken = await client.play(**seat, round_id="r-1", actions=[bet("a-1", Decimal(5), "EUR")])
    assert taken["http_status"] == 200
    expire(r)
    before = r.ledger.snapshot()
    refused = await client.play(**seat, round_id="r-2", actions=[bet("a-2", Decimal(5), "EUR")])
    assert (refused["http_status"], refused["code"]) == (412, 101)
    assert "expired" in refused["message"]
    assert r.ledger.snapshot() == before
    paid = await client.play(
        **seat, round_id="r-1", actions=[win("w-1", Decimal(10), "EUR")], finished=True
    )
    assert paid["http_status"] == 200 and paid["balance"] == 10500, "wins never check it"


async def test_hub88_bet_on_an_expired_token_is_token_expired_and_moves_nothing() -> None:
    r, transport = player_rig("hub88", HUB88_PUBLIC_PEM, "tok-1", ttl=TTL)
    client = Hub88Client(transport, load_private_key(HUB88_PRIVATE_PEM))
    expire(r)
    before = r.ledger.snapshot()
    answer = await client.bet(
        user="u-1", token="tok-1", round_id="r-1", tx="t-1", amount=Decimal(1), currency="EUR"
    )
    assert answer["status"] == "RS_ERROR_TOKEN_EXPIRED"
    assert r.ledger.snapshot() == before


async def test_evolution_debit_on_an_expired_sid_is_invalid_sid_and_moves_nothing() -> None:
    secret = "evo-auth-token-TEST-ONLY"
    r, transport = player_rig("evolution", secret.encode(), "sid-1", ttl=TTL)
    client = EvolutionClient(transport, secret)
    expire(r)
    before = r.ledger.snapshot()
    seat = {"sid": "sid-1", "user": "u-1", "currency": "EUR", "game_id": "g-1"}
    answer = await client.debit(**seat, tx_id="t-1", ref_id="b-1", amount=Decimal(1))
    assert answer["status"] == "INVALID_SID"
    assert r.ledger.snapshot() == before


async def test_pragmatic_bet_and_authenticate_on_an_expired_token_are_error_4() -> None:
    r, transport = player_rig("pragmatic", b"pp-TEST-ONLY", "tok-1", ttl=TTL)
    client = PragmaticClient(transport, "pp-TEST-ONLY")
    expire(r)
    before = r.ledger.snapshot()
    answer = await client.bet(
        user="u-1", round_id="r-1", reference="b-1", amount=Decimal(1), token="tok-1"
    )
    assert answer["error"] == 4
    assert (await client.authenticate(token="tok-1"))["error"] == 4
    assert r.ledger.snapshot() == before
