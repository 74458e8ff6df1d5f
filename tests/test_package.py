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


def test_the_layer_contract_names_every_core_module():
    """The core contract checks only the modules it lists: a new core module left off the list
    would escape it (docs/ARCHITECTURE.md). Every top-level module that is not an edge is
    listed, and nothing listed is gone."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (core,) = [c for c in contracts if c["type"] == "forbidden"]
    listed = {name.removeprefix("generect_excel.") for name in core["source_modules"]}
    edges = {name.removeprefix("generect_excel.") for name in core["forbidden_modules"]}
    package = Path(generect_excel.__file__).parent
    modules = {
        path.stem if path.is_file() else path.name
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert modules - edges == listed
