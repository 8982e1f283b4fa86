"""Webhook signing, backoff and endpoint settings: no sockets."""

from __future__ import annotations

import hashlib
import hmac
import random
from pathlib import Path

import pytest

from services.platform.service import load_endpoints
from services.platform.stream import token
from services.platform.webhooks import Endpoint
from services.platform.webhooks import sign
from services.platform.webhooks import verify_signature


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"event":"round.settle"}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, body) == f"sha256={expected}"
    assert verify_signature("k", "1700000000", body, sign("k", 1700000000, body), now=1700000100)


def test_a_changed_body_an_old_timestamp_or_another_secret_fails_verification() -> None:
    body = b"{}"
    signature = sign("k", 1700000000, body)
    assert not verify_signature("k", "1700000000", b"{ }", signature, now=1700000000)
    assert not verify_signature("k", "1700000000", body, signature, now=1700000000 + 301)
    assert not verify_signature("other", "1700000000", body, signature, now=1700000000)
    assert not verify_signature("k", "soon", body, signature, now=1700000000)


def test_a_garbled_signature_or_timestamp_fails_verification_and_never_raises() -> None:
    body = b"{}"
    signature = sign("k", 1700000000, body)
    for garbled in ("sha256=\u00e9", "sha256=\udcff", "\u0661" * 71):
        assert not verify_signature("k", "1700000000", body, garbled, now=1700000000)
    # only the stamp as signed verifies: another spelling of the number is not what was signed
    for stamp in ("+1700000000", "1_700_000_000", " 1700000000", "\u0661\u0667" + "\u0660" * 8):
        assert not verify_signature("k", stamp, body, signature, now=1700000000)
    assert not verify_signature("k", "9" * 400, body, signature)  # beyond a float: no raise


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap() -> None:
    endpoint = Endpoint(name="p", url="http://x", secret="k")
    rng = random.Random(1)
    for attempt in range(30):
        ceiling = min(600.0, 2.0**attempt)
        waits = {endpoint.backoff(attempt, rng) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1
    # With the defaults, parking needs the platform to be down for more than an hour.
    least = sum(min(600.0, 2.0**a) / 2 for a in range(endpoint.max_attempts - 1))
    assert least > 3600


def test_endpoints_come_from_the_config_with_secrets_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "livebridge.toml"
    config.write_text(
        '[[webhooks]]\nname = "main"\nurl = "https://platform.example/settle"\n'
        'secret_env = "MAIN_SECRET"\nmax_attempts = 5\n'
    )
    (endpoint,) = load_endpoints(config, {"MAIN_SECRET": "abc"})
    assert endpoint == Endpoint(
        name="main", url="https://platform.example/settle", secret="abc", max_attempts=5
    )
    with pytest.raises(ValueError, match="MAIN_SECRET"):
        load_endpoints(config, {})
    assert load_endpoints(tmp_path / "absent.toml", {}) == []
    with pytest.raises(ValueError, match="letters, digits"):
        Endpoint(name="a.b", url="http://x", secret="k")


def test_subject_tokens_escape_what_nats_reserves() -> None:
    assert token("R-2025-10-17-18:45:03-Table23") == "R-2025-10-17-18:45:03-Table23"
    assert token("R.1 *>") == "R%2E1%20%2A%3E"
    assert token("") == "_"
