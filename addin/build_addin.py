#!/usr/bin/env python3
"""Build ``addin/generect_excel.xlam`` from xlwings' ribbon add-in template, reproducibly.

The work is done by :mod:`generect_excel.addin.build` (``generect-excel addin install`` uses the
same code to build the add-in for the xlwings installed on the user's machine); this script
writes the checked-in copy. Rebuilding from the same xlwings gives the same bytes.

Example::

    python addin/build_addin.py                  # writes addin/generect_excel.xlam
    python addin/build_addin.py --output /tmp/generect_excel.xlam
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

from generect_excel.addin.build import ADDIN_FILENAME, template_path, write_xlam, xlwings_version

DEFAULT_OUTPUT = Path(__file__).resolve().parent / ADDIN_FILENAME


def main(argv: Sequence[str] | None = None) -> int:
    """Build the add-in; print where it went, from which template, and its SHA-256."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write")
    parser.add_argument(
        "--template", type=Path, default=None, help="xlwings' quickstart_addin_ribbon.xlam"
    )
    args = parser.parse_args(argv)
    template = args.template or template_path()
    output = write_xlam(args.output, template)
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    print(f"{output} (from {template}, xlwings {xlwings_version()}) sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
