"""The store on real SQLite files: schema, one-transaction writes, claims, locks, the journal."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from generect_excel import store as store_module
from generect_excel.errors import BudgetError, StoreError
from generect_excel.ledger import Charge, Origin
from generect_excel.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    CacheEntry,
    Found,
    Store,
    StoreBackend,
    UnknownOutcome,
    new_owner,
    open_store,
)
from store_backends import Harness

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def make_entry(key: str = "k1", *, amount: str = "0.50", fetched_at: datetime = NOW) -> CacheEntry:
    return CacheEntry(
        key=key,
        endpoint="/api/v1/search/database/leads/",
        mode="database",
        base_url="http://127.0.0.1:1",
        account="fp",
        request='{"job_titles":["CTO"],"limit_by":25}',
        answer={"leads": [{"full_name": "Ada"}], "results_count": 7, "amount_charged": amount},
        amount_charged=Decimal(amount),
        fetched_at=fetched_at,
        refresh_token=None,
        billable=True,
        test_mode=False,
    )


def make_charge(
    key: str = "k1", *, amount: str = "0.50", test_mode: bool = False, time: datetime = NOW
) -> Charge:
    return Charge(
        charge_id=os.urandom(8).hex(),
        time=time,
        endpoint="/api/v1/search/database/leads/",
        mode="database",
        request={"job_titles": ["CTO"], "limit_by": 25},
        rows=1,
        results_count=7,
        amount_charged=Decimal(amount),
        test_mode=test_mode,
        account="fp",
        base_url="http://127.0.0.1:1",
        cache_key=key,
        origin=Origin("Book.xlsx", "Leads", "B4"),
    )


@pytest.fixture
def store(store_backend: Harness) -> StoreBackend:
    """The store under test, once per backend (tests/store_backends.py)."""
    return store_backend.open()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    """A SQLite store, for what only the SQLite backend has (its file, its connection pool)."""
    return Store(tmp_path / "home" / "store.sqlite3")


def test_the_sqlite_store_implements_the_whole_interface(tmp_path: Path) -> None:
    # Every method the engine may call, with the same parameters (names, kinds, defaults), so
    # code typed against StoreBackend runs unchanged on the SQLite store.
    import inspect

    from generect_excel.settings import Settings

    names = [
        name
        for name, member in vars(StoreBackend).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    ]
    assert {"find", "claim", "save", "record_unknown", "charges", "settle", "location"} <= set(
        names
    )
    for name in names:
        wanted = getattr(StoreBackend, name)
        have = getattr(Store, name)
        if isinstance(wanted, property):
            assert isinstance(have, property), name
            continue
        # Annotations are mypy's to compare (the store package's own check); here the
        # parameters a caller may pass: names, kinds and defaults.
        shape = [(p.name, p.kind, p.default) for p in inspect.signature(have).parameters.values()]
        assert shape == [
            (p.name, p.kind, p.default) for p in inspect.signature(wanted).parameters.values()
        ], name
    opened = open_store(Settings(api_key=None, home=tmp_path / "home"))
    assert isinstance(opened, Store)
    assert opened.location == str((tmp_path / "home" / "store.sqlite3").resolve())
    opened.close()


def lock_exclusively(path: Path) -> sqlite3.Connection:
    """Another program holding the write lock (as a long transaction would)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def test_folder_and_file_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "store.sqlite3"
    Store(path)
    assert path.is_file()
    if os.name != "posix":  # Windows: the folder under the user's profile is private already
        return
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600


def test_migrations_recorded_and_safe_to_rerun(sqlite_store: Store) -> None:
    store = sqlite_store
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    assert store.migrations() == [m.name for m in MIGRATIONS]
    with sqlite3.connect(store.path) as conn:
        before = conn.execute("SELECT name, applied_at FROM _migrations").fetchall()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    again = Store(store.path)
    with sqlite3.connect(store.path) as conn:
        after = conn.execute("SELECT name, applied_at FROM _migrations").fetchall()
    conn.close()
    assert after == before
    assert again.schema_version == SCHEMA_VERSION


def test_an_older_file_is_upgraded_in_order(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for statement in MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute("INSERT INTO _migrations VALUES (?, 'then')", (MIGRATIONS[0].name,))
    conn.close()
    store = Store(path)
    assert store.migrations() == [m.name for m in MIGRATIONS]
    store.save(make_entry(), make_charge())
    assert len(store.charges()) == 1


def test_entry_and_charge_round_trip(store: StoreBackend) -> None:
    entry, charge = make_entry(), make_charge()
    store.save(entry, charge)
    assert store.get("k1") == entry
    [row] = store.charges()
    assert row.amount_charged == Decimal("0.50")
    assert row.origin == Origin("Book.xlsx", "Leads", "B4")
    assert row.request == {"job_titles": ["CTO"], "limit_by": 25}
    assert row.time == NOW and row.cache_key == "k1" and row.results_count == 7
    assert store.get("missing") is None


def test_entry_and_charge_are_one_transaction(store: StoreBackend) -> None:
    bad = make_charge()
    bad.request["unserializable"] = {1, 2}  # fails after the entry's INSERT ran
    with pytest.raises(TypeError):
        store.save(make_entry(), bad)
    assert store.get("k1") is None
    assert store.charges() == []


def test_totals_are_exact_decimals_and_skip_test_mode(store: StoreBackend) -> None:
    for i, amount in enumerate(["0.1", "0.2", "0.004"]):
        store.save(make_entry(f"k{i}"), make_charge(f"k{i}", amount=amount))
    store.save(make_entry("t"), make_charge("t", amount="9", test_mode=True))
    assert store.total_charged() == Decimal("0.304")
    assert store.total_charged(include_test_mode=True) == Decimal("9.304")


def test_periods_filter_by_time(store: StoreBackend) -> None:
    store.save(make_entry("a"), make_charge("a", amount="1", time=NOW - timedelta(days=2)))
    store.save(make_entry("b"), make_charge("b", amount="2", time=NOW))
    assert store.total_charged(NOW - timedelta(hours=1)) == Decimal("2")
    assert store.total_charged(None, NOW) == Decimal("1")
    assert [c.cache_key for c in store.charges(NOW - timedelta(days=3))] == ["a", "b"]
    assert store.total_charged(account="other") == 0


def test_refresh_marks(store: StoreBackend) -> None:
    store.save(make_entry(), None, mark=("[Book]Sheet1!A1", "2"))
    assert store.lookup("k1", "[Book]Sheet1!A1")[1] == "2"
    assert store.lookup("k1", "elsewhere") == (store.get("k1"), None)
    store.set_refresh_mark("k1", "elsewhere", "TRUE")
    assert store.refresh_mark("k1", "elsewhere") == "TRUE"


def test_claims(store: StoreBackend) -> None:
    first, second = new_owner(), new_owner()
    never = lambda entry: False  # noqa: E731
    assert store.claim("k1", first, ttl=60, is_fresh=never).state == "claimed"
    busy = store.claim("k1", second, ttl=60, is_fresh=never)
    assert busy.state == "busy" and busy.holder == first
    store.save(make_entry(), make_charge(), owner=first)  # saving releases the claim
    cached = store.claim("k1", second, ttl=60, is_fresh=lambda entry: True)
    assert cached.state == "cached" and cached.entry == store.get("k1")
    assert store.claim("k1", second, ttl=60, is_fresh=never).state == "claimed"
    store.release("k1", second)
    assert store.claim("k1", first, ttl=60, is_fresh=never).state == "claimed"


def test_expired_claim_is_taken_over(store: StoreBackend) -> None:
    never = lambda entry: False  # noqa: E731
    old = new_owner()
    assert store.claim("k1", old, ttl=1, is_fresh=never, now=NOW).state == "claimed"
    later = NOW + timedelta(seconds=2)
    assert store.claim("k1", new_owner(), ttl=60, is_fresh=never, now=later).state == "claimed"


def test_claim_of_a_dead_process_is_taken_over(store: StoreBackend, store_backend: Harness) -> None:
    never = lambda entry: False  # noqa: E731
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    dead_owner = f"{store_module._HOST}|{int(child.stdout)}|abc"
    store_backend.sql(
        "INSERT INTO inflight (key, owner, claimed_at, expires_at) "
        "VALUES ('k1', ?, '2026-01-01T00:00:00.000000Z', "
        "'2999-01-01T00:00:00.000000Z')",
        (dead_owner,),
    )
    assert store.claim("k1", new_owner(), ttl=60, is_fresh=never).state == "claimed"


def test_claim_left_behind_by_this_process_is_taken_over(store: StoreBackend) -> None:
    never = lambda entry: False  # noqa: E731
    left = new_owner()
    assert store.claim("k1", left, ttl=60, is_fresh=never).state == "claimed"
    store_module._LIVE_OWNERS.discard(left)  # what a failed release leaves behind
    assert store.claim("k1", new_owner(), ttl=60, is_fresh=never).state == "claimed"


def test_a_live_claim_of_another_process_is_respected(
    store: StoreBackend, store_backend: Harness
) -> None:
    never = lambda entry: False  # noqa: E731
    parent = f"{store_module._HOST}|{os.getppid()}|abc"  # alive: our parent
    store_backend.sql(
        "INSERT INTO inflight (key, owner, claimed_at, expires_at) "
        "VALUES ('k1', ?, '2026-01-01T00:00:00.000000Z', "
        "'2999-01-01T00:00:00.000000Z')",
        (parent,),
    )
    assert store.claim("k1", new_owner(), ttl=60, is_fresh=never).state == "busy"


def test_locked_store_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    Store(path)
    locker = lock_exclusively(path)
    try:
        store = Store(path, busy_timeout=0.05)  # opening needs no write lock
        assert store.get("k1") is None  # WAL: reading still works
        with pytest.raises(StoreError) as info:
            store.save(make_entry(), make_charge())
        assert "locked by another program" in str(info.value)
        assert str(path) in info.value.details
        with pytest.raises(StoreError):
            store.claim("k1", new_owner(), ttl=60, is_fresh=lambda e: False)
    finally:
        locker.close()


def test_damaged_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    path.write_bytes(b"this is not a database, it is a shopping list" * 100)
    with pytest.raises(StoreError) as info:
        Store(path)
    assert "damaged" in str(info.value)
    assert "store.sqlite3" in str(info.value)


def test_unsavable_charge_goes_to_the_journal_and_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = Store(path, busy_timeout=0.05)
    entry, charge = make_entry(amount="0.50"), make_charge(amount="0.50")
    locker = lock_exclusively(path)
    try:
        with pytest.raises(StoreError) as info:
            store.save(entry, charge, retry_for=0.2)
    finally:
        locker.close()
    message = str(info.value)
    assert message.startswith("Charged $0.50")
    assert store.journal_path.name in message
    lines = store.journal_path.read_text().splitlines()
    assert json.loads(lines[0])["charge"]["charge_id"] == charge.charge_id
    if os.name == "posix":
        assert store.journal_path.stat().st_mode & 0o777 == 0o600
    assert store.charges() == []

    reopened = Store(path)  # imports the journal
    assert not reopened.journal_path.exists()
    assert [c.charge_id for c in reopened.charges()] == [charge.charge_id]
    assert reopened.get("k1") == entry
    # Importing the same journal again (a crash between import and rename) adds nothing.
    [imported] = path.parent.glob("store.sqlite3.imported-*.jsonl")
    imported.rename(reopened.journal_path)
    assert reopened.recover_journal() == 1
    assert len(reopened.charges()) == 1


def test_a_charge_neither_store_nor_journal_can_keep_names_the_journal(tmp_path: Path) -> None:
    # Issue 11: "(see the log)" named no file and gave nothing to do.
    path = tmp_path / "store.sqlite3"
    store = Store(path, busy_timeout=0.05)
    store.journal_path.mkdir()  # the journal cannot be written either
    locker = lock_exclusively(path)
    try:
        with pytest.raises(StoreError) as info:
            store.save(make_entry(amount="0.50"), make_charge(amount="0.50"), retry_for=0.2)
    finally:
        locker.close()
    assert str(info.value) == (
        "Charged $0.50 but could not save it: free disk space or fix GENERECT_HOME's permissions."
    )
    assert f"neither the store nor {store.journal_path} could be written" in (
        info.value.full_message
    )


# -- the hot path: pooled connections, decoded answers kept --------------------------------


def test_connections_are_reused_by_many_threads_and_closed(sqlite_store: Store) -> None:
    store = sqlite_store
    from concurrent.futures import ThreadPoolExecutor

    from generect_excel import _constants as C

    store.save(make_entry())

    def read(_: int) -> int:
        entry, _mark = store.lookup("k1", "")
        assert entry is not None
        return int(entry.answer["results_count"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(read, range(300))) == {7}
    idle = [conn for conn, _ in store._connections._idle]
    assert 0 < len(idle) <= C.STORE_IDLE_CONNECTIONS
    store.close()
    assert store._connections._idle == []
    for conn in idle:  # closed for real
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    assert store.get("k1") == make_entry()  # still usable: a new connection is opened


def test_a_stored_answer_is_decoded_once_and_a_rewritten_one_afresh(
    store: StoreBackend, store_backend: Harness
) -> None:
    store.save(make_entry())
    first = store.get("k1")
    second, _ = store.lookup("k1", "")
    assert first is not None and second is not None
    assert second.answer is first.answer  # the same text: not parsed again
    # Rewritten by another program, with the same time: the new text is what counts.
    answer = {"leads": [{"full_name": "Grace"}], "results_count": 8, "amount_charged": "0.50"}
    store_backend.sql("UPDATE cache SET answer = ? WHERE key = 'k1'", (json.dumps(answer),))
    third, _ = store.lookup("k1", "")
    assert third is not None and third.answer == answer
    # Rewritten through the store too (a refresh saved at the same instant).
    store.save(make_entry(amount="0.75"))
    fourth = store.get("k1")
    assert fourth is not None and fourth.answer["amount_charged"] == "0.75"


def test_kept_answers_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generect_excel import _constants as C

    monkeypatch.setattr(C, "STORE_MEMO_ENTRIES", 3)
    store = Store(tmp_path / "store.sqlite3")
    for n in range(5):
        store.save(make_entry(f"k{n}"))
        store.get(f"k{n}")
    assert len(store._memo) == 3
    assert store.get("k0") == make_entry("k0")  # dropped from memory, read from the file


def test_bounded_memo_drops_the_least_recently_used() -> None:
    memo: store_module.BoundedMemo[str, str] = store_module.BoundedMemo(3, 10)
    for key in "abc":
        memo.put(key, key.upper(), weight=2)
    assert memo.get("a") == "A"  # now the most recently used
    memo.put("d", "D", weight=2)  # four items: "b" goes
    assert [memo.get(k) for k in "abcd"] == ["A", None, "C", "D"]
    memo.put("e", "E", weight=6)  # weight 12 > 10: the least recent ("a") goes
    assert [memo.get(k) for k in "acde"] == [None, "C", "D", "E"]
    memo.put("f", "F", weight=11)  # heavier than the bound: never kept
    assert memo.get("f") is None and len(memo) == 3


def test_a_store_deleted_and_made_again_is_read_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generect_excel import _constants as C

    if os.name != "posix":  # Windows refuses to delete a file that is open: nothing to notice
        return
    monkeypatch.setattr(C, "STORE_FILE_CHECK_SECONDS", 0.0)
    path = tmp_path / "store.sqlite3"
    old = Store(path)
    old.save(make_entry("k1"))
    assert old.get("k1") is not None  # a connection to this file is kept
    for name in ("store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    new = Store(path)  # the analyst started over, e.g. from the CLI
    new.save(make_entry("k2"))
    assert old.get("k1") is None and old.get("k2") == make_entry("k2")
    # Closing the connections to the deleted file left the new file's -wal (same name) alone.
    old.close()
    new.close()
    assert Store(path).get("k2") == make_entry("k2")


def test_a_forked_child_opens_its_own_connections(sqlite_store: Store) -> None:
    store = sqlite_store
    import warnings

    if not hasattr(os, "fork"):  # Windows: no fork, nothing inherited
        return
    store.save(make_entry())
    assert store.get("k1") is not None
    parents = {id(conn) for conn, _ in store._connections._idle}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        code = 1
        try:
            entry = store.get("k1")
            mine = {id(conn) for conn, _ in store._connections._idle}
            if entry == make_entry() and mine and not mine & parents:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's connections still work, and the child did not break the file.
    store.save(make_entry("k2"))
    assert {id(conn) for conn, _ in store._connections._idle} & parents
    assert Store(store.path).get("k2") == make_entry("k2")


# -- unknown outcomes and reservations ---------------------------------------------------------


def make_unknown(
    key: str = "k1", *, token: str | None = None, at: datetime = NOW
) -> UnknownOutcome:
    return UnknownOutcome(
        key, token, at, "OutcomeUnknownError", Decimal("0.50"), os.urandom(8).hex()
    )


def unknown_charge(unknown: UnknownOutcome) -> Charge:
    charge = make_charge(unknown.key, amount=str(unknown.amount), time=unknown.at)
    return replace(charge, charge_id=unknown.charge_id, rows=0, unknown_outcome=True)


def test_an_unknown_outcome_is_one_transaction_and_found_with_the_entry(
    store: StoreBackend, store_backend: Harness
) -> None:
    never = lambda entry: False  # noqa: E731
    assert store.find("k1", "cell") == Found(None, None, None, None)
    owner = new_owner()
    assert store.claim("k1", owner, ttl=60, is_fresh=never).state == "claimed"
    unknown = make_unknown(token="x")
    store.record_unknown(unknown, unknown_charge(unknown), owner=owner, origin="cell")
    found = store.find("k1", "cell")
    assert found == Found(None, "x", NOW, unknown)
    assert store.find("k1", "elsewhere") == Found(None, None, None, unknown)
    assert store.lookup("k1", "cell") == (None, "x")
    [row] = store.charges()
    assert row.unknown_outcome and row.charge_id == unknown.charge_id
    assert store.unknown_total() == (Decimal("0.50"), 1)
    assert store.total_charged() == Decimal("0.50")
    # the claim went with it
    assert store_backend.sql("SELECT COUNT(*) FROM inflight")[0][0] == 0
    # The fast claim never takes a key with a doubt on it; the full one reports a new doubt
    # (one recorded since the caller looked) and claims past one it has already judged.
    doubt = store.claim("k1", new_owner(), ttl=60, is_fresh=never, is_new_doubt=lambda u: True)
    assert doubt.state == "unknown" and doubt.unknown == unknown
    again = new_owner()
    judged = store.claim("k1", again, ttl=60, is_fresh=never, is_new_doubt=lambda u: False)
    assert judged.state == "claimed"
    store.release("k1", again)
    # A saved answer settles it; the formula's mark is an ordinary one again.
    store.save(make_entry(), make_charge(), mark=("cell", "y"))
    assert store.find("k1", "cell") == Found(store.get("k1"), "y", None, None)


def test_find_many_reads_what_find_reads_for_each_pair_in_order(
    store: StoreBackend, store_backend: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three SELECTs of two keys: batches span statements and still agree with find.
    monkeypatch.setattr(store_module.sqlite.answers.C, "STORE_BATCH_KEYS", 2)
    never = lambda entry: False  # noqa: E731
    store.save(make_entry("k1"), make_charge("k1"), mark=("cell", "y"))
    store.save(make_entry("k2", amount="0.25"), make_charge("k2", amount="0.25"))
    owner = new_owner()
    assert store.claim("k3", owner, ttl=60, is_fresh=never).state == "claimed"
    unknown = make_unknown("k3", token="x")
    store.record_unknown(unknown, unknown_charge(unknown), owner=owner, origin="cell")
    wanted = [
        ("k1", "cell"),
        ("k2", ""),
        ("k3", "cell"),
        ("nothing", "cell"),
        ("k1", "elsewhere"),
        ("k1", "cell"),  # asked twice: answered twice
    ]
    found = store.find_many(wanted)
    assert found == [store.find(key, origin) for key, origin in wanted]
    assert found[0] == Found(store.get("k1"), "y", None, None)
    assert found[1].entry is not None and found[1].entry.amount_charged == Decimal("0.25")
    assert found[2] == Found(None, "x", NOW, unknown)
    assert found[3] == Found(None, None, None, None)
    assert found[4].mark is None and found[4].entry == found[0].entry
    assert store.find_many([]) == []


def test_an_unknown_outcome_that_cannot_be_saved_goes_to_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = Store(path, busy_timeout=0.05)
    unknown = make_unknown(token="x")
    locker = lock_exclusively(path)
    try:
        with pytest.raises(StoreError) as info:
            store.record_unknown(unknown, unknown_charge(unknown), origin="cell", retry_for=0.2)
    finally:
        locker.close()
    assert "may have been charged" in str(info.value)
    assert store.find("k1", "cell").unknown is None
    reopened = Store(path)  # imports the journal
    assert reopened.find("k1", "cell").unknown == unknown
    [row] = reopened.charges()
    assert row.unknown_outcome and row.amount_charged == Decimal("0.50")


def test_the_claim_checks_the_day_with_every_live_reservation(
    store: StoreBackend, store_backend: Harness
) -> None:
    never = lambda entry: False  # noqa: E731
    seen: list[Decimal] = []

    def admit_up_to(cap: str) -> store_module.Reservation:
        def admit(spent: Decimal, reserved: Decimal) -> None:
            seen.append(spent + reserved)
            if spent + reserved + Decimal("0.50") > Decimal(cap):
                raise BudgetError("over the cap")

        return store_module.Reservation(Decimal("0.50"), None, None, admit)

    store.save(make_entry("done"), make_charge("done", amount="0.20"))
    first = new_owner()
    claim = store.claim("a", first, ttl=60, is_fresh=never, reservation=admit_up_to("1"))
    assert claim.state == "claimed"
    assert store.reserved_in_flight() == Decimal("0.50")
    with pytest.raises(BudgetError):  # $0.20 spent + $0.50 in flight + $0.50 > $1
        store.claim("b", new_owner(), ttl=60, is_fresh=never, reservation=admit_up_to("1"))
    assert seen == [Decimal("0.20"), Decimal("0.70")]
    # refused: nothing claimed
    assert store_backend.sql("SELECT key FROM inflight") == [("a",)]
    store.release("a", first)
    assert store.reserved_in_flight() == 0
    claim = store.claim("b", new_owner(), ttl=60, is_fresh=never, reservation=admit_up_to("1"))
    assert claim.state == "claimed"


def test_an_abandoned_claim_holds_no_reservation(store: StoreBackend) -> None:
    never = lambda entry: False  # noqa: E731
    left = new_owner()
    reservation = store_module.Reservation(Decimal("3"), None, None, lambda spent, reserved: None)
    store.claim("a", left, ttl=60, is_fresh=never, reservation=reservation)
    assert store.reserved_in_flight() == Decimal("3")
    store_module._LIVE_OWNERS.discard(left)  # what a failed release leaves behind
    assert store.reserved_in_flight() == 0


# -- claims whose owner died: before or after sending (issue 10) -----------------------------


def dead_owner() -> str:
    """The owner of a claim taken by a process that has ended (a pid just reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return f"{store_module._HOST}|{int(child.stdout)}|abc"


def sent_by(
    store: StoreBackend, owner: str, key: str = "k1", *, token: str | None = "2"
) -> UnknownOutcome:
    """Claim ``key`` for ``owner`` and mark its request sent, as the engine does."""
    never = lambda entry: False  # noqa: E731
    assert store.claim(key, owner, ttl=60, is_fresh=never, now=NOW).state == "claimed"
    charge = replace(make_charge(key, amount="0.50"), unknown_outcome=True, rows=0)
    unknown = UnknownOutcome(
        key, token, NOW, "OutcomeUnknownError", Decimal("0.50"), charge.charge_id
    )
    store.mark_sent(unknown, charge, owner=owner, origin="[Book]Leads!B4", ttl=60, now=NOW)
    return unknown


def inflight_keys(store_backend: Harness) -> list[str]:
    return [r[0] for r in store_backend.sql("SELECT key FROM inflight")]


def test_a_dead_owner_claim_never_sent_is_taken_over(store: StoreBackend) -> None:
    never = lambda entry: False  # noqa: E731
    gone = dead_owner()
    assert store.claim("k1", gone, ttl=60, is_fresh=never).state == "claimed"
    claim = store.claim("k1", new_owner(), ttl=60, is_fresh=never, is_new_doubt=lambda u: True)
    assert claim.state == "claimed" and not claim.abandoned
    assert store.charges() == [] and store.unknown_outcome("k1") is None


def test_a_dead_owner_claim_that_was_sent_is_recorded_as_an_unknown_outcome(
    store: StoreBackend, store_backend: Harness
) -> None:
    never = lambda entry: False  # noqa: E731
    unknown = sent_by(store, dead_owner())
    claim = store.claim("k1", new_owner(), ttl=60, is_fresh=never, is_new_doubt=lambda u: True)
    assert claim.state == "unknown" and claim.abandoned and claim.unknown == unknown
    # Exactly like a lost answer: the ledger row at the worst case, the doubt, the mark.
    [row] = store.charges()
    assert row.unknown_outcome and row.amount_charged == Decimal("0.50")
    assert row.charge_id == unknown.charge_id and row.time == NOW
    found = store.find("k1", "[Book]Leads!B4")
    assert found.unknown == unknown and found.mark == "2" and found.mark_failed_at == NOW
    assert inflight_keys(store_backend) == []
    # Recorded once: the next claim sees the same doubt, and no second ledger row.
    again = store.claim("k1", new_owner(), ttl=60, is_fresh=never, is_new_doubt=lambda u: True)
    assert again.state == "unknown" and not again.abandoned
    assert len(store.charges()) == 1


def test_an_expired_claim_that_was_sent_is_recorded_too(store: StoreBackend) -> None:
    never = lambda entry: False  # noqa: E731
    sent_by(store, new_owner())  # alive (this process), but its claim expires
    later = NOW + timedelta(seconds=61)
    claim = store.claim("k1", new_owner(), ttl=60, is_fresh=never, now=later)
    assert claim.state == "claimed"  # no is_new_doubt: the store only records it
    [row] = store.charges()
    assert row.unknown_outcome


def test_a_live_owner_claim_that_was_sent_still_waits(
    store: StoreBackend, store_backend: Harness
) -> None:
    never = lambda entry: False  # noqa: E731
    parent = f"{store_module._HOST}|{os.getppid()}|abc"  # alive: our parent
    sent_by(store, parent)
    later = NOW + timedelta(seconds=30)  # not expired
    claim = store.claim("k1", new_owner(), ttl=60, is_fresh=never, now=later)
    assert claim.state == "busy" and claim.holder == parent
    assert store.settle_abandoned(now=later) == []
    assert store.charges() == [] and inflight_keys(store_backend) == ["k1"]


def test_opening_the_store_records_a_dead_owner_sent_claim(
    store: StoreBackend, store_backend: Harness
) -> None:
    unknown = sent_by(store, dead_owner())
    sent_by(store, dead_owner(), "k2")
    reopened = store_backend.open()
    assert reopened.find("k1", "").unknown == unknown
    assert len(reopened.charges()) == 2 and inflight_keys(store_backend) == []
    assert reopened.unknown_total() == (Decimal("1.00"), 2)


def test_a_sent_claim_whose_answer_was_saved_adds_nothing(
    store: StoreBackend, store_backend: Harness
) -> None:
    gone = dead_owner()
    sent_by(store, gone)
    # The answer and its charge were saved, only the claim's release was lost.
    store.save(replace(make_entry(), fetched_at=NOW + timedelta(seconds=1)), make_charge())
    assert store.settle_abandoned() == []
    [row] = store.charges()
    assert not row.unknown_outcome and inflight_keys(store_backend) == []


def test_dead_owners_sent_claims_count_against_the_day(store: StoreBackend) -> None:
    never = lambda entry: False  # noqa: E731
    sent_by(store, dead_owner(), "other")  # $0.50 at worst, recorded inside the next claim
    seen: list[tuple[Decimal, Decimal]] = []
    reservation = store_module.Reservation(
        Decimal("0.10"), None, None, lambda spent, reserved: seen.append((spent, reserved))
    )
    store.claim("k1", new_owner(), ttl=60, is_fresh=never, reservation=reservation)
    assert seen == [(Decimal("0.50"), Decimal("0"))]


def test_marking_sent_a_claim_taken_over_meanwhile_refuses_to_send(store: StoreBackend) -> None:
    never = lambda entry: False  # noqa: E731
    slow = new_owner()
    assert store.claim("k1", slow, ttl=1, is_fresh=never, now=NOW).state == "claimed"
    later = NOW + timedelta(seconds=2)  # it waited its turn past its expiry: taken over
    taker = new_owner()
    assert store.claim("k1", taker, ttl=60, is_fresh=never, now=later).state == "claimed"
    charge = replace(make_charge(), unknown_outcome=True)
    unknown = UnknownOutcome("k1", None, later, "OutcomeUnknownError", Decimal("0.50"), "c")
    with pytest.raises(StoreError) as info:
        store.mark_sent(unknown, charge, owner=slow, origin="", ttl=60, now=later)
    assert "was not sent" in str(info.value)
    claim = store.claim("k1", new_owner(), ttl=60, is_fresh=never, now=later)
    assert claim.state == "busy" and claim.holder == taker


def test_fifty_threads_writing_at_once_all_wait_their_turn(tmp_path: Path) -> None:
    # Generect allows 50 requests in flight: 50 workers of one process then save (or claim) at
    # once. They queue in the process, so SQLite's busy timeout, meant for another program
    # holding the file, is not spent by the process's own writers waiting on one another.
    from concurrent.futures import ThreadPoolExecutor

    store = Store(tmp_path / "store.sqlite3", busy_timeout=0.02)

    def save(i: int) -> None:
        store.save(make_entry(f"k{i}", amount="0.01"), make_charge(amount="0.01"))

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(save, range(200)))  # a StoreError ("locked") would be raised here
    assert store.total_charged() == Decimal("2.00")


def test_only_the_owner_of_a_claim_extends_it_and_a_gone_claim_is_not_taken_again(
    store: StoreBackend,
) -> None:
    never = {"is_fresh": lambda entry: False}
    a, b = new_owner(), new_owner()
    assert store.claim("k1", a, ttl=1, **never).state == "claimed"
    assert store.extend("k1", a, ttl=600)
    assert not store.extend("k1", b, ttl=600)  # not b's: nothing changes
    assert store.claim("k1", b, ttl=60, **never).state == "busy"  # a's, for 600 s now
    store.release("k1", a)
    assert not store.extend("k1", a, ttl=600)  # gone: extending does not take it again
    assert store.claim("k1", b, ttl=60, **never).state == "claimed"
