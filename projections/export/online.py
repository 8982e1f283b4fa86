"""`verify --against`: an export checked against the log it says it came from.

Offline, `verify` proves an export is the one the key's holder signed. Online it also
proves the signer told the truth about the log: each event is read back by its position
through the event store's read API (`select_notifications`) and must be the log's own (the
stored bytes hash to the exported `stored_sha256`, and decode to the exported fields); and
the query, run again over the scanned positions, must select exactly the exported events
(none left out, none added). Only reads: nothing is written to the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.persistence import Mapper
from eventsourcing.persistence import Notification

from projections.export.chain import EVENTS_FILE
from projections.export.chain import Manifest
from projections.export.chain import Mismatch
from projections.export.chain import canonical
from projections.export.chain import lines
from projections.export.exporter import event_state
from projections.export.exporter import export_record
from projections.export.exporter import selected
from projections.export.selection import described

RUN_GAP = 64
"""Positions closer than this are read together (the gap is read and dropped)."""
RUN_SPAN = 1000


def runs(positions: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(first, last) ranges covering sorted `positions`, each one read of the log."""
    start = previous = -1
    for position in positions:
        if start < 0:
            start = previous = position
        elif position - previous > RUN_GAP or position - start >= RUN_SPAN:
            yield start, previous
            start = previous = position
        else:
            previous = position
    if start >= 0:
        yield start, previous


def _differences(exported: dict[str, Any], logged: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for key in sorted(exported.keys() | logged.keys()):
        if key == "data" and isinstance(exported.get(key), dict):
            inner = exported[key].keys() | logged.get(key, {}).keys()
            names.extend(
                f"data.{k}"
                for k in sorted(inner)
                if canonical(exported[key].get(k)) != canonical(logged[key].get(k))
            )
        elif canonical(exported.get(key)) != canonical(logged.get(key)):
            names.append(key)
    return names


def check_against(
    directory: Path, manifest: Manifest, recorder: ApplicationRecorder, mapper: Mapper[Any]
) -> list[Mismatch]:
    """What in the export is not as the log holds it (an empty list: all of it is)."""
    problems: list[Mismatch] = []
    head = recorder.max_notification_id() or 0
    if manifest.scanned.last > head:
        problems.append(
            Mismatch(
                0,
                None,
                f"field 'scanned' reaches log position {manifest.scanned.last}; the log ends "
                f"at {head}",
            )
        )
    exported = [(number, line.event) for number, line in lines(directory / EVENTS_FILE)]
    positions = [int(event["position"]) for _, event in exported]
    logged: dict[int, Notification] = {}
    for first, last in runs(positions):
        for read in recorder.select_notifications(first, last - first + 1, stop=last):
            logged[read.id] = read
    for number, event in exported:
        position = int(event["position"])
        notification = logged.get(position)
        if notification is None:
            problems.append(Mismatch(number, position, "the log holds no event at this position"))
            continue
        stored = hashlib.sha256(notification.state).hexdigest()
        if event.get("stored_sha256") != stored:
            problems.append(
                Mismatch(
                    number,
                    position,
                    f"stored_sha256 {event.get('stored_sha256')} is not the hash of the "
                    f"event the log stores there ({stored})",
                )
            )
        record = export_record(notification, event_state(mapper, notification))
        if canonical(record) != canonical(event):
            changed = ", ".join(_differences(event, record))
            problems.append(
                Mismatch(number, position, f"the event differs from the log's: {changed}")
            )
    try:
        query = described(manifest.query)
    except (ValueError, KeyError):
        return problems  # the offline check names the query
    wanted = {
        notification.id
        for notification, _ in selected(recorder, mapper, query, min(manifest.scanned.last, head))
    }
    have = set(positions)
    problems.extend(
        Mismatch(
            0,
            position,
            "the log's event at this position involves the query but the export leaves it out",
        )
        for position in sorted(wanted - have)
    )
    problems.extend(
        Mismatch(
            number, int(event["position"]), "the query does not select this event from the log"
        )
        for number, event in exported
        if int(event["position"]) not in wanted and int(event["position"]) in logged
    )
    return problems
