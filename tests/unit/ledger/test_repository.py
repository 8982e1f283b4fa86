"""The ledger's repository keeps what this process saved, and never goes back a version."""

from __future__ import annotations

from copy import deepcopy
from decimal import Decimal
from typing import Any

from services.ledger.application import Ledger
from services.ledger.domain import Wallet
from services.ledger.domain import wallet_id
from services.ledger.repository import copy_aggregate
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import p1_funded

D = Decimal


def cached(ledger: Ledger, player: str) -> Any:
    cache = ledger.repository.cache
    assert cache is not None
    return cache.get(wallet_id(player, "EUR"))


def reads_of(ledger: Ledger) -> list[Any]:
    reads: list[Any] = []
    select = ledger.recorder.select_events

    def counting(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return select(*args, **kwargs)

    ledger.recorder.select_events = counting  # type: ignore[method-assign]
    return reads


def test_a_saved_wallet_is_the_cached_one_and_the_next_bet_does_not_read_it() -> None:
    ledger = p1_funded()
    ledger.balance("p1", "EUR")  # first read: the wallet enters the cache
    reads = reads_of(ledger)

    reply = ledger.execute(debit("t1", "10.00"))

    assert cached(ledger, "p1").available == D("90.00") == reply.available
    wallet_reads = [a for a in reads if a and a[0] == wallet_id("p1", "EUR")]
    assert wallet_reads == []


def test_an_older_save_never_replaces_a_newer_cached_wallet() -> None:
    ledger = p1_funded()
    old = ledger.find(Wallet, wallet_id("p1", "EUR"))
    assert old is not None
    ledger.execute(debit("t1", "10.00"))
    newer = cached(ledger, "p1").version

    ledger.repository.keep([old])

    assert cached(ledger, "p1").version == newer > old.version


def test_a_catch_up_replaces_the_cached_wallet_and_leaves_the_one_a_reader_holds() -> None:
    ledger = p1_funded()
    ledger.balance("p1", "EUR")
    held = cached(ledger, "p1")
    snapshot = deepcopy(held.__dict__)
    other = ledger.find(Wallet, wallet_id("p1", "EUR"))
    assert other is not None
    other.deposit("trn_side", D("5.00"), "cashier")
    ledger.events.put(other.collect_events())  # written around the cache, as another process

    assert ledger.balance("p1", "EUR").available == D("105.00")
    assert cached(ledger, "p1") is not held
    assert held.__dict__ == snapshot


def test_a_trusted_read_takes_the_cached_wallet_as_it_is() -> None:
    ledger = p1_funded()
    ledger.balance("p1", "EUR")
    other = ledger.find(Wallet, wallet_id("p1", "EUR"))
    assert other is not None
    other.deposit("trn_side", D("5.00"), "cashier")
    ledger.events.put(other.collect_events())

    trusted: Wallet = ledger.repository.get(wallet_id("p1", "EUR"), trusted=True)
    fresh: Wallet = ledger.repository.get(wallet_id("p1", "EUR"))

    assert (trusted.available, fresh.available) == (D("100.00"), D("105.00"))


def test_a_copied_wallet_changes_apart_from_the_cached_one() -> None:
    ledger = p1_funded()
    ledger.execute(debit("t1", "10.00"))
    original = cached(ledger, "p1")
    before = deepcopy(vars(original))

    copy = copy_aggregate(original)
    copy.hold("another-bet", D("5.00"), "another-round")
    copy.collect_events()

    assert vars(original) == before
    assert copy.available == D("85.00") and original.available == D("90.00")


def test_a_copied_wallets_tallies_change_apart_from_the_cached_ones() -> None:
    ledger = p1_funded()
    ledger.execute(debit("t1", "10.00"))
    original = cached(ledger, "p1")
    before = deepcopy(original.tallies)

    copy = copy_aggregate(original)
    copy.hold("another-bet", D("5.00"), "another-round")  # counted in today's stakes

    assert original.tallies == before and copy.tallies != before


def test_a_copy_deep_copies_containers_of_containers() -> None:
    nested = Wallet(player="p1", currency="EUR")
    vars(nested)["extra"] = {"k": {"inner": ["x"]}}

    copy = copy_aggregate(nested)
    vars(copy)["extra"]["k"]["inner"].append("y")

    assert vars(nested)["extra"] == {"k": {"inner": ["x"]}}
    assert copy.id == nested.id and copy.version == nested.version
