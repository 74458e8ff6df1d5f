"""The workbook-level parts a patch edits: the hidden ``_GENERECT_SPILL_<n>`` records of static
tables in ``xl/workbook.xml`` (and its ``fullCalcOnLoad``), and Excel's dynamic-array cell
metadata in ``xl/metadata.xml``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from lxml import etree
from openpyxl.utils.cell import get_column_letter

from ...errors import WorkbookError
from ..parse import Reference, parse_reference
from .package import (
    _XML_DUMP,
    CT_METADATA,
    CT_NS,
    DYNAMIC_ARRAY_EXT,
    MAIN_NS,
    PKG_REL_NS,
    REL_TYPE_METADATA,
    XDA_NS,
    Bounds,
    Package,
    Part,
    _q,
    _rels_name,
    _resolve_target,
    _xml_of,
)
from .sheet import (
    _quote_sheet,
)

SPILL_NAME_PREFIX = "_GENERECT_SPILL_"


def _spill_records(
    workbook_root: etree._Element, sheets: list[tuple[str, str]]
) -> dict[str, dict[tuple[int, int], Bounds]]:
    """Sheet name -> {formula cell: extent} from the ``_GENERECT_SPILL_*`` names."""
    records: dict[str, dict[tuple[int, int], Bounds]] = {}
    names = workbook_root.find(_q("definedNames"))
    if names is None:
        return records
    for item in names.findall(_q("definedName")):
        if not item.get("name", "").upper().startswith(SPILL_NAME_PREFIX):
            continue
        reference = parse_reference(item.text or "")
        if not isinstance(reference, Reference):
            continue
        local = item.get("localSheetId")
        sheet = reference.sheet
        if sheet is None and local is not None and local.isdigit() and int(local) < len(sheets):
            sheet = sheets[int(local)][0]
        if sheet is None:
            continue
        c1, r1, _, _ = reference.bounds
        records.setdefault(sheet.lower(), {})[(c1, r1)] = reference.bounds
    return records


def _rewrite_spill_records(
    workbook_root: etree._Element,
    sheets: list[tuple[str, str]],
    written: Mapping[str, set[tuple[int, int]]],
    extents: Mapping[str, Mapping[tuple[int, int], Bounds]],
) -> None:
    """Replace the records of the formula cells written; keep every other record."""
    kept = _spill_records(workbook_root, sheets)
    for sheet, cells in written.items():
        for cell in cells:
            kept.get(sheet.lower(), {}).pop(cell, None)
    for sheet, extent in extents.items():
        kept.setdefault(sheet.lower(), {}).update(extent)
    names = workbook_root.find(_q("definedNames"))
    if names is not None:
        for item in names.findall(_q("definedName")):
            if item.get("name", "").upper().startswith(SPILL_NAME_PREFIX):
                names.remove(item)
    if not any(kept.values()):
        if names is not None and not len(names):
            workbook_root.remove(names)
        return
    if names is None:
        names = etree.Element(_q("definedNames"))
        # Schema order: ... sheets, functionGroups, externalReferences, definedNames, calcPr ...
        anchor = None
        for tag in ("externalReferences", "functionGroups", "sheets"):
            anchor = workbook_root.find(_q(tag))
            if anchor is not None:
                break
        if anchor is None:
            raise WorkbookError("The workbook part has no <sheets>.")
        anchor.addnext(names)
    index = {name.lower(): i for i, (name, _) in enumerate(sheets)}
    for sheet_key in sorted(kept, key=lambda k: index.get(k, 0)):
        if sheet_key not in index:
            continue
        title = sheets[index[sheet_key]][0]
        for number, (_cell, bounds) in enumerate(sorted(kept[sheet_key].items()), start=1):
            item = etree.SubElement(names, _q("definedName"))
            item.set("name", f"{SPILL_NAME_PREFIX}{number}")
            item.set("localSheetId", str(index[sheet_key]))
            item.set("hidden", "1")
            c1, r1, c2, r2 = bounds
            item.text = (
                f"{_quote_sheet(title)}!${get_column_letter(c1)}${r1}:${get_column_letter(c2)}${r2}"
            )
    # Excel keeps names sorted; some readers expect it.
    items = sorted(
        names.findall(_q("definedName")),
        key=lambda e: (e.get("name", "").lower(), e.get("localSheetId") or ""),
    )
    for item in items:
        names.remove(item)
        names.append(item)


def _without_full_calc(workbook_root: etree._Element) -> bool:
    calc = workbook_root.find(_q("calcPr"))
    if calc is not None and "fullCalcOnLoad" in calc.attrib:
        del calc.attrib["fullCalcOnLoad"]
        return True
    return False


_METADATA_XML = (
    f'<metadata xmlns="{MAIN_NS}" xmlns:xda="{XDA_NS}">'
    '<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" copy="1" '
    'pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" clearFormats="1" '
    'clearComments="1" assign="1" coerce="1" cellMeta="1"/></metadataTypes>'
    '<futureMetadata name="XLDAPR" count="1"><bk><extLst>'
    f'<ext uri="{DYNAMIC_ARRAY_EXT}">'
    '<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk>'
    '</futureMetadata><cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata>'
    "</metadata>"
)


def _dynamic_array_cm(package: Package, parts: dict[str, Part]) -> int:
    """The ``cm`` index meaning "dynamic array" in this workbook, adding the metadata if
    needed (as Excel 365 writes it: an XLDAPR type, future metadata with fDynamic=1, and a
    cell-metadata block pointing at it)."""
    rels_name = _rels_name(package.workbook_part)
    rels = etree.fromstring(_xml_of(parts, package, rels_name) or b"")
    part = None
    for rel in rels:
        if rel.get("Type") == REL_TYPE_METADATA:
            part = _resolve_target(package.workbook_part, rel.get("Target", ""))
    if part is None or part not in package.data:
        part = _resolve_target(package.workbook_part, "metadata.xml")
        taken = {rel.get("Id") for rel in rels}
        number = 1
        while f"rId{number}" in taken:
            number += 1
        rel = etree.SubElement(rels, _q("Relationship", PKG_REL_NS))
        rel.set("Id", f"rId{number}")
        rel.set("Type", REL_TYPE_METADATA)
        rel.set("Target", PurePosixPath(part).name)
        parts[rels_name] = etree.tostring(rels, **_XML_DUMP)
        types = etree.fromstring(_xml_of(parts, package, "[Content_Types].xml") or b"")
        override = etree.SubElement(types, _q("Override", CT_NS))
        override.set("PartName", "/" + part)
        override.set("ContentType", CT_METADATA)
        parts["[Content_Types].xml"] = etree.tostring(types, **_XML_DUMP)
        parts[part] = etree.tostring(etree.fromstring(_METADATA_XML), **_XML_DUMP)
        return 1
    root = etree.fromstring(_xml_of(parts, package, part) or b"")
    cm = _find_or_add_xldapr(root)
    parts[part] = etree.tostring(root, **_XML_DUMP)
    return cm


def _find_or_add_xldapr(root: etree._Element) -> int:
    types = root.find(_q("metadataTypes"))
    if types is None:
        types = etree.Element(_q("metadataTypes"))
        root.insert(0, types)
    type_index = None
    for i, item in enumerate(types.findall(_q("metadataType")), start=1):
        if item.get("name") == "XLDAPR":
            type_index = i
    if type_index is None:
        template = etree.fromstring(_METADATA_XML).find(_q("metadataTypes"))[0]
        types.append(template)
        type_index = len(types.findall(_q("metadataType")))
        types.set("count", str(type_index))
    future = None
    for item in root.findall(_q("futureMetadata")):
        if item.get("name") == "XLDAPR":
            future = item
    if future is None:
        future = etree.fromstring(_METADATA_XML).find(_q("futureMetadata"))
        for bk in future.findall(_q("bk")):
            future.remove(bk)
        future.set("count", "0")
        cell_meta_existing = root.find(_q("cellMetadata"))
        if cell_meta_existing is not None:
            cell_meta_existing.addprevious(future)
        else:
            root.append(future)
    future_index = None
    for i, bk in enumerate(future.findall(_q("bk"))):
        props = bk.find(f".//{{{XDA_NS}}}dynamicArrayProperties")
        if (
            props is not None
            and props.get("fDynamic") == "1"
            and props.get("fCollapsed", "0") == "0"
        ):
            future_index = i
            break
    if future_index is None:
        bk = etree.fromstring(_METADATA_XML).find(_q("futureMetadata")).find(_q("bk"))
        future.append(bk)
        future_index = len(future.findall(_q("bk"))) - 1
        future.set("count", str(future_index + 1))
    cell_meta = root.find(_q("cellMetadata"))
    if cell_meta is None:
        cell_meta = etree.SubElement(root, _q("cellMetadata"))
        cell_meta.set("count", "0")
    for i, bk in enumerate(cell_meta.findall(_q("bk")), start=1):
        rcs = bk.findall(_q("rc"))
        if any(rc.get("t") == str(type_index) and rc.get("v") == str(future_index) for rc in rcs):
            return i
    bk = etree.SubElement(cell_meta, _q("bk"))
    rc = etree.SubElement(bk, _q("rc"))
    rc.set("t", str(type_index))
    rc.set("v", str(future_index))
    count = len(cell_meta.findall(_q("bk")))
    cell_meta.set("count", str(count))
    return count
