"""Every path and query parameter of the read API, hostile or not: never a 500, never a hang.

The read routes are served over real HTTP from views in PostgreSQL; requests are sent as
raw bytes on the wire (percent-encoded anything, broken escapes, NUL, digits that are
not ASCII, positions of thousands of digits), so nothing between the test and the server
tidies them up first.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from contracts.ids import MAX_LENGTH
from projections.catalog import VIEWS
from projections.catalog import view_env
from projections.http import APPLICATION_NAME
from projections.http import setup_read_api
from projections.rebuild import open_view
from projections.run import reader_env
from services.infra.natsserver import free_port

BAD = [
    "%00",
    "a%00b",
    "%",
    "%ZZ",
    "%ED%A0%80",
    "%FF",
    "%C0%AF",
    "%2F",
    "..",
    "%C2%B2",  # ²: str.isdigit() says yes, int() says no
    "%EF%BC%91",  # full-width 1
    "%D9%A1",  # Arabic-Indic 1
    "-1",
    "+1",
    "%201",
    "1e3",
    "0x10",
    "1" * 4400,
    "9" * 19,
    str(2**63),
    "x" * (MAX_LENGTH + 1),
]


VIEW_POSITION = 2**62


def encoded(text: str | bytes) -> str:
    return quote(text, safe="")


SEGMENTS = st.one_of(
    st.sampled_from(BAD),
    st.text(max_size=40).map(encoded),
    st.binary(max_size=40).map(encoded),
    st.integers().map(str),
)
VALUES = st.one_of(st.none(), SEGMENTS)


class Served:
    def __init__(self, app: web.Application) -> None:
        self.port = free_port()
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self._app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> Served:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def get(self, target: str) -> tuple[int, dict[str, Any] | None, float]:
        """Status, JSON body (None if not JSON) and seconds taken, for a raw request target."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        started = time.monotonic()
        try:
            conn.putrequest("GET", target, skip_accept_encoding=True)
            conn.endheaders()
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            found = json.loads(raw)
        except ValueError:
            found = None
        return response.status, found, time.monotonic() - started


@pytest.fixture
def served(database_url: str, schema: str) -> Iterator[Served]:
    env = reader_env(view_env(database_url, schema=schema))
    balances = open_view(VIEWS["balances"].projection_class, VIEWS["balances"].view_class, env)
    rounds = open_view(VIEWS["rounds"].projection_class, VIEWS["rounds"].view_class, env)
    # The views stand at a far position, so a valid `atLeast` answers at once (no wait).
    balances.apply(Tracking(APPLICATION_NAME, VIEW_POSITION), [])
    app = web.Application()
    setup_read_api(app, balances=balances, rounds=rounds)  # type: ignore[arg-type]
    try:
        with Served(app) as found:
            yield found
    finally:
        balances.close()
        rounds.close()


def check(served: Served, target: str) -> tuple[int, dict[str, Any] | None]:
    status, body, seconds = served.get(target)
    assert seconds < 5, f"{target[:120]} took {seconds:.1f} s"
    assert status < 500 or status == 503, f"{target[:120]} answered {status} {body}"
    if status >= 400 and target.startswith(("/platform/v1/", "/disputes/v1/")) and body:
        assert body["error"].startswith(f"LBRG-{status} "), body
        assert body["message"], body
    return status, body


def query(name: str, value: str | None) -> str:
    return "" if value is None else f"?{name}={value}"


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("/platform/v1/wallets/%00", "INVALID_PLAYER"),
        ("/platform/v1/wallets/p%001", "INVALID_PLAYER"),
        ("/disputes/v1/rounds/%00", "INVALID_ROUND"),
        ("/disputes/v1/rounds/R-1?provider=%00", "INVALID_PROVIDER"),
        ("/platform/v1/wallets/p1?atLeast=%C2%B2", "INVALID_POSITION"),
        ("/platform/v1/wallets/p1?atLeast=%EF%BC%91", "INVALID_POSITION"),
        ("/platform/v1/wallets/p1?atLeast=" + "1" * 4400, "INVALID_POSITION"),
        ("/platform/v1/wallets/p1?atLeast=" + str(2**63), "INVALID_POSITION"),
        ("/platform/v1/wallets/p1?atLeast=-1", "INVALID_POSITION"),
        ("/platform/v1/wallets/" + "p" * (MAX_LENGTH + 1), "INVALID_PLAYER"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_what_is_wrong(
    served: Served, target: str, code: str
) -> None:
    status, body = check(served, target)
    assert status == 400
    assert body is not None and body["error"] == f"LBRG-400 {code}"


def test_a_good_position_still_waits_and_says_the_view_is_behind(served: Served) -> None:
    status, body = check(served, f"/platform/v1/wallets/p1?atLeast={2**63 - 1}")
    assert status == 503 and body is not None
    assert body["error"] == "LBRG-503 VIEW_BEHIND"
    assert check(served, f"/platform/v1/wallets/p1?atLeast={VIEW_POSITION}")[0] == 404


def test_callers_waiting_on_a_view_behind_do_not_hold_up_a_plain_read(served: Served) -> None:
    """A wait for `atLeast` held a thread of the reads' pool for its 2 s: twelve of them
    made a plain read answer `503 VIEWS_UNAVAILABLE` after 3 s (404 at once alone)."""
    far = f"/platform/v1/wallets/p1?atLeast={2**63 - 1}"
    waiting = [threading.Thread(target=served.get, args=(far,)) for _ in range(12)]
    for thread in waiting:
        thread.start()
    time.sleep(0.3)  # they are all waiting now
    status, _, seconds = served.get("/platform/v1/wallets/p1")
    for thread in waiting:
        thread.join()
    assert status == 404 and seconds < 1.0, (status, seconds)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(player=SEGMENTS, at_least=VALUES, extra=VALUES)
def test_any_wallet_request_is_answered_promptly_and_never_with_a_500(
    served: Served, player: str, at_least: str | None, extra: str | None
) -> None:
    target = f"/platform/v1/wallets/{player}{query('atLeast', at_least)}"
    if extra is not None:
        target += ("&" if at_least is not None else "?") + f"{extra}={extra}"
    status, _ = check(served, target)
    assert status in (200, 400, 404, 503) or not player


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(round_id=SEGMENTS, provider=VALUES)
def test_any_round_request_is_answered_promptly_and_never_with_a_500(
    served: Served, round_id: str, provider: str | None
) -> None:
    status, _ = check(served, f"/disputes/v1/rounds/{round_id}{query('provider', provider)}")
    assert status in (200, 400, 404, 409) or not round_id
