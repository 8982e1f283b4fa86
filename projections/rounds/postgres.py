"""The round view in PostgreSQL: the only SQL of this read model.

Three tables: `rounds` (header, one row per provider round), `bets` (one row per bet),
`timeline` (one row per ledger event of a round). Header and bet changes set fields; a run
of changes is folded per row (later values win, the highest position is kept) and
written with one `INSERT ... ON CONFLICT DO UPDATE` per set of columns, over arrays. That
is what the same changes give one event at a time, so a rebuilt view equals the live one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from projections.pgview import PostgresView
from projections.rounds.view import (
    RoundChange,
    RoundFields,
    RoundRecord,
    RoundsView,
    TimelineEntry,
    record_from_rows,
)
from services.ledger.views import BetStatus, Verification

ROUND_COLUMNS: dict[str, tuple[str, str]] = {
    # name: (type, default)
    "provider": ("text", "''"),
    "round_id": ("text", "''"),
    "table_id": ("text", "''"),
    "game": ("text", "''"),
    "closes_at": ("timestamptz", "NULL"),
    "opened": ("boolean", "false"),
    "betting_closed": ("boolean", "false"),
    "result": ("jsonb", "'{}'"),
    "round_hash": ("text", "''"),
    "digest": ("text", "''"),
    "verification": ("text", f"'{Verification.PENDING}'"),
    "verification_flags": ("jsonb", "'[]'"),
    "void_cause": ("text", "''"),
}
BET_COLUMNS: dict[str, tuple[str, str]] = {
    "round_key": ("text", "''"),
    "provider": ("text", "''"),
    "round_id": ("text", "''"),
    "bet_id": ("text", "''"),
    "tx_id": ("text", "''"),
    "game": ("text", "''"),
    "table_id": ("text", "''"),
    "player": ("text", "''"),
    "currency": ("text", "''"),
    "stake": ("numeric", "0"),
    "selections": ("jsonb", "'[]'"),
    "status": ("text", f"'{BetStatus.OPEN}'"),
    "outcome": ("text", "NULL"),
    "payout": ("numeric", "0"),
    "expected_payout": ("numeric", "NULL"),
    "flagged": ("boolean", "false"),
    "cause": ("text", "''"),
}


def _columns_ddl(columns: dict[str, tuple[str, str]]) -> str:
    # Braces are doubled: the DDL is a psycopg SQL template.
    return "".join(
        f"{name} {kind} DEFAULT {default.replace('{', '{{').replace('}', '}}')}, "
        for name, (kind, default) in columns.items()
    )


_json = msgspec.json.Encoder(order="sorted")


def _json_text(value: Any) -> str:
    return _json.encode(value).decode()


_ROWS = msgspec.json.Decoder(list[dict[str, Any]])
_READ_AS_TEXT = frozenset({"numeric"})
"""Column types read as JSON text and typed here (a JSON number would not keep a numeric's
digits); timestamps come as ISO 8601 text."""
_TYPED: dict[str, Callable[[str], Any]] = {
    name: Decimal if kind == "numeric" else datetime.fromisoformat
    for name, (kind, _) in {
        **ROUND_COLUMNS,
        **BET_COLUMNS,
        "server_time": ("timestamptz", ""),
    }.items()
    if kind in ("numeric", "timestamptz")
}


def _rows(text: str | None) -> list[dict[str, Any]]:
    """Rows from a `json_agg`, typed as psycopg types them (NULL stays None)."""
    rows = _ROWS.decode(text or "[]")
    for row in rows:
        for name, kind in _TYPED.items():
            value = row.get(name)
            if value is not None:
                row[name] = kind(value)
    return rows


def _to_db(kind: str, value: Any) -> Any:
    if kind == "jsonb":
        return _json_text(value)
    return value


class PostgresRoundsView(PostgresView[RoundChange], RoundsView):
    table_suffixes = ("rounds", "bets", "timeline")

    def create_statements(self) -> list[Composed]:
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (round_key text PRIMARY KEY, "
                + _columns_ddl(ROUND_COLUMNS)
                + "position bigint NOT NULL)"
            ).format(self.table("rounds")),
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (round_id)").format(
                self.index("rounds_round_id"), self.table("rounds")
            ),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (bet_key text PRIMARY KEY, "
                + _columns_ddl(BET_COLUMNS)
                + "position bigint NOT NULL)"
            ).format(self.table("bets")),
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (round_key)").format(
                self.index("bets_round_key"), self.table("bets")
            ),
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (round_id)").format(
                self.index("bets_round_id"), self.table("bets")
            ),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "position bigint PRIMARY KEY, round_key text, bet_key text, "
                "originator_id text NOT NULL, originator_version bigint NOT NULL, "
                "event text NOT NULL, server_time timestamptz NOT NULL, "
                "provider_seq bigint, video_timecode text NOT NULL DEFAULT '', "
                "detail jsonb NOT NULL DEFAULT '{{}}')"
            ).format(self.table("timeline")),
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (round_key)").format(
                self.index("timeline_round_key"), self.table("timeline")
            ),
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (bet_key)").format(
                self.index("timeline_bet_key"), self.table("timeline")
            ),
        ]

    def write(self, curs: Cursor[DictRow], changes: Sequence[RoundChange]) -> None:
        rounds: dict[tuple[str, ...], tuple[dict[str, Any], int]] = {}
        bets: dict[tuple[str, ...], tuple[dict[str, Any], int]] = {}
        timeline: list[TimelineEntry] = []
        for change in changes:
            if isinstance(change, TimelineEntry):
                timeline.append(change)
                continue
            if isinstance(change, RoundFields):
                target, key = rounds, (change.round_key,)
            else:
                target, key = bets, (change.bet_key,)
            merged = target.get(key)
            if merged is None:
                target[key] = (dict(change.fields), change.position)
            else:
                merged[0].update(change.fields)
                target[key] = (merged[0], max(merged[1], change.position))
        self._upsert(curs, "rounds", ("round_key",), ROUND_COLUMNS, rounds)
        self._upsert(curs, "bets", ("bet_key",), BET_COLUMNS, bets)
        if timeline:
            self._insert_timeline(curs, timeline)

    def _upsert(
        self,
        curs: Cursor[DictRow],
        suffix: str,
        keys: tuple[str, ...],
        columns: dict[str, tuple[str, str]],
        rows: dict[tuple[str, ...], tuple[dict[str, Any], int]],
    ) -> None:
        groups: dict[tuple[str, ...], list[tuple[tuple[str, ...], dict[str, Any], int]]] = {}
        for key, (fields, position) in rows.items():
            unknown = set(fields) - set(columns)
            if unknown:
                msg = f"{self.prefix}_{suffix} has no column(s) {sorted(unknown)}"
                raise ValueError(msg)
            groups.setdefault(tuple(sorted(fields)), []).append((key, fields, position))
        for names, group in groups.items():
            kinds = ["text"] * len(keys) + [columns[n][0] for n in names] + ["bigint"]
            arrays: list[list[Any]] = [[key[i] for key, _, _ in group] for i in range(len(keys))]
            arrays += [[_to_db(columns[n][0], f[n]) for _, f, _ in group] for n in names]
            arrays.append([p for _, _, p in group])

            def build(names: tuple[str, ...] = names, kinds: list[str] = kinds) -> Composed:
                all_names = [*keys, *names, "position"]
                unnest = SQL(", ").join(
                    SQL("%s::{0}[]").format(SQL("text" if k == "jsonb" else k)) for k in kinds
                )
                select = SQL(", ").join(
                    SQL("{0}::jsonb").format(Identifier(n)) if k == "jsonb" else Identifier(n)
                    for n, k in zip(all_names, kinds, strict=True)
                )
                updates = SQL(", ").join(
                    [
                        *(SQL("{0} = EXCLUDED.{0}").format(Identifier(n)) for n in names),
                        SQL("position = GREATEST(t.position, EXCLUDED.position)"),
                    ]
                )
                return SQL(
                    "INSERT INTO {table} AS t ({cols}) SELECT {select} FROM unnest({unnest}) "
                    "AS u({cols}) ON CONFLICT ({keys}) DO UPDATE SET {updates}"
                ).format(
                    table=self.table(suffix),
                    cols=SQL(", ").join(Identifier(n) for n in all_names),
                    select=select,
                    unnest=unnest,
                    keys=SQL(", ").join(Identifier(k) for k in keys),
                    updates=updates,
                )

            curs.execute(
                self.statement(f"upsert {suffix} {' '.join(names)}", build),
                arrays,
            )

    def _insert_timeline(self, curs: Cursor[DictRow], entries: list[TimelineEntry]) -> None:
        # COPY: rows are formatted by psycopg's C code, several times faster than arrays.
        statement = self.statement(
            "timeline copy",
            lambda: SQL(
                "COPY {0} (position, round_key, bet_key, originator_id, originator_version, "
                "event, server_time, provider_seq, video_timecode, detail) FROM STDIN"
            ).format(self.table("timeline")),
        )
        encode = _json.encode
        with curs.copy(statement) as copy:
            for e in entries:
                copy.write_row(
                    (
                        e.position,
                        e.round_key,
                        e.bet_key,
                        e.originator_id,
                        e.originator_version,
                        e.event,
                        e.server_time,
                        e.provider_seq,
                        e.video_timecode,
                        encode(e.detail).decode(),
                    )
                )

    def rounds(
        self, round_id: str, application_name: str, provider: str | None = None
    ) -> list[RoundRecord]:
        """Rounds named `round_id`: from provider events, or only from bets (seamless play).

        One statement (one snapshot, one round trip), every table reached through an
        index: a replay's cost does not grow with the log. Rows come back as JSON, numbers
        as text (`_READ_AS_TEXT`), and are typed here as the tables type them.
        """
        variant = "p" if provider else "-"
        statement = self.statement(f"rounds {variant}", lambda: self._rounds_sql(provider))
        params = {"round_id": round_id, "provider": provider, "application": application_name}
        with self.datastore.get_connection() as conn:
            row = conn.execute(statement, params).fetchone()
        assert row is not None
        heads = {h["round_key"]: h for h in _rows(row["heads"])}
        bets = _rows(row["bets"])
        timeline = _rows(row["timeline"])
        view_position = row["position"] or 0
        round_keys = list(heads) + [b["round_key"] for b in bets if b["round_key"] not in heads]
        round_of_bet = {b["bet_key"]: b["round_key"] for b in bets}
        for t in timeline:
            t["owner"] = t["round_key"] or round_of_bet.get(t["bet_key"])
        records = [
            record_from_rows(
                key,
                heads.get(key),
                [b for b in bets if b["round_key"] == key],
                [t for t in timeline if t["owner"] == key],
                view_position,
            )
            for key in dict.fromkeys(round_keys)
        ]
        return sorted(records, key=lambda r: r.timeline[0].position if r.timeline else 0)

    def _rounds_sql(self, provider: str | None) -> Composed:
        only = SQL(" AND provider = %(provider)s") if provider else SQL("")

        def columns(alias: str, key: str, typed: dict[str, tuple[str, str]]) -> Composed:
            names = [key, *typed, "position"]
            return SQL(", ").join(
                SQL(
                    "{0}.{1}::text AS {1}"
                    if name in typed and typed[name][0] in _READ_AS_TEXT
                    else "{0}.{1}"
                ).format(Identifier(alias), Identifier(name))
                for name in names
            )

        # `= ANY(ARRAY(...))`: the planner sees a short list and probes the indexes,
        # whatever its statistics say about the tables.
        return SQL(
            "WITH k AS MATERIALIZED (SELECT round_key FROM {rounds} WHERE round_id = "
            "%(round_id)s{only} UNION SELECT round_key FROM {bets} WHERE round_id = "
            "%(round_id)s{only}), "
            "b AS MATERIALIZED (SELECT {bet_columns} FROM {bets} b "
            "WHERE b.round_key = ANY(ARRAY(SELECT round_key FROM k))) "
            "SELECT (SELECT json_agg(h)::text FROM (SELECT {round_columns} FROM {rounds} r "
            "WHERE r.round_key = ANY(ARRAY(SELECT round_key FROM k))) h) AS heads, "
            "(SELECT json_agg(b ORDER BY b.position)::text FROM b) AS bets, "
            "(SELECT json_agg(t ORDER BY t.position)::text FROM {timeline} t "
            "WHERE t.round_key = ANY(ARRAY(SELECT round_key FROM k)) "
            "OR t.bet_key = ANY(ARRAY(SELECT bet_key FROM b))) AS timeline, "
            "(SELECT max(notification_id) FROM {tracking} "
            "WHERE application_name = %(application)s) AS position"
        ).format(
            rounds=self.table("rounds"),
            bets=self.table("bets"),
            timeline=self.table("timeline"),
            tracking=SQL("{0}.{1}").format(
                Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
            ),
            only=only,
            round_columns=columns("r", "round_key", ROUND_COLUMNS),
            bet_columns=columns("b", "bet_key", BET_COLUMNS),
        )

    def providers(self) -> list[str]:
        """Every provider the view has a round or a bet of."""
        with self.datastore.transaction(commit=False) as curs:
            rows = curs.execute(
                SQL(
                    "SELECT provider FROM {0} UNION SELECT provider FROM {1} ORDER BY provider"
                ).format(self.table("rounds"), self.table("bets"))
            ).fetchall()
        return [row["provider"] for row in rows if row["provider"]]

    def sample_round_ids(self, count: int) -> list[str]:
        """Up to `count` round ids at random (bench and smoke checks)."""
        with self.datastore.transaction(commit=False) as curs:
            rows = curs.execute(
                SQL("SELECT round_id FROM {0} ORDER BY random() LIMIT %s").format(
                    self.table("rounds")
                ),
                (count,),
            ).fetchall()
        return [row["round_id"] for row in rows]
