"""The catalogue of lead fields against Generect's own spec: every lead field the spec shows is
accepted without ``raw:``, and so is every default column and every path their fallbacks read."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from generect_excel.errors import CriteriaError
from generect_excel.lead_fields import LEAD_FIELD_NAMES, LEAD_FIELDS
from generect_excel.table import (
    COLUMN_SOURCES,
    DEFAULT_COLUMNS,
    FIELD_CATALOGUE,
    Join,
    WebsiteFromDomain,
    check_fields,
)

SPEC = Path(__file__).parent / "data" / "generect-openapi.yaml"


def _schema_paths(schema: Any, prefix: str = "") -> Iterator[str]:
    """Dot paths of an object schema's properties (an array's items are walked through)."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "array" or "items" in schema:
        schema = schema.get("items") or {}
    for name, sub in (schema.get("properties") or {}).items():
        yield prefix + name
        yield from _schema_paths(sub, f"{prefix}{name}.")


def _example_paths(example: Any, prefix: str = "") -> Iterator[str]:
    """Dot paths of an example lead (lists of objects are walked through)."""
    items = example if isinstance(example, list) else [example]
    for item in items:
        if isinstance(item, dict):
            for name, value in item.items():
                yield prefix + name
                yield from _example_paths(value, f"{prefix}{name}.")


@cache
def _spec_lead_fields() -> frozenset[str]:
    """Every lead field the spec's answers show: the ``lead``/``leads`` objects of response
    schemas and response examples (request bodies, which also say "leads", are left out)."""
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("lead", "leads"):
                    found.update(_schema_paths(value) if _is_schema(value) else ())
                    if not _is_schema(value):
                        found.update(_example_paths(value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path_item in spec["paths"].values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                walk(operation.get("responses", {}))
    return frozenset(found)


def _is_schema(node: Any) -> bool:
    return isinstance(node, dict) and (
        "properties" in node or node.get("type") in ("object", "array")
    )


def test_the_spec_shows_many_lead_fields() -> None:
    fields = _spec_lead_fields()
    # The full profile example (58 top-level fields) and the search examples' lead_id/title.
    assert {"lead_id", "title", "headline", "jobs.job_title", "educations.ended_on.year"} <= fields
    assert len(fields) > 80


def test_every_lead_field_of_the_spec_is_in_the_catalogue() -> None:
    missing = sorted(_spec_lead_fields() - set(FIELD_CATALOGUE))
    assert missing == [], f"add to lead_fields.LEAD_FIELDS: {missing}"
    check_fields(sorted(_spec_lead_fields()))  # and each is accepted as asked


def test_default_columns_and_their_fallbacks_are_accepted() -> None:
    paths = []
    for sources in COLUMN_SOURCES.values():
        for source in sources:
            if isinstance(source, str):
                paths.append(source)
            elif isinstance(source, WebsiteFromDomain):
                paths.append(source.path)
            else:
                assert isinstance(source, Join)
                paths.extend(path for part in source.parts for path in part)
    assert set(DEFAULT_COLUMNS) | set(paths) <= set(FIELD_CATALOGUE)
    check_fields([*DEFAULT_COLUMNS, *paths])
    # Friendly spellings of the columns, as the README shows them.
    check_fields(["Job title", "LEAD ID", "company-website", "jobs[0].Job Title"])


def test_the_catalogue_is_one_table_of_unique_names_with_a_source() -> None:
    assert len(LEAD_FIELD_NAMES) == len(set(LEAD_FIELD_NAMES))
    assert {source for _, source in LEAD_FIELDS} == {"spec", "facts"}
    # FACTS.md's realtime spellings: another name for the company, a nested company object.
    assert {"lead_company_name", "company.name", "company.domain", "sales_id", "id"} <= set(
        LEAD_FIELD_NAMES
    )


@pytest.mark.parametrize("name", ["raw:anything_at_all", "RAW:company.revenue", "raw: jobs.0.x"])
def test_raw_reaches_any_field(name: str) -> None:
    check_fields([name])


@pytest.mark.parametrize("name", ["nonexistent_field", "company.revenue", "email", "raw:"])
def test_a_name_outside_the_catalogue_is_refused(name: str) -> None:
    with pytest.raises(CriteriaError):
        check_fields([name])
