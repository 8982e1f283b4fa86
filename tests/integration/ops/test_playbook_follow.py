"""Two bridges on one log: the one that judges records its steps, the other (with
`LIVEBRIDGE_SLA_WATCH=0`) takes each from the log for itself, and undoes it likewise; a
judge restarted mid-breach keeps the alert and its steps without raising it again."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from collections.abc import Iterator

import nats
import nats.errors
import pytest
from nats.aio.client import Client

from contracts.ops import PlaybookStep
from contracts.ops import ProviderRecovered
from contracts.player import ProviderError
from services.edge.health import Health
from services.frontdoor.throttle import SessionThrottle
from services.ops.playbook import Playbook
from services.ops.sla import ProviderSla
from services.ops.sla import SlaConfig
from services.ops.watch import Fact
from services.ops.watch import Watch
from tests.integration.support.ledgers import jetstream_env

SLA = ProviderSla(
    error_rate=0.5,
    window_s=0.5,
    min_calls=2,
    recover_after_s=0.1,
    actions=("throttle_sessions", "soft_decline", "hide_tables"),
)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.drain()


@pytest.fixture
def watch(nats_url: str, stream_prefix: str) -> Iterator[Watch]:
    env = jetstream_env(nats_url, stream_prefix)
    found = Watch(env)
    try:
        yield found
    finally:
        found.close()


def playbook(watch: Watch, nc: Client, *, judge: bool) -> Playbook:
    config = SlaConfig(providers={"evo": SLA}, subject="t-follow", judge=judge)
    return Playbook(
        config=config,
        health=Health(),
        watch=lambda: watch,
        throttle=SessionThrottle(),
        publish=lambda: nc.publish,
    )


async def test_a_bridge_that_does_not_judge_follows_the_judges_steps_from_the_log(
    watch: Watch, nc: Client
) -> None:
    judge, follower = playbook(watch, nc, judge=True), playbook(watch, nc, judge=False)
    for _ in range(3):
        judge.health["evo"].record("wallet.debit", 0.01, failed=True)
    await judge.tick()
    kinds = [type(f).__name__ for _, f in watch.facts()]
    assert kinds == ["ProviderError", "PlaybookStep", "PlaybookStep", "PlaybookStep"]

    await follower.follow()
    assert follower.throttle.throttled("evo") and follower.health["evo"].soft_decline
    assert follower.health["evo"].soft_decline_within_s is None  # as the SLA says

    # The judge restarted mid-breach: the alert stands, its steps are in force, no new alert.
    again = playbook(watch, nc, judge=True)
    await again.resume()
    assert again.throttle.throttled("evo") and again.health["evo"].soft_decline
    await again.tick()  # nothing seen since: healthy from now, not yet long enough
    assert len(watch.facts()) == 4

    await asyncio.sleep(SLA.recover_after_s + 0.05)
    await again.tick()
    facts = [f for _, f in watch.facts()]
    assert isinstance(facts[0], ProviderError) and isinstance(facts[-1], ProviderRecovered)
    assert [(s.action, s.undo) for s in facts[4:7] if isinstance(s, PlaybookStep)] == [
        ("hide_tables", True),
        ("soft_decline", True),
        ("throttle_sessions", True),
    ]
    await follower.follow()
    assert not follower.throttle.throttled("evo") and not follower.health["evo"].soft_decline


class TablesAway:
    """A table status whose next `failures` writes time out (NATS away), then succeed."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.up: dict[str, bool] = {}

    async def set_provider(self, provider: str, *, up: bool, reason: str = "") -> None:
        if self.failures:
            self.failures -= 1
            raise nats.errors.TimeoutError
        self.up[provider] = up


async def test_a_step_that_fails_while_nats_is_away_is_taken_at_the_next_check(
    watch: Watch, nc: Client
) -> None:
    tables = TablesAway(failures=1)
    judge = dataclasses.replace(playbook(watch, nc, judge=True), tables=lambda: tables)
    for _ in range(3):
        judge.health["evo"].record("wallet.debit", 0.01, failed=True)
    with pytest.raises(nats.errors.TimeoutError):
        await judge.tick()  # throttled and declining softly; hiding the tables failed
    assert tables.up == {}

    await judge.tick()  # still breaching: the step left is taken, the alert not raised again
    assert tables.up == {"evo": False}
    facts = [f for _, f in watch.facts()]
    assert [type(f).__name__ for f in facts] == ["ProviderError", *["PlaybookStep"] * 3]
    assert [s.action for s in facts if isinstance(s, PlaybookStep)] == list(SLA.actions)


class WatchAway(Watch):
    """The watch log, whose next `failures` writes fail (NATS away)."""

    failures = 0

    def note(self, fact: Fact) -> str:
        if self.failures:
            self.failures -= 1
            raise nats.errors.TimeoutError
        return super().note(fact)


async def test_an_alert_the_log_did_not_take_is_raised_at_the_next_check(
    nats_url: str, stream_prefix: str, nc: Client
) -> None:
    watch = WatchAway(jetstream_env(nats_url, stream_prefix))
    try:
        judge = playbook(watch, nc, judge=True)
        for _ in range(3):
            judge.health["evo"].record("wallet.debit", 0.01, failed=True)
        watch.failures = 1
        with pytest.raises(nats.errors.TimeoutError):
            await judge.tick()
        assert watch.facts() == []

        await judge.tick()  # still breaching: now alerted, and contained
        facts = [f for _, f in watch.facts()]
        assert [type(f).__name__ for f in facts] == ["ProviderError", *["PlaybookStep"] * 3]
        assert judge.throttle.throttled("evo") and judge.health["evo"].soft_decline
    finally:
        watch.close()


async def test_a_judge_restarted_while_nats_is_away_resumes_its_steps_once_it_answers(
    watch: Watch, nc: Client
) -> None:
    first = playbook(watch, nc, judge=True)
    for _ in range(3):
        first.health["evo"].record("wallet.debit", 0.01, failed=True)
    await first.tick()  # in breach, its tables hidden

    tables = TablesAway(failures=1)
    again = playbook(watch, nc, judge=True)
    again = dataclasses.replace(
        again,
        tables=lambda: tables,
        config=dataclasses.replace(again.config, check_every_s=0.05),
    )
    running = asyncio.create_task(again.run())
    try:
        for _ in range(100):
            if tables.up or running.done():
                break
            await asyncio.sleep(0.05)
        assert not running.done(), "the watch stopped for good on one failed write"
        assert tables.up == {"evo": False} and again.throttle.throttled("evo")
    finally:
        again.stop.set()
        await running
