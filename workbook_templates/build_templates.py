"""Build every template workbook into this folder (or the folder given).

The built .xlsx files are committed beside this script; ``tests/test_templates.py`` checks that
they match what the builder (``generect_excel.templates``) produces now. Rebuild after changing
the builder::

    python workbook_templates/build_templates.py            # into workbook_templates/
    python workbook_templates/build_templates.py OUT_DIR    # somewhere else

The output is reproducible: the same builder gives the same bytes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from generect_excel.templates import TEMPLATES, write_template

HERE = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``<name>.xlsx`` for every template into the folder named in ``argv`` (or HERE)."""
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else HERE
    for name in TEMPLATES:
        path = write_template(name, folder / f"{name}.xlsx")
        print(f"built {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
