"""`livebridge reconcile <report> --provider ID`: a provider's report against the ledger.

Reads the report (CSV or JSON, per transaction or per round), matches it in PostgreSQL
against the `reconcile` view (kept by `ReconcileProjection`, which the bridge runs with
the other views), prints matched rows, differences, per-currency totals (bets, wins,
refunds, GGR, commission, net) and the mismatch rate, and records the run and every
difference in the audit queue (`Audit` application, persistence from the environment
like the ledger's). Exit status: 0 when everything matched, 1 when there are
differences, 2 when the report could not be read or the audit queue has no store.

Database: `--database-url`, else `LIVEBRIDGE_DATABASE_URL`, else the local default; the
view's schema is `LIVEBRIDGE_VIEWS_SCHEMA` (default `public`). The audit queue is written
to the ledger's JetStream (`LIVEBRIDGE_NATS_URL` or `NATS_URL`, `NATS_STREAM_PREFIX`, or
the running bridge's), or another persistent `PERSISTENCE_MODULE`; without one the command
refuses to run rather than record the differences in memory and lose them, unless
`--no-audit` says that nothing is to be recorded.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from collections.abc import Mapping
from decimal import Decimal
from decimal import InvalidOperation
from functools import partial
from pathlib import Path

import msgspec
import psycopg

from projections.export.commands import parse_time
from projections.reconcile.postgres import Comparison
from projections.reconcile.postgres import reconcile
from projections.reconcile.report import ReportError
from projections.reconcile.report import open_report

DEFAULT_DATABASE_URL = "postgresql://127.0.0.1:5432/postgres"
SHOWN = 20


def arguments(
    parser: argparse.ArgumentParser, env: Mapping[str, str]
) -> Callable[[argparse.Namespace], int]:
    parser.add_argument("report", type=Path, help="the report file, .csv or .json")
    parser.add_argument("--provider", required=True, help="the provider id, as in the ledger")
    parser.add_argument(
        "--period",
        nargs=2,
        metavar=("FROM", "TO"),
        help="ISO 8601 times, FROM inclusive (default: the report's own period or timestamps)",
    )
    parser.add_argument(
        "--commission-rate",
        type=Decimal,
        default=None,
        help="share of GGR the provider charges, when the report has no commission column",
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--no-audit", action="store_true", help="do not record the differences (dry run)"
    )
    return partial(run_reconcile, env=env)


IN_MEMORY = ("", "eventsourcing.popo")
"""Persistence modules that keep nothing once the command exits."""


def audit_env(env: Mapping[str, str]) -> dict[str, str] | None:
    """The audit queue's settings (the ledger's), or None when nothing would persist."""
    return None if env.get("PERSISTENCE_MODULE", "") in IN_MEMORY else dict(env)


def run_reconcile(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    audit_settings = None if args.no_audit else audit_env(env)
    if not args.no_audit and audit_settings is None:
        print(
            "livebridge reconcile: no audit queue to record the differences in: set "
            "LIVEBRIDGE_NATS_URL (or NATS_URL, with NATS_STREAM_PREFIX) to the ledger's "
            "JetStream, or run this beside a running bridge (livebridge run); pass --no-audit "
            "to reconcile without recording anything",
            file=sys.stderr,
        )
        return 2
    url = args.database_url or env.get("LIVEBRIDGE_DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        report = open_report(args.report)
        start = parse_time(args.period[0]) if args.period else report.start
        end = parse_time(args.period[1]) if args.period else report.end
        with psycopg.connect(url) as conn:
            comparison = reconcile(
                conn,
                report,
                provider=args.provider,
                start=start,
                end=end,
                commission_rate=args.commission_rate,
                schema=env.get("LIVEBRIDGE_VIEWS_SCHEMA", "public"),
            )
    except (
        ReportError,
        argparse.ArgumentTypeError,
        InvalidOperation,
        OSError,
        psycopg.Error,
    ) as exc:
        print(f"livebridge reconcile: {exc}", file=sys.stderr)
        return 2
    run_id = None
    if audit_settings is not None:  # clean runs too: the reconcile mismatch rate counts them
        from projections.reconcile.audit import Audit

        audit = Audit(audit_settings)
        try:
            run_id = audit.record_run(comparison, str(args.report))
        finally:
            audit.close()
    if args.json:
        print(msgspec.json.encode(summary(comparison, run_id)).decode())
    else:
        print(render(comparison, run_id))
    return 1 if comparison.differences else 0


def summary(comparison: Comparison, run_id: object = None) -> dict[str, object]:
    return {
        "provider": comparison.provider,
        "granularity": str(comparison.granularity),
        "from": comparison.start.isoformat(),
        "to": comparison.end.isoformat(),
        "report_rows": comparison.report_rows,
        "counts": comparison.counts,
        "mismatch_rate": comparison.mismatch_rate,
        "totals": {
            side: {
                c: {
                    "bets": str(t.bets),
                    "wins": str(t.wins),
                    "refunds": str(t.refunds),
                    "ggr": str(t.ggr),
                    "commission": str(t.commission),
                    "net": str(t.net),
                }
                for c, t in totals.items()
            }
            for side, totals in (
                ("report", comparison.report_totals),
                ("ledger", comparison.ledger_totals),
            )
        },
        "differences": [
            {
                "status": d.status,
                "key": d.key,
                "line": d.line,
                "round_id": d.round_id,
                "player": d.player,
                "currency": d.currency,
                "report_amount": None if d.report_amount is None else str(d.report_amount),
                "ledger_amount": None if d.ledger_amount is None else str(d.ledger_amount),
                "position": d.position,
                "detail": d.detail,
            }
            for d in comparison.differences
        ],
        "audit_run": None if run_id is None else str(run_id),
    }


def render(comparison: Comparison, run_id: object = None) -> str:
    c = comparison
    lines = [
        f"reconcile {c.provider} per {c.granularity}, {c.start.isoformat()} .. {c.end.isoformat()}:"
        f" {c.report_rows} report rows",
        "  " + ", ".join(f"{k} {v}" for k, v in sorted(c.counts.items())),
        f"  mismatch rate {c.mismatch_rate:.4%}",
    ]
    for side, totals in (("report", c.report_totals), ("ledger", c.ledger_totals)):
        for currency, t in totals.items():
            lines.append(
                f"  {side:6} {currency}: bets {t.bets} wins {t.wins} refunds {t.refunds} "
                f"GGR {t.ggr} commission {t.commission} net {t.net}"
            )
    for d in c.differences[:SHOWN]:
        where = f"line {d.line}" if d.line else f"log position {d.position}"
        lines.append(f"  {d.status:20} {d.key} ({where}): {d.detail}")
    if len(c.differences) > SHOWN:
        lines.append(f"  ... and {len(c.differences) - SHOWN} more (use --json for all)")
    if run_id is not None:
        lines.append(f"  recorded in the audit queue as run {run_id}")
    return "\n".join(lines)
