"""The package's public surface: every exported name resolves, and importing stays light."""

from __future__ import annotations

import subprocess
import sys

import generect_excel


def test_every_exported_name_resolves():
    for name in generect_excel.__all__:
        assert getattr(generect_excel, name) is not None, name


def test_unknown_attribute_is_an_attribute_error():
    try:
        generect_excel.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_loads_no_heavy_dependency():
    code = (
        "import sys, generect_excel; "
        "print(','.join(m for m in ('pydantic', 'httpx', 'openpyxl', 'starlette', 'sqlite3') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
