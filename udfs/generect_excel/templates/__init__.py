"""Template workbooks: ready-to-fill .xlsx files built around the GENERECT_* functions.

An edge package (openpyxl). Each template has a "Read me" sheet, input cells in Excel's own
"Input" cell style, example criteria marked "Example — replace with yours", and formulas whose
criteria arguments are ranges of literal cells, so that ``generect-excel refresh`` can read
them from the file (it sees no values that only Excel would calculate).

    TEMPLATES                       name -> one-line description
    build_template(name)            -> openpyxl.Workbook (a fresh, unsaved workbook)
    write_template(name, path)      builds and saves it, byte-for-byte reproducibly
    GridSpec / build_market_sizing  a market-sizing grid of your own rows, columns and filters

Modules: ``builder`` (styles, cell writers, validations, the criteria block), ``readme`` (the
"Read me" sheet), one module per template (``lead_list``, ``market_sizing``, ``account_list``,
``realtime_signals``), ``catalog`` (templates by name) and ``writer`` (saving, and how the
formulas are stored: see its docstring).
"""

# __all__ is the API. The other names imported here were public names of the single module
# this package replaced, and stay importable from it (hence the noqa).
from .account_list import ACCOUNT_MAX_LIMIT, ACCOUNTS_SHEET, RESULTS_SHEET  # noqa: F401
from .builder import (  # noqa: F401
    BUILD_DATE,
    COUNT_FORMAT,
    EXAMPLE_MARK,
    EXAMPLE_STYLE,
    HINT_STYLE,
    INPUT_STYLE,
    LABEL_STYLE,
    LISTS_SHEET,
    MONEY_FORMAT,
    NOT_FETCHED,
    RECALC_ON_OPEN,
    RESULT_STYLE,
    SPILLING,
    TEXT_FORMAT,
    Cached,
    quote_sheetname,
)
from .catalog import TEMPLATES, build_template, write_template
from .market_sizing import (  # noqa: F401
    DEFAULT_GRID,
    GRID_CRITERIA_SHEET,
    GRID_SHEET,
    GridSpec,
    build_market_sizing,
)
from .readme import generect_formula_cells
from .writer import CALC_ID, write_workbook

__all__ = [
    "CALC_ID",
    "EXAMPLE_MARK",
    "INPUT_STYLE",
    "NOT_FETCHED",
    "RECALC_ON_OPEN",
    "SPILLING",
    "TEMPLATES",
    "GridSpec",
    "build_market_sizing",
    "build_template",
    "generect_formula_cells",
    "write_template",
    "write_workbook",
]
