"""The round view in PostgreSQL: the only SQL of this read model.

Three tables: `rounds` (header, one row per provider round), `bets` (one row per bet),
`timeline` (one row per ledger event of a round). Header and bet changes set fields; a run
of changes is folded per row (later values win, the highest position is kept) and
written with one `INSERT ... ON CONFLICT DO UPDATE` per set of columns, over arrays. That
is what the same changes give one event at a time, so a rebuilt view equals the live one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL
from psycopg.sql import Composed
from psycopg.sql import Identifier

from projections.pgview import PostgresView
from projections.pgview import create_index
from projections.rounds.view import BET_DEFAULTS
from projections.rounds.view import ROUND_DEFAULTS
from projections.rounds.view import RoundChange
from projections.rounds.view import RoundFields
from projections.rounds.view import RoundRecord
from projections.rounds.view import RoundsView
from projections.rounds.view import TimelineEntry
from projections.rounds.view import record_from_rows


def _column(default: Any, null_type: str) -> tuple[str, str]:
    """A column's (SQL type, DEFAULT literal) for a row field's Python default."""
    match default:
        case None if null_type:
            return null_type, "NULL"
        case bool():
            return "boolean", str(default).lower()
        case Decimal():
            return "numeric", str(default)
        case dict() | list():
            return "jsonb", f"'{json.dumps(default)}'"
        case str():
            return "text", f"'{default}'"
    raise TypeError(f"no column type for the default {default!r}: name it in `null_types`")


def _columns(defaults: dict[str, Any], **null_types: str) -> dict[str, tuple[str, str]]:
    """`name: (type, default)` for the row's fields; a field whose default is None names
    its type in `null_types`."""
    return {name: _column(value, null_types.get(name, "")) for name, value in defaults.items()}


ROUND_COLUMNS = _columns(ROUND_DEFAULTS, closes_at="timestamptz")
BET_COLUMNS = _columns(BET_DEFAULTS, outcome="text", expected_payout="numeric")


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
            create_index(self.index("rounds_round_id"), self.table("rounds"), "round_id"),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (bet_key text PRIMARY KEY, "
                + _columns_ddl(BET_COLUMNS)
                + "position bigint NOT NULL)"
            ).format(self.table("bets")),
            create_index(self.index("bets_round_key"), self.table("bets"), "round_key"),
            create_index(self.index("bets_round_id"), self.table("bets"), "round_id"),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "position bigint PRIMARY KEY, round_key text, bet_key text, "
                "originator_id text NOT NULL, originator_version bigint NOT NULL, "
                "event text NOT NULL, server_time timestamptz NOT NULL, "
                "provider_seq bigint, video_timecode text NOT NULL DEFAULT '', "
                "detail jsonb NOT NULL DEFAULT '{{}}')"
            ).format(self.table("timeline")),
            create_index(self.index("timeline_round_key"), self.table("timeline"), "round_key"),
            create_index(self.index("timeline_bet_key"), self.table("timeline"), "bet_key"),
            # The audit queue's flags (`audit_flags`), without scanning every row.
            create_index(
                self.index("timeline_flags"),
                self.table("timeline"),
                "position",
                "event IN ('Round.ConflictFlagged', 'RoundBook.BetFlagged')",
            ),
            create_index(
                self.index("rounds_flagged"),
                self.table("rounds"),
                "round_key",
                "verification = 'FLAGGED'",
            ),
            # The KPIs' window (`kpi_rounds`, `kpi_bets`): rounds and bets by their start.
            create_index(
                self.index("timeline_starts"),
                self.table("timeline"),
                "server_time",
                "event IN ('Round.Started', 'Bet.Placed')",
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

    # Operations KPIs (`services.ops.kpis` defines them; README "Running it in production").

    def pilot_rounds(self, provider: str, limit: int) -> list[dict[str, Any]]:
        """The provider's last `limit` finished rounds (a result or a void), newest first:
        verification, its flags, bets and bets flagged (settled off their result)."""
        params = {"provider": provider, "limit": limit}
        return self.rows("pilot rounds", self._pilot_rounds_sql, params)

    def _pilot_rounds_sql(self) -> Composed:
        return SQL(
            "SELECT r.round_id, r.table_id, r.round_hash, r.verification, "
            "r.verification_flags, r.void_cause, "
            "(SELECT count(*) FROM {bets} b WHERE b.round_key = r.round_key) AS bets, "
            "(SELECT count(*) FROM {bets} b WHERE b.round_key = r.round_key AND b.flagged) "
            "AS flagged_bets FROM {rounds} r WHERE r.provider = %(provider)s "
            "AND (r.verification <> 'PENDING' OR r.void_cause <> '') "
            "ORDER BY r.position DESC LIMIT %(limit)s"
        ).format(rounds=self.table("rounds"), bets=self.table("bets"))

    def kpi_rounds(
        self, since: datetime, until: datetime, unit: str, down_after: float
    ) -> list[dict[str, Any]]:
        """Per (provider, table, period) of rounds started in [since, until): counts for the
        round KPIs. `unit`: `hour`, `day`, or `all` (one period starting at `since`)."""
        params = {"since": since, "until": until, "unit": unit, "down_after": down_after}
        return self.rows("kpi rounds", self._kpi_rounds_sql, params)

    def kpi_bets(
        self, since: datetime, until: datetime, unit: str, late_after: float
    ) -> list[dict[str, Any]]:
        """Per (provider, table, period) of bets placed in [since, until): counts and
        latencies for the bet KPIs (see `kpi_rounds` for `unit`)."""
        params = {"since": since, "until": until, "unit": unit, "late_after": late_after}
        return self.rows("kpi bets", self._kpi_bets_sql, params)

    def _kpi_rounds_sql(self) -> Composed:
        return SQL(
            "WITH r AS MATERIALIZED (SELECT r.round_key, r.provider, r.table_id, r.void_cause, "
            "r.verification, r.round_hash, r.verification_flags, " + _PERIOD.format("s") + " "
            "FROM {rounds} r JOIN {timeline} s ON s.round_key = r.round_key "
            "AND s.event = 'Round.Started' "
            "WHERE s.server_time >= %(since)s AND s.server_time < %(until)s), "
            "pe AS (SELECT t.round_key, t.provider_seq, (t.detail->>'occurred_at')::timestamptz "
            "AS occurred_at, max(t.provider_seq) OVER (PARTITION BY t.round_key ORDER BY "
            "t.position ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS seen_before "
            "FROM {timeline} t WHERE t.round_key = ANY(ARRAY(SELECT round_key FROM r)) "
            "AND t.event LIKE 'provider:%%'), "
            "pr AS (SELECT round_key, max(provider_seq) AS expected, "
            "count(DISTINCT provider_seq) AS received, "
            "count(*) FILTER (WHERE provider_seq < seen_before) AS late "
            "FROM pe GROUP BY round_key), "
            "gaps AS (SELECT r.provider, r.table_id, r.period, extract(epoch FROM pe.occurred_at "
            "- lag(pe.occurred_at) OVER (PARTITION BY r.provider, r.table_id, r.period "
            "ORDER BY pe.occurred_at)) AS gap, pe.occurred_at "
            "FROM pe JOIN r USING (round_key)), "
            "up AS (SELECT provider, table_id, period, "
            "coalesce(sum(gap) FILTER (WHERE gap > %(down_after)s), 0) AS down_s, "
            "coalesce(extract(epoch FROM max(occurred_at) - min(occurred_at)), 0) AS span_s "
            "FROM gaps GROUP BY 1, 2, 3) "
            "SELECT r.provider, r.table_id, r.period, count(*) AS rounds, "
            "coalesce(sum(pr.expected), 0)::bigint AS events_expected, "
            "coalesce(sum(pr.expected - pr.received), 0)::bigint AS events_missing, "
            "coalesce(sum(pr.late), 0)::bigint AS late_repairs, "
            "count(*) FILTER (WHERE r.round_hash <> '' "
            "AND r.verification IN ('VERIFIED', 'FLAGGED')) AS hash_verified, "
            "count(*) FILTER (WHERE r.round_hash <> '' AND EXISTS (SELECT 1 FROM "
            "jsonb_array_elements_text(r.verification_flags) f "
            "WHERE f LIKE 'round\\_hash %%')) AS hash_mismatched, "
            "count(*) FILTER (WHERE r.void_cause <> '') AS aborted, "
            "coalesce((SELECT jsonb_object_agg(c.void_cause, c.n) FROM (SELECT v.void_cause, "
            "count(*) AS n FROM r v WHERE v.void_cause <> '' AND v.provider = r.provider "
            "AND v.table_id = r.table_id AND v.period = r.period GROUP BY 1) c), '{{}}') "
            "AS aborted_by_cause, "
            "min(up.down_s)::float8 AS down_s, min(up.span_s)::float8 AS span_s "
            "FROM r LEFT JOIN pr USING (round_key) LEFT JOIN up USING (provider, table_id, period) "
            "GROUP BY r.provider, r.table_id, r.period ORDER BY 1, 2, 3"
        ).format(rounds=self.table("rounds"), timeline=self.table("timeline"))

    def _kpi_bets_sql(self) -> Composed:
        def quantiles(column: str) -> str:
            return (
                f"count({column}) AS {column}_n, avg({column})::float8 AS {column}_mean, "
                f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {column}) AS {column}_p50, "
                f"percentile_cont(0.99) WITHIN GROUP (ORDER BY {column}) AS {column}_p99, "
            )

        return SQL(
            "WITH b AS MATERIALIZED (SELECT b.bet_key, b.round_key, b.provider, b.table_id, "
            "b.outcome, b.cause, p.server_time AS placed_at, " + _PERIOD.format("p") + " "
            "FROM {bets} b JOIN {timeline} p ON p.bet_key = b.bet_key AND p.event = 'Bet.Placed' "
            "WHERE p.server_time >= %(since)s AND p.server_time < %(until)s), "
            "res AS (SELECT t.bet_key, max(t.server_time) AS resolved_at FROM {timeline} t "
            "WHERE t.bet_key = ANY(ARRAY(SELECT bet_key FROM b)) "
            "AND t.event IN ('Bet.Settled', 'Bet.Refunded') GROUP BY 1), "
            "rt AS (SELECT t.round_key, "
            "min(t.server_time) FILTER (WHERE t.event = 'provider:round.betting_opened') "
            "AS opened_at, min(t.server_time) FILTER (WHERE t.event IN "
            "('provider:round.betting_closed', 'provider:round.result', 'provider:round.void')) "
            "AS closed_at FROM {timeline} t WHERE t.round_key = ANY(ARRAY(SELECT round_key "
            "FROM b)) AND t.event LIKE 'provider:%%' GROUP BY 1), "
            "x AS (SELECT b.*, extract(epoch FROM b.placed_at - rt.opened_at)::float8 "
            "AS window_s, CASE WHEN res.resolved_at >= rt.closed_at THEN extract(epoch FROM "
            "res.resolved_at - rt.closed_at)::float8 END AS settle_s "
            "FROM b LEFT JOIN res USING (bet_key) LEFT JOIN rt USING (round_key)) "
            "SELECT x.provider, x.table_id, x.period, count(*) AS bets, "
            "count(*) FILTER (WHERE x.outcome = 'VOID') AS voided, "
            "coalesce((SELECT jsonb_object_agg(c.cause, c.n) FROM (SELECT v.cause, count(*) AS n "
            "FROM x v WHERE v.outcome = 'VOID' AND v.provider = x.provider "
            "AND v.table_id = x.table_id AND v.period = x.period GROUP BY 1) c), '{{}}') "
            "AS voided_by_cause, "
            + quantiles("window_s")
            + quantiles("settle_s")
            + "count(*) FILTER (WHERE x.settle_s > %(late_after)s) AS late_settlements "
            "FROM x GROUP BY x.provider, x.table_id, x.period ORDER BY 1, 2, 3"
        ).format(bets=self.table("bets"), timeline=self.table("timeline"))

    def audit_flags(
        self,
        provider: str | None,
        limit: int,
        *,
        reason: str | None = None,
        keys: Sequence[str] | None = None,
        not_keys: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """The newest `limit` flags of the audit queue that pass the filters: each round
        verification flag (`kind` `verified`), round conflict (`conflict`) and bet the round
        book could not handle (`settlement`), with its round, the log position that raised
        it, and its item's `key` (`<reason>:<round key>` for a verification flag,
        `<reason>:<position>` for the others). Filtered here, before the limit: only
        `provider`'s, of `reason`, with a key in `keys` (None: any), none in `not_keys`."""
        params = {
            "provider": provider,
            "limit": limit,
            "reason": reason,
            "keys": None if keys is None else list(keys),
            "not_keys": list(not_keys),
        }
        return self.rows("audit flags", self._audit_flags_sql, params)

    def _audit_flags_sql(self) -> Composed:
        return SQL(
            "WITH v AS (SELECT r.round_key, r.provider, r.round_id, r.table_id, "
            "r.verification_flags, (SELECT max(t.position) FROM {timeline} t "
            "WHERE t.round_key = r.round_key AND t.event = 'Round.Verified') AS position "
            "FROM {rounds} r WHERE r.verification = 'FLAGGED' "
            "AND (%(provider)s::text IS NULL OR r.provider = %(provider)s)), "
            "found AS (SELECT 'verified' AS kind, v.round_key, v.provider, v.round_id, "
            "v.table_id, f.flag AS detail, v.position, t.server_time "
            "FROM v CROSS JOIN jsonb_array_elements_text(v.verification_flags) AS f(flag) "
            "JOIN {timeline} t ON t.position = v.position "
            "UNION ALL SELECT 'conflict', t.round_key, r.provider, r.round_id, r.table_id, "
            "t.detail->>'flag', t.position, t.server_time FROM {timeline} t "
            "JOIN {rounds} r ON r.round_key = t.round_key "
            "WHERE t.event IN ('Round.ConflictFlagged', 'RoundBook.BetFlagged') "
            "AND t.event = 'Round.ConflictFlagged' "
            "AND (%(provider)s::text IS NULL OR r.provider = %(provider)s) "
            "UNION ALL SELECT 'settlement', b.round_key, b.provider, b.round_id, b.table_id, "
            "t.detail->>'flag', t.position, t.server_time FROM {timeline} t "
            "JOIN {bets} b ON b.bet_key = t.bet_key "
            "WHERE t.event IN ('Round.ConflictFlagged', 'RoundBook.BetFlagged') "
            "AND t.event = 'RoundBook.BetFlagged' "
            "AND (%(provider)s::text IS NULL OR b.provider = %(provider)s)), "
            "keyed AS (SELECT found.*, CASE WHEN kind = 'conflict' THEN 'conflict' "
            "WHEN kind = 'settlement' THEN 'settlement_failure' "
            "WHEN left(detail, 10) = 'round_hash' THEN 'hash_mismatch' "
            "ELSE 'sequence_gap' END AS reason FROM found) "
            "SELECT * FROM (SELECT keyed.*, reason || ':' || CASE WHEN kind = 'verified' "
            "THEN round_key ELSE position::text END AS key FROM keyed) i "
            "WHERE (%(reason)s::text IS NULL OR reason = %(reason)s) "
            "AND (%(keys)s::text[] IS NULL OR key = ANY(%(keys)s)) "
            "AND key <> ALL(%(not_keys)s::text[]) "
            "ORDER BY position DESC, detail LIMIT %(limit)s"
        ).format(
            rounds=self.table("rounds"), bets=self.table("bets"), timeline=self.table("timeline")
        )


_PERIOD = (
    "CASE WHEN %(unit)s = 'all' THEN %(since)s::timestamptz "
    "ELSE date_trunc(%(unit)s, {0}.server_time, 'UTC') END AS period"
)
"""The period a row counts in: its hour or day (UTC), or the whole window."""
