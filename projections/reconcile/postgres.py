"""The reconcile view in PostgreSQL: the ledger's provider transactions, and the report join.

Table `reconcile_ledger_tx` holds one row per provider transaction the ledger recorded
(`provider`, `tx_id` unique), written by `ReconcileProjection` together with its tracking
row (one transaction, so no event is skipped or applied twice). The service keeps it
current like every view (`projections.catalog.VIEWS`).

`reconcile()` matches a provider report against it without a Python loop over rows: the
report's CSV bytes are COPYed into a temporary table, normalised with SQL casts, and joined
with the ledger's rows in one FULL OUTER JOIN; counts and per-currency totals are
aggregated in SQL, and only the rows that differ come back to Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from decimal import ROUND_HALF_EVEN
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.rows import tuple_row
from psycopg.sql import SQL
from psycopg.sql import Composable
from psycopg.sql import Composed
from psycopg.sql import Identifier
from psycopg.sql import Literal

from contracts.money import MoneyError
from contracts.money import quantum
from projections.pgview import PostgresView
from projections.pgview import arrays
from projections.pgview import create_index
from projections.reconcile.report import Granularity
from projections.reconcile.report import Report
from projections.reconcile.report import ReportError

TABLE = "reconcile_ledger_tx"
COLUMNS = (
    "provider",
    "tx_id",
    "kind",
    "player",
    "currency",
    "amount",
    "round_id",
    "bet_id",
    "bet_key",
    "occurred_at",
    "position",
    "provider_tx",
    "reverses",
)


@dataclass(frozen=True, slots=True)
class LedgerTx:
    """One provider transaction as the ledger recorded it. `kind`: one of `KINDS`.

    `provider_tx` is False for money movements the provider did not send as a transaction
    of its own (a refund caused by a voided round): they count in per-round totals only.
    """

    provider: str
    tx_id: str
    kind: str
    player: str
    currency: str
    amount: Decimal
    round_id: str
    occurred_at: datetime
    position: int
    bet_id: str = ""
    bet_key: str = ""
    provider_tx: bool = True
    reverses: str = ""
    """For a `win_rollback`: the provider credit whose win it took back."""

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in COLUMNS)


@dataclass(frozen=True, slots=True)
class BetResolved:
    """A bet settled (`win`, the payout; 0 for a loss) or refunded (`refund`, the stake).

    The bet's provider, player, currency and round come from its `bet` row, by `bet_key`.
    Several bets settled by one provider credit add up into one `win` row.
    """

    bet_key: str
    kind: str
    tx_id: str
    amount: Decimal | None
    """None for a refund: the bet's stake."""
    occurred_at: datetime
    position: int
    reverses: str = ""
    """For a `win_rollback` (`Bet.Reopened`): the credit it undid."""


Change = LedgerTx | BetResolved


BET_KINDS = ("bet", "win", "refund", "win_rollback")
"""The kinds a round is made of: awards pay outside any round's figures."""
AWARDS = ("promo", "jackpot", "adjustment")
KINDS = (*BET_KINDS, *AWARDS, "award_rollback")
"""A row's kind: a bet's stake, its settlement or refund, the rollback of a settlement's
credit (`win_rollback`: the payout taken back, the bet open again for a corrected credit;
or the payout a refund of a settled bet took back), a payment outside any bet
(`Wallet.Awarded`, by its cause: promotion, jackpot, adjustment), or the rollback of one
(`award_rollback`, the amount taken back)."""
_KIND_CHECK = "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")"
_ROUND_ROWS = "kind IN (" + ", ".join(f"'{k}'" for k in BET_KINDS) + ")"
_KIND_CONSTRAINT = "ledger_tx_kind_v3"
"""Named after the kinds it allows: a table whose check has another name gets this one."""


def _create(table: Composable, bet_index: str, period_index: str, regclass: str) -> list[Composed]:
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {0} ("
            "provider text NOT NULL, tx_id text NOT NULL, "
            "kind text NOT NULL CONSTRAINT " + _KIND_CONSTRAINT + " CHECK (" + _KIND_CHECK + "), "
            "player text NOT NULL, currency text NOT NULL, amount numeric NOT NULL, "
            "round_id text NOT NULL, bet_id text NOT NULL, bet_key text NOT NULL, "
            "occurred_at timestamptz NOT NULL, position bigint NOT NULL, "
            "provider_tx boolean NOT NULL, reverses text NOT NULL DEFAULT '', "
            "PRIMARY KEY (provider, tx_id))"
        ).format(table),
        # A table made before win rollbacks lacks the column naming the credit undone. Looked
        # up first: ALTER TABLE locks the table even when the column is there.
        SQL(
            "DO $reverses$ BEGIN "
            "IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({0}) "
            "AND attname = 'reverses' AND NOT attisdropped) THEN "
            "ALTER TABLE {1} ADD COLUMN reverses text NOT NULL DEFAULT ''; "
            "END IF; END $reverses$"
        ).format(Literal(regclass), table),
        create_index(Identifier(period_index), table, "provider, occurred_at"),
        create_index(Identifier(bet_index), table, "bet_key", "kind = 'bet'"),
        # A table made before awards or win rollbacks has a CHECK naming fewer kinds: replace
        # it once (the new one named, so the test is cheap and no lock is taken again).
        SQL(
            "DO $kinds$ DECLARE found record; BEGIN "
            "IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass({0}) "
            "AND conname = '" + _KIND_CONSTRAINT + "') THEN "
            "FOR found IN SELECT conname FROM pg_constraint WHERE conrelid = to_regclass({0}) "
            "AND contype = 'c' AND position('kind' in pg_get_constraintdef(oid)) > 0 LOOP "
            "EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', {0}, found.conname); "
            "END LOOP; "
            "ALTER TABLE {1} ADD CONSTRAINT " + _KIND_CONSTRAINT + " CHECK (" + _KIND_CHECK + "); "
            "END IF; END $kinds$"
        ).format(Literal(regclass), table),
    ]


def create_statements(schema: str) -> list[Composed]:
    regclass = f'"{schema}"."{TABLE}"'
    return _create(Identifier(schema, TABLE), f"{TABLE}_bet", f"{TABLE}_period", regclass)


class PostgresReconcileView(PostgresView[Change]):
    """The ledger's provider transactions (`reconcile_ledger_tx`), with the tracking row.

    A run of changes is written with two statements: the bets, then the resolutions,
    grouped by provider transaction, so a page of thousands of events is two round trips
    and folds exactly as the per-event writes would (sums, greatest position, first time;
    a credit of several bets names the least bet id and key).
    """

    table_suffixes = ("ledger_tx",)

    def create_statements(self) -> list[Composed]:
        return _create(
            self.table("ledger_tx"),
            f"{self.prefix}_ledger_tx_bet",
            f"{self.prefix}_ledger_tx_period",
            f'"{self.schema}"."{self.prefix}_ledger_tx"',
        )

    def write(self, curs: Cursor[DictRow], changes: Sequence[Change]) -> None:
        table = self.table("ledger_tx")
        bets = [c for c in changes if isinstance(c, LedgerTx)]
        resolved = [c for c in changes if isinstance(c, BetResolved)]
        if bets:
            curs.execute(
                SQL(
                    "INSERT INTO {0} ({1}) SELECT * FROM unnest(%s::text[], %s::text[], "
                    "%s::text[], %s::text[], %s::text[], %s::numeric[], %s::text[], %s::text[], "
                    "%s::text[], %s::timestamptz[], %s::bigint[], %s::boolean[], %s::text[]) "
                    "ON CONFLICT DO NOTHING"
                ).format(table, SQL(", ").join(map(Identifier, COLUMNS))),
                arrays(bets, *COLUMNS),
            )
        if resolved:
            curs.execute(
                SQL(
                    "INSERT INTO {0} AS t ({1}) SELECT b.provider, "
                    "coalesce(nullif(r.tx, ''), r.kind || ':' || r.bet), min(r.kind), "
                    "min(b.player), min(b.currency), sum(coalesce(r.amount, b.amount)), "
                    "min(b.round_id), min(b.bet_id), min(b.bet_key), min(r.at), max(r.position), "
                    "bool_and(r.tx <> ''), min(r.reverses) "
                    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::numeric[], "
                    "%s::timestamptz[], %s::bigint[], %s::text[]) "
                    "AS r(bet, kind, tx, amount, at, position, reverses) "
                    "JOIN {0} b ON b.bet_key = r.bet AND b.kind = 'bet' "
                    "GROUP BY b.provider, coalesce(nullif(r.tx, ''), r.kind || ':' || r.bet) "
                    "ON CONFLICT (provider, tx_id) DO UPDATE "
                    "SET amount = t.amount + EXCLUDED.amount, "
                    "position = GREATEST(t.position, EXCLUDED.position), "
                    "occurred_at = LEAST(t.occurred_at, EXCLUDED.occurred_at), "
                    "bet_id = LEAST(t.bet_id, EXCLUDED.bet_id), "
                    "bet_key = LEAST(t.bet_key, EXCLUDED.bet_key)"
                ).format(table, SQL(", ").join(map(Identifier, COLUMNS))),
                arrays(
                    resolved,
                    "bet_key",
                    "kind",
                    "tx_id",
                    "amount",
                    "occurred_at",
                    "position",
                    "reverses",
                ),
            )

    def reconcile(self, report: Report, **options: Any) -> Comparison:
        """Match `report` against this view (see `reconcile`); nothing is written."""
        with self.datastore.get_connection() as conn:
            return reconcile(conn, report, schema=self.schema, **options)


def load(conn: psycopg.Connection[Any], rows: Iterable[LedgerTx], schema: str = "public") -> None:
    """Bulk-load ledger rows with COPY (tests and benches; the projection uses `record`)."""
    with conn.cursor() as curs:
        for statement in create_statements(schema):
            curs.execute(statement)
        with curs.copy(
            SQL("COPY {0} ({1}) FROM STDIN").format(
                Identifier(schema, TABLE), SQL(", ").join(map(Identifier, COLUMNS))
            )
        ) as copy:
            for row in rows:
                copy.write_row(row.row())
    conn.commit()


@dataclass(frozen=True, slots=True)
class Difference:
    """One key (transaction id or round id) on which the report and the ledger disagree."""

    status: str
    """`mismatch`, `missing_in_ledger`, `missing_in_report`, `duplicate_in_report`, `unreadable`."""
    key: str
    line: int | None
    """The report's data line (1 = first row after the header), when the report has the key."""
    round_id: str
    player: str
    currency: str
    report_kind: str | None
    report_amount: Decimal | None
    ledger_kind: str | None
    ledger_amount: Decimal | None
    position: int | None
    """The ledger's log position of the transaction (per-transaction reports)."""
    detail: str


@dataclass(frozen=True, slots=True)
class Totals:
    currency: str
    bets: Decimal
    wins: Decimal
    refunds: Decimal
    commission: Decimal
    reported_ggr: Decimal | None = None
    """The report's own GGR, when it gives GGR without bets and wins."""

    @property
    def ggr(self) -> Decimal:
        if self.reported_ggr is not None:
            return self.reported_ggr
        return self.bets - self.wins - self.refunds

    @property
    def net(self) -> Decimal:
        """GGR after the provider's commission: the operator's P&L on these games."""
        return self.ggr - self.commission


@dataclass(frozen=True, slots=True)
class Comparison:
    granularity: Granularity
    provider: str
    start: datetime
    end: datetime
    report_rows: int
    counts: dict[str, int]
    report_totals: dict[str, Totals]
    ledger_totals: dict[str, Totals]
    differences: list[Difference]

    @property
    def matched(self) -> int:
        return self.counts.get("matched", 0)

    @property
    def compared(self) -> int:
        return sum(self.counts.values())

    @property
    def mismatch_rate(self) -> float:
        return (self.compared - self.matched) / self.compared if self.compared else 0.0


_NUMBER = r"'^\s*[-+]?[0-9]+(\.[0-9]+)?\s*$'"
_TIME = r"'^\s*[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"
_KINDS = """CASE lower(trim({0}))
    WHEN 'bet' THEN 'bet' WHEN 'debit' THEN 'bet' WHEN 'wager' THEN 'bet' WHEN 'stake' THEN 'bet'
    WHEN 'win' THEN 'win' WHEN 'credit' THEN 'win' WHEN 'payout' THEN 'win'
    WHEN 'result' THEN 'win' WHEN 'settle' THEN 'win'
    WHEN 'refund' THEN 'refund' WHEN 'rollback' THEN 'refund' WHEN 'cancel' THEN 'refund'
    WHEN 'void' THEN 'refund' WHEN 'cancelbet' THEN 'refund'
    WHEN 'win_rollback' THEN 'win_rollback' WHEN 'winrollback' THEN 'win_rollback'
    WHEN 'rollbackwin' THEN 'win_rollback' WHEN 'cancelwin' THEN 'win_rollback'
    WHEN 'award_rollback' THEN 'award_rollback' WHEN 'awardrollback' THEN 'award_rollback'
    WHEN 'promo' THEN 'promo' WHEN 'promotion' THEN 'promo' WHEN 'promo_payout' THEN 'promo'
    WHEN 'promowin' THEN 'promo' WHEN 'bonus' THEN 'promo' WHEN 'bonuswin' THEN 'promo'
    WHEN 'freespin' THEN 'promo' WHEN 'freespins' THEN 'promo' WHEN 'free_round' THEN 'promo'
    WHEN 'freebet' THEN 'promo' WHEN 'free_bet' THEN 'promo' WHEN 'reward' THEN 'promo'
    WHEN 'jackpot' THEN 'jackpot' WHEN 'jackpotwin' THEN 'jackpot' WHEN 'jackpot_win' THEN 'jackpot'
    WHEN 'adjustment' THEN 'adjustment' WHEN 'adjust' THEN 'adjustment'
    WHEN 'correction' THEN 'adjustment'
    END"""


def _col(report: Report, name: str) -> Composable | None:
    index = report.layout.columns.get(name)
    return None if index is None else Identifier(f"c{index}")


def _text(report: Report, name: str) -> Composable:
    col = _col(report, name)
    return SQL("''") if col is None else SQL("coalesce(trim({0}), '')").format(col)


def _upper(report: Report, name: str) -> Composable:
    return SQL("upper({0})").format(_text(report, name))


def _number(report: Report, name: str) -> Composable:
    col = _col(report, name)
    if col is None:
        return SQL("NULL::numeric")
    return SQL("CASE WHEN {0} ~ " + _NUMBER + " THEN abs(trim({0})::numeric) END").format(col)


def _time(report: Report) -> Composable:
    col = _col(report, "occurred_at")
    if col is None:
        return SQL("NULL::timestamptz")
    return SQL("CASE WHEN {0} ~ " + _TIME + " THEN trim({0})::timestamptz END").format(col)


def reconcile(
    conn: psycopg.Connection[Any],
    report: Report,
    *,
    provider: str,
    start: datetime | None = None,
    end: datetime | None = None,
    commission_rate: Decimal | None = None,
    schema: str = "public",
) -> Comparison:
    """Match `report` against the ledger's transactions of `provider` in `[start, end)`.

    Without a period, the report's own earliest and latest timestamps bound it. Runs in one
    transaction on `conn` that is rolled back (temporary tables only; nothing is written).
    """
    ledger = Identifier(schema, TABLE)
    width = len(report.layout.header)
    with (
        conn.transaction(force_rollback=True),
        conn.cursor(row_factory=tuple_row) as curs,
    ):
        curs.execute("SET LOCAL work_mem = '256MB'")
        curs.execute(
            SQL("CREATE TEMP TABLE report_raw ({0}) ON COMMIT DROP").format(
                SQL(", ").join(SQL("{0} text").format(Identifier(f"c{i}")) for i in range(width))
            )
        )
        with curs.copy("COPY report_raw FROM STDIN (FORMAT csv, HEADER true)") as copy:
            for chunk in report.chunks:
                copy.write(chunk)
        rows = _scalar(curs, SQL("SELECT count(*) FROM report_raw"))
        if report.layout.granularity is Granularity.TRANSACTION:
            _normalise_transactions(curs, report)
            _find_repeats(curs, TRANSACTION_KEY)
        else:
            _normalise_rounds(curs, report)
            _find_repeats(curs, ROUND_KEY)
        if start is None or end is None:
            bounds = curs.execute("SELECT min(occurred_at), max(occurred_at) FROM report")
            low, high = bounds.fetchone() or (None, None)
            if low is None or high is None:
                raise ReportError(
                    f"{report.source}: the report has no timestamps; give the period (--period)"
                )
            start = start or low
            end = end or high + timedelta(microseconds=1)
        params = {"provider": provider, "start": start, "end": end}
        curs.execute(
            SQL(
                "CREATE TEMP TABLE ledger ON COMMIT DROP AS SELECT * FROM {0} "
                "WHERE provider = %(provider)s AND ((occurred_at >= %(start)s "
                "AND occurred_at < %(end)s) OR {1} IN (SELECT key FROM report))"
            ).format(
                ledger,
                Identifier(
                    "tx_id" if report.layout.granularity is Granularity.TRANSACTION else "round_id"
                ),
            ),
            params,
        )
        if report.layout.granularity is Granularity.TRANSACTION:
            _match_win_rollbacks(curs)
            _join_transactions(curs)
        else:
            _join_rounds(curs, report)
        counts = {
            status: count
            for status, count in curs.execute(
                "SELECT status, count(*) FROM outcome GROUP BY status"
            ).fetchall()
        }
        report_totals = _totals(curs, "report", report, commission_rate)
        ledger_totals = _totals(curs, "ledger", report, commission_rate)
        differences = [
            _difference(row)
            for row in curs.execute(
                "SELECT status, key, line, round_id, player, currency, report_kind, "
                "report_amount, ledger_kind, ledger_amount, position, detail FROM outcome "
                "WHERE status <> 'matched' ORDER BY status, line NULLS LAST, key"
            ).fetchall()
        ]
    return Comparison(
        granularity=report.layout.granularity,
        provider=provider,
        start=start,
        end=end,
        report_rows=rows,
        counts=counts,
        report_totals=report_totals,
        ledger_totals=ledger_totals,
        differences=differences,
    )


def _scalar(curs: psycopg.Cursor[Any], query: SQL | Composed) -> int:
    row = curs.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _normalise(curs: psycopg.Cursor[Any], key: Composable, columns: dict[str, Composable]) -> None:
    """The report's lines as table `report`: its `key` (NULL when empty) and line number,
    then `columns` (name: the typed value read from the raw line)."""
    curs.execute(
        SQL(
            "CREATE TEMP TABLE report ON COMMIT DROP AS SELECT "
            "nullif({key}, '') AS key, line, {columns} "
            "FROM (SELECT *, row_number() OVER () AS line FROM report_raw) raw"
        ).format(
            key=key,
            columns=SQL(", ").join(
                SQL("{0} AS {1}").format(value, Identifier(name)) for name, value in columns.items()
            ),
        )
    )


def _normalise_transactions(curs: psycopg.Cursor[Any], report: Report) -> None:
    kind_col = _col(report, "type")
    assert kind_col is not None
    kind = SQL(_KINDS).format(kind_col)
    amount = SQL("CASE WHEN {0} = 'adjustment' THEN {1} ELSE {2} END").format(
        kind, _signed(report, "amount"), _number(report, "amount")
    )
    _normalise(
        curs,
        _text(report, "tx_id"),
        {
            "kind": kind,
            "raw_kind": _text(report, "type"),
            "amount": amount,
            "currency": _upper(report, "currency"),
            "round_id": _text(report, "round_id"),
            "player": _text(report, "player"),
            "occurred_at": _time(report),
            "commission": _number(report, "commission"),
        },
    )


def _signed(report: Report, name: str) -> Composable:
    col = _col(report, name)
    if col is None:
        return SQL("NULL::numeric")
    return SQL("CASE WHEN {0} ~ " + _NUMBER + " THEN trim({0})::numeric END").format(col)


ROUND_FIGURES = ("bets", "wins", "refunds", "ggr")


def _normalise_rounds(curs: psycopg.Cursor[Any], report: Report) -> None:
    round_id = _text(report, "round_id")
    _normalise(
        curs,
        round_id,
        {
            "round_id": round_id,
            "currency": _upper(report, "currency"),
            "player": _text(report, "player"),
            "bets": _number(report, "bets"),
            "wins": _number(report, "wins"),
            "refunds": _number(report, "refunds"),
            "ggr": _signed(report, "ggr"),
            "commission": _number(report, "commission"),
            "occurred_at": _time(report),
        },
    )


# Repeated keys are rare: find them with a hash aggregate instead of sorting the report.
# A per-transaction report is keyed by transaction id; a per-round one by round, currency
# and player (a round of bets in two currencies is two rows, not one sum).
TRANSACTION_KEY = ("key",)
ROUND_KEY = ("key", "currency", "player")


def _same(columns: Sequence[str]) -> str:
    return " AND ".join(f"d.{c} = report.{c}" for c in columns)


def _first_copies(columns: Sequence[str]) -> str:
    return (
        "SELECT * FROM report WHERE NOT EXISTS "
        f"(SELECT 1 FROM repeated d WHERE {_same(columns)} AND d.first <> report.line)"
    )


def _later_copies(columns: Sequence[str]) -> str:
    return (
        f"SELECT report.* FROM report JOIN repeated d ON {_same(columns)} "
        "AND d.first <> report.line"
    )


def _find_repeats(curs: psycopg.Cursor[Any], columns: Sequence[str]) -> None:
    listed = ", ".join(columns)
    curs.execute(
        f"CREATE TEMP TABLE repeated ON COMMIT DROP AS SELECT {listed}, min(line) AS first "
        f"FROM report WHERE key IS NOT NULL GROUP BY {listed} HAVING count(*) > 1"
    )
    curs.execute("ANALYZE report")


def _match_win_rollbacks(curs: psycopg.Cursor[Any]) -> None:
    """Read the report's rollbacks of wins and awards as the ledger does, and net out the
    ones it omits.

    A provider's `rollback` line names no kind of its own: the one under a transaction id
    the ledger booked as a `win_rollback` is that (its amount the payout taken back, a
    `wins` figure, not a refund); likewise an `award_rollback`. A report may also leave a
    rolled-back win (or award) and its rollback out, reporting only what stands: such a
    pair, equal in amount and both absent from the report, cancels out and is not compared.
    """
    curs.execute(
        "UPDATE report SET kind = l.kind FROM ledger l WHERE l.tx_id = report.key "
        "AND l.kind IN ('win_rollback', 'award_rollback') AND report.kind = 'refund'"
    )
    awards = ", ".join(f"'{kind}'" for kind in AWARDS)
    curs.execute(
        "DELETE FROM ledger WHERE tx_id IN (SELECT unnest(ARRAY[x.tx_id, w.tx_id]) "
        "FROM ledger x JOIN ledger w ON w.tx_id = x.reverses "
        "AND ((x.kind = 'win_rollback' AND w.kind = 'win') "
        f"OR (x.kind = 'award_rollback' AND w.kind IN ({awards}))) "
        "WHERE x.amount = abs(w.amount) "
        "AND NOT EXISTS (SELECT 1 FROM report r WHERE r.key IN (x.tx_id, w.tx_id)))"
    )


def _join_transactions(curs: psycopg.Cursor[Any]) -> None:
    curs.execute(
        "CREATE TEMP TABLE outcome ON COMMIT DROP AS "
        "SELECT CASE "
        "  WHEN r.key IS NULL AND r.line IS NOT NULL THEN 'unreadable' "
        "  WHEN r.line IS NULL THEN 'missing_in_report' "
        "  WHEN l.tx_id IS NULL THEN 'missing_in_ledger' "
        "  WHEN r.kind IS DISTINCT FROM l.kind OR r.amount IS DISTINCT FROM l.amount "
        "    OR (r.currency <> '' AND r.currency <> l.currency) THEN 'mismatch' "
        "  ELSE 'matched' END AS status, "
        "coalesce(r.key, l.tx_id, '') AS key, r.line, "
        "coalesce(nullif(r.round_id, ''), l.round_id, '') AS round_id, "
        "coalesce(nullif(r.player, ''), l.player, '') AS player, "
        "coalesce(nullif(r.currency, ''), l.currency, '') AS currency, "
        "coalesce(r.kind, r.raw_kind) AS report_kind, r.amount AS report_amount, "
        "l.kind AS ledger_kind, l.amount AS ledger_amount, l.position, "
        "concat_ws('; ', "
        "  CASE WHEN r.kind IS NULL AND r.line IS NOT NULL "
        "    THEN 'unknown type ' || quote_literal(r.raw_kind) END, "
        "  CASE WHEN r.amount IS NULL AND r.line IS NOT NULL THEN 'unreadable amount' END, "
        "  CASE WHEN r.currency <> '' AND l.currency IS NOT NULL AND r.currency <> l.currency "
        "    THEN 'currency ' || r.currency || ' vs ledger ' || l.currency END) AS detail "
        "FROM (" + _first_copies(TRANSACTION_KEY) + ") r "
        "FULL OUTER JOIN (SELECT * FROM ledger WHERE provider_tx) l ON l.tx_id = r.key "
        "UNION ALL "
        "SELECT 'duplicate_in_report', key, line, round_id, player, currency, kind, amount, "
        "NULL, NULL, NULL, 'transaction id repeated in the report' "
        "FROM (" + _later_copies(TRANSACTION_KEY) + ") r"
    )


def _join_rounds(curs: psycopg.Cursor[Any], report: Report) -> None:
    """Compare each figure the report has (bets, wins, refunds, GGR); absent ones are skipped.

    A report row is one round in one currency (and for one player, when the report has a
    player column); the ledger's rows are summed the same way, never across currencies.
    """
    present = [f for f in ROUND_FIGURES if f in report.layout.columns]
    ledger_figure = {
        "bets": "l.bets",
        "wins": "l.wins",
        "refunds": "l.refunds",
        "ggr": "(l.bets - l.wins - l.refunds)",
    }
    differs = " OR ".join(f"r.{f} IS DISTINCT FROM {ledger_figure[f]}" for f in present)
    details = ", ".join(
        f"CASE WHEN r.{f} IS DISTINCT FROM {ledger_figure[f]} THEN "
        f"'{f} ' || coalesce(r.{f}::text, '?') || ' vs ledger ' || {ledger_figure[f]} END"
        for f in present
    )
    report_ggr = (
        "r.ggr"
        if "bets" not in present
        else "r.bets - coalesce(r.wins, 0) - coalesce(r.refunds, 0)"
    )
    # The ledger's rounds are grouped as finely as the report can tell them apart: by
    # currency when it has a currency column, by player when it has a player column.
    by_currency = "currency" in report.layout.columns
    by_player = "player" in report.layout.columns
    group = ["round_id", *(["currency"] if by_currency else []), *(["player"] if by_player else [])]
    curs.execute(
        "CREATE TEMP TABLE ledger_rounds ON COMMIT DROP AS SELECT round_id, "
        "string_agg(DISTINCT currency, '/' ORDER BY currency) AS currency, "
        "CASE WHEN count(DISTINCT player) = 1 THEN min(player) ELSE '' END AS player, "
        "coalesce(sum(amount) FILTER (WHERE kind = 'bet'), 0) AS bets, "
        "coalesce(sum(amount) FILTER (WHERE kind = 'win'), 0) "
        "- coalesce(sum(amount) FILTER (WHERE kind = 'win_rollback'), 0) AS wins, "
        "coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunds "
        f"FROM ledger WHERE {_ROUND_ROWS} GROUP BY {', '.join(group)}"
    )
    on = "l.round_id = r.key" + "".join(f" AND l.{c} = r.{c}" for c in group[1:])
    # Without a currency column, a round the ledger booked in several currencies cannot
    # be compared: its sums would add euros to dollars.
    mixed = "l.currency LIKE '%/%'"
    curs.execute(
        SQL(
            "CREATE TEMP TABLE outcome ON COMMIT DROP AS "
            "SELECT CASE "
            "  WHEN r.key IS NULL AND r.line IS NOT NULL THEN 'unreadable' "
            "  WHEN r.line IS NULL THEN 'missing_in_report' "
            "  WHEN l.round_id IS NULL THEN 'missing_in_ledger' "
            "  WHEN " + differs + " OR " + mixed + " THEN 'mismatch' "
            "  ELSE 'matched' END AS status, "
            "coalesce(r.key, l.round_id, '') AS key, r.line, "
            "coalesce(r.key, l.round_id, '') AS round_id, "
            "coalesce(nullif(r.player, ''), l.player, '') AS player, "
            "coalesce(nullif(r.currency, ''), l.currency, '') AS currency, "
            "'round' AS report_kind, " + report_ggr + " AS report_amount, "
            "'round' AS ledger_kind, l.bets - l.wins - l.refunds AS ledger_amount, "
            "NULL::bigint AS position, "
            "CASE WHEN r.line IS NOT NULL AND l.round_id IS NOT NULL THEN concat_ws('; ', "
            + details
            + ", CASE WHEN "
            + mixed
            + " THEN 'the ledger has this round in ' || l.currency "
            "    || '; the report has no currency column to tell them apart' END) "
            "ELSE '' END AS detail "
            "FROM (" + _first_copies(ROUND_KEY) + ") r "
            "FULL OUTER JOIN ledger_rounds l ON " + on + " "
            "UNION ALL "
            "SELECT 'duplicate_in_report', r.key, r.line, r.round_id, r.player, r.currency, "
            "'round', " + report_ggr + ", NULL, NULL, NULL, 'round repeated in the report' "
            "FROM (" + _later_copies(ROUND_KEY) + ") r"
        )
    )


def _totals(
    curs: psycopg.Cursor[Any], side: str, report: Report, rate: Decimal | None
) -> dict[str, Totals]:
    if side == "ledger":
        query = SQL(
            "SELECT currency, "
            "coalesce(sum(amount) FILTER (WHERE kind = 'bet'), 0), "
            "coalesce(sum(amount) FILTER (WHERE kind = 'win'), 0) "
            "- coalesce(sum(amount) FILTER (WHERE kind = 'win_rollback'), 0), "
            "coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0), NULL::numeric "
            "FROM ledger GROUP BY currency ORDER BY currency"
        )
    elif report.layout.granularity is Granularity.TRANSACTION:
        query = SQL(
            "SELECT currency, "
            "coalesce(sum(amount) FILTER (WHERE kind = 'bet'), 0), "
            "coalesce(sum(amount) FILTER (WHERE kind = 'win'), 0) "
            "- coalesce(sum(amount) FILTER (WHERE kind = 'win_rollback'), 0), "
            "coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0), sum(commission) "
            "FROM report GROUP BY currency ORDER BY currency"
        )
    else:
        query = SQL(
            "SELECT currency, coalesce(sum(bets), 0), coalesce(sum(wins), 0), "
            "coalesce(sum(refunds), 0), sum(commission), sum(ggr) FROM report "
            "GROUP BY currency ORDER BY currency"
        )
    only_ggr = side == "report" and "bets" not in report.layout.columns
    totals: dict[str, Totals] = {}
    for currency, bets, wins, refunds, commission, *ggr in curs.execute(query).fetchall():
        reported = ggr[0] if only_ggr and ggr else None
        total = Totals(currency, bets, wins, refunds, Decimal(0), reported)
        if commission is None:
            commission = _commission(total.ggr, rate, currency)
        totals[currency] = Totals(currency, bets, wins, refunds, commission, reported)
    return totals


def _commission(ggr: Decimal, rate: Decimal | None, currency: str) -> Decimal:
    if rate is None:
        return Decimal(0)
    try:
        unit = quantum(currency)
    except MoneyError:
        unit = Decimal("0.01")
    return (ggr * rate).quantize(unit, rounding=ROUND_HALF_EVEN)


def _difference(row: Sequence[Any]) -> Difference:
    status, key, line, round_id, player, currency, rk, ra, lk, la, position, detail = row
    if not detail and status == "mismatch":
        detail = f"{rk} {ra} vs ledger {lk} {la}"
    elif not detail and status == "missing_in_ledger":
        detail = "in the report, not in the ledger"
    elif not detail and status == "missing_in_report":
        detail = "in the ledger, not in the report"
    return Difference(
        status=status,
        key=key,
        line=line,
        round_id=round_id,
        player=player,
        currency=currency,
        report_kind=rk,
        report_amount=ra,
        ledger_kind=lk,
        ledger_amount=la,
        position=position,
        detail=detail or "",
    )
