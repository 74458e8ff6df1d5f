"""The sandbox's synthetic population: deterministic, messy like Generect's rows, hostile unless
clean, and drawn from Generect's vocabularies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from generect_excel._constants import EXCEL_MAX_CELL_CHARS
from generect_excel.sandbox import Population, build_population
from generect_excel.sandbox import pools as P
from generect_excel.vocab import get_vocabulary

RTL = re.compile("[\u0590-\u05ff\u0600-\u06ff]")
CJK = re.compile("[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
EMOJI = re.compile("[\U0001f300-\U0001faff]")


def strings(value: Any) -> Iterator[str]:
    """Every string inside a row (nested lists and dicts included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def all_rows(pop: Population, step: int = 1) -> Iterator[dict[str, Any]]:
    for i in range(0, pop.size, step):
        yield pop.database_row(i)
        yield pop.realtime_row(i)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a = Population(seed=3, size=3000)
    b = Population(seed=3, size=3000)  # built afresh, not the cached one
    c = Population(seed=4, size=3000)
    assert [a.database_row(i) for i in range(3000)] == [b.database_row(i) for i in range(3000)]
    assert [a.realtime_row(i) for i in range(3000)] == [b.realtime_row(i) for i in range(3000)]
    assert a.hostile == b.hostile
    same = sum(a.database_row(i) == c.database_row(i) for i in range(3000))
    assert same == 0


def test_build_population_is_cached_per_seed_size_and_clean() -> None:
    assert build_population(11, 500, False) is build_population(11, 500, False)
    assert build_population(11, 500, True) is not build_population(11, 500, False)


def test_every_hostile_kind_is_present_and_survives_json(sandbox_population: Population) -> None:
    pop = sandbox_population
    kinds = set(pop.hostile.values())
    assert kinds == {*P.HOSTILE_NAMES, *P.HOSTILE_TITLES, *P.HOSTILE_HEADLINES}
    share = len(pop.hostile) / pop.size
    assert 0.01 <= share <= 0.02
    texts: list[str] = []
    for i in pop.hostile:
        for row in (pop.database_row(i), pop.realtime_row(i)):
            encoded = json.dumps(row, ensure_ascii=False, allow_nan=False)
            assert json.loads(encoded) == row
            texts.extend(strings(row))
    for prefix in "=+-@":
        assert any(t.startswith(prefix) for t in texts), prefix
    assert any(t.startswith('=HYPERLINK("http://x","y")') for t in texts)
    assert any(len(t) > EXCEL_MAX_CELL_CHARS for t in texts)
    assert any("\t" in t for t in texts) and any("\n" in t for t in texts)
    assert any(EMOJI.search(t) for t in texts)
    assert any(RTL.search(t) for t in texts)
    assert any(CJK.search(t) for t in texts)


def test_clean_population_has_no_hostile_text_and_otherwise_equal_rows(
    sandbox_population: Population,
) -> None:
    dirty = sandbox_population
    clean = Population(seed=dirty.seed, size=dirty.size, clean=True)
    assert clean.hostile == {}
    awkward = re.compile(f"^[=+@-]|[\t\n\r]|{RTL.pattern}|{CJK.pattern}|{EMOJI.pattern}")
    for row in all_rows(clean, step=4):
        for text in strings(row):
            assert not awkward.search(text) and len(text) <= EXCEL_MAX_CELL_CHARS, text
    # --clean changes the hostile rows and nothing else.
    for i in range(0, dirty.size, 7):
        if i not in dirty.hostile:
            assert clean.database_row(i) == dirty.database_row(i)


def test_database_and_realtime_rows_differ_as_generect_rows_do(
    sandbox_population: Population,
) -> None:
    pop = sandbox_population
    sample = range(0, 4000)
    database = [pop.database_row(i) for i in sample]
    realtime = [pop.realtime_row(i) for i in sample]
    for row in database:
        assert ("lead_id" in row) != ("id" in row)
        for name in (
            "sales_id",
            "full_name",
            "job_title",
            "raw_job_title",
            "linkedin_url",
            "linkedin_sales_link",
            "location",
            "company_name",
            "company_url",
            "company_website",
            "company_industry",
            "linkedin_company_id",
            "is_current",
            "updated_at",
        ):
            assert name in row, name
        assert isinstance(row["jobs"], list) and isinstance(row["skills"], list)
        assert "title" not in row and "email" not in row and "phone" not in row
    assert any("id" in row for row in database) and any("lead_id" in row for row in database)
    assert any("headline" not in row for row in database)  # missing, not just null
    for name in ("company_website", "profile_photo", "job_started_on", "linkedin_sales_link"):
        assert any(row[name] is None for row in database), name
    assert any(row["skills"] == [] for row in database)
    for row in realtime:
        assert "title" in row and "job_title" not in row
        assert ("company" in row) != ("lead_company_name" in row)
        if "company" in row:
            assert set(row["company"]) == {
                "name",
                "domain",
                "linkedin_url",
                "industry",
                "headcount",
            }
    assert any("lead_id" not in row for row in realtime)
    assert any("linkedin_url" not in row for row in realtime)
    assert any(row["headline"] is None for row in realtime)


def test_rows_use_generect_vocabularies(sandbox_population: Population) -> None:
    pop = sandbox_population
    industries = set(get_vocabulary("company_industries").values)
    seniorities = set(get_vocabulary("seniorities").values)
    types = set(get_vocabulary("company_types").values)
    headcounts = set(get_vocabulary("company_headcounts").values)
    rows = [pop.database_row(i) for i in range(0, pop.size, 5)]
    assert {r["company_industry"] for r in rows} <= industries
    assert {r["seniority"] for r in rows} == seniorities
    assert {r["company_type"] for r in rows} <= types
    # LinkedIn spells the top bucket "10001+" in rows; requests must say "10 000+".
    assert {r["company_headcount_range"] for r in rows} == headcounts - {"10 000+"} | {"10001+"}
    assert len({r["company_industry"] for r in rows}) > 100
    assert len({r["location_country"] for r in rows}) > 15


@pytest.mark.parametrize("size", [1, 40])
def test_tiny_populations_still_build(size: int) -> None:
    pop = Population(seed=2, size=size)
    assert len([pop.database_row(i) for i in range(size)]) == size
    kinds = len(P.HOSTILE_NAMES) + len(P.HOSTILE_TITLES) + len(P.HOSTILE_HEADLINES)
    assert len(pop.hostile) == min(size, kinds)  # every kind, as far as the rows go
