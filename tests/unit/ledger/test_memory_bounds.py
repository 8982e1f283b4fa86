"""The ledger's memory is bounded by what it costs: each bound's size per entry is measured
here (tracemalloc), so the budget `livebridge run` derives its bounds from holds."""

from __future__ import annotations

from uuid import uuid4

from services.ledger import book
from services.ledger.domain import SETTLED_STAKES_KEPT
from services.ledger.domain import Bet
from services.ledger.domain import TxRecord
from services.ledger.domain import Wallet
from services.ledger.domain import bet_uuid
from services.ledger.domain import book_uuid
from services.ledger.domain import round_uuid
from services.ledger.domain import wallet_id
from services.ledger.repository import SizedCache
from services.ledger.repository import approx_size
from services.ledger.rounds import RoundBook
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import popo_ledger
from tests.unit.ledger.support.memory import measured_bytes


def a_busy_round_book(bets: int) -> RoundBook:
    round_book = RoundBook(provider="evo", round_id="r-busy")
    for position in range(1, bets + 1):
        round_book.book_bet(position, uuid4().hex)
    return round_book


def test_an_aggregates_weight_is_within_a_factor_of_what_it_holds() -> None:
    ledger = popo_ledger()
    funded(ledger, "p1", "1000")
    ledger.record_event(opened("r0"))
    for n in range(SETTLED_STAKES_KEPT + 10):  # as many settled bets as a wallet remembers
        ledger.execute(debit(f"s{n}", "1.00", round_id="r0"))
        ledger.execute(credit(f"c{n}", "0.00", round_id="r0"))
    ledger.record_event(opened())
    for n in range(40):  # forty open holds: a busy player
        ledger.execute(debit(f"t{n}", "1.00"))
    wallet = ledger.find(Wallet, wallet_id("p1", "EUR"))
    assert wallet is not None
    assert (len(wallet.hold_times), len(wallet.settled_times)) == (40, SETTLED_STAKES_KEPT)
    for aggregate in (wallet, a_busy_round_book(1000), a_busy_round_book(3)):
        assert aggregate is not None
        measured = measured_bytes(aggregate)
        assert 0.8 * measured <= approx_size(aggregate) <= 2.5 * measured, (
            type(aggregate).__name__,
            measured,
            approx_size(aggregate),
        )


def test_the_sized_cache_keeps_its_bytes_under_the_bound_dropping_the_least_used() -> None:
    cache = SizedCache(max_bytes=1000, size_of=lambda value: value)
    keys = [uuid4() for _ in range(5)]
    for key in keys[:3]:
        cache.put(key, 300)
    cache.get(keys[0])  # used: the second is now the least recently used
    cache.put(keys[3], 300)
    assert cache.bytes == 900 and len(cache) == 3
    assert cache.get(keys[0]) == 300
    try:
        cache.get(keys[1])
        raise AssertionError("the least recently used entry stayed")
    except KeyError:
        pass
    cache.put(keys[4], 5000)  # larger than the whole bound: not kept
    assert cache.bytes == 900
    cache.put(keys[0], 100)  # a new version of an entry is weighed again
    assert cache.bytes == 700


def test_bets_and_transaction_records_never_enter_the_aggregate_cache() -> None:
    ledger = popo_ledger(LEDGER_AGGREGATE_CACHE_BYTES=str(2**20))
    funded(ledger, "p1", "100")
    ledger.record_event(opened())
    ledger.execute(debit("t1", "10.00", bet_id="b1"))
    ledger.execute(credit("c1", "0", bet_id="b1"))
    ledger.balance("p1", "EUR")
    cache = ledger.repository.cache
    assert isinstance(cache, SizedCache)
    kinds = {type(cache.get(key)) for key in list(cache._items)}
    assert Wallet in kinds
    assert not kinds & {Bet, TxRecord}
    assert 0 < cache.bytes <= 2**20


def test_the_book_forgets_resolved_bets_and_remembers_at_most_its_bound() -> None:
    ledger = popo_ledger(LEDGER_REMEMBERED_BETS="5")
    funded(ledger, "p1", "1000")
    ledger.record_event(opened())
    for n in range(12):
        ledger.execute(debit(f"t{n}", "1.00", bet_id=f"b{n}"))
    ledger.drain_round_book()
    assert len(ledger.round_book.placed_bets) == len(ledger.round_book.booked_bets) == 5
    assert bet_uuid("evo", "b11") in ledger.round_book.placed_bets  # the newest are kept

    ledger.execute(credit("c11", "0", bet_id="b11"))
    ledger.drain_round_book()

    assert bet_uuid("evo", "b11") not in ledger.round_book.placed_bets
    assert bet_uuid("evo", "b11") not in ledger.round_book.booked_bets


def test_a_remembered_bet_costs_at_most_its_measured_size() -> None:
    ledger = popo_ledger()
    funded(ledger, "p1", "100000")
    ledger.record_event(opened())
    picks = (("roulette_straight", "17"), ("roulette_red", "red"), ("roulette_dozen", "2"))
    for n in range(300):
        ledger.execute(debit(f"t{n}", "1.00", bet_id=f"bet-{n:06d}", picks=picks))
    ledger.drain_round_book()
    remembered = (ledger.round_book.placed_bets, ledger.round_book.booked_bets)
    per_bet = measured_bytes(remembered) / len(ledger.round_book.placed_bets)
    assert 500 < per_bet <= book.PLACED_BET_BYTES, per_bet


def test_a_done_rounds_round_and_book_leave_the_cache_and_an_open_ones_stay() -> None:
    ledger = popo_ledger()
    funded(ledger, "p1", "100")
    for round_id in ("r-done", "r-open"):
        ledger.record_event(opened(round_id, provider="pp"))
        ledger.execute(debit(f"t-{round_id}", "1.00", round_id=round_id, provider="pp"))
        ledger.record_event(closed(round_id, provider="pp"))
    ledger.record_event(declared({"number": "17"}, round_id="r-done", provider="pp"))
    ledger.drain_round_book()  # the bridge settles r-done's one bet from its result

    assert not ledger.repository.holds(book_uuid("pp", "r-done"))
    assert not ledger.repository.holds(round_uuid("pp", "r-done"))
    assert ledger.repository.holds(round_uuid("pp", "r-open"))
    assert ledger.round_state("pp", "r-done").bets[0].status == "SETTLED"  # read back
