"""Is a workbook file safe to write? Checked before anything is sent, so nothing is bought
that cannot be written, and a file open in another program is never replaced under it.

:func:`check_destination` refuses, with one :class:`~generect_excel.errors.WorkbookError` line
that names the path and says what to do:

- a path that is a folder, a folder that does not exist or is a file;
- a file open in another program: LibreOffice keeps ``.~lock.NAME#`` beside it while it is
  open, Excel an owner file ``~$NAME``. Replacing the file would make that program's next
  save overwrite the refresh (or the analyst's edits): close it there first, or write a copy
  elsewhere. A lock file left by a crash is named, so it can be deleted;
- a folder in which no file can be created (permissions, a read-only mount): probed by
  creating and removing an empty temporary file there, which holds for every user, root
  included (root ignores permission bits, not a read-only mount);
- a read-only file (no write permission bit, or this user may not write it), unless
  ``force``: the file's owner made it read-only on purpose, and replacing it through the
  folder (which is writable) is possible;
- a file nothing may change (an immutable file, ``chattr +i``; a read-only mount), even with
  ``force``: replacing it would fail after the purchases. Found by opening the file for
  appending and closing it at once (nothing is written, its times stay).

Example::

    check_destination(Path("leads.xlsx"))  # raises WorkbookError, or returns
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from ..errors import WorkbookError

__all__ = ["check_destination", "lock_files"]

DEFAULT_ADVICE = "write a copy with -o OTHER.xlsx"


def lock_files(target: Path) -> list[tuple[Path, str]]:
    """The lock files beside ``target`` that say another program has it open:
    [(lock file, program)]."""
    folder = target.parent
    candidates = [
        (folder / f".~lock.{target.name}#", "LibreOffice"),
        (folder / f"~${target.name}", "Excel"),
    ]
    return [(path, program) for path, program in candidates if path.is_file()]


def _changeable(target: Path) -> tuple[bool, OSError | None]:
    """(may be replaced without --force, the error when nothing may change it)."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EROFS):  # immutable, read-only mount: even root
            return False, exc
        return False, None  # permissions: replaceable through the folder, with --force
    os.close(fd)
    # The permission bits too: root may open a chmod 444 file, its owner meant it read-only.
    return bool(target.stat().st_mode & 0o222), None


def _probe(folder: Path, target: Path, advice: str) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise WorkbookError(
            f"Cannot write in {folder} ({exc.strerror or type(exc).__name__}): {advice}.",
            details=f"Cannot create a file in the folder {folder}: {exc}. Nothing was sent.",
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def check_destination(
    target: str | os.PathLike[str], *, force: bool = False, advice: str = DEFAULT_ADVICE
) -> None:
    """Refuse (WorkbookError) to write ``target`` when it is not safe or not possible (see the
    module docstring). ``force`` allows replacing a read-only file. ``advice`` is the way out
    offered in each message (the command's own option)."""
    target = Path(target)
    folder = target.parent
    if target.is_dir():
        raise WorkbookError(f"{target} is a folder: give a file name ending in .xlsx.")
    if not folder.exists():
        raise WorkbookError(
            f"Cannot write {target}: the folder {folder} does not exist. Create it, or {advice}."
        )
    if not folder.is_dir():
        raise WorkbookError(f"Cannot write {target}: {folder} is a file, not a folder; {advice}.")
    for lock, program in lock_files(target):
        raise WorkbookError(
            # The way out first: a long path may cut the line, the lock file's name last.
            f"{target} is open in {program}: close it, or {advice} (lock file {lock.name}).",
            details=f"{target} is open in {program}: its lock file {lock} is beside it. Close "
            f"it there and run again, or {advice}. Nothing was sent. If it is not open (the "
            f"program crashed), delete {lock}.",
        )
    _probe(folder, target, advice)
    if not target.exists():
        return
    writable, fixed = _changeable(target)
    if fixed is not None:
        raise WorkbookError(
            f"{target} cannot be changed ({fixed.strerror or type(fixed).__name__}): {advice}.",
            details=f"{target} cannot be changed, not even replaced (an immutable file or a "
            f"read-only mount: {fixed}). Nothing was sent.",
        )
    if not writable and not force:
        raise WorkbookError(
            f"{target} is read-only: {advice}, or add --force to replace it.",
            details=f"{target} is read-only (its permissions): {advice}, "
            "or add --force to replace it anyway. Nothing was sent.",
        )
