"""QoS samples from the player's front: bounded, rate-limited, aggregated on `/metrics`."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.ops.qos import QOS_RECENT
from tests.integration.frontdoor.test_sessions import fund
from tests.integration.frontdoor.test_sessions import launch
from tests.integration.frontdoor.test_sessions import launch_body
from tests.integration.ops.conftest import Bridge


def sample(provider: str, **fields: Any) -> dict[str, Any]:
    return {"provider": provider, "table": "T1", "region": "eu-west", **fields}


def scraped(text: str, provider: str) -> dict[str, float]:
    """`livebridge_qos_*` samples of `provider`, keyed by name plus protocol/resolution/le."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.startswith("livebridge_qos_") or s.labels.get("provider") != provider:
                continue
            assert s.labels["table"] == "T1" and s.labels["region"] == "eu-west"
            extra = [s.labels["protocol"], s.labels.get("resolution"), s.labels.get("le")]
            found[":".join([s.name, *(e for e in extra if e)])] = s.value
    return found


async def test_samples_are_aggregated_per_table_region_and_protocol_on_metrics(
    bridge: Bridge,
) -> None:
    provider = f"qos{uuid.uuid4().hex[:8]}"
    key = Bridge.auth("sessions")
    batch = {
        "samples": [
            sample(provider, protocol="webrtc", betRttMs=80, droppedFrames=3, bufferEvents=1,
                   bitrateKbps=2500, resolution="1280x720", fps=30),
            sample(provider, protocol="webrtc", betRttMs=220, droppedFrames=0, fps=24),
            sample(provider, protocol="ll-hls", bufferEvents=2, resolution="1920x1080"),
        ]
    }  # fmt: skip
    accepted = await bridge.client.post("/qos/v1/samples", json=batch, headers=key)
    assert accepted.status == 200, await accepted.text()
    assert await accepted.json() == {"accepted": 3}

    one_bad = {"samples": [batch["samples"][0], sample(provider, protocol="rtmp")]}
    bodies: list[dict[str, Any]] = [
        one_bad,
        {"samples": []},
        {"samples": [batch["samples"][0]] * 101},
    ]
    for body in bodies:
        refused = await bridge.client.post("/qos/v1/samples", json=body, headers=key)
        assert refused.status == 400
        assert (await refused.json())["error"] == "LBRG-400 INVALID_REQUEST"
    unauthenticated = await bridge.client.post("/qos/v1/samples", json=batch)
    assert unauthenticated.status == 401

    shown = scraped(await (await bridge.client.get("/metrics")).text(), provider)
    rtt = "livebridge_qos_bet_rtt_milliseconds"
    assert {k: v for k, v in shown.items() if ":le" not in k and "_bucket" not in k} == {
        "livebridge_qos_samples_total:webrtc": 2,
        "livebridge_qos_samples_total:ll-hls": 1,
        "livebridge_qos_dropped_frames_total:webrtc": 3,
        "livebridge_qos_dropped_frames_total:ll-hls": 0,
        "livebridge_qos_buffer_events_total:webrtc": 1,
        "livebridge_qos_buffer_events_total:ll-hls": 2,
        f"{rtt}_count:webrtc": 2,
        f"{rtt}_sum:webrtc": 300,
        "livebridge_qos_bitrate_kbps_count:webrtc": 1,
        "livebridge_qos_bitrate_kbps_sum:webrtc": 2500,
        "livebridge_qos_fps_count:webrtc": 2,
        "livebridge_qos_fps_sum:webrtc": 54,
        "livebridge_qos_resolution_total:webrtc:1280x720": 1,
        "livebridge_qos_resolution_total:ll-hls:1920x1080": 1,
    }
    assert shown[f"{rtt}_bucket:webrtc:150"] == 1  # 80 ms under the WebRTC target
    assert shown[f"{rtt}_bucket:webrtc:300"] == 2


@pytest.fixture
def slow_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEBRIDGE_QOS_RATE", "1")
    monkeypatch.setenv("LIVEBRIDGE_QOS_BURST", "5")


@pytest.mark.usefixtures("slow_rate")
async def test_a_key_posting_faster_than_its_rate_is_refused_and_nothing_is_counted(
    bridge: Bridge,
) -> None:
    provider = f"qos{uuid.uuid4().hex[:8]}"
    body = {"samples": [sample(provider, protocol="webrtc", droppedFrames=1)]}
    answers = [
        (await bridge.client.post("/qos/v1/samples", json=body, headers=Bridge.auth("sessions")))
        for _ in range(20)
    ]
    statuses = [a.status for a in answers]
    assert 429 in statuses and statuses[:5] == [200] * 5
    limited = next(a for a in answers if a.status == 429)
    assert (await limited.json())["error"] == "LBRG-429 RATE_LIMITED"
    shown = scraped(await (await bridge.client.get("/metrics")).text(), provider)
    assert shown["livebridge_qos_samples_total:webrtc"] == statuses.count(200)


async def test_a_player_posts_with_the_token_its_launch_gave_and_a_forged_one_is_refused(
    bridge: Bridge,
) -> None:
    await fund(bridge, "qos-player")
    status, launched = await launch(bridge, launch_body("qos-player", "evo"))
    assert status == 200, launched
    batch = {"samples": [sample("evo", protocol="webrtc", betRttMs=95)]}
    player = {"Authorization": f"Bearer {launched['playerToken']}"}
    counted = "livebridge_qos_samples_total:webrtc"
    before = scraped(await (await bridge.client.get("/metrics")).text(), "evo").get(counted, 0)
    accepted = await bridge.client.post("/qos/v1/samples", json=batch, headers=player)
    assert accepted.status == 200, await accepted.text()
    assert await accepted.json() == {"accepted": 1}
    text = await (await bridge.client.get("/metrics")).text()
    assert scraped(text, "evo")[counted] == before + 1

    forged = {"Authorization": f"Bearer {launched['playerToken'][:-4]}AAAA"}
    refused = await bridge.client.post("/qos/v1/samples", json=batch, headers=forged)
    assert refused.status == 401
    assert (await refused.json())["error"] == "LBRG-401 INVALID_TOKEN"
    no_scope = await bridge.client.post("/qos/v1/samples", json=batch, headers=Bridge.auth("read"))
    assert no_scope.status == 403
    assert (await no_scope.json())["error"] == "LBRG-403 SCOPE_REQUIRED"


async def test_a_player_reports_only_on_providers_its_session_launched(bridge: Bridge) -> None:
    await fund(bridge, "qos-meddler")
    status, launched = await launch(bridge, launch_body("qos-meddler", "evo"))
    assert status == 200, launched
    player = {"Authorization": f"Bearer {launched['playerToken']}"}
    rtt = "livebridge_qos_samples_total:webrtc"
    before = scraped(await (await bridge.client.get("/metrics")).text(), "hub88").get(rtt, 0)

    # Its session launched evo only: a batch naming hub88, even beside evo, is refused whole.
    for named in (["hub88"], ["evo", "hub88"]):
        batch = {"samples": [sample(p, protocol="webrtc", betRttMs=60_000) for p in named]}
        refused = await bridge.client.post("/qos/v1/samples", json=batch, headers=player)
        assert refused.status == 403, await refused.text()
        answer = await refused.json()
        assert answer["error"] == "LBRG-403 PROVIDER_NOT_IN_SESSION"
        assert "hub88" in answer["message"] and launched["sessionId"] in answer["message"]

    after = scraped(await (await bridge.client.get("/metrics")).text(), "hub88").get(rtt, 0)
    assert after == before
    assert bridge.app[QOS_RECENT].reports("hub88", 3600) == {}
    # The platform's relay (an operator key) still reports on any provider.
    relayed = {"samples": [sample("hub88", protocol="webrtc", betRttMs=90)]}
    accepted = await bridge.client.post(
        "/qos/v1/samples", json=relayed, headers=Bridge.auth("sessions")
    )
    assert accepted.status == 200, await accepted.text()


async def test_a_player_whose_session_was_closed_reports_nothing(bridge: Bridge) -> None:
    # The player token outlives its session's close by minutes: its samples were counted
    # and judged by the SLA watch as a live session's, where every other call of a closed
    # session answers SESSION_CLOSED.
    await fund(bridge, "qos-leaver")
    status, launched = await launch(bridge, launch_body("qos-leaver", "evo"))
    assert status == 200, launched
    sid = launched["sessionId"]
    closed = await bridge.client.post(
        f"/platform/v1/sessions/{sid}/close", headers=Bridge.auth("sessions")
    )
    assert closed.status == 200, await closed.text()
    counted = "livebridge_qos_samples_total:webrtc"
    before = scraped(await (await bridge.client.get("/metrics")).text(), "evo").get(counted, 0)

    batch = {"samples": [sample("evo", protocol="webrtc", betRttMs=60_000)]}
    player = {"Authorization": f"Bearer {launched['playerToken']}"}
    refused = await bridge.client.post("/qos/v1/samples", json=batch, headers=player)
    assert refused.status == 409, await refused.text()
    answer = await refused.json()
    assert answer["error"] == "LBRG-409 SESSION_CLOSED" and sid in answer["message"], answer

    after = scraped(await (await bridge.client.get("/metrics")).text(), "evo").get(counted, 0)
    assert after == before
    assert sid not in bridge.app[QOS_RECENT].reports("evo", 3600)
