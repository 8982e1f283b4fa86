"""The load of a chaos run: live tables in the five wallet dialects, their game events on
the push feeds, and players funded and seated through the platform API, every call
recorded in the history.

Each dialect plays short simulations (`services.simulate.simulation`: one table, a few
players, a few rounds, the provider's own retries, repeats and rollbacks) one after
another until told to stop. A fault may break a simulation half-way (a call with no
answer, a round never settled): it is counted as aborted and the next one starts; the
checker, not the simulator's books, judges what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from contracts.events import AnyProviderEvent
from services.checker.history import HistoryWriter
from services.simulate.clients.base import Answer
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import Transport
from services.simulate.clients.base import TransportError
from services.simulate.drivers import WalletDriver
from services.simulate.drivers.by_dialect import driver_for as dialect_driver
from services.simulate.recording import RecordingTransport
from services.simulate.recording import recording_pusher
from services.simulate.simulation import simulate
from services.simulate.table import Chaos
from services.simulate.table import PushFn
from services.simulate.table import http_pusher

DIALECTS = ("hub88", "evolution", "pragmatic", "softswiss", "ezugi")
OPERATOR = "casino"
EZUGI_OPERATOR_ID = 42
PROVIDER_CHAOS = Chaos(duplicate_call=0.05, rollback_after=0.03, rollback_before=0.03)


@dataclass(frozen=True)
class Secrets:
    """Every secret of a run, made fresh for it; the bridge reads them from its environment."""

    directory: Path
    hub88_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def env(self) -> dict[str, str]:
        return {
            "CHAOS_OPERATOR_KEY": "chaos-operator-key-0123456789abcdef",
            "CHAOS_PLAYER_TOKEN_SECRET": "chaos-player-token-secret-0123456789abcdef",
            "CHAOS_FEED_SECRET": "chaos-feed-secret",
            "CHAOS_WEBHOOK_SECRET": "chaos-webhook-secret",
            **{f"CHAOS_{d.upper()}_SECRET": f"chaos-{d}-secret" for d in DIALECTS},
        }

    def hub88_public(self) -> Path:
        path = self.directory / "hub88-public.pem"
        path.write_bytes(
            self.hub88_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return path


def config_text(secrets: Secrets, webhook_url: str) -> str:
    """The bridge's `livebridge.toml`: five providers with push feeds, an operator, a webhook."""
    lines = [
        "[platform]",
        'player_token_secret_env = "CHAOS_PLAYER_TOKEN_SECRET"',
        "[[operator]]",
        f'id = "{OPERATOR}"',
        "  [[operator.key]]",
        '  id = "k1"',
        '  secret_env = "CHAOS_OPERATOR_KEY"',
        '  scopes = ["read", "cashier", "sessions", "admin"]',
        "[[webhooks]]",
        'name = "platform"',
        f'url = "{webhook_url}"',
        'secret_env = "CHAOS_WEBHOOK_SECRET"',
        "timeout = 2.0",
        "backoff_base = 0.2",
        "backoff_max = 2.0",
    ]
    for dialect in DIALECTS:
        secret = (
            f'secret_file = "{secrets.hub88_public()}"'
            if dialect == "hub88"
            else f'secret_env = "CHAOS_{dialect.upper()}_SECRET"'
        )
        lines += [
            "[[provider]]",
            f'id = "{dialect}"',
            f'dialect = "{dialect}"',
            'currencies = ["EUR"]',
            secret,
            'allow_ips = ["127.0.0.1/32"]',
            "rate_limit = 100000",
            "burst = 100000",
            "answer_within_s = 3.0",
            "[provider.options]",
            'feed = "push"',
            'feed_secret_env = "CHAOS_FEED_SECRET"',
        ]
        if dialect == "ezugi":
            lines.append(f"operator_id = {EZUGI_OPERATOR_ID}")
    return "\n".join(lines) + "\n"


def driver_for(dialect: str, transport: Transport, secrets: Secrets) -> WalletDriver:
    return dialect_driver(
        dialect,
        transport,
        secrets.env[f"CHAOS_{dialect.upper()}_SECRET"],
        hub88_key=secrets.hub88_key,
        ezugi_operator=EZUGI_OPERATOR_ID,
    )


class SpreadTransport:
    """Each call to the next bridge in turn, as a load balancer in front of several would
    send them: one player's bets land on every bridge. A call no bridge answers (after its
    own retries) goes on to the next, once round; the bridges absorb a call sent twice."""

    def __init__(self, bridges: Sequence[Transport]) -> None:
        self.count = len(bridges)
        self._turns = itertools.cycle(bridges)

    async def send(self, call: PreparedCall) -> Answer:
        for _ in range(self.count - 1):
            with contextlib.suppress(TransportError):
                return await next(self._turns).send(call)
        return await next(self._turns).send(call)


def failover_pusher(pushers: Sequence[PushFn]) -> PushFn:
    """Push to the first bridge; to the next when it does not take the batch (a provider's
    feed has one endpoint, and a second when the first is down)."""

    async def push(events: Sequence[AnyProviderEvent]) -> object:
        for pusher in pushers[:-1]:
            with contextlib.suppress(aiohttp.ClientError, RuntimeError, TimeoutError):
                return await pusher(events)
        return await pushers[-1](events)

    return push


class PlatformBank:
    """The platform's side over the bridge's own API: wallets, deposits, launches.

    Deposits are recorded in the history (`cashier`, the operator as provider, the body
    as sent); opening a wallet and launching move no money and are not."""

    def __init__(
        self, http: aiohttp.ClientSession, urls: Sequence[str], key: str, history: HistoryWriter
    ) -> None:
        self.http = http
        self.count = len(urls)
        self.urls = itertools.cycle(urls)
        self.headers = {"Authorization": f"Bearer {key}"}
        self.history = history

    async def _post(self, path: str, body: Mapping[str, object]) -> tuple[int, dict[str, Any]]:
        """POST to the next bridge; to the one after when it refuses the connection (the
        request never reached it)."""
        for _ in range(self.count - 1):
            with contextlib.suppress(aiohttp.ClientConnectorError):
                return await self._post_to(next(self.urls), path, body)
        return await self._post_to(next(self.urls), path, body)

    async def _post_to(
        self, url: str, path: str, body: Mapping[str, object]
    ) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            f"{url}{path}",
            json=body,
            headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as answer:
            return answer.status, await answer.json(content_type=None)

    async def deposit(self, player: str, currency: str, amount: Decimal, tx_id: str) -> None:
        await self._post(f"/platform/v1/players/{player}/wallets", {"currency": currency})
        body = {"idempotencyKey": tx_id, "currency": currency, "amount": str(amount)}
        for attempt in range(5):
            sent = time.time()
            try:
                status, answer = await self._post(f"/platform/v1/players/{player}/deposits", body)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._record(body, sent, error=repr(exc)[:300])
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            self._record(body, sent, status=status, answer=json.dumps(answer))
            if status < 300:
                return
            if status < 500:
                raise RuntimeError(f"deposit {tx_id} refused: {answer}")
            await asyncio.sleep(0.2 * 2**attempt)
        raise RuntimeError(f"deposit {tx_id}: no answer")

    def _record(
        self,
        body: dict[str, str],
        sent: float,
        *,
        status: int | None = None,
        answer: str = "",
        error: str = "",
    ) -> None:
        self.history.cashier(
            provider=OPERATOR,
            path="deposits",
            body=json.dumps(body),
            sent=sent,
            status=status,
            answer=answer,
            error=error,
        )

    async def launch(self, provider: str, player: str, currency: str) -> str:
        body = {
            "player": player,
            "currency": currency,
            "country": "MT",
            "kycStatus": "VERIFIED",
            "provider": provider,
            "table": "chaos",
            "language": "en",
        }
        status, answer = await self._post("/platform/v1/sessions", body)
        if status >= 300:
            raise RuntimeError(f"launch of {player} at {provider}: {status} {answer}")
        return str(answer["providerToken"])

    async def balance(self, player: str, currency: str) -> Decimal:
        # The end-of-simulation comparison is the simulator's; under faults the checker
        # judges instead, so a balance that cannot be read is not an error here.
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, KeyError, ValueError):
            async with self.http.get(
                f"{next(self.urls)}/platform/v1/wallets/{player}",
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=5),
            ) as answer:
                found = await answer.json(content_type=None)
                for row in found.get("balances", []):
                    if row.get("currency") == currency:
                        return Decimal(str(row.get("available", "0")))
        return Decimal(0)


@dataclass
class LoadStats:
    simulations: int = 0
    aborted: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def failed(self, exc: BaseException) -> None:
        self.aborted += 1
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1


async def play(
    dialect: str,
    *,
    urls: Sequence[str],
    secrets: Secrets,
    history: HistoryWriter,
    stop: asyncio.Event,
    seed: int,
    stats: LoadStats,
    players: int = 3,
    rounds: int = 2,
) -> None:
    """Short simulations in `dialect`, one after another, until `stop` is set: wallet calls
    and platform calls spread over the bridges at `urls`, game events pushed to the first
    (another when it does not answer)."""
    connector = aiohttp.TCPConnector(limit=50)
    async with aiohttp.ClientSession(connector=connector) as http:
        inner = SpreadTransport(
            [
                HttpTransport(
                    http,
                    f"{u}/wallet/{dialect}/{dialect}",
                    timeout_s=5.0,
                    retries=3 if len(urls) == 1 else 1,
                )
                for u in urls
            ]
        )
        transport = RecordingTransport(inner, history, provider=dialect, dialect=dialect)
        driver = driver_for(dialect, transport, secrets)
        secret = secrets.env["CHAOS_FEED_SECRET"]
        push = recording_pusher(
            failover_pusher([http_pusher(http, f"{u}/feed/{dialect}", secret) for u in urls]),
            history,
            provider=dialect,
        )
        bank = PlatformBank(http, urls, secrets.env["CHAOS_OPERATOR_KEY"], history)
        number = 0
        while not stop.is_set():
            number += 1
            try:
                await asyncio.wait_for(
                    simulate(
                        driver=driver,
                        push=push,
                        bank=bank,
                        provider=dialect,
                        players=players,
                        rounds=rounds,
                        seed=seed * 10_000 + number,
                        run_id=f"x{seed}-{dialect[:3]}{number}",
                        deposit=Decimal("1000"),
                        chaos=PROVIDER_CHAOS,
                    ),
                    timeout=120,
                )
                stats.simulations += 1
            except Exception as exc:  # a fault broke it: the checker judges what landed
                stats.failed(exc)
                await asyncio.sleep(0.5)
