"""Quoting a workbook (formulas/plan.py's ``quote_plan``) at scale: one batched store read for
the whole workbook, each distinct free count asked once and concurrently within the cap, and
the same lines and totals as before. Against the sandbox over HTTP and a real SQLite store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

from generect_excel import _constants as C
from generect_excel.engine import Engine
from generect_excel.formulas.plan import run_plan
from generect_excel.store import Found, SQLiteStore
from generect_excel.workbook.refresher import plan_refresh, quote_plan, refresh_workbook
from workbook_support import sandbox_settings, save

TITLES = ["Sales Director", "Marketing Manager", "Data Engineer"]
# Searches per criteria range (one free count for the three): the last page lies past every
# match, so its count prices it at $0.
OFFSETS = (0, 5, 2300)


class CountingStore(SQLiteStore):
    """The SQLite store, counting the reads of stored answers the engine makes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads = {"find": 0, "find_many": 0, "lookup": 0}

    def find(self, key: str, origin: str) -> Found:
        self.reads["find"] += 1
        return super().find(key, origin)

    def find_many(self, wanted: Sequence[tuple[str, str]]) -> list[Found]:
        self.reads["find_many"] += 1
        return super().find_many(wanted)

    def lookup(self, key: str, origin: str) -> tuple[object, str | None]:  # type: ignore[override]
        self.reads["lookup"] += 1
        return super().lookup(key, origin)


def _book(tmp_path: Path) -> Path:
    """Three criteria ranges, each with three pages of 5 leads beside it (as in the lead-list
    template), plus a duplicate of the first page."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    for n, title in enumerate(TITLES):
        top = 1 + 3 * n
        ws[f"A{top}"], ws[f"B{top}"] = "Job titles", title
        ws[f"A{top + 1}"], ws[f"B{top + 1}"] = "Location", "United States"
        for column, offset in zip("DEF", OFFSETS, strict=True):
            ws[f"{column}{top}"] = f"=GENERECT_SEARCH(A{top}:B{top + 1},5,{offset})"
    ws["H1"] = "=GENERECT_SEARCH(A1:B2,5,0)"  # the same request as D1: paid once
    return save(wb, tmp_path / "pages.xlsx")


def _engine(sandbox, tmp_path: Path, key: str = "live_key", **overrides) -> Engine:
    settings = sandbox_settings(sandbox, tmp_path / "home", key, **overrides)
    return Engine(settings, store=CountingStore(settings.home / "store.sqlite3"))


def _count_calls(sandbox) -> list[dict]:
    return [e for e in sandbox.log_entries() if e["path"] == C.PATH_DATABASE_COUNT]


def _most_in_flight(entries: list[dict]) -> int:
    """How many of the logged calls were being answered at the same moment, at most."""
    edges = []
    for entry in entries:
        end = datetime.fromisoformat(entry["time"]).timestamp()
        edges += [(end - entry["duration_ms"] / 1000, 1), (end, -1)]
    most = current = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        current += step
        most = max(most, current)
    return most


def test_the_dry_run_asks_each_distinct_free_count_once_concurrently_within_the_cap(
    sandbox_factory, tmp_path: Path
) -> None:
    server = sandbox_factory(latency=0.3)
    engine = _engine(server, tmp_path, max_parallel=2)
    quote = quote_plan(plan_refresh(_book(tmp_path)), engine)
    counts = _count_calls(server)
    # One count per criteria range, not one per page: identical counts are asked once.
    assert len(counts) == len(TITLES)
    assert len({str(e["body"]) for e in counts}) == len(TITLES)
    assert server.billable_calls() == []  # only free counts were sent
    # Asked together, never more at once than max_parallel.
    assert _most_in_flight(counts) == 2
    # Every page that would be bought is priced, sharpened by its criteria's count.
    assert (quote.queries, quote.distinct, quote.new, quote.cached) == (10, 9, 10, 0)
    priced = [line for line in quote.lines if "new, up to $0.10" in line]
    assert len(priced) == 9
    assert quote.worst_case == Decimal("0.90")
    assert quote.likely is not None and quote.likely <= Decimal("0.60")
    assert all("(likely $0.00)" in line for line in priced if line.startswith("Leads!F"))
    [duplicate] = [line for line in quote.lines if line.startswith("Leads!H1")]
    assert duplicate.endswith("new (same request as above: paid once)")


def test_a_warm_quote_reads_the_store_once_for_the_whole_workbook(sandbox, tmp_path: Path) -> None:
    book = _book(tmp_path)
    refresh_workbook(book, _engine(sandbox, tmp_path, key="test_quote"), confirm=lambda q: True)
    engine = _engine(sandbox, tmp_path, key="test_quote")
    sent = len(sandbox.log_entries())
    quote = quote_plan(plan_refresh(book), engine)
    assert engine.store.reads == {"find": 0, "find_many": 1, "lookup": 0}  # type: ignore[attr-defined]
    assert (quote.new, quote.cached, quote.worst_case) == (0, 10, Decimal(0))
    assert all(line.endswith("from the store") for line in quote.lines)
    assert len(sandbox.log_entries()) == sent  # stored answers: nothing asked, not even counts


class DecodeCountingStore(SQLiteStore):
    """The SQLite store, counting the stored answers it parses (its memo's misses)."""

    parses = 0

    def _decode(self, key: str, text: str | bytes) -> dict:
        kept = self._memo.get(key)
        if kept is None or kept[0] != text:
            self.parses += 1
        return super()._decode(key, text)


def test_a_warm_refresh_reads_each_stored_answer_once_however_far_apart_its_cells(
    sandbox, tmp_path: Path, monkeypatch
) -> None:
    # Memos smaller than the workbook's distinct requests, as thousands of formulas make them:
    # the calls of one request still share one parse, for they run together.
    monkeypatch.setattr(C, "STORE_MEMO_ENTRIES", 2)
    book = _book(tmp_path)  # 9 distinct searches, D1 asked again in H1 (8 others between)
    settings = sandbox_settings(sandbox, tmp_path / "home", "test_run")
    plan = plan_refresh(book)
    run_plan(plan, Engine(settings), workers=1)  # cold: every answer bought and stored
    assert all(q.error is None for q in plan.queries)
    store = DecodeCountingStore(settings.home / "store.sqlite3")
    plan = plan_refresh(book)
    sent = len(sandbox.log_entries())
    run_plan(plan, Engine(settings, store=store), workers=1)
    assert all(q.outcome is not None and q.outcome.answer.from_cache for q in plan.queries)
    assert store.parses == 9 and len(sandbox.log_entries()) == sent
    d1, h1 = (next(q for q in plan.queries if q.where == w) for w in ("Leads!D1", "Leads!H1"))
    assert h1.outcome.value == d1.outcome.value
