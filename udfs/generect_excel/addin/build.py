"""Build the Excel add-in ``generect_excel.xlam`` from xlwings' own ribbon add-in template.

xlwings ships ``quickstart_addin_ribbon.xlam`` (what ``xlwings quickstart NAME --addin --ribbon``
copies). It holds a full copy of xlwings' VBA (``RunPython`` and the configuration reader) in a
module named ``xlwings``, a ribbon module ``RibbonMyAddin`` whose one callback runs
``import <workbook name>; <workbook name>.main()``, and a "MyAddin" ribbon tab. That callback
cannot tell which button was pressed, so the build rewrites the add-in:

- the ribbon XML becomes a "Generect" tab whose buttons all call ``GenerectRibbon.RunAction``;
  each button's ``tag`` is the name of a zero-argument function in ``generect_excel.ribbon``;
- the ribbon module becomes ``GenerectRibbon`` (a unique name: Excel can resolve a ribbon
  callback in another add-in with the same module name) with ``RunAction``, which runs
  ``RunPython "import generect_excel.ribbon; generect_excel.ribbon.<tag>()"``, plus
  ``ImportFunctions``, which imports the worksheet functions into the add-in (Windows);
- the xlwings module's ``PROJECT_NAME`` becomes ``"xlwings"``, so the add-in reads the same
  configuration as xlwings' own add-in (``~/.xlwings/xlwings.conf``, ``xlwings.conf`` sheets)
  instead of a ``myaddin.conf`` of its own; the VBA project is renamed ``Generect``.

Everything else stays byte for byte. The zip is deterministic (sorted entries, fixed
timestamps), so the same template gives the same bytes. The add-in is tied to the xlwings
version of its template (the VBA names ``xlwings64-<version>.dll``), which is why
``generect-excel addin install`` builds it from the xlwings installed next to it.

Example::

    from generect_excel.addin.build import write_xlam
    write_xlam(Path("addin/generect_excel.xlam"))
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

from ..errors import WorkbookError
from .vba_project import VBAProject, VBAProjectError

__all__ = [
    "ADDIN_FILENAME",
    "PYTHON_RIBBON_MODULE",
    "RIBBON_BUTTONS",
    "RIBBON_CALLBACK",
    "RIBBON_MODULE",
    "RibbonButton",
    "build_xlam",
    "customui_part",
    "ribbon_vba",
    "ribbon_xml",
    "template_path",
    "write_xlam",
    "xlwings_version",
]

ADDIN_FILENAME = "generect_excel.xlam"
TEMPLATE_NAME = "quickstart_addin_ribbon.xlam"
PYTHON_RIBBON_MODULE = "generect_excel.ribbon"
RIBBON_MODULE = "GenerectRibbon"
RIBBON_CALLBACK = f"{RIBBON_MODULE}.RunAction"
IMPORT_CALLBACK = f"{RIBBON_MODULE}.ImportFunctions"
VBA_PROJECT_NAME = "Generect"
TEMPLATE_RIBBON_MODULE = "RibbonMyAddin"
TEMPLATE_PROJECT_NAME_LINE = 'Public Const PROJECT_NAME As String = "myaddin"'
PROJECT_NAME_LINE = 'Public Const PROJECT_NAME As String = "xlwings"'
# Fixed zip timestamp: the earliest a zip can hold, so rebuilding gives identical bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
CUSTOMUI_REL = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"
CUSTOMUI_REL_2007 = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


@dataclass(frozen=True)
class RibbonButton:
    """One ribbon button: ``action`` is the function in ``generect_excel.ribbon`` it runs."""

    id: str
    label: str
    action: str
    image: str
    screentip: str
    supertip: str
    callback: str = RIBBON_CALLBACK


# (group id, group label, buttons). Tags are Python function names; the VBA only lets
# lower-case letters and underscores through to RunPython.
RIBBON_GROUPS: tuple[tuple[str, str, tuple[RibbonButton, ...]], ...] = (
    (
        "generectRefreshGroup",
        "Refresh",
        (
            RibbonButton(
                "generectRefreshSelection",
                "Refresh selection",
                "refresh_selection",
                "Refresh",
                "Refresh the selected GENERECT formulas",
                "Fetches the selected GENERECT formulas afresh, once (this may cost money). "
                "With no GENERECT formula selected, refreshes the sheet.",
            ),
            RibbonButton(
                "generectRefreshSheet",
                "Refresh sheet",
                "refresh_sheet",
                "CalculateNow",
                "Refresh every GENERECT formula on this sheet",
                "Fetches every GENERECT formula on the active sheet afresh, once "
                "(this may cost money).",
            ),
            RibbonButton(
                "generectRefreshWorkbook",
                "Refresh workbook",
                "refresh_workbook",
                "RefreshAll",
                "Refresh every GENERECT formula in this workbook",
                "Fetches every GENERECT formula in the workbook afresh, once "
                "(this may cost money).",
            ),
        ),
    ),
    (
        "generectResultsGroup",
        "Results",
        (
            RibbonButton(
                "generectFreeze",
                "Freeze to values",
                "freeze_selection",
                "PasteValues",
                "Replace the selected GENERECT results by plain values",
                "Turns the selected GENERECT results into plain values, for sharing with "
                "people who do not have the add-in. They will not refresh again.",
            ),
        ),
    ),
    (
        "generectSpendGroup",
        "Spend",
        (
            RibbonButton(
                "generectSpend",
                "Spend",
                "show_spend",
                "DollarSign",
                "What Generect data has cost",
                "Shows the spend of today, this month and the last refresh, from the local "
                "ledger (free).",
            ),
        ),
    ),
)

RIBBON_BUTTONS: tuple[RibbonButton, ...] = tuple(b for _, _, bs in RIBBON_GROUPS for b in bs)

IMPORT_BUTTON_ID = "generectImportFunctions"


def _button_xml(
    button_id: str, label: str, image: str, callback: str, screentip: str, supertip: str,
    tag: str | None = None,
) -> str:  # fmt: skip
    attrs = {"id": button_id, "label": label, "size": "large", "imageMso": image}
    attrs["onAction"] = callback
    if tag is not None:
        attrs["tag"] = tag
    attrs |= {"screentip": screentip, "supertip": supertip}
    return "<button " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + " />"


def ribbon_xml() -> bytes:
    """The add-in's ``customUI`` XML: the "Generect" tab."""
    lines = [
        '<customUI xmlns="http://schemas.microsoft.com/office/2006/01/customui">',
        "  <ribbon>",
        "    <tabs>",
        '      <tab id="generectTab" label="Generect">',
    ]
    for group_id, group_label, buttons in RIBBON_GROUPS:
        lines.append(f"        <group id={quoteattr(group_id)} label={quoteattr(group_label)}>")
        for b in buttons:
            lines.append(
                "          "
                + _button_xml(b.id, b.label, b.image, b.callback, b.screentip, b.supertip, b.action)
            )
        lines.append("        </group>")
    import_button = _button_xml(
        IMPORT_BUTTON_ID,
        "Import functions",
        "FunctionWizard",
        IMPORT_CALLBACK,
        "Make the GENERECT functions available in every workbook",
        "Windows, once after each install: imports GENERECT_COUNT, GENERECT_SEARCH and the "
        "other worksheet functions into the add-in. Needs 'Trust access to the VBA project "
        "object model'.",
    )
    lines += [
        '        <group id="generectSetupGroup" label="Setup">',
        f"          {import_button}",
        "        </group>",
        "      </tab>",
        "    </tabs>",
        "  </ribbon>",
        "</customUI>",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def ribbon_vba() -> str:
    """Source of the ``GenerectRibbon`` VBA module (CRLF line ends, as the VBA editor saves)."""
    lines = [
        f'Attribute VB_Name = "{RIBBON_MODULE}"',
        "' Generect for Excel: the ribbon's callbacks. Generated by generect_excel.addin.build;",
        "' change that module and rebuild, not this code.",
        "' Every button's tag names a zero-argument function in generect_excel.ribbon, which",
        "' works on the active workbook through xlwings' xw.Book.caller().",
        "Option Explicit",
        "",
        "Sub RunAction(control As IRibbonControl)",
        "    RunGenerectAction control.Tag",
        "End Sub",
        "",
        "Sub RunGenerectAction(action As String)",
        "    ' Only a plain Python name may reach RunPython (tags are ours, but never paste",
        "    ' arbitrary text into code).",
        '    If action = "" Or action Like "*[!a-z_]*" Then',
        '        MsgBox "Generect: unknown ribbon action \'" & action & "\'.", vbExclamation, '
        '"Generect"',
        "        Exit Sub",
        "    End If",
        "    If ActiveWorkbook Is Nothing Then",
        '        MsgBox "Generect: open a workbook first.", vbInformation, "Generect"',
        "        Exit Sub",
        "    End If",
        "#If Mac Then",
        f'    RunPython "import {PYTHON_RIBBON_MODULE}; {PYTHON_RIBBON_MODULE}." & action & "()"',
        "#Else",
        '    Application.StatusBar = "Generect: " & action & "..."',
        f'    RunPython "import {PYTHON_RIBBON_MODULE}; {PYTHON_RIBBON_MODULE}." & action & "()"',
        "    Application.StatusBar = False",
        "#End If",
        "End Sub",
        "",
        "Sub ImportFunctions(control As IRibbonControl)",
        "#If Mac Then",
        '    MsgBox "Worksheet functions need Excel on Windows. On a Mac, the Refresh buttons '
        'fill the GENERECT formulas of the workbook instead.", vbInformation, "Generect"',
        "#Else",
        "    Dim udfs As Object",
        "    ImportPythonUDFsToAddin",
        "    On Error Resume Next",
        '    Set udfs = ThisWorkbook.VBProject.VBComponents("xlwings_udfs")',
        "    On Error GoTo 0",
        "    If udfs Is Nothing Then",
        "        MsgBox \"Generect could not import its functions. Allow 'Trust access to the "
        "VBA project object model' (File > Options > Trust Center > Trust Center Settings > "
        'Macro Settings), then try again.", vbExclamation, "Generect"',
        "        Exit Sub",
        "    End If",
        "    ThisWorkbook.Save",
        '    MsgBox "Generect functions imported: GENERECT_COUNT, GENERECT_SEARCH, '
        'GENERECT_SPEND, GENERECT_BALANCE and GENERECT_VALUES now work in every workbook.", '
        'vbInformation, "Generect"',
        "#End If",
        "End Sub",
        "",
    ]
    return "\r\n".join(lines)


def template_path() -> Path:
    """xlwings' ribbon add-in template, from the xlwings installed here (not imported)."""
    spec = importlib.util.find_spec("xlwings")
    if spec is None or not spec.submodule_search_locations:
        raise WorkbookError("xlwings is not installed: pip install xlwings")
    path = Path(next(iter(spec.submodule_search_locations))) / TEMPLATE_NAME
    if not path.is_file():
        raise WorkbookError(f"xlwings' add-in template is missing: {path}")
    return path


def xlwings_version() -> str:
    """The installed xlwings' version: the add-in only works with this one."""
    return importlib.metadata.version("xlwings")


def customui_part(parts: Mapping[str, bytes]) -> str:
    """The package path of the ribbon XML, found through the root relationships."""
    rels = ElementTree.fromstring(parts["_rels/.rels"])
    for rel in rels.iter(f"{{{RELS_NS}}}Relationship"):
        if rel.get("Type") in (CUSTOMUI_REL, CUSTOMUI_REL_2007):
            return str(PurePosixPath(rel.get("Target", "").lstrip("/")))
    raise WorkbookError("the add-in template has no ribbon (customUI) part")


def _build_vba(template_vba: bytes) -> bytes:
    try:
        project = VBAProject.from_bytes(template_vba)
        xlwings_source = project.module_source("xlwings")
        if TEMPLATE_PROJECT_NAME_LINE not in xlwings_source:
            raise WorkbookError(
                "xlwings' add-in template changed: no PROJECT_NAME line to point at xlwings.conf"
            )
        project.set_module_source(
            "xlwings", xlwings_source.replace(TEMPLATE_PROJECT_NAME_LINE, PROJECT_NAME_LINE, 1)
        )
        project.rename_module(TEMPLATE_RIBBON_MODULE, RIBBON_MODULE)
        project.set_module_source(RIBBON_MODULE, ribbon_vba())
        project.rename_project(VBA_PROJECT_NAME)
        return project.to_bytes()
    except VBAProjectError as exc:
        raise WorkbookError(f"Cannot rewrite the add-in template's VBA: {exc}") from exc


def _deterministic_zip(parts: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in sorted(parts):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # the same on every OS
            info.external_attr = 0
            zf.writestr(info, parts[name], compresslevel=9)
    return buffer.getvalue()


def build_xlam(template: Path | None = None) -> bytes:
    """The add-in's bytes, built from ``template`` (default: xlwings' installed template)."""
    template = template or template_path()
    try:
        with zipfile.ZipFile(template) as zf:
            parts = {info.filename: zf.read(info) for info in zf.infolist() if not info.is_dir()}
    except (OSError, zipfile.BadZipFile) as exc:
        raise WorkbookError(f"Cannot read the add-in template {template}: {exc}") from exc
    parts[customui_part(parts)] = ribbon_xml()
    parts["xl/vbaProject.bin"] = _build_vba(parts["xl/vbaProject.bin"])
    # The template's (inactive) configuration sheet follows PROJECT_NAME: "_myaddin.conf" would
    # point anyone who activates it at the wrong name.
    parts["xl/workbook.xml"] = re.sub(
        rb'name="_myaddin\.conf"', b'name="_xlwings.conf"', parts["xl/workbook.xml"]
    )
    return _deterministic_zip(parts)


def write_xlam(output: Path, template: Path | None = None) -> Path:
    """Build the add-in and write it to ``output`` (replaced atomically)."""
    data = build_xlam(template)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(data)
    partial.replace(output)
    return output
