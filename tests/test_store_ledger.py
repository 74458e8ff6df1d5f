"""The ledger's totals summed by the database (issue 16, cause 5) and read in pages, on every
store backend: exact to the last digit whatever the amounts, settled rows at their settled
amount, old stores upgraded in place, and each analyst's share on the team store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from generect_excel.ledger import Settlement
from generect_excel.store import StoreBackend
from generect_excel.store.records import _micros
from store_backends import Harness
from test_store import NOW, make_charge, make_entry, make_unknown, unknown_charge

# Amounts as Decimal writes them: whole micro-dollars, and some that are not (seven decimals,
# trailing zeros past the sixth, an exponent): every total must stay exact with all of them.
AMOUNTS = ("0.02", "0.004", "1.5", "10", "123456789.123456", "0.0000001", "0.020000000", "1E+1")


def save(store: StoreBackend, amounts: tuple[str, ...], **charge: object) -> Decimal:
    for n, amount in enumerate(amounts):
        key = f"k{n}-{amount}"
        store.save(make_entry(key), make_charge(key, amount=amount, **charge))  # type: ignore[arg-type]
    return sum((Decimal(a) for a in amounts), Decimal(0))


def test_totals_are_exact_with_any_amount(store_backend: Harness) -> None:
    store = store_backend.open()
    whole = save(store, AMOUNTS[:5])
    assert store.total_charged() == whole == Decimal("123456800.647456")
    # A row without whole micro-dollars: that total is summed from the text, still exact.
    inexact = save(store, AMOUNTS[5:6], time=NOW + timedelta(hours=1))
    assert store.total_charged() == whole + inexact
    assert store.total_charged(NOW + timedelta(minutes=30)) == Decimal("0.0000001")
    assert store.total_charged(None, NOW + timedelta(minutes=30)) == whole  # the fast path
    micros = dict(store_backend.sql("SELECT amount_charged, amount_micros FROM ledger"))
    assert micros["0.02"] == 20_000 and micros[str(Decimal("0.0000001"))] is None


def test_settled_rows_count_at_their_settled_amount(store_backend: Harness) -> None:
    store = store_backend.open()
    paid = save(store, ("0.10", "0.20"))
    first, second = make_unknown("u1"), make_unknown("u2")
    for unknown in (first, second):
        store.record_unknown(unknown, unknown_charge(unknown))
    assert store.total_charged() == paid + Decimal("1.00")  # two worst cases of $0.50
    assert store.unknown_total() == (Decimal("1.00"), 2)
    store.settle([Settlement(first.charge_id, Decimal("0.12"), "t1", NOW, NOW)])
    assert store.total_charged() == paid + Decimal("0.62")
    assert store.total_charged(NOW, NOW + timedelta(seconds=1)) == paid + Decimal("0.62")
    assert store.unknown_total() == (Decimal("0.50"), 1)
    # Settled at an amount without whole micro-dollars: still exact.
    store.settle([Settlement(second.charge_id, Decimal("0.0000005"), "t2", NOW, NOW)])
    assert store.total_charged() == paid + Decimal("0.1200005")
    assert store.unknown_total() == (Decimal(0), 0)


def test_an_older_store_is_upgraded_with_exact_micro_dollars(store_backend: Harness) -> None:
    store = store_backend.open()
    total = save(store, AMOUNTS)
    unknown = make_unknown("u")
    store.record_unknown(unknown, unknown_charge(unknown))
    store.settle([Settlement(unknown.charge_id, Decimal("0.30"), "t", NOW, NOW)])
    store.close()
    # The store as the version before this one left it: no micro-dollars, no indexes.
    for index in ("ledger_spend", "ledger_unknown", "ledger_analyst_spend", "ledger_pages"):
        store_backend.sql(f"DROP INDEX IF EXISTS {index}")
    store_backend.sql("ALTER TABLE ledger DROP COLUMN amount_micros")
    store_backend.sql("ALTER TABLE settlements DROP COLUMN amount_micros")
    store_backend.sql("DELETE FROM _migrations WHERE name LIKE '%_ledger_amount_micros'")
    upgraded = store_backend.open()
    rows = store_backend.sql("SELECT amount_charged, amount_micros FROM ledger")
    assert len(rows) == len(AMOUNTS) + 1
    for text, micros in rows:
        # Filled where the text is plainly whole micro-dollars, else left to the text sum;
        # never a different number.
        assert micros in (None, _micros(Decimal(text)))
    assert {t: m for t, m in rows if m is not None}.keys() >= {"0.02", "1.5", "123456789.123456"}
    assert store_backend.sql("SELECT amount_micros FROM settlements") == [(300_000,)]
    assert upgraded.total_charged() == total + Decimal("0.30")


def test_the_ledger_is_read_in_pages_in_time_order(store_backend: Harness) -> None:
    store = store_backend.open()
    for n in range(7):
        when = NOW + timedelta(minutes=n // 3)  # three rows share each minute
        store.save(make_entry(f"k{n}"), make_charge(f"k{n}", amount="0.02", time=when))
    store.save(make_entry("late"), make_charge("late", amount="1", time=NOW - timedelta(days=1)))
    everything = store.charges()
    assert [e.cache_key for e in everything][0] == "late"
    for page in (1, 2, 3, 100):
        paged = list(store.iter_charges(page=page))
        assert paged == everything
    since, until = NOW, NOW + timedelta(minutes=2)
    assert list(store.iter_charges(since, until, page=2)) == store.charges(since, until)
    assert [e.cache_key for e in store.iter_charges(since, until)] == [f"k{n}" for n in range(6)]
    assert list(store.iter_charges(account="someone else")) == []


def test_each_analyst_has_a_share_of_the_team_store(postgres_url: str, tmp_path: Path) -> None:
    from generect_excel.store.postgres import PostgresStore

    ana = PostgresStore(postgres_url, analyst="ana", home=tmp_path / "ana")
    ben = PostgresStore(postgres_url, analyst="ben", home=tmp_path / "ben")
    save(ana, ("0.10", "0.0000001"))
    save(ben, ("2.00",))
    ben.save(make_entry("test"), replace(make_charge("test", amount="5"), test_mode=True))
    assert ana.total_charged() == Decimal("2.1000001")
    assert ana.total_charged(analyst="ana") == Decimal("0.1000001")
    assert ana.total_charged(analyst="ben", include_test_mode=True) == Decimal("7.00")
    assert ben.spend_by_analyst() == {"ana": Decimal("0.1000001"), "ben": Decimal("2.00")}
    assert ben.spend_by_analyst(NOW + timedelta(days=1)) == {}
    assert [e.cache_key for e in ana.iter_charges(analyst="ben")] == ["k0-2.00", "test"]
    assert len(ana.charges(analyst="ana")) == 2
    for store in (ana, ben):
        store.close()


def test_the_sqlite_store_is_one_analysts_own(tmp_path: Path) -> None:
    from generect_excel.store import Store

    store = Store(tmp_path / "store.sqlite3")
    assert store.analyst is None and store.spend_by_analyst() == {}
    save(store, ("0.10", "0.25"))
    assert store.spend_by_analyst() == {"": Decimal("0.35")}
