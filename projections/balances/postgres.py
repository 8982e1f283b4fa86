"""The balances view in PostgreSQL: the only SQL of this read model.

Tables: `wallets` (one row per wallet: player, currency, balance, held, position),
`holds` (the open holds, so a release that names only the bet knows what to give back)
and `history` (one row per wallet event, keyed by log position: the transaction history).
A run of movements is folded in order: holds placed and ended within the run cancel out
in memory, holds ended from earlier runs are deleted from `holds` and their amounts
subtracted, and the net change per wallet is one `UPDATE ... FROM unnest(...)`. Sums
commute, so a batch of thousands of events gives the same rows as one event at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL
from psycopg.sql import Composed

from projections.balances.view import BalancesView
from projections.balances.view import CurrencyBalance
from projections.balances.view import HistoryEntry
from projections.balances.view import HistoryLine
from projections.balances.view import HoldEnded
from projections.balances.view import HoldPlaced
from projections.balances.view import Movement
from projections.balances.view import WalletBalances
from projections.balances.view import WalletMoved
from projections.balances.view import WalletOpened
from projections.pgview import PostgresView
from projections.pgview import arrays
from projections.pgview import create_index


class _Net:
    __slots__ = ("balance", "held", "position")

    def __init__(self, position: int) -> None:
        self.balance = Decimal(0)
        self.held = Decimal(0)
        self.position = position


class PostgresBalancesView(PostgresView[Movement], BalancesView):
    table_suffixes = ("wallets", "holds", "history")

    def create_statements(self) -> list[Composed]:
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "wallet_id text PRIMARY KEY, "
                "player text NOT NULL, "
                "currency text NOT NULL, "
                "balance numeric NOT NULL, "
                "held numeric NOT NULL, "
                "position bigint NOT NULL)"
            ).format(self.table("wallets")),
            create_index(self.index("wallets_player"), self.table("wallets"), "player"),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "wallet_id text NOT NULL, bet text NOT NULL, amount numeric NOT NULL, "
                "position bigint NOT NULL, PRIMARY KEY (wallet_id, bet))"
            ).format(self.table("holds")),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "position bigint PRIMARY KEY, wallet_id text NOT NULL, kind text NOT NULL, "
                "amount numeric NOT NULL, balance_change numeric NOT NULL, "
                "reference text NOT NULL, account text NOT NULL, at timestamptz NOT NULL)"
            ).format(self.table("history")),
            create_index(
                self.index("history_wallet"), self.table("history"), "wallet_id, position"
            ),
            create_index(self.index("history_reference"), self.table("history"), "reference"),
        ]

    def write(self, curs: Cursor[DictRow], changes: Sequence[Movement]) -> None:
        opened: list[WalletOpened] = []
        net: dict[str, _Net] = {}
        new_holds: dict[tuple[str, str], HoldPlaced] = {}
        old_holds_ended: list[HoldEnded] = []
        lines: list[HistoryEntry] = []

        def touch(wallet_id: str, position: int) -> _Net:
            entry = net.get(wallet_id)
            if entry is None:
                entry = net[wallet_id] = _Net(position)
            entry.position = max(entry.position, position)
            return entry

        for change in changes:
            if isinstance(change, WalletOpened):
                opened.append(change)
            elif isinstance(change, WalletMoved):
                touch(change.wallet_id, change.position).balance += change.balance
            elif isinstance(change, HoldPlaced):
                new_holds[(change.wallet_id, change.bet)] = change
                touch(change.wallet_id, change.position).held += change.amount
            elif isinstance(change, HistoryEntry):
                lines.append(change)
            else:
                placed = new_holds.pop((change.wallet_id, change.bet), None)
                entry = touch(change.wallet_id, change.position)
                if placed is not None:
                    entry.held -= placed.amount
                else:
                    old_holds_ended.append(change)

        if opened:
            curs.execute(
                self.statement(
                    "opened",
                    lambda: SQL(
                        "INSERT INTO {0} (wallet_id, player, currency, balance, held, position) "
                        "SELECT w, p, c, 0, 0, n FROM unnest(%s::text[], %s::text[], %s::text[], "
                        "%s::bigint[]) AS u(w, p, c, n)"
                    ).format(self.table("wallets")),
                ),
                arrays(opened, "wallet_id", "player", "currency", "position"),
            )
        if old_holds_ended:
            released = curs.execute(
                self.statement(
                    "release",
                    lambda: SQL(
                        "DELETE FROM {0} h USING unnest(%s::text[], %s::text[]) AS u(w, b) "
                        "WHERE h.wallet_id = u.w AND h.bet = u.b RETURNING h.wallet_id, h.amount"
                    ).format(self.table("holds")),
                ),
                arrays(old_holds_ended, "wallet_id", "bet"),
            ).fetchall()
            for row in released:
                net[row["wallet_id"]].held -= row["amount"]
        if new_holds:
            holds = list(new_holds.values())
            curs.execute(
                self.statement(
                    "holds",
                    lambda: SQL(
                        "INSERT INTO {0} (wallet_id, bet, amount, position) "
                        "SELECT * FROM unnest(%s::text[], %s::text[], %s::numeric[], %s::bigint[])"
                    ).format(self.table("holds")),
                ),
                arrays(holds, "wallet_id", "bet", "amount", "position"),
            )
        if lines:
            curs.execute(
                self.statement(
                    "history",
                    lambda: SQL(
                        "INSERT INTO {0} (position, wallet_id, kind, amount, balance_change, "
                        "reference, account, at) SELECT * FROM unnest(%s::bigint[], %s::text[], "
                        "%s::text[], %s::numeric[], %s::numeric[], %s::text[], %s::text[], "
                        "%s::timestamptz[])"
                    ).format(self.table("history")),
                ),
                arrays(
                    lines,
                    "position",
                    "wallet_id",
                    "kind",
                    "amount",
                    "balance_change",
                    "reference",
                    "account",
                    "at",
                ),
            )
        if net:
            ids = list(net)
            curs.execute(
                self.statement(
                    "net",
                    lambda: SQL(
                        "UPDATE {0} AS t SET balance = t.balance + u.b, held = t.held + u.h, "
                        "position = GREATEST(t.position, u.n) "
                        "FROM unnest(%s::text[], %s::numeric[], %s::numeric[], %s::bigint[]) "
                        "AS u(w, b, h, n) WHERE t.wallet_id = u.w"
                    ).format(self.table("wallets")),
                ),
                [ids, *arrays([net[i] for i in ids], "balance", "held", "position")],
            )

    def wallet(self, player: str, application_name: str) -> WalletBalances | None:
        # One snapshot for the rows and the tracking row: under READ COMMITTED a batch
        # committed between the two reads would report a position the rows do not show.
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(force_rollback=True),
            conn.cursor() as curs,
        ):
            curs.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            rows = curs.execute(
                SQL(
                    "SELECT currency, balance, held, position FROM {0} "
                    "WHERE player = %s ORDER BY currency"
                ).format(self.table("wallets")),
                (player,),
            ).fetchall()
            position = self._max_tracking_id(application_name, curs)
        if not rows:
            return None
        return WalletBalances(
            player=player,
            balances=tuple(
                CurrencyBalance(
                    currency=r["currency"],
                    balance=r["balance"],
                    held=r["held"],
                    position=r["position"],
                )
                for r in rows
            ),
            position=position or 0,
        )

    def history(
        self, player: str, *, currency: str = "", before: int = 0, limit: int = 50
    ) -> list[HistoryLine]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            rows = curs.execute(
                SQL(
                    "SELECT w.currency, h.position, h.kind, h.amount, h.balance_change, "
                    "h.reference, h.account, h.at FROM {0} w JOIN {1} h USING (wallet_id) "
                    "WHERE w.player = %s AND (%s = '' OR w.currency = %s) "
                    "AND (%s = 0 OR h.position < %s) ORDER BY h.position DESC LIMIT %s"
                ).format(self.table("wallets"), self.table("history")),
                (player, currency, currency, before, before, limit),
            ).fetchall()
        return [HistoryLine(**row) for row in rows]

    def position_of(self, reference: str) -> int | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            row = curs.execute(
                SQL("SELECT min(position) AS position FROM {0} WHERE reference = %s").format(
                    self.table("history")
                ),
                (reference,),
            ).fetchone()
        return None if row is None else row["position"]
