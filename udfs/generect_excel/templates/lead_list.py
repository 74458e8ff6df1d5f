"""The "lead-list" template: leads matching one criteria block, with a free count, the
worst-case cost and today's spend."""

from __future__ import annotations

from openpyxl import Workbook

from .._constants import MAX_LIMIT, PRICE_DATABASE_ROW, PRICE_EMAIL_FOUND
from .builder import (
    COUNT_FORMAT,
    HINT_STYLE,
    LABEL_STYLE,
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


def _build_lead_list() -> Workbook:
    wb = _new_workbook("Lead list")
    ws = wb.create_sheet("Lead list")
    lists = _lists_sheet(wb)
    _widths(ws, {"A": 30, "B": 26, "C": 26, "D": 26, "E": 30, "F": 48})
    for col in "GHIJK":
        ws.column_dimensions[col].width = 26
    _text(ws, "A1", "Lead list — who are you looking for?", "Title")
    rows = [
        _Row(
            "Job titles",
            ("Head of Sales", "VP Sales", "Sales Director"),
            "Titles as people write them; any of them matches.",
        ),
        _Row("Seniority", ("vp", "director", "head"), "Pick from the list.", "seniorities"),
        _Row("Location", ("United States", "Canada"), "Countries, states or cities."),
        _Row("Company size", ("51-200", "201-500", "501-1000"), "Employees.", "company_headcounts"),
        _Row("Company type", ("Privately Held",), "Pick from the list.", "company_types"),
        _Row(
            "Industry",
            ("Software Development", "IT Services and IT Consulting"),
            "LinkedIn industries; pick from the list.",
            "company_industries",
        ),
        _Row("Company location", (), "Optional: where the company is headquartered."),
        _Row("Exclude locations", (), "Optional: locations to leave out."),
        _Row("Exclude industries", (), "Optional: industries to leave out.", "company_industries"),
        _Row("Exclude company sizes", (), "Optional: sizes to leave out.", "company_headcounts"),
    ]
    criteria = _criteria_block(ws, 2, rows, lists)  # 'Lead list'!$A$2:$D$12

    _label(ws, "A14", "Matches (database count)")
    _generect(ws, "B14", f"=GENERECT_COUNT({criteria})", COUNT_FORMAT)
    _text(ws, "C14", "Free. Generect's estimate of how many leads match.", HINT_STYLE)
    _label(ws, "A15", "Leads to fetch (limit)")
    limit = 25
    _input(ws, "B15", limit)
    _whole_number(ws, "B15", 1, MAX_LIMIT, "limit")
    _text(
        ws,
        "C15",
        f"1 to {MAX_LIMIT:,}. Each returned lead costs {_money(PRICE_DATABASE_ROW)}.",
        HINT_STYLE,
    )
    _label(ws, "A16", "Worst-case cost of the search")
    _formula(ws, "B16", f"=B15*{PRICE_DATABASE_ROW}", limit * PRICE_DATABASE_ROW, MONEY_FORMAT)
    _text(
        ws,
        "C16",
        "Limit x price per row. Paid once: a stored answer is never paid again.",
        HINT_STYLE,
    )
    _label(ws, "A17", "Spent today")
    _generect(ws, "B17", '=GENERECT_SPEND("today")', MONEY_FORMAT)
    _text(ws, "C17", "All workbooks on this computer, from the local ledger (free).", HINT_STYLE)
    _label(ws, "A18", "Account balance")
    _generect(ws, "B18", "=GENERECT_BALANCE()", MONEY_FORMAT)
    _text(ws, "C18", "Free.", HINT_STYLE)

    _text(ws, "A20", "Leads", "Headline 2")
    _text(
        ws,
        "B20",
        "The table below spills from A21: a status line (matches, rows, amount charged, when "
        "fetched), a header row, then one row per lead. Keep the area below A21 empty.",
        HINT_STYLE,
    )
    _lead_table(ws, "A21", f"=GENERECT_SEARCH({criteria},B15)")
    # The email column, filled on demand: a formula per lead costs up to $0.02 (a found email).
    email = ws["L22"]
    email.value = "Email (on demand)"
    email.style = LABEL_STYLE
    ws.column_dimensions["L"].width = max(ws.column_dimensions["L"].width or 0, 34)
    _text(
        ws,
        "L20",
        "Work emails on demand: type =GENERECT_EMAIL(K23) in L23 and fill down beside the "
        f"leads you want. {_money(PRICE_EMAIL_FOUND)} per email found; a miss is free and is "
        "not asked again.",
        HINT_STYLE,
    )
    ws.freeze_panes = "A2"

    _read_me(
        wb,
        title="Lead list",
        summary=[
            "Finds the leads matching the criteria block on the Lead list sheet and puts them "
            "in the sheet, with a free count of all matches, the worst-case cost, and what was "
            "spent today."
        ],
        steps=[
            "On the Lead list sheet, replace the example values in the criteria block (A2:D12): "
            "one filter per row, one value per cell, up to three values per row (any of them "
            "matches). Leave a row empty to not filter on it.",
            "Seniority, company size, company type and industry cells offer drop-down lists of "
            "the values Generect accepts.",
            "Refresh. Check the free count in B14 and the worst-case cost in B16, and lower the "
            "limit in B15 before fetching many leads.",
            "The leads spill from A21: a status line, a header row, then one row per lead.",
            "For work emails, type =GENERECT_EMAIL(K23) in L23 (beside the first lead's id) "
            "and fill down as far as you need: billed only when an email is found.",
        ],
        notes=[
            "Criteria must be in the block itself: the refresher reads the values you typed in "
            "A2:D12, not formulas. Several values may also share one cell, separated by ';'.",
        ],
    )
    return wb
