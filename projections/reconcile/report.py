"""Provider reports: which column means what, and how the rows reach PostgreSQL.

Providers send hourly or daily reports as CSV or JSON, either one row per transaction
(`transaction_id`, `type`, `amount`, ...) or one row per round (`round_id`, `bets`, `wins`,
`refunds`, `ggr`, `commission`). Column names differ by provider; `ALIASES` maps the
usual spellings (case, `_`, `-` and spaces ignored) onto canonical names. A report is
never parsed row by row in Python when it is CSV: its bytes go to PostgreSQL's COPY as
they are, and the casts happen in SQL.

JSON reports are a list of row objects, or an object with the rows under `transactions`,
`rounds`, `rows` or `data`, optionally with `provider`, `from` and `to` (ISO 8601).

Errors::

    ValueError
    └── ReportError        unreadable report, or a required column is missing
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec


class ReportError(ValueError):
    """The report cannot be read: say which file and which column."""


class Granularity(enum.StrEnum):
    TRANSACTION = "transaction"
    ROUND = "round"


ALIASES: dict[str, tuple[str, ...]] = {
    "tx_id": ("transactionid", "txid", "transaction", "trnid", "reference", "id"),
    "type": ("type", "kind", "transactiontype", "txtype", "action", "operation"),
    "amount": ("amount", "value", "sum"),
    "currency": ("currency", "ccy", "currencycode"),
    "round_id": ("roundid", "round", "gameround", "gameroundid", "handid"),
    "player": ("player", "playerid", "userid", "user", "customerid", "customer", "account"),
    "occurred_at": ("timestamp", "time", "createdat", "occurredat", "datetime", "date", "ts"),
    "bets": ("bets", "bet", "totalbet", "totalbets", "stake", "stakes", "wagered"),
    "wins": ("wins", "win", "totalwin", "totalwins", "payout", "payouts"),
    "refunds": ("refunds", "refund", "rollbacks", "rollback", "cancelled", "voided"),
    "ggr": ("ggr", "grossgamingrevenue", "revenue"),
    "commission": ("commission", "fee", "providerfee", "commissionamount"),
}

REQUIRED = {
    Granularity.TRANSACTION: ("tx_id", "type", "amount"),
    Granularity.ROUND: ("round_id",),
}


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.strip().lower())


def canonical_columns(header: Sequence[str]) -> dict[str, int]:
    """Canonical column name -> index in `header`, for every column that is recognised."""
    squashed = [_squash(h) for h in header]
    found: dict[str, int] = {}
    for name, spellings in ALIASES.items():
        for spelling in (_squash(name), *spellings):
            if spelling in squashed:
                found[name] = squashed.index(spelling)
                break
    return found


@dataclass(frozen=True, slots=True)
class ReportLayout:
    header: tuple[str, ...]
    columns: dict[str, int]
    granularity: Granularity

    @classmethod
    def of(cls, header: Sequence[str], source: str) -> ReportLayout:
        columns = canonical_columns(header)
        if "tx_id" in columns and "type" in columns:
            granularity = Granularity.TRANSACTION
        elif "round_id" in columns and ("bets" in columns or "ggr" in columns):
            granularity = Granularity.ROUND
        else:
            raise ReportError(
                f"{source}: cannot tell a per-transaction report (needs a transaction id and a "
                f"type column) from a per-round one (needs round id, and bets or GGR); columns "
                f"are {list(header)}"
            )
        missing = [c for c in REQUIRED[granularity] if c not in columns]
        if missing:
            raise ReportError(f"{source}: per-{granularity} report lacks columns {missing}")
        return cls(tuple(header), columns, granularity)


@dataclass(frozen=True, slots=True)
class Report:
    """A report ready for COPY: its layout and a source of CSV bytes (header line first)."""

    source: str
    layout: ReportLayout
    chunks: Iterator[bytes]
    provider: str = ""
    start: datetime | None = None
    end: datetime | None = None


CHUNK = 1 << 20


def _file_chunks(path: Path) -> Iterator[bytes]:
    """The file in chunks, CRLF made LF: COPY refuses a file that mixes the two."""
    carry = b""
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""
            yield chunk[: len(chunk) - len(carry)].replace(b"\r\n", b"\n")
    if carry:
        yield carry


def open_csv(path: Path) -> Report:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as file:
            header = next(csv.reader(file), None)
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not UTF-8 text (byte {exc.start} of its header)") from None
    if not header:
        raise ReportError(f"{path}: empty CSV report")
    layout = ReportLayout.of(header, str(path))
    chunks = _file_chunks(path)
    return Report(str(path), layout, chunks)


class _Envelope(msgspec.Struct):
    provider: str = ""
    start: datetime | None = msgspec.field(default=None, name="from")
    end: datetime | None = msgspec.field(default=None, name="to")
    transactions: list[dict[str, Any]] | None = None
    rounds: list[dict[str, Any]] | None = None
    rows: list[dict[str, Any]] | None = None
    data: list[dict[str, Any]] | None = None


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_chunks(header: Sequence[str], rows: list[dict[str, Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for start in range(0, len(rows), 10_000):
        writer.writerows(
            [_csv_cell(row.get(h)) for h in header] for row in rows[start : start + 10_000]
        )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode()


def open_json(path: Path) -> Report:
    raw = path.read_bytes()
    try:
        decoded = msgspec.json.Decoder(float_hook=Decimal).decode(raw)
    except msgspec.DecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc})") from None
    envelope = _Envelope()
    if isinstance(decoded, dict):
        try:
            envelope = msgspec.convert(decoded, _Envelope)
        except msgspec.ValidationError as exc:
            raise ReportError(f"{path}: unexpected report shape ({exc})") from None
        rows = envelope.transactions or envelope.rounds or envelope.rows or envelope.data or []
    elif isinstance(decoded, list):
        rows = decoded
    else:
        raise ReportError(f"{path}: a JSON report is a list of rows or an object holding one")
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise ReportError(f"{path}: the report holds no rows (a list of objects)")
    header = list(rows[0])
    layout = ReportLayout.of(header, str(path))
    return Report(
        str(path),
        layout,
        _csv_chunks(header, rows),
        provider=envelope.provider,
        start=envelope.start,
        end=envelope.end,
    )


def open_report(path: Path) -> Report:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return open_csv(path)
    if suffix in (".json", ".jsonl"):
        return open_json(path)
    raise ReportError(f"{path}: unknown report format {suffix!r}; use .csv or .json")
