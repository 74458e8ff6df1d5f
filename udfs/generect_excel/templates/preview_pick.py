"""The "preview-and-pick" template: look at masked rows cheaply, tick the ones that fit, buy
only those, and see the money saved against buying the whole preview."""

from __future__ import annotations

from openpyxl import Workbook

from .._constants import PREVIEW_MAX_LIMIT, PRICE_ENRICH_DATABASE_LEAD, PRICE_PREVIEW_ROW
from .builder import (
    COUNT_FORMAT,
    HINT_STYLE,
    INPUT_STYLE,
    LABEL_STYLE,
    MONEY_FORMAT,
    _criteria_block,
    _formula,
    _generect,
    _input,
    _label,
    _lists_sheet,
    _money,
    _new_workbook,
    _Row,
    _text,
    _whole_number,
    _widths,
    _yes_no,
)
from .readme import _read_me

# Where the preview spills (status row, header, rows), and how many rows the Buy column and
# the purchase read (the most a preview returns).
PREVIEW_TOP = 21
FIRST_ROW = PREVIEW_TOP + 2
LAST_ROW = FIRST_ROW + PREVIEW_MAX_LIMIT - 1
BUY_COLUMN = "J"
BOUGHT_AT = f"L{PREVIEW_TOP}"


def _build_preview_pick() -> Workbook:
    wb = _new_workbook("Preview and pick")
    ws = wb.create_sheet("Preview")
    lists = _lists_sheet(wb)
    _widths(ws, {"A": 34, "B": 16, "C": 16, "D": 30, "E": 28, "F": 30, "G": 28, "H": 14})
    _widths(ws, {"I": 14, "J": 8, "K": 4, "L": 34, "M": 12, "N": 24, "O": 30, "P": 28})
    _text(ws, "A1", "Preview and pick — look first, buy only what fits", "Title")
    rows = [
        _Row("Job titles", ("Head of Sales", "VP Sales"), "Any of them matches."),
        _Row("Seniority", ("vp", "director"), "Pick from the list.", "seniorities"),
        _Row("Location", ("United States",), "Countries, states or cities."),
        _Row("Company size", ("51-200", "201-500"), "Employees.", "company_headcounts"),
        _Row(
            "Industry",
            ("Software Development",),
            "LinkedIn industries; pick from the list.",
            "company_industries",
        ),
        _Row("Company type", (), "Optional; pick from the list.", "company_types"),
    ]
    criteria = _criteria_block(ws, 2, rows, lists)

    _label(ws, "A10", "Matches (database count)")
    _generect(ws, "B10", f"=GENERECT_COUNT({criteria})", COUNT_FORMAT)
    _text(ws, "C10", "Free. How many leads the preview can show.", HINT_STYLE)
    _label(ws, "A11", "Rows to preview")
    limit = 200
    _input(ws, "B11", limit)
    _whole_number(ws, "B11", 1, PREVIEW_MAX_LIMIT, "rows to preview")
    _text(
        ws,
        "C11",
        f"1 to {PREVIEW_MAX_LIMIT:,}. A masked row costs {_money(PRICE_PREVIEW_ROW)}.",
        HINT_STYLE,
    )
    ticks = f"{BUY_COLUMN}{FIRST_ROW}:{BUY_COLUMN}{LAST_ROW}"
    _label(ws, "A12", "Rows ticked to buy")
    _formula(ws, "B12", f'=COUNTIF({ticks},TRUE)+COUNTIF({ticks},"x")', 0)
    _label(ws, "A13", "Preview, then buy the ticked rows")
    pick = f"=B11*{PRICE_PREVIEW_ROW}+B12*{PRICE_ENRICH_DATABASE_LEAD}"
    _formula(ws, "B13", pick, limit * PRICE_PREVIEW_ROW, MONEY_FORMAT)
    _label(ws, "A14", "Buying the whole preview instead")
    whole = limit * PRICE_ENRICH_DATABASE_LEAD
    _formula(ws, "B14", f"=B11*{PRICE_ENRICH_DATABASE_LEAD}", whole, MONEY_FORMAT)
    _label(ws, "A15", "Saved by picking")
    _formula(ws, "B15", "=B14-B13", whole - limit * PRICE_PREVIEW_ROW, MONEY_FORMAT)
    _text(
        ws,
        "C13",
        f"Worst cases at published prices: {_money(PRICE_PREVIEW_ROW)} a masked row, "
        f"{_money(PRICE_ENRICH_DATABASE_LEAD)} a lead bought. A lead you already own costs "
        "nothing; the ledger (GENERECT_SPEND) has the truth.",
        HINT_STYLE,
    )
    _label(ws, "A16", "Spent today")
    _generect(ws, "B16", '=GENERECT_SPEND("today")', MONEY_FORMAT)

    _text(ws, "A19", "Preview", "Headline 2")
    _text(
        ws,
        "B19",
        f"Masked rows spill from A{PREVIEW_TOP} (status, header, rows). Tick column "
        f"{BUY_COLUMN} (TRUE or x) beside the rows that fit; the bought profiles spill from "
        f"{BOUGHT_AT}. Keep both areas empty.",
        HINT_STYLE,
    )
    _generect(ws, f"A{PREVIEW_TOP}", f"=GENERECT_PREVIEW({criteria},B11)")
    header = ws[f"{BUY_COLUMN}{PREVIEW_TOP + 1}"]
    header.value = "Buy"
    header.style = LABEL_STYLE
    _yes_no(ws, ticks)
    for row in range(FIRST_ROW, LAST_ROW + 1):  # the boxes to tick, one per possible row
        ws[f"{BUY_COLUMN}{row}"].style = INPUT_STYLE
    _generect(ws, BOUGHT_AT, f"=GENERECT_ENRICH(A{FIRST_ROW}:A{LAST_ROW},{ticks})")
    ws.freeze_panes = "A2"

    _read_me(
        wb,
        title="Preview and pick",
        summary=[
            "Shows masked leads (no LinkedIn URL, domain, email or phone) for "
            f"{_money(PRICE_PREVIEW_ROW)} a row, lets you tick the ones that fit, and buys "
            f"only those at {_money(PRICE_ENRICH_DATABASE_LEAD)} each: 40 picked out of 500 "
            "cost $1.00 + $0.80 instead of $10.00 for all 500."
        ],
        steps=[
            "On the Preview sheet, fill the criteria block (A2:D8): one filter per row.",
            "Set the rows to preview in B11 and refresh: the masked rows spill from "
            f"A{PREVIEW_TOP}.",
            f"Tick column {BUY_COLUMN} (TRUE or x) beside each row you want, then refresh: "
            f"the full profiles of the ticked rows spill from {BOUGHT_AT}.",
            "B13:B15 compare what picking costs with buying the whole preview.",
            "For work emails, type =GENERECT_EMAIL(L23) beside a bought row and fill down: "
            "billed only when an email is found; a miss is stored and not asked again.",
        ],
        notes=[
            "A lead you already own (bought by any search or purchase on this computer) is "
            "never bought again: it shows as 'owned' at no cost.",
            "The purchase is checked as a whole against your spending caps before anything "
            "is sent.",
        ],
    )
    return wb
