"""The "realtime-signals" template: realtime-only filters (keywords, job changes, posts),
a paid count, then leads."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Alignment

from .._constants import MAX_LIMIT, PRICE_REALTIME_COUNT, PRICE_REALTIME_ROW
from .builder import (
    COUNT_FORMAT,
    HINT_STYLE,
    MONEY_FORMAT,
    _criteria_block,
    _formula,
    _generect,
    _input,
    _label,
    _lead_table,
    _lists_sheet,
    _money,
    _new_workbook,
    _Row,
    _text,
    _whole_number,
    _widths,
)
from .readme import _read_me


def _build_realtime_signals() -> Workbook:
    wb = _new_workbook("Realtime signals")
    ws = wb.create_sheet("Signals")
    lists = _lists_sheet(wb)
    _widths(ws, {"A": 34, "B": 26, "C": 26, "D": 26, "E": 30, "F": 52})
    for col in "GHIJK":
        ws.column_dimensions[col].width = 26
    _text(ws, "A1", "Realtime signals — leads showing a buying signal now", "Title")
    # The example: salespeople in the US who changed jobs and posted recently, formerly at
    # Salesforce or Oracle. Each realtime-only filter halves the matches or worse, so the
    # example stops at these (the sandbox, like Generect, answers it with rows); the other
    # rows are there to fill.
    rows = [
        _Row("Job titles", (), "Optional: titles as people write them; any of them matches."),
        _Row("Seniority", (), "Optional: pick from the list.", "seniorities"),
        _Row("Location", ("United States",), "Countries, states or cities."),
        _Row(
            "Keywords",
            ("sales", "pipeline"),
            "Realtime only: words anywhere in the profile (headline, summary, skills).",
        ),
        _Row(
            "Changed jobs",
            (True,),
            "Realtime only: TRUE to keep people who changed jobs recently.",
            yes_no=True,
        ),
        _Row(
            "Posted on LinkedIn",
            (True,),
            "Realtime only: TRUE to keep people who posted recently.",
            yes_no=True,
        ),
        _Row(
            "Past companies",
            ("Salesforce", "Oracle"),
            "Realtime only: companies they worked at before.",
        ),
        _Row("Industry", (), "Optional: pick from the list.", "company_industries"),
        _Row("Company size", (), "Optional: employees.", "company_headcounts"),
    ]
    criteria = _criteria_block(ws, 2, rows, lists)  # Signals!$A$2:$D$11

    _text(ws, "A13", "Step 1: count (realtime)", "Headline 3")
    _label(ws, "A14", "Matches now")
    _generect(ws, "B14", f'=GENERECT_COUNT({criteria},"realtime")', COUNT_FORMAT)
    _label(ws, "C14", "Cost per refresh")
    ws["D14"] = float(PRICE_REALTIME_COUNT)
    ws["D14"].number_format = MONEY_FORMAT
    _text(
        ws,
        "E14",
        f"{_money(PRICE_REALTIME_COUNT)} per realtime count, even when it is 0.",
        HINT_STYLE,
    )

    _text(ws, "A16", "Step 2: the leads (realtime search)", "Headline 3")
    _label(ws, "A17", "Leads to fetch (limit)")
    limit = 10
    _input(ws, "B17", limit)
    _whole_number(ws, "B17", 1, MAX_LIMIT, "limit")
    _label(ws, "C17", "Worst case")
    _formula(ws, "D17", f"=B17*{PRICE_REALTIME_ROW}", limit * PRICE_REALTIME_ROW, MONEY_FORMAT)
    _text(ws, "E17", f"Limit x {_money(PRICE_REALTIME_ROW)} per returned lead.", HINT_STYLE)
    _label(ws, "C18", "Whole refresh")
    whole = PRICE_REALTIME_COUNT + limit * PRICE_REALTIME_ROW
    _formula(ws, "D18", "=D14+D17", whole, MONEY_FORMAT)
    for coord in ("C14", "C17", "C18"):
        # Labels right of a right-aligned number ("10") would touch it.
        ws[coord].alignment = Alignment(indent=1)
    _text(ws, "E18", "Count + search, worst case. A stored answer is never paid again.", HINT_STYLE)
    _label(ws, "A19", "Spent today")
    _generect(ws, "B19", '=GENERECT_SPEND("today")', MONEY_FORMAT)
    _text(
        ws,
        "A21",
        "The leads spill from A22: a status line, a header row, then one row per lead. Realtime "
        "searches take 5 to 60 seconds.",
        HINT_STYLE,
    )
    _lead_table(ws, "A22", f'=GENERECT_SEARCH({criteria},B17,0,,"realtime")')
    ws.freeze_panes = "A2"

    _read_me(
        wb,
        title="Realtime signals",
        summary=[
            "Finds people showing a signal now, with filters only Generect's realtime search "
            "has: keywords in the profile, a recent job change, a recent LinkedIn post, past "
            "companies. Realtime answers are live and slower (5 to 60 s), and every call costs.",
        ],
        steps=[
            "On the Signals sheet, replace the example values in the criteria block (A2:D11).",
            f"Look at the costs first: the realtime count in B14 costs {_money(PRICE_REALTIME_COUNT)} "
            f"per refresh, the search up to the limit in B17 x {_money(PRICE_REALTIME_ROW)}.",
            "To see the count before paying for leads, run generect-excel refresh BOOK.xlsx "
            "--dry-run first, or start with a small limit.",
            "Refresh. The leads spill from A22.",
        ],
        notes=[
            "Keywords, Changed jobs, Posted on LinkedIn and Past companies exist only in realtime "
            'mode, which is why both formulas pass "realtime". In database mode they are refused '
            "before any call, free.",
        ],
    )
    return wb
