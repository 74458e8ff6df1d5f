"""The .xlsx package: its zip members read when needed, where its sheets and parts are,
dropping a part, and writing the patched package back atomically (every other member copied
byte for byte, streamed: a big sheet is never held twice)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Protocol

from lxml import etree

from ..._constants import WORKBOOK_KEPT_MEMBER_BYTES, WORKBOOK_WRITE_CHUNK_BYTES
from ...errors import WorkbookError
from ..parse import parse_area

Bounds = tuple[int, int, int, int]  # min_col, min_row, max_col, max_row

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
XDA_NS = "http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray"
REL_TYPE_METADATA = REL_NS + "/sheetMetadata"
REL_TYPE_CALC_CHAIN = REL_NS + "/calcChain"
REL_TYPE_TABLE = REL_NS + "/table"
CT_METADATA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"
DYNAMIC_ARRAY_EXT = "{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}"

# Test hook: seconds to pause halfway through writing the temporary file, so a test can kill
# the process mid-write and check that the original survives.
WRITE_PAUSE_ENV = "GENERECT_EXCEL_TEST_WRITE_PAUSE"

_XML_DUMP = {"xml_declaration": True, "encoding": "UTF-8", "standalone": True}


def _q(tag: str, ns: str = MAIN_NS) -> str:
    return f"{{{ns}}}{tag}"


def _resolve_target(base_part: str, target: str) -> str:
    """A relationship target relative to ``base_part`` -> the zip member name."""
    if target.startswith("/"):
        return target.lstrip("/")
    base = PurePosixPath(base_part).parent
    parts: list[str] = []
    for piece in (base / target).parts:
        if piece == "..":
            if parts:
                parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _rels_name(part: str) -> str:
    path = PurePosixPath(part)
    return str(path.parent / "_rels" / (path.name + ".rels"))


# The first bytes of a file say what it is: an .xlsx is a zip ("PK"); Excel 97-2003's .xls is
# an OLE compound file.
_ZIP_MAGIC = b"PK"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")


def unreadable_workbook(path: Path, exc: BaseException) -> WorkbookError:
    """The error for a file that cannot be opened as a workbook, in plain words: damaged (a zip
    cut short or broken), an old .xls, or not a workbook at all. The Python exception's name
    goes to ``details`` only: it tells a person nothing."""
    path = Path(path)
    if path.is_dir():
        return WorkbookError(
            f"{path} is a folder, not a workbook: give the path of an .xlsx or .xlsm file.",
            details=f"{path}: {exc!r}",
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as read_exc:
        return WorkbookError(
            f"Cannot open {path}: {read_exc.strerror or read_exc}.", details=f"{path}: {exc!r}"
        )
    if path.suffix.lower() not in _WORKBOOK_SUFFIXES and zipfile.is_zipfile(path):
        # openpyxl goes by the name: a workbook saved as "x.xls" or "x.csv" is refused.
        message = (
            f"{path.name} holds a workbook but its name ends in {path.suffix or 'nothing'}: "
            f"rename it to {path.stem}.xlsx, then retry."
        )
    elif head.startswith(_OLE_MAGIC):
        message = (
            f"{path.name} is an old Excel 97-2003 (.xls) file: open it in Excel, save it as an "
            "Excel Workbook (.xlsx), then retry."
        )
    elif head.startswith(_ZIP_MAGIC):
        message = (
            f"{path.name} is damaged (its contents are incomplete or broken): use a copy "
            "that opens in Excel, or a backup."
        )
    else:
        message = f"{path.name} is not an Excel workbook: give the path of an .xlsx or .xlsm file."
    return WorkbookError(message, details=f"{path}: {exc!r}")


_KEPT_MEMBER_BYTES = WORKBOOK_KEPT_MEMBER_BYTES
_COPY_CHUNK = WORKBOOK_WRITE_CHUNK_BYTES


def _changed_meanwhile(path: Path) -> WorkbookError:
    return WorkbookError(
        f"{path.name} changed while refreshing (saved elsewhere?): not replaced. "
        "Refresh again: answers already fetched cost nothing."
    )


class _Members(Mapping[str, bytes]):
    """The zip members of a package by name, read from the file on access (small ones kept).
    The file must stay as it was when the package was opened: a read after it changed raises
    WorkbookError rather than mixing two versions."""

    def __init__(self, path: Path, infos: list[zipfile.ZipInfo], stat: tuple[int, int]) -> None:
        self._path = path
        self._sizes = {info.filename: info.file_size for info in infos}
        self._stat = stat
        self._kept: dict[str, bytes] = {}

    def check_unchanged(self) -> None:
        """WorkbookError if the file is not the one the package was opened on."""
        try:
            stat = self._path.stat()
        except OSError as exc:
            raise _changed_meanwhile(self._path) from exc
        if (stat.st_size, stat.st_mtime_ns) != self._stat:
            raise _changed_meanwhile(self._path)

    def __getitem__(self, name: str) -> bytes:
        kept = self._kept.get(name)
        if kept is not None:
            return kept
        if name not in self._sizes:
            raise KeyError(name)
        self.check_unchanged()
        with zipfile.ZipFile(self._path) as archive:
            data = archive.read(name)
        if len(data) <= _KEPT_MEMBER_BYTES:
            self._kept[name] = data
        return data

    def __contains__(self, name: object) -> bool:
        return name in self._sizes

    def __iter__(self) -> Iterator[str]:
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)


class StreamedPart(Protocol):
    """A rewritten member too big to hold twice: it writes its bytes in chunks."""

    def write_to(self, write: Callable[[bytes], object]) -> None: ...


Part = bytes | StreamedPart | None  # new bytes, a streamed part, or None to drop the member


class Package:
    """An .xlsx file's zip members (read when needed), and where its sheets live."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            stat = self.path.stat()
            with zipfile.ZipFile(self.path) as archive:
                self.infos = archive.infolist()
        except FileNotFoundError:
            raise WorkbookError(f"No such workbook: {self.path}") from None
        except (OSError, zipfile.BadZipFile) as exc:
            raise unreadable_workbook(self.path, exc) from exc
        self.data = _Members(self.path, self.infos, (stat.st_size, stat.st_mtime_ns))
        self.workbook_part = self._office_document()
        self._sheets: list[tuple[str, str]] | None = None

    def _office_document(self) -> str:
        rels = self.data.get("_rels/.rels")
        if rels is None:
            raise WorkbookError(f"{self.path.name} is not an .xlsx workbook (no _rels/.rels).")
        for rel in etree.fromstring(rels):
            if rel.get("Type", "").endswith("/officeDocument"):
                return _resolve_target("", rel.get("Target", ""))
        raise WorkbookError(f"{self.path.name} is not an .xlsx workbook (no workbook part).")

    def relationships(self, part: str) -> list[etree._Element]:
        """The relationship elements of ``part`` (empty when it has none)."""
        data = self.data.get(_rels_name(part))
        return list(etree.fromstring(data)) if data else []

    def sheets(self) -> list[tuple[str, str]]:
        """[(sheet name, zip member)] in workbook order (chart sheets included)."""
        if self._sheets is None:
            root = etree.fromstring(self.data[self.workbook_part])
            targets = {
                rel.get("Id"): _resolve_target(self.workbook_part, rel.get("Target", ""))
                for rel in self.relationships(self.workbook_part)
            }
            self._sheets = []
            for sheet in root.iter(_q("sheet")):
                rid = sheet.get(_q("id", REL_NS))
                self._sheets.append((sheet.get("name", ""), targets.get(rid, "")))
        return self._sheets

    def sheet_part(self, name: str) -> str:
        """The zip member of worksheet ``name`` (case-insensitive)."""
        for sheet, part in self.sheets():
            if sheet.lower() == name.lower():
                return part
        raise WorkbookError(f"No sheet named '{name}' in {self.path.name}.")

    def table_areas(self, sheet_part: str) -> list[Bounds]:
        """The ranges of the Excel tables (ListObjects) on a sheet."""
        areas = []
        for rel in self.relationships(sheet_part):
            if rel.get("Type") != REL_TYPE_TABLE:
                continue
            data = self.data.get(_resolve_target(sheet_part, rel.get("Target", "")))
            if data is None:
                continue
            bounds = parse_area(etree.fromstring(data).get("ref", ""))
            if bounds:
                areas.append(bounds)
        return areas


def _drop_part(package: Package, parts: dict[str, Part], rel_type: str) -> None:
    """Remove the workbook's part of ``rel_type``, its relationship and content type."""
    rels_name = _rels_name(package.workbook_part)
    rels_xml = _xml_of(parts, package, rels_name)
    if not rels_xml:
        return
    rels = etree.fromstring(rels_xml)
    for rel in list(rels):
        if rel.get("Type") != rel_type:
            continue
        target = _resolve_target(package.workbook_part, rel.get("Target", ""))
        rels.remove(rel)
        parts[target] = None
        types = etree.fromstring(_xml_of(parts, package, "[Content_Types].xml") or b"")
        for override in list(types):
            if override.get("PartName", "").lstrip("/") == target:
                types.remove(override)
        parts["[Content_Types].xml"] = etree.tostring(types, **_XML_DUMP)
    parts[rels_name] = etree.tostring(rels, **_XML_DUMP)


def _xml_of(parts: Mapping[str, Part], package: Package, name: str) -> bytes | None:
    """A small part's bytes as patched so far, else as in the file (None when absent)."""
    data = parts.get(name)
    if isinstance(data, bytes) and data:
        return data
    return package.data.get(name)


def _zip_bytes(
    package: Package, parts: Mapping[str, Part], pause: Callable[[], None]
) -> Iterable[tuple[zipfile.ZipInfo, bytes | StreamedPart | None]]:
    """Each member to write, in the file's order: its new bytes, a streamed part, or None to
    copy it unchanged from the file; new members last."""
    names = [info.filename for info in package.infos]
    half = len(names) // 2
    for i, info in enumerate(package.infos):
        if i == half:
            pause()
        if info.filename in parts:
            data = parts[info.filename]
            if data is None:
                continue
            yield _copy_info(info), data
        else:
            yield _copy_info(info), None
    for name, data in parts.items():
        if data is not None and name not in package.data:
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            yield info, data


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    copy.compress_type = info.compress_type
    copy.external_attr = info.external_attr
    copy.create_system = info.create_system
    copy.comment = info.comment
    return copy


def _pause_for_tests() -> None:
    seconds = os.environ.get(WRITE_PAUSE_ENV)
    if seconds:
        with contextlib.suppress(ValueError):
            time.sleep(float(seconds))


def write_atomically(
    package: Package,
    parts: Mapping[str, Part],
    target: Path,
    *,
    expect_unchanged: tuple[int, int] | None = None,
) -> Path:
    """Write the patched package to ``target`` through a temporary file in the same folder,
    moved into place with ``os.replace`` (atomic): a crash leaves the old file whole.

    ``expect_unchanged`` is the (size, mtime_ns) the target had when it was read: if it has
    changed since (saved in Excel meanwhile), nothing is replaced and WorkbookError says so.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WorkbookError(
            f"Cannot write {target} ({exc.strerror or type(exc).__name__}): write it elsewhere "
            "with -o OTHER.xlsx. Answers already fetched cost nothing to fetch again.",
            details=f"{folder}: {exc}",
        ) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            package.data.check_unchanged()
            with (
                zipfile.ZipFile(package.path) as source,
                zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive,
            ):
                for info, data in _zip_bytes(package, parts, _pause_for_tests):
                    if isinstance(data, bytes):
                        archive.writestr(info, data)
                        continue
                    with archive.open(info, "w") as out:
                        if data is None:  # unchanged: copied from the file, in chunks
                            with source.open(info.filename) as member:
                                while chunk := member.read(_COPY_CHUNK):
                                    out.write(chunk)
                        else:
                            data.write_to(out.write)
            package.data.check_unchanged()
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, (target if target.exists() else package.path).stat().st_mode & 0o7777)
        if expect_unchanged is not None and target.exists():
            stat = target.stat()
            if (stat.st_size, stat.st_mtime_ns) != expect_unchanged:
                raise WorkbookError(
                    f"{target.name} changed while refreshing (saved elsewhere?): not replaced. "
                    "Refresh again: answers already fetched cost nothing."
                )
        try:
            os.replace(tmp, target)
        except PermissionError as exc:
            raise WorkbookError(
                f"Cannot replace {target.name}: is it open in Excel? Close it and refresh again "
                "(answers already fetched cost nothing), or write elsewhere with -o."
            ) from exc
        except OSError as exc:  # a read-only mount, an immutable file, a full disk
            raise WorkbookError(
                f"Cannot replace {target} ({exc.strerror or type(exc).__name__}): write it "
                "elsewhere with -o OTHER.xlsx. Answers already fetched cost nothing again.",
                details=f"{target}: {exc}",
            ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
