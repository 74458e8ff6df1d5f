"""Saving a template workbook reproducibly, its formulas stored as Excel 365 stores them.

How the formulas are stored (what Excel itself writes, and why it matters):

- A user-defined function is stored under its plain name: ``<f>GENERECT_COUNT(A2:D12)</f>``.
  Excel prefixes ``_xlfn.`` to its own post-2007 functions only, and ``_xludf.`` to a name it
  reads as a user-defined function that collides with a built-in one; GENERECT_* collides with
  none. When Excel saves a workbook whose function came from an .xlam add-in it may qualify it
  as an external reference to the add-in file (``[1]!GENERECT_COUNT(...)`` plus an externalLink
  part); a plain name is resolved against the loaded add-in when Excel calculates. Readers of
  workbooks (the refresher) should accept all three spellings.
- A table function (GENERECT_SEARCH, GENERECT_VALUES) can be stored two ways, the refresher's
  two ``--spill`` forms (:mod:`generect_excel.workbook.xlsxpatch`), and a template uses the
  static one by default (``spill="static"``): a plain formula with a one-cell static-table
  record, the hidden name ``_GENERECT_SPILL_<n>`` over the formula's own cell. LibreOffice
  (measured with 7.4, ``soffice --convert-to``) shows a plain formula's cached value, here
  :data:`NOT_FETCHED`, whereas it recalculates every array formula on open, and an unknown
  function in an array formula shows ``#NAME?`` whatever the cached value, the ``cm``
  metadata, ``aca``/``ca`` or an ``_xludf.``/``_xll.``/``_xlfn.`` prefix (all measured: only
  a plain ``<f>`` keeps its cached value). Excel 365 shows such a formula as a legacy one,
  ``=@GENERECT_SEARCH(...)``, and keeps only its top-left value until the ribbon's Refresh,
  which finds the record and rewrites the formula through ``Formula2`` as a spilling one
  (:mod:`generect_excel.ribbon_actions`): the same path a file refreshed by
  ``generect-excel refresh`` takes. The cost of this form: in Excel 365, a criteria cell
  changed before the first ribbon Refresh recalculates the legacy formula, which fetches
  (and pays for) the search but shows only its status line; the Read me says to refresh from
  the ribbon first.
- ``spill="dynamic"`` writes them the way Excel 365 writes a spilling formula:
  ``<c cm="1"><f t="array" ref="A21">GENERECT_SEARCH(...)</f>``, with the ``XLDAPR`` cell
  metadata in ``xl/metadata.xml``; Excel 365 spills it on its first calculation, and
  LibreOffice shows ``#NAME?`` in it. openpyxl cannot write that, so :func:`write_workbook`
  adds it to the saved package.
- One-value functions (GENERECT_COUNT, GENERECT_SPEND, GENERECT_BALANCE) are plain formulas in
  both forms: Excel 365 shows them with a harmless ``@`` and the same value.
- Every GENERECT_* cell carries the cached text :data:`NOT_FETCHED`, so a spreadsheet that
  shows cached values says what to do instead of ``#NAME?``.
- Opening a template fetches nothing. openpyxl saves ``<calcPr calcId="124519"
  fullCalcOnLoad="1"/>``, and Excel recalculates every formula on open when asked to, or when
  the saved ``calcId`` is older than its own engine's ("If the value is less than the
  recalculation engine identifier associated with the application, the application will
  recalculate the results of all formulas on this workbook immediately after loading the
  file", [MS-XLS] 2.4.215 RecalcId): with the add-in, that would buy each example search. So
  the templates are saved as Excel 365 saves a calculated workbook (:data:`CALC_ID`, no
  ``fullCalcOnLoad``), with a cached value in every formula cell (the value it computes in
  the template as built: ``=B15*0.02`` caches 0.5), because Excel then shows cached values.
- LibreOffice, too, shows a plain formula's cached value on load instead of recomputing it
  (measured with 7.4): a total of counts written later by ``generect-excel refresh`` would
  stay 0, in Excel as well. Such totals end in :data:`RECALC_ON_OPEN`, which both recompute
  on open, from the counts' cached values.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

from lxml import etree
from openpyxl import Workbook
from openpyxl.utils.cell import coordinate_to_tuple

from ..workbook.xlsxpatch import SpillMode
from ..workbook.xlsxpatch.workbook_parts import _rewrite_spill_records
from ..worksheet import SPILLING
from .builder import _CACHED, _GENERECT_CALL, _ZIP_DATE, BUILD_DATE, NOT_FETCHED, Cached


def write_workbook(
    wb: Workbook, path: str | os.PathLike[str], *, spill: SpillMode = "static"
) -> Path:
    """Save a template workbook to ``path`` reproducibly, its table formulas in ``spill`` form.

    ``spill="static"`` (the default) stores each GENERECT_SEARCH as a plain formula with a
    one-cell static-table record, which every spreadsheet shows as "Not fetched yet";
    ``"dynamic"`` as an Excel 365 dynamic array, which LibreOffice shows as ``#NAME?`` (see
    the module docstring).

    Opening the file computes nothing billable: it is saved as current Excel saves a
    calculated workbook (``<calcPr calcId="191029"/>``, no ``fullCalcOnLoad``) with a cached
    value in every formula cell, so Excel shows the saved values instead of recalculating
    (see :data:`CALC_ID`). The same workbook gives the same bytes on every run: fixed
    document dates and zip entry times. The file is written beside ``path`` and moved into
    place, so a failure leaves any earlier file intact.

    Raises ValueError if an ordinary formula has no cached value (built without ``_formula``),
    or for an unknown ``spill``.
    """
    if spill not in ("static", "dynamic"):
        raise ValueError(f'spill must be "static" or "dynamic", not {spill!r}')
    target = Path(path)
    buffer = io.BytesIO()
    wb.properties.created = BUILD_DATE
    wb.calculation.calcId = CALC_ID
    wb.calculation.fullCalcOnLoad = None  # openpyxl's default True: recalculate all on open
    wb.save(buffer)
    cached = {ws.title: _CACHED.get(ws, {}) for ws in wb.worksheets}
    data = _finish_package(buffer.getvalue(), cached, spill)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes the file private; a template holds nothing secret.
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- package edits

# The calculation engine id that Excel 365 writes into the workbooks it saves (seen in files
# it saved from 2020 on; some builds wrote 191028). Excel recalculates every formula of a
# workbook on open when the saved id is lower than its own engine's (openpyxl writes Excel
# 2007's 124519), and with fullCalcOnLoad; a recalculated GENERECT formula would fetch, and
# buy, its example search. Only a lower id triggers it, so an older Excel (a lower engine id)
# does not either. With this id and no fullCalcOnLoad, Excel shows the cached values and
# recalculates only volatile formulas and what depends on them.
CALC_ID = 191029

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_METADATA_PART = "xl/metadata.xml"
_METADATA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"
_METADATA_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sheetMetadata"
# Excel 365's dynamic-array cell metadata: cm="1" on a cell points at this one entry.
_METADATA_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<metadata xmlns="{_MAIN_NS}" '
    'xmlns:xda="http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray">'
    '<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" copy="1" '
    'pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" clearFormats="1" '
    'clearComments="1" assign="1" coerce="1" cellMeta="1"/></metadataTypes>'
    '<futureMetadata name="XLDAPR" count="1"><bk><extLst>'
    '<ext uri="{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}">'
    '<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk>'
    '</futureMetadata><cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata>'
    "</metadata>"
).encode()


def _set_cached(cell: etree._Element, value: Cached) -> None:
    """Store ``value`` as the formula cell's cached result, typed as Excel types one."""
    if isinstance(value, bool):
        kind, text = "b", "1" if value else "0"
    elif isinstance(value, int | float | Decimal):
        kind, text = None, repr(float(value)) if value % 1 else str(int(value))
    else:
        kind, text = "str", value
    if kind is None:
        cell.attrib.pop("t", None)
    else:
        cell.set("t", kind)
    element = cell.find(f"{{{_MAIN_NS}}}v")
    if element is None:
        element = etree.SubElement(cell, f"{{{_MAIN_NS}}}v")
    element.text = text


def _mark_formulas(
    sheet_xml: bytes, cached: dict[str, tuple[str, Cached]], sheet: str, spill: SpillMode
) -> tuple[bytes, list[str]]:
    """Give every formula cell of ``sheet`` its cached value; store its table formulas as
    ``spill`` says (dynamic: ``t="array"`` and ``cm="1"``; static: plain).

    A GENERECT_* cell caches :data:`NOT_FETCHED`; an ordinary formula the value registered
    for it in ``cached`` (cell -> (formula, value)). Returns the new XML and the cells of its
    table formulas.
    """
    root = etree.fromstring(sheet_xml)
    tables: list[str] = []
    changed = False
    for cell in root.iter(f"{{{_MAIN_NS}}}c"):
        formula = cell.find(f"{{{_MAIN_NS}}}f")
        if formula is None or not formula.text:
            continue
        changed = True
        match = _GENERECT_CALL.match(formula.text)
        if not match:
            coordinate = cell.get("r")
            formula_text, value = cached.get(coordinate, (None, None))
            if formula_text is None or formula_text != f"={formula.text}":
                # Excel shows a template's saved values on open: one missing would show empty.
                raise ValueError(f"no cached value for the formula in {sheet}!{coordinate}")
            _set_cached(cell, value)  # type: ignore[arg-type]
            continue
        if match.group(1).upper() in SPILLING:
            tables.append(cell.get("r"))
            if spill == "dynamic":
                formula.set("t", "array")
                formula.set("ref", cell.get("r"))
                cell.set("cm", "1")
            else:
                formula.attrib.pop("t", None)
                formula.attrib.pop("ref", None)
                cell.attrib.pop("cm", None)
        _set_cached(cell, NOT_FETCHED)
    if not changed:
        return sheet_xml, []
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), tables


def _add_metadata_part(content_types: bytes, workbook_rels: bytes) -> tuple[bytes, bytes]:
    types = etree.fromstring(content_types)
    ns = types.nsmap[None]
    override = etree.SubElement(types, f"{{{ns}}}Override")
    override.set("PartName", f"/{_METADATA_PART}")
    override.set("ContentType", _METADATA_TYPE)
    rels = etree.fromstring(workbook_rels)
    rns = rels.nsmap[None]
    taken = {rel.get("Id") for rel in rels}
    number = 1
    while f"rId{number}" in taken:
        number += 1
    rel = etree.SubElement(rels, f"{{{rns}}}Relationship")
    rel.set("Type", _METADATA_REL)
    rel.set("Target", "metadata.xml")
    rel.set("Id", f"rId{number}")
    dump = {"xml_declaration": True, "encoding": "UTF-8", "standalone": True}
    return etree.tostring(types, **dump), etree.tostring(rels, **dump)


def _sheet_parts(workbook_xml: bytes, workbook_rels: bytes) -> dict[str, str]:
    """Sheet name -> its part in the package ("xl/worksheets/sheet2.xml")."""
    targets = {
        rel.get("Id"): rel.get("Target").lstrip("/").removeprefix("xl/")
        for rel in etree.fromstring(workbook_rels)
    }
    rel_id = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    return {
        sheet.get("name"): f"xl/{targets[sheet.get(rel_id)]}"
        for sheet in etree.fromstring(workbook_xml).iter(f"{{{_MAIN_NS}}}sheet")
    }


def _finish_package(
    package: bytes, cached: dict[str, dict[str, tuple[str, Cached]]], spill: SpillMode
) -> bytes:
    """Cache every formula's value, store the table formulas in ``spill`` form, fix the dates,
    rezip.

    ``cached`` is sheet name -> cell -> (formula, value) for the ordinary formulas.
    """
    with zipfile.ZipFile(io.BytesIO(package)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheets = _sheet_parts(parts["xl/workbook.xml"], parts["xl/_rels/workbook.xml.rels"])
    tables: dict[str, dict[tuple[int, int], tuple[int, int, int, int]]] = {}
    for sheet, name in sheets.items():
        parts[name], cells = _mark_formulas(parts[name], cached.get(sheet, {}), sheet, spill)
        for coordinate in cells:
            column, row = coordinate_to_tuple(coordinate)[::-1]
            tables.setdefault(sheet, {})[(column, row)] = (column, row, column, row)
    if tables and spill == "dynamic":
        parts["[Content_Types].xml"], parts["xl/_rels/workbook.xml.rels"] = _add_metadata_part(
            parts["[Content_Types].xml"], parts["xl/_rels/workbook.xml.rels"]
        )
        parts[_METADATA_PART] = _METADATA_XML
    elif tables:
        # The refresher's own record of a static table, here one cell: the ribbon's Refresh
        # turns a recorded formula into a spilling one; `generect-excel refresh` replaces it.
        root = etree.fromstring(parts["xl/workbook.xml"])
        _rewrite_spill_records(root, list(sheets.items()), {}, tables)
        parts["xl/workbook.xml"] = etree.tostring(
            root, xml_declaration=True, encoding="UTF-8", standalone=True
        )
    # openpyxl stamps "modified" with the time of saving.
    stamp = BUILD_DATE.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    parts["docProps/core.xml"] = re.sub(
        rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*",
        rb"\g<1>" + stamp,
        parts["docProps/core.xml"],
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            target.writestr(info, data)
    return out.getvalue()
