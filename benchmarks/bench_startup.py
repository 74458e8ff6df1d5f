"""Figure 5, start-up: importing ``generect_excel.udfs`` in a fresh interpreter.

What Excel waits for when it first loads the add-in's Python module. Measured two ways, each
the median of several fresh interpreters:

- ``python -X importtime -c "import generect_excel.udfs"``: the cumulative time of the
  top-level import (the sum over top-level ``generect_excel*`` lines: xlwings and everything
  else it pulls in are nested under them);
- wall clock of ``python -c "import generect_excel.udfs"`` minus that of ``python -c "pass"``
  (the bare interpreter start, measured alternately with it): includes what importtime
  leaves out (reading .pyc files is in both; the interpreter's own exit is not).

Also checks that the import pulls in neither openpyxl nor the web framework (starlette,
uvicorn): the module Excel loads must stay light.

    python benchmarks/bench_startup.py            # 9 interpreters per measure
    python benchmarks/bench_startup.py --quick    # 3
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

import _support as S

TARGET_MS = 300.0
MODULE = "generect_excel.udfs"
FORBIDDEN = ("openpyxl", "starlette", "uvicorn")
# Reported for information (heavy, but needed at the first call, not at import).
WATCHED = ("xlwings", "pydantic", "httpx", "sqlite3", "lxml", "keyring")
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    # A neutral folder: nothing beside the script shadows an installed module.
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
        env={k: v for k, v in os.environ.items() if k != "PYTHONPROFILEIMPORTTIME"},
    )


def importtime_ms() -> float:
    """The top-level import's cumulative time in one fresh interpreter, in ms."""
    stderr = _python("-X", "importtime", "-c", f"import {MODULE}").stderr
    total_us = 0
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match and match.group(3) == " " and match.group(4).split(".")[0] == "generect_excel":
            total_us += int(match.group(2))
    if not total_us:
        raise RuntimeError(f"no top-level import of {MODULE} in:\n{stderr[-2000:]}")
    return total_us / 1000


def wall_ms(code: str) -> float:
    start = time.perf_counter()
    _python("-c", code)
    return (time.perf_counter() - start) * 1000


def imported_packages() -> list[str]:
    """Top-level packages of interest that the import loads."""
    code = (
        f"import sys, {MODULE}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    loaded = set(_python("-c", code).stdout.split())
    return sorted(loaded & set(FORBIDDEN + WATCHED))


def run(*, quick: bool = False) -> dict[str, Any]:
    """Median start-up cost both ways, and the modules the import loads."""
    runs = 3 if quick else 9
    wall_ms("pass")  # warm the OS file cache and .pyc files before timing
    wall_ms(f"import {MODULE}")
    importtimes = [importtime_ms() for _ in range(runs)]
    bare, full = [], []
    for _ in range(runs):
        bare.append(wall_ms("pass"))
        full.append(wall_ms(f"import {MODULE}"))
    imported = imported_packages()
    forbidden = [name for name in imported if name in FORBIDDEN]
    import_median = S.median(importtimes)
    diff = S.median(full) - S.median(bare)
    return {
        "figure": "5",
        "importtime_ms": importtimes,
        "wall_import_ms": full,
        "wall_bare_ms": bare,
        "imported": imported,
        "forbidden_imported": forbidden,
        "rows": [
            S.row(
                "5",
                f"start-up: import {MODULE} (-X importtime, cumulative)",
                f"{import_median:.0f} ms",
                spread=S.spread(importtimes, " ms", 0),
                runs=runs,
                limit=f"< {TARGET_MS:.0f} ms",
                ratio=import_median / TARGET_MS,
                value=import_median,
            ),
            S.row(
                "5",
                f"start-up: wall clock of the import minus bare start ({S.median(bare):.0f} ms)",
                f"{diff:.0f} ms",
                spread=f"{S.median(full):.0f} - {S.median(bare):.0f} ms",
                runs=runs,
                limit=f"< {TARGET_MS:.0f} ms",
                ratio=diff / TARGET_MS,
                value=diff,
            ),
            S.row(
                "5",
                "start-up: openpyxl, starlette, uvicorn imported",
                ", ".join(forbidden) or "none",
                spread="loads " + ", ".join(imported) if imported else "",
                limit="none",
                verdict="FAIL" if forbidden else "pass",
                value=len(forbidden),
            ),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    return S.figure_main(run, __doc__.splitlines()[0], "3 interpreters instead of 9", argv)


if __name__ == "__main__":
    sys.exit(main())
