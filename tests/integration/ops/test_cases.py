"""Dispute tickets and the audit queue over HTTP: every step an event in the log, MTTR
read back from the KPIs, flagged rounds listed with their reason and log position."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from eventsourcing.utils import get_topic
from prometheus_client.parser import text_string_to_metric_families

from contracts.events import GameEvent
from projections.http import VIEWS
from projections.reconcile.audit import Audit
from projections.reconcile.postgres import Comparison
from projections.reconcile.postgres import Difference
from projections.reconcile.report import Granularity
from services.bridge.main import LEDGER
from services.ops import cases_http
from services.ops.cases import AuditCase
from services.ops.cases import Cases
from services.ops.cases import Ticket
from services.ops.cases_http import CASES
from tests.integration.ops.conftest import Bridge
from tests.unit.ledger.support import builders

P = "evo"
T0 = datetime(2026, 11, 1, 21, 0, tzinfo=UTC)


def topics(cases: Cases) -> list[str]:
    return [n.topic for n in cases.recorder.select_notifications(1, 1000)]


async def test_a_ticket_is_opened_commented_and_resolved_as_events_and_gives_the_mttr(
    bridge: Bridge,
) -> None:
    client, admin, read = bridge.client, Bridge.auth("admin"), Bridge.auth("read")
    body = {"provider": P, "roundId": "R-d1", "player": "p1", "reason": "ball hit the rim"}
    refused = await client.post("/ops/v1/tickets", json=body, headers=read)
    assert refused.status == 403
    assert (await refused.json())["error"] == "LBRG-403 SCOPE_REQUIRED"
    bad = await client.post("/ops/v1/tickets", json={**body, "player": ""}, headers=admin)
    assert bad.status == 400
    opened = await client.post("/ops/v1/tickets", json=body, headers=admin)
    assert opened.status == 201, await opened.text()
    ticket = await opened.json()
    assert ticket["status"] == "open" and ticket["openedBy"] == "casino/admin"
    path = f"/ops/v1/tickets/{ticket['ticketId']}"

    commented = await client.post(f"{path}/comments", json={"text": "video checked"}, headers=admin)
    assert commented.status == 200
    assert [c["text"] for c in (await commented.json())["comments"]] == ["video checked"]
    await asyncio.sleep(0.2)  # the resolution comes measurably later
    resolved = await client.post(f"{path}/resolve", json={"outcome": "upheld"}, headers=admin)
    assert resolved.status == 200
    done = await resolved.json()
    assert done["status"] == "resolved" and done["outcome"] == "upheld"
    again = await client.post(f"{path}/resolve", json={"outcome": "rejected"}, headers=admin)
    assert again.status == 409
    assert (await again.json())["error"] == "LBRG-409 TICKET_RESOLVED"
    late = await client.post(f"{path}/comments", json={"text": "and?"}, headers=admin)
    assert late.status == 409
    missing = await client.get("/ops/v1/tickets/not-a-uuid", headers=read)
    assert missing.status == 404
    shown = await client.get(path, headers=read)
    assert shown.status == 200 and await shown.json() == done
    unknown = await client.get(f"/ops/v1/tickets/{uuid.uuid4()}", headers=read)
    assert (await unknown.json())["error"] == "LBRG-404 TICKET_NOT_FOUND"

    cases = bridge.app[CASES]
    assert topics(cases) == [
        get_topic(Ticket.Opened),
        get_topic(Ticket.Commented),
        get_topic(Ticket.Resolved),
    ]
    # Another process reading the same log sees the same ticket (nothing in memory).
    other = await asyncio.to_thread(Cases, dict(cases.env))
    try:
        [replayed] = await asyncio.to_thread(other.tickets)
    finally:
        other.close()
    assert replayed.ticket_id == ticket["ticketId"] and replayed.outcome == "upheld"
    shown = await (await client.get(path, headers=read)).json()
    assert shown == done
    listed = await (await client.get("/ops/v1/tickets?status=open", headers=read)).json()
    assert listed["tickets"] == []

    took = (
        datetime.fromisoformat(done["resolvedAt"]) - datetime.fromisoformat(done["openedAt"])
    ).total_seconds()
    assert took >= 0.2
    kpis = await (await client.get("/ops/v1/kpis", headers=read)).json()
    assert kpis["disputes"] == {"opened": 1, "resolved": 1, "mttrS": took}
    metrics = await (await client.get("/metrics")).text()
    [mttr] = [
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "livebridge_kpi_dispute_mttr_seconds"
    ]
    assert mttr == took


async def flagged_log(bridge: Bridge) -> None:
    """Three flags in the log (a sequence gap, a hash mismatch, a conflict), and the views
    caught up with them."""
    ledger = bridge.app[LEDGER]

    def record() -> int | None:
        ledger.record_event(builders.opened("R-a1", P, table="T9", at=T0, closes_in=15))
        # seq 2 missing and a hash that cannot match
        at = T0 + timedelta(seconds=20)
        ledger.record_event(builders.declared({"number": "1"}, "R-a1", P, 3, "0" * 64, at=at))
        spin = GameEvent(provider=P, round_id="R-a2", seq=1, occurred_at=T0, kind="spin")
        ledger.record_event(spin)
        ledger.record_event(msgspec.structs.replace(spin, kind="other"))  # the same seq
        return ledger.recorder.max_notification_id()

    head = await asyncio.to_thread(record)
    await asyncio.to_thread(bridge.app[VIEWS].wait, head, 10.0)


async def test_the_audit_queue_lists_flags_with_their_position_and_takes_assignments(
    bridge: Bridge,
) -> None:
    client, admin, read = bridge.client, Bridge.auth("admin"), Bridge.auth("read")
    await flagged_log(bridge)

    listed = await client.get("/ops/v1/audit", headers=read)
    assert listed.status == 200, await listed.text()
    items: list[dict[str, Any]] = (await listed.json())["items"]
    record = bridge.app[VIEWS].rounds.rounds("R-a1", bridge.app[LEDGER].name, P)[0]
    verified = max(e.position for e in record.timeline if e.event == "Round.Verified")
    conflict = bridge.app[VIEWS].rounds.rounds("R-a2", bridge.app[LEDGER].name, P)[0]
    flagged_at = [e.position for e in conflict.timeline if e.event == "Round.ConflictFlagged"]
    assert sorted((i["reason"], i["roundId"], i["position"]) for i in items) == sorted(
        [
            ("hash_mismatch", "R-a1", verified),
            ("sequence_gap", "R-a1", verified),
            ("conflict", "R-a2", flagged_at[0]),
        ]
    )
    assert {i["status"] for i in items} == {"open"}
    gap = next(i for i in items if i["reason"] == "sequence_gap")
    assert gap["detail"] == "gap in provider seq: missing 2" and gap["table"] == "T9"

    only = await client.get("/ops/v1/audit?reason=conflict", headers=read)
    assert [i["roundId"] for i in (await only.json())["items"]] == ["R-a2"]
    bad = await client.get("/ops/v1/audit?reason=boredom", headers=read)
    assert bad.status == 400

    key = gap["key"]
    assigned = await client.post(
        f"/ops/v1/audit/{key}/assign", json={"assignee": "alice"}, headers=admin
    )
    assert assigned.status == 200, await assigned.text()
    assert (await assigned.json())["assignee"] == "alice"
    mine = await (await client.get("/ops/v1/audit?assignee=alice", headers=read)).json()
    assert [i["key"] for i in mine["items"]] == [key]
    resolved = await client.post(
        f"/ops/v1/audit/{key}/resolve",
        json={"resolution": "seq 2 found in the provider's report"},
        headers=admin,
    )
    assert resolved.status == 200
    assert (await resolved.json())["status"] == "resolved"
    still_open = await (await client.get("/ops/v1/audit?status=open", headers=read)).json()
    assert key not in {i["key"] for i in still_open["items"]} and len(still_open["items"]) == 2
    unknown = await client.post(
        "/ops/v1/audit/conflict:999999/assign", json={"assignee": "bob"}, headers=admin
    )
    assert unknown.status == 404
    assert (await unknown.json())["error"] == "LBRG-404 AUDIT_ITEM_NOT_FOUND"
    assert topics(bridge.app[CASES]) == [
        get_topic(AuditCase.Opened),
        get_topic(AuditCase.Assigned),
        get_topic(AuditCase.Resolved),
    ]


async def test_a_resolved_audit_item_is_neither_resolved_again_nor_reassigned(
    bridge: Bridge,
) -> None:
    client, admin, read = bridge.client, Bridge.auth("admin"), Bridge.auth("read")
    await flagged_log(bridge)
    only = await client.get("/ops/v1/audit?reason=conflict", headers=read)
    [item] = (await only.json())["items"]
    path = f"/ops/v1/audit/{item['key']}"
    first = await client.post(f"{path}/resolve", json={"resolution": "replayed"}, headers=admin)
    assert first.status == 200, await first.text()

    again = await client.post(f"{path}/resolve", json={"resolution": "no, not"}, headers=admin)
    assert again.status == 409
    assert (await again.json())["error"] == "LBRG-409 AUDIT_ITEM_RESOLVED"
    moved = await client.post(f"{path}/assign", json={"assignee": "mallory"}, headers=admin)
    assert moved.status == 409
    [shown] = (await (await client.get("/ops/v1/audit?reason=conflict", headers=read)).json())[
        "items"
    ]
    assert (shown["resolution"], shown["assignee"]) == ("replayed", "")
    assert topics(bridge.app[CASES]) == [get_topic(AuditCase.Opened), get_topic(AuditCase.Resolved)]


async def test_an_older_flag_past_the_listing_limit_is_still_filtered_found_and_resolved(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases_http, "AUDIT_LIMIT", 1)  # as 1,000 newer flags would do
    client, admin, read = bridge.client, Bridge.auth("admin"), Bridge.auth("read")
    await flagged_log(bridge)
    newest = (await (await client.get("/ops/v1/audit", headers=read)).json())["items"]
    assert [i["reason"] for i in newest] == ["conflict"]
    resolved = await client.post(
        f"/ops/v1/audit/{newest[0]['key']}/resolve", json={"resolution": "ok"}, headers=admin
    )
    assert resolved.status == 200, await resolved.text()

    # R-a1's two flags are older than the one listed: filters still reach them.
    still_open = await (await client.get("/ops/v1/audit?status=open", headers=read)).json()
    assert [(i["reason"], i["roundId"]) for i in still_open["items"]] == [("sequence_gap", "R-a1")]
    by_reason = await client.get("/ops/v1/audit?reason=hash_mismatch", headers=read)
    [hashed] = (await by_reason.json())["items"]
    round_key = bridge.app[VIEWS].rounds.rounds("R-a1", bridge.app[LEDGER].name, P)[0].round_key
    assert hashed["key"] == f"hash_mismatch:{round_key}"
    # An item the listing does not show is assigned and resolved by its key.
    assigned = await client.post(
        f"/ops/v1/audit/{hashed['key']}/assign", json={"assignee": "alice"}, headers=admin
    )
    assert assigned.status == 200, await assigned.text()
    assert (await assigned.json())["assignee"] == "alice"
    mine = await (await client.get("/ops/v1/audit?assignee=alice", headers=read)).json()
    assert [i["key"] for i in mine["items"]] == [hashed["key"]]
    gap = still_open["items"][0]["key"]
    done = await client.post(
        f"/ops/v1/audit/{gap}/resolve", json={"resolution": "found"}, headers=admin
    )
    assert done.status == 200, await done.text()
    resolved_ones = await (await client.get("/ops/v1/audit?status=resolved", headers=read)).json()
    assert [i["reason"] for i in resolved_ones["items"]] == ["conflict"]  # the newest only
    left = (await (await client.get("/ops/v1/audit?status=open", headers=read)).json())["items"]
    assert [(i["key"], i["assignee"]) for i in left] == [(hashed["key"], "alice")]


def comparison(
    counts: dict[str, int],
    differences: list[Difference],
    provider: str = P,
    start: datetime = T0,
) -> Comparison:
    return Comparison(
        granularity=Granularity.TRANSACTION,
        provider=provider,
        start=start,
        end=start + timedelta(hours=1),
        report_rows=sum(counts.values()),
        counts=counts,
        report_totals={},
        ledger_totals={},
        differences=differences,
    )


def difference(status: str, key: str, position: int | None) -> Difference:
    return Difference(
        status=status,
        key=key,
        line=1,
        round_id="R-rc",
        player="p1",
        currency="EUR",
        report_kind="win",
        report_amount=Decimal("5.00"),
        ledger_kind="win" if position else None,
        ledger_amount=Decimal("4.00") if position else None,
        position=position,
        detail="amounts differ" if position else "not in the ledger",
    )


async def test_reconcile_runs_give_the_mismatch_rate_and_their_differences_join_the_queue(
    bridge: Bridge,
) -> None:
    client, admin, read = bridge.client, Bridge.auth("admin"), Bridge.auth("read")
    cases = bridge.app[CASES]
    audit = await asyncio.to_thread(Audit, dict(cases.env))  # as `livebridge reconcile` does
    try:
        await asyncio.to_thread(audit.record_run, comparison({"matched": 10}, []), "clean.csv")
        found = [difference("mismatch", "tx-7", 42), difference("missing_in_ledger", "tx-8", None)]
        counts = {"matched": 8, "mismatch": 1, "missing_in_ledger": 1}
        run_id = await asyncio.to_thread(audit.record_run, comparison(counts, found), "r.csv")
    finally:
        audit.close()

    since = (T0 - timedelta(hours=1)).isoformat()
    kpis = await client.get("/ops/v1/kpis", params={"since": since}, headers=read)
    assert (await kpis.json())["reconcile"] == [
        {
            "provider": P,
            "periodStart": since.replace("+00:00", "Z"),
            "runs": 2,
            "compared": 20,
            "mismatched": 2,
            "mismatchRate": 0.1,
        }
    ]
    listed = await client.get("/ops/v1/audit?reason=reconcile_difference", headers=read)
    items = (await listed.json())["items"]
    assert [(i["key"], i["position"], i["detail"]) for i in items] == [
        (f"reconcile_difference:{run_id}:0", 42, "mismatch tx-7: amounts differ"),
        (f"reconcile_difference:{run_id}:1", 0, "missing_in_ledger tx-8: not in the ledger"),
    ]
    resolved = await client.post(
        f"/ops/v1/audit/{items[1]['key']}/resolve",
        json={"resolution": "late credit, in tomorrow's report"},
        headers=admin,
    )
    assert resolved.status == 200
    assert (await resolved.json())["resolvedBy"] == "casino/admin"


async def test_a_reconcile_run_of_many_differences_is_listed_within_the_listing_limit(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases_http, "AUDIT_LIMIT", 3)  # as a run of 100,000 differences would
    audit = await asyncio.to_thread(Audit, dict(bridge.app[CASES].env))
    try:
        found = [difference("mismatch", f"tx-{n}", n + 1) for n in range(5)]
        run = comparison({"matched": 5, "mismatch": 5}, found)
        run_id = await asyncio.to_thread(audit.record_run, run, "big.csv")
    finally:
        audit.close()

    listed = await bridge.client.get("/ops/v1/audit", headers=Bridge.auth("read"))
    assert [i["key"] for i in (await listed.json())["items"]] == [
        f"reconcile_difference:{run_id}:{n}" for n in range(3)
    ]
    beyond = f"reconcile_difference:{run_id}:4"  # past the limit, still found by its key
    assigned = await bridge.client.post(
        f"/ops/v1/audit/{beyond}/assign", json={"assignee": "bob"}, headers=Bridge.auth("admin")
    )
    assert assigned.status == 200, await assigned.text()


async def test_the_reconcile_mismatch_rate_of_the_trailing_window_is_a_metric(
    bridge: Bridge,
) -> None:
    audit = await asyncio.to_thread(Audit, dict(bridge.app[CASES].env))
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    try:
        for counts in ({"matched": 9, "mismatch": 1}, {"matched": 7, "missing_in_report": 3}):
            run = comparison(counts, [], provider="evo-metrics", start=an_hour_ago)
            await asyncio.to_thread(audit.record_run, run, "r.csv")
        old = comparison(
            {"mismatch": 5},
            [],
            provider="evo-metrics",
            start=an_hour_ago.replace(year=an_hour_ago.year - 1),
        )  # outside the window: never counted
        await asyncio.to_thread(audit.record_run, old, "old.csv")
    finally:
        audit.close()
    await asyncio.sleep(1.1)  # past the metrics' one-second cache
    metrics = await (await bridge.client.get("/metrics")).text()
    [rate] = [
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "livebridge_kpi_reconcile_mismatch_rate"
        and sample.labels.get("provider") == "evo-metrics"
    ]
    assert rate == 4 / 20
