"""Criteria: from what an analyst fills in (a range of cells, a file, keyword arguments) to a
validated request.

A criteria range arrives exactly as xlwings hands it to Python: a list of rows (a single row or
column may come as a flat list, one cell as a bare value), ``None`` for empty cells, floats for
numbers, bools, strings and datetimes.

Layouts
    *vertical*: the label in the first column, its values in the cells to the right;
    *horizontal*: labels as headers in the first row, the values below each.
    Rule: fully empty outer rows and columns are trimmed, and so are leading rows and columns
    made only of title or header words ("Lead criteria", "Filter | Values", a "Field / Value"
    column); then the first column and the first row are each scored by the share of their
    non-empty cells that are known labels (header words left out). The higher share wins; on
    a tie, close misspellings of labels are scored the same way; then the layout whose value
    cells hold fewer labels wins; then vertical. Positions in messages count from the top
    left cell of the range as given ("row 4 of the criteria", "column 3 of the criteria"), or
    are the sheet's own row and column ("row 9", "column C") when the caller passes the range's
    ``origin`` (the refresher knows the range's address; a worksheet function does not).

Lines
    Empty cells and empty lines are ignored; a label with no values is an empty criterion and
    is ignored too. A first line made only of header words ("Filter | Values", "Field | Value",
    "Criteria") is skipped. A line with values but an empty label continues the line above
    (merged label cells, or one value per row); with no line above it is an error. A label
    that appears twice gathers the values of both.

Several values in a cell
    ``;`` and line breaks always split. Commas split only where values never contain commas
    (job titles, keywords, seniorities, company types, names, IDs, functions, emails...);
    a value in double quotes is never split (``"VP, Sales"``). Commas never split location
    fields (``San Francisco, CA`` stays whole). In vocabulary fields whose values may contain
    commas (industries such as ``Technology, Information and Internet``, sizes such as
    ``10,000+``), comma pieces are re-joined with their neighbours whenever the joined text is
    a valid value (longest match first). Single-value fields (company, company link, limit,
    yes/no fields) are never split.

Cell values
    Whole floats are whole numbers (1.0 -> 1; 1.5 in a whole-number field is an error);
    yes/no fields take TRUE/FALSE, yes/no, y/n, 1/0, on/off and "x" (ticked). A date never
    belongs in criteria (Excel turns "1-10" into 10 January and "11-50" into November 1950): in
    a company-size field such a date is read back as the size it came from, anywhere else it
    is an error asking to type the value as text. A "Company" that is a LinkedIn URL is sent as
    the company link, one that is a whole number as the company ID.

Every problem names the row (vertical) or column (horizontal) label and what would be valid;
all problems are collected into one :class:`~generect_excel.errors.CriteriaError`.

Modules: ``fields`` (what each field takes, its labels), ``cells`` (one criterion's values:
splitting and typing), ``parsed`` (criteria gathered into request fields, problems raised
together), ``blocks`` (a criteria range: layout and lines), ``mapping`` (files and keyword
arguments).
"""

# __all__ is the API. The field kinds imported here were public names of the single module this
# package replaced, and stay importable from it (hence the noqa).
from ..models import with_paging
from .blocks import criteria_from_block, parse_block
from .fields import (  # noqa: F401
    BOOL,
    CONNECTIONS,
    FIELD_KINDS,
    FIELD_LABELS,
    INT,
    INT_LIST,
    LOCATION_LIST,
    PERSONAS,
    TEXT,
    TEXT_LIST,
    VOCAB_LIST,
    field_for_label,
)
from .mapping import criteria_from_file, criteria_from_kwargs, criteria_from_mapping

__all__ = [
    "FIELD_KINDS",
    "FIELD_LABELS",
    "criteria_from_block",
    "criteria_from_file",
    "criteria_from_kwargs",
    "criteria_from_mapping",
    "field_for_label",
    "parse_block",
    "with_paging",
]
