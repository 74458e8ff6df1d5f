"""Install, uninstall and inspect the Excel add-in (``generect-excel addin ...``).

What ``install`` does, on Windows and on a Mac (what ``xlwings addin install`` does, without
needing Excel running to ask it where its startup folder is):

- copies xlwings' add-in (``xlwings/addin/xlwings.xlam``) and ours, built from the installed
  xlwings' template (:mod:`generect_excel.addin.build`), into Excel's startup folder, which Excel
  opens on every start: ``%APPDATA%\\Microsoft\\Excel\\XLSTART`` on Windows,
  ``~/Library/Group Containers/UBF8T346G9.Office/User Content.localized/Startup.localized/Excel``
  on a Mac;
- on a Mac, copies xlwings' AppleScript (``xlwings-<version>.applescript``) to
  ``~/Library/Application Scripts/com.microsoft.Excel``, without which ``RunPython`` cannot start
  Python from the sandboxed Excel (xlwings' ``runpython install``);
- writes the user's xlwings configuration (``~/.xlwings/xlwings.conf`` on Windows,
  ``~/Library/Containers/com.microsoft.Excel/Data/xlwings.conf`` on a Mac; lines of
  ``"KEY","value"`` as xlwings reads them): ``INTERPRETER_WIN``/``INTERPRETER_MAC`` = this
  Python (``pythonw.exe`` beside it on Windows: no console window) and ``UDF MODULES`` =
  ``generect_excel.udfs`` (xlwings spells this key with a space). Other keys are kept as they
  are. The API key is never written there.

A manifest beside the configuration remembers what install added and what it replaced, so
``uninstall`` removes exactly that (files that were there before stay, replaced values come
back) and ``install`` twice leaves the same files. On other platforms nothing is touched.

Everything takes ``platform``, ``home``, ``executable`` and ``environ``, so tests install into
a temporary home "as Windows" or "as a Mac".
"""

from __future__ import annotations

import importlib.util
import json
import locale
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import GenerectError, SettingsError, WorkbookError
from ..settings import config_file_path, load_settings
from .build import ADDIN_FILENAME, build_xlam, xlwings_version

__all__ = [
    "UDF_MODULE",
    "AddinPaths",
    "AddinStatus",
    "Change",
    "FileStatus",
    "addin_paths",
    "desired_config",
    "install",
    "platform_kind",
    "read_xlwings_conf",
    "status",
    "uninstall",
    "unsupported_message",
    "write_xlwings_conf",
]

UDF_MODULE = "generect_excel.udfs"
UDF_MODULES_KEY = "UDF MODULES"  # the key xlwings' VBA reads (GetConfig("UDF MODULES"))
XLWINGS_ADDIN = "xlwings.xlam"
MANIFEST_NAME = "generect-excel-addin.json"
MAC_STARTUP = (
    "Library/Group Containers/UBF8T346G9.Office/User Content.localized/Startup.localized/Excel"
)
MAC_APPLESCRIPTS = "Library/Application Scripts/com.microsoft.Excel"
MAC_CONFIG = "Library/Containers/com.microsoft.Excel/Data/xlwings.conf"

PlatformKind = Literal["windows", "mac", "other"]


def platform_kind(platform: str) -> PlatformKind:
    """``"windows"``, ``"mac"`` or ``"other"`` for a ``sys.platform`` value."""
    if platform.startswith("win"):
        return "windows"
    if platform == "darwin":
        return "mac"
    return "other"


@dataclass(frozen=True)
class AddinPaths:
    """Where the add-in's pieces go on one platform for one user."""

    kind: PlatformKind
    startup_dir: Path
    config_file: Path
    applescript_dir: Path | None

    @property
    def manifest(self) -> Path:
        return self.config_file.parent / MANIFEST_NAME

    @property
    def addin(self) -> Path:
        return self.startup_dir / ADDIN_FILENAME


def addin_paths(
    platform: str | None = None,
    *,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> AddinPaths:
    """The paths for ``platform``; ``home`` replaces the user's home (and ``%APPDATA%``)."""
    kind = platform_kind(platform or sys.platform)
    environ = os.environ if environ is None else environ
    user_home = Path(home) if home is not None else Path.home()
    if kind == "windows":
        appdata = (
            Path(environ["APPDATA"])
            if home is None and environ.get("APPDATA")
            else user_home / "AppData" / "Roaming"
        )
        return AddinPaths(
            kind,
            appdata / "Microsoft" / "Excel" / "XLSTART",
            user_home / ".xlwings" / "xlwings.conf",
            None,
        )
    if kind == "mac":
        return AddinPaths(
            kind, user_home / MAC_STARTUP, user_home / MAC_CONFIG, user_home / MAC_APPLESCRIPTS
        )
    return AddinPaths(kind, user_home, user_home / ".xlwings" / "xlwings.conf", None)


def interpreter(platform: str, executable: str) -> str:
    """The Python Excel should start: ``pythonw.exe`` beside ``python.exe`` on Windows."""
    if platform_kind(platform) == "windows":
        exe = Path(executable)
        windowless = exe.with_name("pythonw.exe")
        if exe.name.lower() == "python.exe" and windowless.is_file():
            return str(windowless)
    return executable


def desired_config(platform: str, executable: str) -> dict[str, str]:
    """The xlwings configuration keys install writes (never the API key)."""
    key = "INTERPRETER_MAC" if platform_kind(platform) == "mac" else "INTERPRETER_WIN"
    return {key: interpreter(platform, executable), UDF_MODULES_KEY: UDF_MODULE}


# --- xlwings.conf -------------------------------------------------------------------------

# VBA's "Open ... For Input" reads the file in the system's ANSI code page, and xlwings writes
# it with Python's default encoding: so do we.
_CONF_ENCODING = locale.getpreferredencoding(False)


def _line_key(line: str) -> str | None:
    stripped = line.strip()
    if not stripped.startswith('"'):
        return None
    end = stripped.find('"', 1)
    return stripped[1:end].upper() if end > 0 else None


def read_xlwings_conf(path: Path) -> dict[str, str]:
    """The keys (upper-case) and values of an xlwings.conf; the first of duplicates wins,
    as in xlwings' VBA."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding=_CONF_ENCODING).splitlines():
        key = _line_key(line)
        if key is None or key in values:
            continue
        parts = line.strip().split('","', 1)
        values[key] = parts[1].rstrip().removesuffix('"') if len(parts) == 2 else ""
    return values


def write_xlwings_conf(path: Path, set_values: Mapping[str, str], remove: set[str]) -> None:
    """Set and remove keys, keeping every other line (and its place) as it was."""
    for key, value in set_values.items():
        if '"' in value or "\n" in value or "\r" in value:
            raise SettingsError(f"Cannot write {key} to {path}: the value holds a quote or newline")
    lines = path.read_text(encoding=_CONF_ENCODING).splitlines() if path.is_file() else []
    wanted = {k.upper(): (k, v) for k, v in set_values.items()}
    dropped = {k.upper() for k in remove}
    out: list[str] = []
    written: set[str] = set()
    for line in lines:
        found = _line_key(line)
        if found in dropped or (found in wanted and found in written):
            continue  # removed, or a duplicate that would shadow our value
        if found is not None and found in wanted:
            name, value = wanted[found]
            out.append(f'"{name}","{value}"')
            written.add(found)
        else:
            out.append(line)
    out += [f'"{name}","{value}"' for key, (name, value) in wanted.items() if key not in written]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in out), encoding=_CONF_ENCODING)


# --- install / uninstall ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One thing install or uninstall did (or found already done)."""

    action: str  # copied, unchanged, set, removed, restored, kept
    target: str


@dataclass
class _Manifest:
    files: dict[str, bool] = field(default_factory=dict)  # path -> was there before install
    config: dict[str, dict[str, str | None]] = field(default_factory=dict)  # key -> value, previous

    @classmethod
    def load(cls, path: Path) -> _Manifest:
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(files=dict(data["files"]), config=dict(data["config"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SettingsError(f"Cannot read {path}: {exc}. Delete it and run again.") from exc

    def save(self, path: Path) -> None:
        data = {"version": 1, "files": self.files, "config": self.config}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _xlwings_dir() -> Path:
    spec = importlib.util.find_spec("xlwings")
    if spec is None or not spec.submodule_search_locations:
        raise WorkbookError("xlwings is not installed: pip install xlwings")
    return Path(next(iter(spec.submodule_search_locations)))


def _sources(paths: AddinPaths, template: Path | None) -> dict[Path, bytes]:
    """Each file install puts in place, with its bytes."""
    xlwings_dir = _xlwings_dir()
    try:
        files = {
            paths.startup_dir / XLWINGS_ADDIN: (xlwings_dir / "addin" / XLWINGS_ADDIN).read_bytes(),
            paths.addin: build_xlam(template),
        }
        if paths.applescript_dir is not None:
            script = f"xlwings-{xlwings_version()}.applescript"
            files[paths.applescript_dir / script] = (xlwings_dir / script).read_bytes()
    except OSError as exc:
        raise WorkbookError(f"xlwings' own add-in files are missing: {exc}") from exc
    return files


def _write_file(path: Path, data: bytes) -> str:
    if path.is_file() and path.read_bytes() == data:
        return "unchanged"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        raise WorkbookError(
            f"Cannot write {path}: quit Excel (it keeps add-ins open) and run again.",
            details=str(exc),
        ) from exc
    return "copied"


def install(
    *,
    platform: str | None = None,
    home: Path | None = None,
    executable: str = sys.executable,
    environ: Mapping[str, str] | None = None,
    template: Path | None = None,
) -> list[Change]:
    """Install the add-ins and the xlwings configuration; return what changed.

    Does nothing (returns ``[]``) where Excel add-ins cannot run: see :func:`unsupported_message`.
    """
    platform = platform or sys.platform
    paths = addin_paths(platform, home=home, environ=environ)
    if paths.kind == "other":
        return []
    manifest = _Manifest.load(paths.manifest)
    changes: list[Change] = []
    for target, data in _sources(paths, template).items():
        manifest.files.setdefault(str(target), target.exists())
        changes.append(Change(_write_file(target, data), str(target)))
    current = read_xlwings_conf(paths.config_file)
    wanted = desired_config(platform, executable)
    for key, value in wanted.items():
        entry = manifest.config.get(key)
        previous = entry["previous"] if entry else current.get(key.upper())
        manifest.config[key] = {"value": value, "previous": previous}
        same = current.get(key.upper()) == value
        changes.append(Change("unchanged" if same else "set", f"{key} = {value}"))
    # The manifest first: if writing the configuration fails, uninstall still knows the past.
    manifest.save(paths.manifest)
    write_xlwings_conf(paths.config_file, wanted, set())
    return changes


def uninstall(
    *,
    platform: str | None = None,
    home: Path | None = None,
    executable: str = sys.executable,
    environ: Mapping[str, str] | None = None,
) -> list[Change]:
    """Remove what :func:`install` added and restore what it replaced; return what changed."""
    platform = platform or sys.platform
    paths = addin_paths(platform, home=home, environ=environ)
    if paths.kind == "other":
        return []
    manifest = _Manifest.load(paths.manifest)
    if not manifest.files:  # installed by hand or the manifest is gone: only what is ours
        manifest.files = {str(paths.addin): False}
        manifest.config = {
            k: {"value": v, "previous": None}
            for k, v in desired_config(platform, executable).items()
        }
    changes: list[Change] = []
    for target, preexisting in sorted(manifest.files.items()):
        path = Path(target)
        if preexisting:
            changes.append(Change("kept", target))
        elif path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise WorkbookError(
                    f"Cannot remove {path}: quit Excel and run again.", details=str(exc)
                ) from exc
            changes.append(Change("removed", target))
    current = read_xlwings_conf(paths.config_file)
    restore: dict[str, str] = {}
    remove: set[str] = set()
    for key, entry in manifest.config.items():
        if current.get(key.upper()) != entry["value"]:
            if key.upper() in current:
                changes.append(Change("kept", f"{key} (changed since install)"))
            continue
        if entry["previous"] is None:
            remove.add(key)
            changes.append(Change("removed", key))
        else:
            restore[key] = entry["previous"]
            changes.append(Change("restored", f"{key} = {entry['previous']}"))
    if paths.config_file.is_file():
        write_xlwings_conf(paths.config_file, restore, remove)
    paths.manifest.unlink(missing_ok=True)
    return changes


# --- status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileStatus:
    path: Path
    installed: bool
    current: bool  # identical to what install would write now


@dataclass(frozen=True)
class AddinStatus:
    """What is installed, what the configuration says, and where an API key would come from."""

    kind: PlatformKind
    xlwings_version: str
    files: list[FileStatus]
    config_file: Path
    config: dict[str, tuple[str | None, str]]  # key -> (current value, value install writes)
    key_source: str  # env, config, keyring, none; or "error: ..." when settings are unusable
    generect_config_file: Path

    @property
    def installed(self) -> bool:
        return bool(self.files) and all(f.installed for f in self.files)


def status(
    *,
    platform: str | None = None,
    home: Path | None = None,
    executable: str = sys.executable,
    environ: Mapping[str, str] | None = None,
    template: Path | None = None,
) -> AddinStatus:
    """Inspect the installation without changing anything (the key itself is never read out)."""
    platform = platform or sys.platform
    paths = addin_paths(platform, home=home, environ=environ)
    env = os.environ if environ is None else environ
    try:
        key_source = load_settings(environ=env).key_source
    except GenerectError as exc:
        key_source = f"error: {exc}"
    files: list[FileStatus] = []
    config: dict[str, tuple[str | None, str]] = {}
    if paths.kind != "other":
        for target, data in _sources(paths, template).items():
            installed = target.is_file()
            current = installed and target.read_bytes() == data
            files.append(FileStatus(target, installed, current))
        values = read_xlwings_conf(paths.config_file)
        for key, value in desired_config(platform, executable).items():
            config[key] = (values.get(key.upper()), value)
    return AddinStatus(
        kind=paths.kind,
        xlwings_version=xlwings_version(),
        files=files,
        config_file=paths.config_file,
        config=config,
        key_source=key_source,
        generect_config_file=config_file_path(env),
    )


def unsupported_message(platform: str | None = None) -> str:
    """What works, and what does not, where Excel add-ins cannot run (Linux and the like)."""
    platform = platform or sys.platform
    return "\n".join(
        [
            f"The Excel add-in needs Excel on Windows or a Mac; this is {platform}, so nothing "
            "was installed or changed.",
            "",
            "Works here:",
            "  generect-excel refresh BOOK.xlsx   fill every GENERECT formula of a workbook "
            "(open it in Excel, LibreOffice or on a Mac afterwards)",
            "  generect-excel count / search / spend / check-criteria / sandbox   the CLI",
            "  the workbook templates (workbook_templates/, generect-excel new)",
            "",
            "Needs Excel on Windows or a Mac:",
            "  the Generect ribbon tab (Refresh, Freeze to values, Spend)",
            "  worksheet functions (GENERECT_COUNT, GENERECT_SEARCH, ...): Excel on Windows only",
        ]
    )
