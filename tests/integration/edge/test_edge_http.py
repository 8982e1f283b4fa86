"""The edge over real HTTP: routes per provider and per dialect default, keep-alive, guards."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from services.edge.config import ProviderConfig
from services.edge.config import networks
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.pragmatic import PragmaticClient
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.served_edge import served_edge


def pragmatic(pid: str, secret: str, *, default: bool = False) -> ProviderConfig:
    return dataclasses.replace(provider("pragmatic", secret.encode()), id=pid, default=default)


async def test_two_providers_of_one_dialect_each_answer_at_their_own_path(
    nats_url: str, stream_prefix: str
) -> None:
    closed_evolution = dataclasses.replace(
        provider("evolution", b"t"), id="evo-closed", allow_ips=networks(["10.0.0.0/8"])
    )
    async with served_edge(
        nats_url,
        stream_prefix,
        pragmatic("pp-a", "secret-a", default=True),
        pragmatic("pp-b", "secret-b"),
        closed_evolution,
    ) as edge:
        await edge.open_players(["u-1"])
        await edge.launch("pp-a", "u-1")
        await edge.launch("pp-b", "u-1")
        a = PragmaticClient(HttpTransport(edge.http, edge.base("pragmatic") + "/pp-a"), "secret-a")
        b = PragmaticClient(HttpTransport(edge.http, edge.base("pragmatic") + "/pp-b"), "secret-b")
        default = PragmaticClient(HttpTransport(edge.http, edge.base("pragmatic")), "secret-a")
        assert (await a.bet(user="u-1", round_id="r", reference="x", amount=Decimal(1)))[
            "error"
        ] == 0
        assert (await b.bet(user="u-1", round_id="r", reference="x", amount=Decimal(2)))[
            "error"
        ] == 0, "the same reference at another provider is another bet"
        assert (await default.balance(user="u-1"))["cash"] == Decimal("997.00")
        crossed = PragmaticClient(
            HttpTransport(edge.http, edge.base("pragmatic") + "/pp-b"), "secret-a"
        )
        assert (await crossed.balance(user="u-1"))["error"] == 5

        async with edge.http.post(f"{edge.base('pragmatic')}/balance.html", data=b"") as response:
            assert response.status == 200
            assert response.headers["Connection"].lower() == "keep-alive"
        async with edge.http.get(f"{edge.base('pragmatic')}/balance.html") as response:
            assert response.status == 405
        async with edge.http.post(f"{edge.base('pragmatic')}/nothing.html") as response:
            assert response.status == 404

        evo = EvolutionClient(
            HttpTransport(edge.http, edge.url + "/wallet/evolution/evo-closed"), "t"
        )
        shut = await evo.balance(sid="s", user="u-1", currency="EUR")
        assert (shut["http_status"], shut["status"]) == (403, "INVALID_TOKEN_ID")
        assert await edge.available("u-1") == Decimal("997.00")


async def test_the_evolution_test_sid_endpoint_is_mounted_only_when_asked(
    nats_url: str, stream_prefix: str
) -> None:
    testing = provider("evolution", b"tok", test_sid=True)
    async with served_edge(nats_url, stream_prefix, testing) as edge:
        await edge.open_players(["u-2"])
        client = EvolutionClient(HttpTransport(edge.http, edge.base("evolution")), "tok")
        issued = await client.send(client.prepare("sid", {"userId": "u-2", "sid": "", "uuid": "q"}))
        assert issued["status"] == "OK" and issued["sid"]
        checked = await client.check(sid=issued["sid"], user="u-2")
        assert checked["status"] == "OK"
    async with served_edge(nats_url, stream_prefix, provider("evolution", b"tok")) as edge:
        sid_url = f"{edge.base('evolution')}/sid?authToken=tok"
        async with edge.http.post(sid_url) as response:
            assert response.status == 404
