"""Request-timestamp windows (`max_skew_s`): a captured signed request replayed later is
refused in the dialect's words and changes nothing; calls that must always settle are
never refused for age; a window on a dialect without timestamps is refused at start."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from services.edge.config import MAX_SKEW_S
from services.edge.config import ProviderConfig
from services.edge.config import parse_providers
from services.edge.security import fresh_timestamp
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.pragmatic import PragmaticClient
from tests.unit.edge.support.wallet_gateway import NOW
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

SECRET = "ezugi-TEST-ONLY-secret"
OPERATOR = 7
WINDOW = MAX_SKEW_S["ezugi"]
STAMP = int(NOW * 1000)


def ezugi() -> tuple[Rig, EzugiClient]:
    r = rig(
        provider("ezugi", SECRET.encode(), options={"operator_id": OPERATOR}, max_skew_s=WINDOW)
    )
    r.fund("u-1", "100.00")
    r.session("ezugi", "launch", "u-1")
    r.session("ezugi", "tok-1", "u-1")
    return r, EzugiClient(GatewayTransport(r.gate("ezugi")), SECRET, OPERATOR)


def auth_body(timestamp: int) -> bytes:
    return msgspec.json.encode(
        {"operatorId": OPERATOR, "token": "launch", "platformId": 0, "timestamp": timestamp}
    )


def test_ezugi_defaults_to_a_300_second_window_and_the_others_to_none() -> None:
    def built(dialect: str) -> ProviderConfig:
        return ProviderConfig(id=dialect, dialect=dialect, currencies=("EUR",), secret=b"s")

    assert built("ezugi").max_skew_s == 300.0
    for dialect in ("hub88", "evolution", "pragmatic", "softswiss"):
        assert built(dialect).max_skew_s == 0.0, dialect


async def test_a_replayed_ezugi_auth_mints_sessions_only_inside_the_window() -> None:
    r, client = ezugi()
    captured = client.prepare_raw("auth", auth_body(STAMP))
    first = await client.send(captured)
    assert first["errorCode"] == 0 and first["token"]
    r.clock[0] += WINDOW + 1
    replayed = await client.send(captured)
    assert (replayed["errorCode"], replayed["errorDescription"]) == (
        1,
        "Request timestamp outside the allowed window",
    )
    assert "token" not in replayed and "uid" not in replayed


@pytest.mark.parametrize("offset_s", [-(WINDOW + 1), WINDOW + 1, -NOW])
async def test_an_ezugi_auth_or_debit_stamped_outside_the_window_is_refused(
    offset_s: float,
) -> None:
    r, client = ezugi()
    stamp = STAMP + int(offset_s * 1000)
    before = r.ledger.snapshot()
    auth = await client.send(client.prepare_raw("auth", auth_body(stamp)))
    assert auth["errorCode"] == 1 and not auth.get("token")
    debit = client.debit_call(
        user="u-1", token="tok-1", tx="d-1", round_id=1, amount=Decimal(1), currency="EUR"
    )
    body = msgspec.json.decode(debit.body)
    stale = await client.send(client.prepare("debit", {**body, "timestamp": stamp}))
    assert (stale["errorCode"], stale["errorDescription"]) == (
        1,
        "Request timestamp outside the allowed window",
    )
    assert r.ledger.snapshot() == before


async def test_ezugi_credits_and_rollbacks_settle_whatever_their_age() -> None:
    r, client = ezugi()
    for tx in ("d-1", "d-2"):
        debit = client.debit_call(
            user="u-1", token="tok-1", tx=tx, round_id=1, amount=Decimal(1), currency="EUR"
        )
        fresh = {**msgspec.json.decode(debit.body), "timestamp": STAMP}
        assert (await client.send(client.prepare("debit", fresh)))["errorCode"] == 0
    r.clock[0] += 10 * WINDOW
    credit = await client.credit(
        user="u-1", tx="c-1", debit_tx="d-1", round_id=1, amount=Decimal(5), currency="EUR"
    )
    assert credit["errorCode"] == 0
    rollback = await client.rollback(
        user="u-1", debit_tx="d-2", round_id=1, amount=Decimal(1), currency="EUR"
    )
    assert rollback["errorCode"] == 0 and rollback["balance"] == Decimal("104")


async def test_a_pragmatic_window_is_opt_in_and_refuses_only_stale_bets() -> None:
    r = rig(provider("pragmatic", b"pp-TEST-ONLY", max_skew_s=60))
    r.fund("u-1", "100.00")
    client = PragmaticClient(GatewayTransport(r.gate("pragmatic")), "pp-TEST-ONLY")

    def bet(reference: str, stamp: str) -> dict[str, str]:
        return {
            "userId": "u-1",
            "gameId": "401",
            "roundId": "r-1",
            "amount": "1.00",
            "reference": reference,
            "timestamp": stamp,
        }

    before = r.ledger.snapshot()
    for stale in (str(STAMP - 61_000), "", "12x", "²", "9" * 15):
        answer = await client.send(client.prepare("bet.html", bet("b-0", stale)))
        assert answer["error"] == 7, (stale, answer)
    assert r.ledger.snapshot() == before
    taken = await client.send(client.prepare("bet.html", bet("b-1", str(STAMP))))
    assert taken["error"] == 0
    r.clock[0] += 3600
    result = await client.result(user="u-1", round_id="r-1", reference="w-1", amount=Decimal(2))
    assert result["error"] == 0 and result["cash"] == Decimal("101.00")


@pytest.mark.parametrize("dialect", ["hub88", "evolution", "softswiss"])
def test_a_window_on_a_dialect_without_timestamps_is_refused_at_start(dialect: str) -> None:
    with pytest.raises(ValueError, match="carry no timestamp"):
        rig(provider(dialect, b"k", max_skew_s=60))


def test_max_skew_s_reads_from_the_configuration_and_zero_turns_it_off() -> None:
    entry = {"id": "ez", "dialect": "ezugi", "currencies": ["EUR"], "secret_env": "S"}
    found = parse_providers(
        {"provider": [entry, {**entry, "id": "ez-off", "max_skew_s": 0}]}, environ={"S": "s"}
    )
    assert [p.max_skew_s for p in found.providers] == [300.0, 0.0]
    assert fresh_timestamp(0, NOW, 0.0) and not fresh_timestamp(10**400, NOW, 1.0)
