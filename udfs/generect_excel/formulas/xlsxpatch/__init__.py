"""Write formula results into an .xlsx file by editing only the worksheet XML they touch.

openpyxl is not used for writing: re-saving through it drops what it does not model (charts'
extra formatting, images, pivot caches, slicers, VBA signatures, metadata) and stamps
``fullCalcOnLoad``. Here the zip is copied member by member, byte for byte, and only these
parts are rewritten (with lxml, which keeps namespaces, prefixes and unknown elements):

- each worksheet that receives a result (its ``<sheetData>`` cells, ``<dimension>``),
- ``xl/workbook.xml``: ``fullCalcOnLoad`` removed from ``<calcPr>`` (it would make Excel
  recalculate on open and, without the add-in, replace every cached result with ``#NAME?``),
  and the hidden spill records (below),
- ``xl/calcChain.xml`` is dropped when a formula changes between array and plain form (it
  flags array formulas; Excel rebuilds the chain), with its content type and relationship,
- for ``spill="dynamic"`` only: ``xl/metadata.xml`` gets Excel's dynamic-array cell metadata.

Limit: Excel recalculates a whole workbook on open when its ``calcId`` is older than its own
engine (openpyxl writes Excel 2007's), and without the add-in a recalculated GENERECT cell
shows ``#NAME?``. ``calcId`` is left alone (other formulas may need that recalculation); a
static table's values survive it, only its formula cell turns ``#NAME?``.

How a result is stored (cell by cell, like Excel stores a formula with its last value):

- The formula cell keeps its formula and gets the first value as its cached ``<v>``.
- A table (GENERECT_SEARCH, GENERECT_VALUES) fills the cells right of and below it with plain
  cached values. ``spill="static"`` (default) keeps the formula a plain formula: every
  spreadsheet shows the values (LibreOffice recalculates *array* formulas on open and would
  show ``#NAME?`` over the whole table), and Excel shows the same values without the add-in.
  The table's extent is recorded in a hidden sheet-level defined name ``_GENERECT_SPILL_<n>``
  (Excel moves it with the cells when rows are inserted), so that the next refresh clears
  leftovers. ``spill="dynamic"`` stores it as Excel 365 stores a spilling formula
  (``<f t="array" ref="A21:K48">`` with ``cm`` pointing at the ``XLDAPR`` metadata): Excel
  with the add-in re-spills it on recalculation; LibreOffice shows ``#NAME?``.
- Text is a ``t="str"`` cached value, never a shared string and never a formula, so lead text
  starting with ``=``, ``+``, ``-`` or ``@`` stays text. Numbers are plain ``<v>``, booleans
  ``t="b"``, dates ISO text, ``None`` an empty cell. A cell's style (``s``) is always kept.
- Leftovers: cells of the formula's previous extent outside the new one are emptied (their
  style kept); nothing else is. A previous extent is the formula's array ``ref`` or its
  ``_GENERECT_SPILL`` record.
- Collision: if the new table would cover a non-empty cell that is not part of the formula's
  previous extent (or another table placed in this refresh, a merged cell, an Excel table, or
  the sheet's edge), nothing is spilled and the formula cell gets Excel's ``#SPILL!`` error;
  the blocking content is left alone.

How it is written: each worksheet in one pass over its rows, as bytes (``rows``: the sheet is
scanned once into per-row masks, the tables placed on them, and the new XML streamed into the
new zip, untouched rows copied byte for byte), so time and memory grow with the cells, not with
an XML tree of the whole sheet; XML that scanner does not read (comments inside ``<sheetData>``,
cells without their position, ...) goes through an lxml tree (``sheet``), with the same rules.

Modules: ``package`` (the zip: members read when needed, parts, atomic streamed writing),
``sheet`` (one worksheet's cells as a tree), ``sheet_xml``, ``rows`` and ``rows_write`` (one
worksheet as bytes: reading, placing, writing), ``workbook_parts`` (spill records,
dynamic-array metadata), ``patch`` (placing results, and :func:`patch_workbook`).
"""

from __future__ import annotations

# __all__ is the API. The other names imported here were public names of the single module
# this package replaced, and stay importable from it (hence the noqa).
from .package import (  # noqa: F401
    CT_METADATA,
    CT_NS,
    DYNAMIC_ARRAY_EXT,
    MAIN_NS,
    PKG_REL_NS,
    REL_NS,
    REL_TYPE_CALC_CHAIN,
    REL_TYPE_METADATA,
    REL_TYPE_TABLE,
    WRITE_PAUSE_ENV,
    XDA_NS,
    Bounds,
    Package,
    write_atomically,
)
from .patch import (  # noqa: F401
    SPILL_ERROR,
    CellResult,
    PatchReport,
    SpillBlocked,
    SpillMode,
    patch_sheet,
    patch_workbook,
)
from .sheet import (
    SheetEditor,  # noqa: F401
    area_text,
)
from .workbook_parts import SPILL_NAME_PREFIX

__all__ = [
    "SPILL_NAME_PREFIX",
    "CellResult",
    "Package",
    "PatchReport",
    "SpillBlocked",
    "SpillMode",
    "area_text",
    "patch_workbook",
    "write_atomically",
]
