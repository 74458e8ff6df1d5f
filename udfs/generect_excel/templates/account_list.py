"""The "account-list" template: decision makers at each target company, one card per company
and one fixed section of leads per card."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from .._constants import PRICE_DATABASE_COMPANY, PRICE_DATABASE_ROW
from .builder import (
    COUNT_FORMAT,
    EXAMPLE_MARK,
    EXAMPLE_STYLE,
    HINT_STYLE,
    MONEY_FORMAT,
    TEXT_FORMAT,
    _formula,
    _generect,
    _input,
    _label,
    _lead_table,
    _link,
    _new_workbook,
    _one_company,
    _ref,
    _text,
    _whole_number,
    _widths,
    quote_sheetname,
)
from .readme import _read_me

ACCOUNTS_SHEET = "Accounts"
RESULTS_SHEET = "Decision makers"
ACCOUNT_MAX_LIMIT = 25  # each company's leads get this many rows, so spills never collide
_ACCOUNT_SECTION = ACCOUNT_MAX_LIMIT + 5  # title + status + header + rows + gap
_ACCOUNTS = (
    ("Stripe", None),
    ("HubSpot", None),
    ("Notion", None),
    (None, "https://www.linkedin.com/company/figma/"),
    (None, "https://www.linkedin.com/company/datadog/"),
)
_DECISION_MAKERS = "c_suite; vp; director"
_ACCOUNT_LIMIT = 5  # the example limit of each card
# Proposing accounts: a company search below the cards (a horizontal criteria block).
_PROPOSAL_FILTERS = (
    ("Industry", "Software Development"),
    ("Company size", "51-200"),
    ("HQ location", "United States"),
    ("Company type", None),
)
_PROPOSAL_LIMIT = 10
PROPOSAL_MAX_LIMIT = 100


def _propose_accounts(ws: Worksheet, top: int) -> None:
    """The account proposal at ``A{top}``: company filters, their free count, the worst case,
    and the companies it finds spilling below (GENERECT_COMPANIES)."""
    _text(ws, f"A{top}", "Propose accounts — companies matching your ideal customer", "Headline 2")
    _text(
        ws,
        f"A{top + 1}",
        "Fill the company filters; the companies found spill below. Copy a company's name into "
        "a card above to find its decision makers.",
        HINT_STYLE,
    )
    labels, values = top + 2, top + 3
    for column, (label, value) in zip("ABCD", _PROPOSAL_FILTERS, strict=True):
        _label(ws, f"{column}{labels}", label)
        _input(ws, f"{column}{values}", value, TEXT_FORMAT)
    for column, label in zip("EFG", ("Companies", "Companies to list", "Worst case"), strict=True):
        _label(ws, f"{column}{labels}", label)
    criteria = f"$A${labels}:$D${values}"
    _generect(ws, f"E{values}", f"=GENERECT_COMPANY_COUNT({criteria})", COUNT_FORMAT)
    _input(ws, f"F{values}", _PROPOSAL_LIMIT)
    _whole_number(ws, f"F{values}", 1, PROPOSAL_MAX_LIMIT, "limit")
    _formula(
        ws,
        f"G{values}",
        f"=F{values}*{PRICE_DATABASE_COMPANY}",
        _PROPOSAL_LIMIT * PRICE_DATABASE_COMPANY,
        MONEY_FORMAT,
    )
    _text(ws, f"I{values}", EXAMPLE_MARK, EXAMPLE_STYLE)
    _generect(ws, f"A{values + 2}", f"=GENERECT_COMPANIES({criteria},F{values})")


def _build_account_list() -> Workbook:
    wb = _new_workbook("Account list")
    ws = wb.create_sheet(ACCOUNTS_SHEET)
    out = wb.create_sheet(RESULTS_SHEET)
    _widths(ws, {"A": 24, "B": 44, "C": 24, "D": 24, "E": 24, "F": 15, "G": 14, "H": 24, "I": 30})
    _text(ws, "A1", "Account list — decision makers at your target companies", "Title")
    _text(
        ws,
        "A2",
        "One card per company: a labels row and a values row. Fill the company name OR its "
        "LinkedIn company URL (not both). Each card's leads are on the Decision makers sheet.",
        HINT_STYLE,
    )
    # Before the sections: each lead table widens the columns its values need.
    _widths(out, {"A": 26, "B": 26} | {c: 22 for c in "CDEFGHIJK"})
    worst_cells: list[str] = []
    first = 4
    for index, (name, url) in enumerate(_ACCOUNTS):
        top = first + 3 * index
        values = top + 1
        for column, text in zip(
            "ABCDEFGH",
            (
                "Company",
                "Company LinkedIn URL",
                "Seniority",
                "Job titles",
                "Matches",
                "Leads to fetch",
                "Worst case",
                "Leads",
            ),
            strict=True,
        ):
            _label(ws, f"{column}{top}", text)
        _input(ws, f"A{values}", name, TEXT_FORMAT)
        _input(ws, f"B{values}", url, TEXT_FORMAT)
        _input(ws, f"C{values}", _DECISION_MAKERS, TEXT_FORMAT)
        _input(ws, f"D{values}", None, TEXT_FORMAT)
        _one_company(ws, values)
        criteria = f"$A${top}:$D${values}"  # same-sheet reference, as Excel writes one
        _generect(ws, f"E{values}", f"=GENERECT_COUNT({criteria})", COUNT_FORMAT)
        _input(ws, f"F{values}", _ACCOUNT_LIMIT)
        _whole_number(ws, f"F{values}", 1, ACCOUNT_MAX_LIMIT, "limit")
        worst = _ACCOUNT_LIMIT * PRICE_DATABASE_ROW
        _formula(ws, f"G{values}", f"=F{values}*{PRICE_DATABASE_ROW}", worst, MONEY_FORMAT)
        worst_cells.append(f"G{values}")
        section = 1 + _ACCOUNT_SECTION * index
        _link(
            ws,
            f"H{values}",
            f"Decision makers, row {section}",
            f"{quote_sheetname(RESULTS_SHEET)}!A{section}",
        )
        _text(ws, f"I{values}", EXAMPLE_MARK, EXAMPLE_STYLE)

        _text(out, f"A{section}", f"Company {index + 1}", "Headline 3")
        _formula(
            out,
            f"B{section}",
            f'=IF(Accounts!$A${values}<>"",Accounts!$A${values},Accounts!$B${values})',
            name or url or 0,  # a reference to an empty cell is 0
        )
        out[f"B{section}"].style = "Headline 3"
        _lead_table(
            out,
            f"A{section + 1}",
            f"=GENERECT_SEARCH({_ref(ACCOUNTS_SHEET, f'A{top}', f'D{values}')},"
            f"{_ref(ACCOUNTS_SHEET, f'F{values}')})",
        )
    bottom = first + 3 * len(_ACCOUNTS)
    _label(ws, f"F{bottom}", "Worst case, all")
    _formula(
        ws,
        f"G{bottom}",
        f"=SUM({','.join(worst_cells)})",
        len(worst_cells) * _ACCOUNT_LIMIT * PRICE_DATABASE_ROW,
        MONEY_FORMAT,
    )
    _label(ws, f"F{bottom + 1}", "Spent today")
    _generect(ws, f"G{bottom + 1}", '=GENERECT_SPEND("today")', MONEY_FORMAT)
    _text(
        ws,
        f"A{bottom}",
        "Seniority: c_suite, vp, director (several values in one cell, separated by ';'). "
        "Add Job titles to narrow further.",
        HINT_STYLE,
    )
    _propose_accounts(ws, bottom + 3)

    _read_me(
        wb,
        title="Account list",
        summary=[
            "Finds the decision makers (C-suite, VP and director by default) at each of your "
            "target companies, with a free count per company and the worst-case cost."
        ],
        steps=[
            f"No list of companies yet? Below the cards on the {ACCOUNTS_SHEET} sheet, "
            "Propose accounts: set Industry, Company size, HQ location and Company type; a "
            "refresh lists the matching companies (billed per company listed; the count is "
            "free). Copy the ones you want into the cards.",
            f"On the {ACCOUNTS_SHEET} sheet, replace the example companies: in each card's values "
            "row, type the company name in column A or its LinkedIn company URL in column B, "
            "never both (Generect takes one company identifier).",
            "Adjust Seniority (c_suite, vp, director, head, ...) and add Job titles if you like.",
            f"Set Leads to fetch (1 to {ACCOUNT_MAX_LIMIT}) and check the worst case in column G.",
            f"Refresh. Each company's leads spill on the {RESULTS_SHEET} sheet, in its own "
            f"section of {_ACCOUNT_SECTION} rows.",
        ],
        notes=[
            "Why cards: a GENERECT_SEARCH takes one criteria range, so each company has its "
            "own: a labels row and a values row (a horizontal criteria block, A:D).",
            f"Why a separate sheet with fixed sections: a lead table spills down, so each "
            f"company's table gets {_ACCOUNT_SECTION} rows of its own on {RESULTS_SHEET}, room "
            f"for a status line, a header and up to {ACCOUNT_MAX_LIMIT} leads; the limit cells "
            f"accept 1 to {ACCOUNT_MAX_LIMIT} so that tables never run into each other.",
            "Never leave a card with Seniority but no company: that would search every "
            "company, up to the limit, and be charged like any search.",
            "To add a company, copy a card to the rows below the last one and a section on "
            f"{RESULTS_SHEET}, and point the copied formulas at the new card.",
        ],
    )
    return wb
