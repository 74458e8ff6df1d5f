"""The add-in build: a valid .xlam with the Generect ribbon, callbacks that exist in its VBA,
and the same bytes on every rebuild."""

from __future__ import annotations

import io
import keyword
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import olefile
import pytest

from generect_excel.addin.build import (
    ADDIN_FILENAME,
    PYTHON_RIBBON_MODULE,
    RIBBON_BUTTONS,
    build_xlam,
    customui_part,
    ribbon_vba,
    ribbon_xml,
    template_path,
    write_xlam,
)
from generect_excel.addin.vba_project import VBAProject, read_compound_file

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "addin" / ADDIN_FILENAME
UI = "{http://schemas.microsoft.com/office/2006/01/customui}"
CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# What the ribbon must offer: id, label, the function it runs in generect_excel.ribbon.
EXPECTED_BUTTONS = {
    ("generectRefreshSelection", "Refresh selection", "refresh_selection"),
    ("generectRefreshSheet", "Refresh sheet", "refresh_sheet"),
    ("generectRefreshWorkbook", "Refresh workbook", "refresh_workbook"),
    ("generectFreeze", "Freeze to values", "freeze_selection"),
    ("generectSpend", "Spend", "show_spend"),
}


@pytest.fixture(scope="module")
def xlam() -> bytes:
    return build_xlam()


@pytest.fixture(scope="module")
def parts(xlam: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(xlam)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture(scope="module")
def project(parts: dict[str, bytes]) -> VBAProject:
    return VBAProject.from_bytes(parts["xl/vbaProject.bin"])


def _ribbon(parts: dict[str, bytes]) -> ElementTree.Element:
    return ElementTree.fromstring(parts[customui_part(parts)])


def test_valid_zip_with_the_vba_project(parts: dict[str, bytes]) -> None:
    assert "xl/vbaProject.bin" in parts
    ole = olefile.OleFileIO(io.BytesIO(parts["xl/vbaProject.bin"]))
    assert ole.exists("VBA/dir") and ole.exists("PROJECT")
    # Version 0xFFFF: Excel ignores any cached p-code and compiles our source on open.
    assert ole.openstream("VBA/_VBA_PROJECT").read()[:4] == bytes.fromhex("cc61ffff")


def test_rebuild_gives_identical_bytes(xlam: bytes, tmp_path: Path) -> None:
    out = write_xlam(tmp_path / "again.xlam")
    assert out.read_bytes() == xlam
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_ribbon_has_the_generect_tab_and_buttons(parts: dict[str, bytes]) -> None:
    ui = _ribbon(parts)
    tabs = ui.findall(f".//{UI}tab")
    assert [t.get("label") for t in tabs] == ["Generect"]
    buttons = tabs[0].findall(f".//{UI}button")
    found = {(b.get("id"), b.get("label"), b.get("tag")) for b in buttons if b.get("tag")}
    assert found == EXPECTED_BUTTONS
    ids = [b.get("id") for b in buttons]
    assert len(ids) == len(set(ids))


def test_every_callback_exists_in_the_vba(parts: dict[str, bytes], project: VBAProject) -> None:
    for button in _ribbon(parts).iter(f"{UI}button"):
        module, _, procedure = button.get("onAction", "").partition(".")
        assert module in project.module_names(), button.get("id")
        source = project.module_source(module)
        assert f"Sub {procedure}(control As IRibbonControl)" in source, button.get("id")


def test_action_buttons_reach_python_through_run_python(
    parts: dict[str, bytes], project: VBAProject
) -> None:
    source = project.module_source("GenerectRibbon")
    command = f'RunPython "import {PYTHON_RIBBON_MODULE}; {PYTHON_RIBBON_MODULE}." & action & "()"'
    assert command in source
    assert "RunGenerectAction control.Tag" in source
    # The VBA lets only lower-case names and underscores through: every tag must pass.
    for button in _ribbon(parts).iter(f"{UI}button"):
        tag = button.get("tag")
        if tag is not None:
            assert re.fullmatch(r"[a-z_]+", tag) and not keyword.iskeyword(tag)
    assert {b.action for b in RIBBON_BUTTONS} == {t for _, _, t in EXPECTED_BUTTONS}


def test_addin_reads_the_shared_xlwings_configuration(project: VBAProject) -> None:
    xlwings_module = project.module_source("xlwings")
    assert 'Public Const PROJECT_NAME As String = "xlwings"' in xlwings_module
    assert '"myaddin"' not in xlwings_module
    assert "RibbonMyAddin" not in project.module_names()
    assert project.name == "Generect"


def test_package_still_points_at_the_ribbon_and_the_vba(parts: dict[str, bytes]) -> None:
    ui_part = customui_part(parts)
    rels = ElementTree.fromstring(parts["_rels/.rels"])
    targets = {r.get("Target").lstrip("/") for r in rels.iter(f"{RELS}Relationship")}
    assert ui_part in targets
    types = ElementTree.fromstring(parts["[Content_Types].xml"])
    overrides = {o.get("PartName"): o.get("ContentType") for o in types.iter(f"{CT}Override")}
    defaults = {d.get("Extension"): d.get("ContentType") for d in types.iter(f"{CT}Default")}
    assert f"/{ui_part}" in overrides or ui_part.rsplit(".", 1)[1] in defaults
    assert overrides["/xl/vbaProject.bin"] == "application/vnd.ms-office.vbaProject"
    assert "addin.macroEnabled" in overrides["/xl/workbook.xml"]
    workbook_rels = parts["xl/_rels/workbook.xml.rels"].decode()
    assert 'Target="vbaProject.bin"' in workbook_rels


def test_everything_else_is_the_template_byte_for_byte(parts: dict[str, bytes]) -> None:
    with zipfile.ZipFile(template_path()) as zf:
        template = {name: zf.read(name) for name in zf.namelist()}
    changed = {customui_part(parts), "xl/vbaProject.bin", "xl/workbook.xml"}
    assert set(parts) == set(template)
    for name in set(parts) - changed:
        assert parts[name] == template[name], name
    assert b'name="_xlwings.conf"' in parts["xl/workbook.xml"]
    # Untouched VBA streams (the p-code of the document modules) are carried over as they were.
    ours = read_compound_file(parts["xl/vbaProject.bin"]).streams
    theirs = read_compound_file(template["xl/vbaProject.bin"]).streams
    for stream in ("VBA/ThisWorkbook", "VBA/Dictionary", "VBA/Sheet2", "VBA/_VBA_PROJECT"):
        assert ours[stream] == theirs[stream], stream


def test_committed_addin_is_this_build() -> None:
    # The committed copy was built from one xlwings version; the ribbon and our VBA must match
    # what the build script produces now, whatever xlwings CI installs.
    with zipfile.ZipFile(COMMITTED) as zf:
        assert zf.testzip() is None
        committed = {name: zf.read(name) for name in zf.namelist()}
    assert committed[customui_part(committed)] == ribbon_xml()
    project = VBAProject.from_bytes(committed["xl/vbaProject.bin"])
    assert project.module_source("GenerectRibbon") == ribbon_vba()
