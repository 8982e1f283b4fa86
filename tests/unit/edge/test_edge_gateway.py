"""The gateway's own guards, whatever the dialect: allowlist, rate limit, size, failures."""

from __future__ import annotations

import contextvars
import dataclasses
import time
from decimal import Decimal

import msgspec
import nats.errors
import pytest

from contracts.wallet import AnyWalletCommand
from contracts.wallet import Balance
from contracts.wallet import WalletReply
from services.edge.adapters.base import EdgeContext
from services.edge.adapters.base import EdgeRequest
from services.edge.config import ProvidersConfig
from services.edge.config import networks
from services.edge.gateway import Gateway
from services.edge.ports import AsyncLedger
from services.edge.security import IpAllowlist
from services.edge.security import TokenBucket
from services.edge.security import caller_address
from services.edge.security import same_secret
from services.edge.sessions import MemorySessionStore
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.pragmatic import PragmaticClient
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

SECRET = "evo-auth-token-TEST-ONLY"


def balance_request(remote: str = "127.0.0.1") -> EdgeRequest:
    return EdgeRequest(
        method="POST",
        path="balance",
        body=b'{"sid":"sid-1","userId":"u-1","currency":"EUR"}',
        query={"authToken": SECRET},
        remote=remote,
    )


async def test_a_caller_outside_the_allowlist_gets_the_dialect_error_and_nothing_runs() -> None:
    r = rig(provider("evolution", SECRET.encode(), allow=("10.0.0.0/8",)))
    r.fund("u-1", "5")
    r.session("evolution", "sid-1", "u-1")
    answer = await r.gate("evolution").serve(balance_request("192.0.2.7"))
    assert answer is not None and answer.status == 403
    assert msgspec.json.decode(answer.body)["status"] == "INVALID_TOKEN_ID"
    inside = await r.gate("evolution").serve(balance_request("10.1.2.3"))
    assert inside is not None and msgspec.json.decode(inside.body)["status"] == "OK"


async def test_a_provider_over_its_rate_gets_the_dialect_retry_error() -> None:
    r = rig(provider("evolution", SECRET.encode(), rate_limit=2))
    r.fund("u-1", "5")
    r.session("evolution", "sid-1", "u-1")
    gate = r.gate("evolution")
    answers = [await gate.serve(balance_request()) for _ in range(4)]
    statuses = [(a.status, msgspec.json.decode(a.body)["status"]) for a in answers if a]
    assert statuses[:2] == [(200, "OK"), (200, "OK")]
    assert (429, "TEMPORARY_ERROR") in statuses[2:]


async def test_an_unexpected_ledger_failure_is_the_dialect_internal_error_not_a_500() -> None:
    class Broken:
        def execute(self, command: AnyWalletCommand) -> WalletReply:
            raise RuntimeError("disk on fire")

        def balance(self, player: str, currency: str) -> Balance:
            raise RuntimeError("disk on fire")

    sessions = MemorySessionStore()
    context = EdgeContext(ledger=AsyncLedger(Broken(), workers=1), sessions=sessions)
    gateway = Gateway(
        ProvidersConfig((provider("pragmatic", b"k"), provider("evolution", SECRET.encode()))),
        context,
    )
    pp = PragmaticClient(GatewayTransport(gateway.gate("pragmatic")), "k")
    answer = await pp.bet(user="u", round_id="r", reference="b", amount=Decimal(1))
    assert (answer["http_status"], answer["error"]) == (200, 100)
    ended = await pp.end_round(user="u", round_id="r")
    assert ended["error"] == 102
    evo = EvolutionClient(GatewayTransport(gateway.gate("evolution")), SECRET)
    credit = await evo.credit(
        sid="", user="u", currency="EUR", game_id="g", tx_id="t", ref_id="b", amount=Decimal(1)
    )
    assert credit["status"] == "UNKNOWN_ERROR"


async def test_nats_away_under_a_ledger_call_is_the_retryable_error_told_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The bridge stopping, or its nats-server restarting, under a wallet call: an outage,
    # not a defect, so no traceback; the provider's retry finds what landed.
    class Away:
        def execute(self, command: AnyWalletCommand) -> WalletReply:
            raise nats.errors.ConnectionClosedError

        def balance(self, player: str, currency: str) -> Balance:
            raise nats.errors.ConnectionClosedError

    context = EdgeContext(ledger=AsyncLedger(Away(), workers=1), sessions=MemorySessionStore())
    gateway = Gateway(ProvidersConfig((provider("pragmatic", b"k"),)), context)
    client = PragmaticClient(GatewayTransport(gateway.gate("pragmatic")), "k")
    answer = await client.bet(user="u", round_id="r", reference="b", amount=Decimal(1))
    assert (answer["http_status"], answer["error"]) == (200, 100)
    told = [r for r in caplog.records if r.name == "services.edge.gateway"]
    assert [(r.levelname, r.exc_info) for r in told] == [("WARNING", None)]
    assert "NATS away" in told[0].getMessage()


async def test_an_unknown_path_is_not_served() -> None:
    r = rig(provider("evolution", SECRET.encode()))
    request = EdgeRequest(method="POST", path="no_such_call", body=b"{}")
    assert await r.gate("evolution").serve(request) is None


def test_allowlists_match_v4_v6_and_mapped_addresses_only() -> None:
    allow = IpAllowlist(provider("hub88", b"", allow=("10.0.0.0/8", "2001:db8::/32")).allow_ips)
    assert allow.allows("10.9.8.7") and allow.allows("::ffff:10.0.0.1")
    assert allow.allows("2001:db8::1")
    for remote in ("11.0.0.1", "", None, "not-an-ip", "::1"):
        assert not allow.allows(remote)


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=2, clock=lambda: now[0])
    assert bucket.take() and bucket.take() and not bucket.take()
    now[0] += 0.1
    assert bucket.take() and not bucket.take()


def test_secret_comparison_takes_text_or_bytes() -> None:
    assert same_secret("abc", b"abc") and not same_secret("abc", "abd")
    assert not same_secret("", "abc")


def test_forwarded_for_counts_only_behind_a_trusted_proxy_and_only_its_last_hop() -> None:
    proxies = networks(["10.0.0.5"])
    assert caller_address("10.0.0.5", "1.2.3.4, 203.0.113.9", proxies) == "203.0.113.9"
    assert caller_address("198.51.100.1", "10.1.1.1", proxies) == "198.51.100.1"
    assert caller_address("10.0.0.5", None, proxies) == "10.0.0.5"
    assert caller_address("10.0.0.5", "10.1.1.1", ()) == "10.0.0.5"


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


async def test_the_callers_context_travels_into_the_ledger_thread() -> None:
    """So the span of the HTTP call is the parent of the event store's write span."""

    class Probe:
        def execute(self, command: AnyWalletCommand) -> WalletReply:
            raise AssertionError("not called")

        def balance(self, player: str, currency: str) -> Balance:
            zero = Decimal(0)
            return Balance(
                player=REQUEST_ID.get(), currency=currency, balance=zero, held=zero, available=zero
            )

    ledger = AsyncLedger(Probe(), workers=1)
    REQUEST_ID.set("req-42")
    assert (await ledger.balance("u", "EUR")).player == "req-42"
    ledger.close()


async def test_a_ledger_slower_than_the_providers_limit_gets_the_retryable_error_in_time() -> None:
    class Slow:
        def execute(self, command: AnyWalletCommand) -> WalletReply:
            time.sleep(0.5)
            raise AssertionError("answered too late to matter")

        def balance(self, player: str, currency: str) -> Balance:
            raise AssertionError("not called")

    slow = dataclasses.replace(provider("pragmatic", b"k"), answer_within_s=0.05)
    context = EdgeContext(ledger=AsyncLedger(Slow(), workers=1), sessions=MemorySessionStore())
    gateway = Gateway(ProvidersConfig((slow,)), context)
    client = PragmaticClient(GatewayTransport(gateway.gate("pragmatic")), "k")
    started = time.perf_counter()
    answer = await client.bet(user="u", round_id="r", reference="b", amount=Decimal(1))
    assert answer["error"] == 100 and time.perf_counter() - started < 0.4


def test_a_provider_in_a_dialect_the_edge_does_not_speak_is_refused_naming_those_it_does() -> None:
    with pytest.raises(LookupError) as refused:
        rig(provider("playtech", b"secret"))
    assert "'playtech'" in str(refused.value)
    assert "evolution, ezugi, hub88, pragmatic, softswiss" in str(refused.value)
