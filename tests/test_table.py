"""Lead rows into the sheet's 2-D table: fallbacks, fields, cell values, the status row."""

from __future__ import annotations

import copy
import dataclasses
import doctest
import io
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generect_excel import table as table_module
from generect_excel._constants import CELL_MESSAGE_MAX, EXCEL_MAX_CELL_CHARS
from generect_excel.errors import CriteriaError
from generect_excel.table import (
    COLUMN_SOURCES,
    DEFAULT_COLUMNS,
    Join,
    SearchInfo,
    WebsiteFromDomain,
    available_fields,
    lead_table,
    pad,
    parse_fields,
    search_table,
    status_line,
    to_cell,
)

# --------------------------------------------------------------------------- sample rows

# A database-mode row, trimmed from the example in Generect's openapi.yaml (ENGIE).
DATABASE_ROW = {
    "lead_id": "bd6b4b1e-5c3a-4f0e-9a57-2f1f3c0d8e11",
    "sales_id": "ACwAAAbK_z8BitOI-5PxZa_jkG05STRmNLRaK14",
    "first_name": "Birama",
    "middle_name": "",
    "last_name": "Traoré",
    "full_name": "Birama Traoré",
    "unformatted_full_name": "Birama Traoré",
    "headline": "CIO Procurement - Finance - CSR",
    "job_title": "CIO Procurement - Finance - CSR",
    "raw_job_title": "CIO Procurement - Finance - CSR",
    "linkedin_url": "https://www.linkedin.com/in/birama-traor%C3%A9",
    "linkedin_sales_link": "https://www.linkedin.com/sales/lead/ACwAAAbK_z8Bit,NAME_SEARCH,OJWs",
    "location": "Greater Paris Metropolitan Region",
    "location_city": "",
    "location_state": "Ile-de-France",
    "location_country": "France",
    "company_name": "ENGIE",
    "raw_company_name": "ENGIE",
    "company_url": "https://www.linkedin.com/company/engie/",
    "company_website": "https://www.engie.com/en",
    "company_industry": "Utilities",
    "company_headcount_range": "10001+",
    "industry": "IT Services and IT Consulting",
    "linkedin_company_id": "298246",
    "num_of_connections": 2253,
    "is_current": True,
    "is_premium": False,
    "twitter_link": None,
    "updated_at": "2026-10-01T08:15:00Z",
    "skills": ["ITIL", "ServiceNow", "Salesforce"],
    "languages": [],
    "jobs": [
        {
            "company_name": "ENGIE",
            "company_url": "https://www.linkedin.com/company/engie/",
            "job_title": "CIO Procurement - Finance - CSR",
            "job_started_on": "Sep 2023",
            "job_still_working": True,
        },
        {
            "company_name": "ENGIE IT",
            "job_title": "Head of Enterprise Service Management",
            "job_started_on": "2020",
            "job_still_working": False,
        },
    ],
    "educations": [
        {"degree": "Ingenieur", "university_name": "EITI", "ended_on": {"year": 2007}},
        {"degree": None, "university_name": "EasyVista", "ended_on": None},
    ],
}

# A realtime-mode row: no lead_id, no linkedin_url, the company as a nested object.
REALTIME_ROW = {
    "id": 80282110,
    "first_name": "Sarah",
    "last_name": "Chen",
    "title": "Senior Marketing Director",
    "headline": "Senior Marketing Director at Slack",
    "lead_company_name": None,
    "company": {
        "name": "Slack",
        "domain": "slack.com",
        "linkedin_url": "https://www.linkedin.com/company/slack-technologies/",
        "industry": "Software Development",
        "headcount": 2500,
    },
    "city": "San Francisco",
    "state": "California",
    "country": "United States",
    "linkedin_sales_link": "https://www.linkedin.com/sales/lead/ACwAAATJAf4B,NAME_SEARCH,OJWs",
    "languages": [
        {"name": "Englisch", "proficiency": "FULL_PROFESSIONAL"},
        {"name": "Deutsch", "proficiency": "NATIVE_OR_BILINGUAL"},
    ],
}

FETCHED = datetime(2026, 11, 22, 10, 31, 7, tzinfo=UTC)


def info(**changes) -> SearchInfo:
    base = SearchInfo(
        results_count=1240,
        rows=25,
        amount_charged=Decimal("0.50"),
        fetched_at=FETCHED,
        from_cache=False,
        test_mode=False,
        mode="database",
    )
    return dataclasses.replace(base, **changes)


def as_dict(table):
    header, *rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- default columns


def test_default_columns_are_the_documented_set():
    assert DEFAULT_COLUMNS == (
        "full_name",
        "first_name",
        "last_name",
        "job_title",
        "company",
        "industry",
        "location",
        "linkedin_url",
        "company_linkedin_url",
        "company_website",
        "lead_id",
    )
    assert lead_table([])[0] == list(DEFAULT_COLUMNS)


def test_database_row_fills_every_default_column():
    (row,) = as_dict(lead_table([DATABASE_ROW]))
    assert row == {
        "full_name": "Birama Traoré",
        "first_name": "Birama",
        "last_name": "Traoré",
        "job_title": "CIO Procurement - Finance - CSR",
        "company": "ENGIE",
        "industry": "Utilities",
        "location": "Greater Paris Metropolitan Region",
        "linkedin_url": "https://www.linkedin.com/in/birama-traor%C3%A9",
        "company_linkedin_url": "https://www.linkedin.com/company/engie/",
        "company_website": "https://www.engie.com/en",
        "lead_id": "bd6b4b1e-5c3a-4f0e-9a57-2f1f3c0d8e11",
    }


def test_realtime_row_with_nested_company_uses_the_fallbacks():
    (row,) = as_dict(lead_table([REALTIME_ROW]))
    assert row == {
        "full_name": "Sarah Chen",
        "first_name": "Sarah",
        "last_name": "Chen",
        "job_title": "Senior Marketing Director",
        "company": "Slack",  # lead_company_name is null -> company.name
        "industry": "Software Development",
        "location": "San Francisco, California, United States",
        "linkedin_url": "https://www.linkedin.com/sales/lead/ACwAAATJAf4B,NAME_SEARCH,OJWs",
        "company_linkedin_url": "https://www.linkedin.com/company/slack-technologies/",
        "company_website": "https://slack.com",
        "lead_id": 80282110,
    }


def test_database_and_realtime_rows_mix_in_one_table():
    table = lead_table([DATABASE_ROW, REALTIME_ROW, {}])
    assert len(table) == 4
    assert {len(row) for row in table} == {len(DEFAULT_COLUMNS)}
    assert table[3] == [None] * len(DEFAULT_COLUMNS)


# Every fallback of every logical column, one at a time: (column, row, expected cell).
FALLBACKS = [
    ("full_name", {"full_name": "Ada Lovelace"}, "Ada Lovelace"),
    ("full_name", {"name": "Ada Lovelace"}, "Ada Lovelace"),
    ("full_name", {"unformatted_full_name": "ada lovelace"}, "ada lovelace"),
    ("full_name", {"first_name": "Ada", "last_name": "Lovelace"}, "Ada Lovelace"),
    ("full_name", {"first_name": "Ada", "middle_name": "K", "last_name": "L"}, "Ada K L"),
    ("full_name", {"first_name": " Ada ", "last_name": None}, "Ada"),
    ("full_name", {"last_name": "Lovelace"}, "Lovelace"),
    ("first_name", {"first_name": "Ada"}, "Ada"),
    ("last_name", {"last_name": "Lovelace"}, "Lovelace"),
    ("job_title", {"job_title": "CTO"}, "CTO"),
    ("job_title", {"title": "CTO"}, "CTO"),
    ("job_title", {"raw_job_title": "cto & co-founder"}, "cto & co-founder"),
    ("company", {"company_name": "Acme"}, "Acme"),
    ("company", {"lead_company_name": "Acme"}, "Acme"),
    ("company", {"company": {"name": "Acme"}}, "Acme"),
    ("company", {"raw_company_name": "ACME inc"}, "ACME inc"),
    ("industry", {"company_industry": "Utilities"}, "Utilities"),
    ("industry", {"company": {"industry": "Retail"}}, "Retail"),
    ("industry", {"industry": "Retail"}, "Retail"),
    ("location", {"location": "Paris"}, "Paris"),
    (
        "location",
        {"location_city": "Lyon", "location_state": "ARA", "location_country": "France"},
        "Lyon, ARA, France",
    ),
    ("location", {"city": "Lyon", "country": "France"}, "Lyon, France"),
    ("location", {"location_city": "", "location_country": "France"}, "France"),
    (
        "linkedin_url",
        {"linkedin_url": "https://www.linkedin.com/in/a"},
        "https://www.linkedin.com/in/a",
    ),
    (
        "linkedin_url",
        {"linkedin": "https://www.linkedin.com/in/a"},
        "https://www.linkedin.com/in/a",
    ),
    (
        "linkedin_url",
        {"linkedin_sales_link": "https://www.linkedin.com/sales/lead/X"},
        "https://www.linkedin.com/sales/lead/X",
    ),
    ("company_linkedin_url", {"company_url": "https://li/c/a"}, "https://li/c/a"),
    ("company_linkedin_url", {"company_linkedin_url": "https://li/c/a"}, "https://li/c/a"),
    ("company_linkedin_url", {"company": {"linkedin_url": "https://li/c/a"}}, "https://li/c/a"),
    ("company_linkedin_url", {"company": {"url": "https://li/c/a"}}, "https://li/c/a"),
    ("company_website", {"company_website": "http://acme.io"}, "http://acme.io"),
    ("company_website", {"website": "https://acme.io"}, "https://acme.io"),
    ("company_website", {"company": {"website": "https://acme.io"}}, "https://acme.io"),
    ("company_website", {"company": {"domain": "acme.io"}}, "https://acme.io"),
    ("company_website", {"company": {"domain": " http://acme.io "}}, "http://acme.io"),
    ("company_website", {"company_domain": "acme.io"}, "https://acme.io"),
    ("lead_id", {"lead_id": "L-1"}, "L-1"),
    ("lead_id", {"id": 42}, 42),
    ("lead_id", {"sales_id": "ACwAAA"}, "ACwAAA"),
]


@pytest.mark.parametrize(("column", "row", "expected"), FALLBACKS)
def test_each_fallback_alone(column, row, expected):
    assert lead_table([row], [column])[1] == [expected]


def test_every_declared_source_is_exercised():
    """The fallback table is data: each of its sources has a case above."""
    exercised: dict[str, set[str]] = {}
    for column, row, _ in FALLBACKS:
        keys = set(row)
        for key, value in row.items():
            if isinstance(value, dict):
                keys |= {f"{key}.{sub}" for sub in value}
        exercised.setdefault(column, set()).update(keys)
    for column, sources in COLUMN_SOURCES.items():
        for source in sources:
            if isinstance(source, str):
                paths = [source]
            elif isinstance(source, WebsiteFromDomain):
                paths = [source.path]
            else:
                assert isinstance(source, Join)
                paths = [path for part in source.parts for path in part]
            assert any(path in exercised[column] for path in paths), (column, source)


@pytest.mark.parametrize(
    ("column", "row", "expected"),
    [
        ("job_title", {"job_title": "CTO", "title": "Boss"}, "CTO"),
        ("job_title", {"job_title": "", "title": "Boss"}, "Boss"),
        ("job_title", {"job_title": "   ", "title": None, "raw_job_title": "boss"}, "boss"),
        ("company", {"company_name": None, "lead_company_name": "", "company": {"name": "X"}}, "X"),
        ("industry", {"company_industry": "Utilities", "industry": "IT Services"}, "Utilities"),
        ("industry", {"company": {"industry": "Retail"}, "industry": "IT Services"}, "Retail"),
        ("lead_id", {"lead_id": None, "id": 0, "sales_id": "S"}, 0),  # 0 is a value
        ("linkedin_url", {"linkedin_url": None, "linkedin_sales_link": "S"}, "S"),
        ("location", {"location": "", "city": "Oslo"}, "Oslo"),
        ("full_name", {"full_name": None, "first_name": "Ada", "last_name": "L"}, "Ada L"),
        ("company_website", {"company_website": "", "company": {"domain": "a.io"}}, "https://a.io"),
    ],
)
def test_fallback_order_and_empty_values_fall_through(column, row, expected):
    assert lead_table([row], [column])[1] == [expected]


@pytest.mark.parametrize(
    "row",
    [
        {},
        {"full_name": None, "job_title": None, "company": None, "lead_id": None},
        {"full_name": "", "job_title": "  ", "company": {}, "location_city": "", "jobs": []},
        {"company": {"name": None, "domain": ""}, "city": None},
        {"company": "not an object"},
    ],
)
def test_missing_and_null_fields_give_empty_cells(row):
    assert lead_table([row])[1] == [None] * len(DEFAULT_COLUMNS)


def test_rows_that_are_not_objects_give_empty_rows():
    table = lead_table([None, "junk", DATABASE_ROW])
    assert table[1] == table[2] == [None] * len(DEFAULT_COLUMNS)
    assert table[3][0] == "Birama Traoré"


def test_input_rows_are_not_modified():
    rows = [copy.deepcopy(DATABASE_ROW), copy.deepcopy(REALTIME_ROW)]
    search_table(rows, info(), ["jobs", "company", "company.domain"])
    assert rows == [DATABASE_ROW, REALTIME_ROW]


# --------------------------------------------------------------------------- fields


def test_fields_pick_and_order_columns():
    table = lead_table([DATABASE_ROW], ["lead_id", "company", "full_name"])
    assert table == [
        ["lead_id", "company", "full_name"],
        ["bd6b4b1e-5c3a-4f0e-9a57-2f1f3c0d8e11", "ENGIE", "Birama Traoré"],
    ]


def test_fields_accept_raw_and_nested_fields():
    fields = [
        "headline",
        "company_headcount_range",
        "num_of_connections",
        "is_premium",
        "company.domain",
        "jobs.0.job_title",
        "jobs[1].company_name",
        "jobs.job_title",
        "educations.ended_on.year",
    ]
    table = lead_table([DATABASE_ROW, REALTIME_ROW], fields)
    assert table[0] == fields
    assert table[1] == [
        "CIO Procurement - Finance - CSR",
        "10001+",
        2253,
        False,
        None,
        "CIO Procurement - Finance - CSR",
        "ENGIE IT",
        "CIO Procurement - Finance - CSR; Head of Enterprise Service Management",
        "2007",
    ]
    assert table[2] == [
        "Senior Marketing Director at Slack",
        None,
        None,
        None,
        "slack.com",
        None,
        None,
        None,
        None,
    ]


def test_field_names_match_case_insensitively_and_keep_the_header_as_typed():
    rows = [{"Job_Title": "CFO", "Company": {"Domain": "x.io"}, "HeadLine": "Numbers"}]
    table = lead_table(rows, ["HEADLINE", "company.DOMAIN", "Full Name", " Job title "])
    assert table[0] == ["HEADLINE", "company.DOMAIN", "Full Name", "Job title"]
    # "Job title" is the logical column: it reads the API's spelling, not "Job_Title".
    assert table[1] == ["Numbers", "x.io", None, None]
    assert lead_table(rows, ["raw:job_title"])[1] == ["CFO"]


def test_friendly_labels_name_the_logical_columns():
    labels = ["Full name", "Job Title", "Company LinkedIn URL", "company-website", "LEAD ID"]
    table = lead_table([DATABASE_ROW], labels)
    assert table[0] == labels
    assert table[1] == [
        "Birama Traoré",
        "CIO Procurement - Finance - CSR",
        "https://www.linkedin.com/company/engie/",
        "https://www.engie.com/en",
        "bd6b4b1e-5c3a-4f0e-9a57-2f1f3c0d8e11",
    ]


def test_raw_prefix_reaches_fields_shadowed_by_logical_columns():
    table = lead_table([DATABASE_ROW], ["industry", "raw:industry", "company", "raw:company_name"])
    assert table[1] == ["Utilities", "IT Services and IT Consulting", "ENGIE", "ENGIE"]
    nested = lead_table([REALTIME_ROW], ["raw:company"])[1][0]
    assert nested.startswith('{"name":"Slack","domain":"slack.com"')


def test_fields_given_as_a_string_or_empty():
    assert lead_table([DATABASE_ROW], "company; lead_id")[0] == ["company", "lead_id"]
    assert lead_table([DATABASE_ROW], [])[0] == list(DEFAULT_COLUMNS)
    assert lead_table([DATABASE_ROW], "")[0] == list(DEFAULT_COLUMNS)
    assert lead_table([DATABASE_ROW], [None, " "])[0] == list(DEFAULT_COLUMNS)


def test_a_field_asked_twice_appears_twice():
    assert lead_table([DATABASE_ROW], ["company", "company"])[1] == ["ENGIE", "ENGIE"]


def test_a_raw_field_present_only_in_a_later_row_is_read():
    rows = [{"lead_id": 1}] * 50 + [{"lead_id": 2, "persona": "Marketing Leaders"}]
    table = lead_table(rows, ["raw:Persona"])
    assert table[0] == ["raw:Persona"]
    assert table[1] == [None] and table[-1] == ["Marketing Leaders"]


def test_an_accepted_field_no_row_carries_is_an_empty_column_not_an_error():
    # The rows were paid for: a catalogued or raw: field they lack must never refuse them.
    table = lead_table([REALTIME_ROW], ["sales_id", "raw:not_sent_today", "company"])
    assert table == [["sales_id", "raw:not_sent_today", "company"], [None, None, "Slack"]]


def test_a_field_that_is_null_everywhere_is_still_known():
    assert lead_table([DATABASE_ROW], ["twitter_link"])[1] == [None]


def test_unknown_field_is_refused_whatever_the_rows_hold_with_the_closest_names():
    with pytest.raises(CriteriaError) as caught:
        lead_table([DATABASE_ROW, REALTIME_ROW], ["full_name", "compny_name"])
    message = str(caught.value)
    assert message == (
        "Unknown field 'compny_name'. Did you mean company_name or company.name? "
        "Unlisted field? Use raw:compny_name."
    )
    assert len(message) <= CELL_MESSAGE_MAX and "\n" not in message
    details = caught.value.details
    for name in (*DEFAULT_COLUMNS, "headline", "sales_id", "company.domain", "jobs.job_title"):
        assert name in details
    # A field the rows carry but the catalogue lacks needs raw:, so that the same names pass
    # before the purchase (no rows yet) and after.
    with pytest.raises(CriteriaError, match="Use raw:sales_navigator_url"):
        lead_table([{"sales_navigator_url": "x"}], ["sales_navigator_url"])


def test_several_unknown_fields_are_named_together():
    with pytest.raises(CriteriaError) as caught:
        lead_table([DATABASE_ROW], ["email", "company", "phone", "company.nope"])
    message = str(caught.value)
    assert message.startswith("Unknown fields 'email', 'phone', 'company.nope'.")
    assert len(message) <= CELL_MESSAGE_MAX


def test_nested_paths_are_checked_against_the_catalogue_not_the_rows():
    # A list position beyond the list is an empty cell; an undocumented nested key is refused.
    assert lead_table([DATABASE_ROW], ["jobs.9.job_title"])[1] == [None]
    with pytest.raises(CriteriaError, match="Unknown field 'company.revenue'"):
        lead_table([REALTIME_ROW], ["company.revenue"])
    assert lead_table([REALTIME_ROW], ["raw:company.revenue"])[1] == [None]


def test_raw_with_no_name_is_refused():
    with pytest.raises(CriteriaError, match="Write raw: followed by the field's name"):
        lead_table([DATABASE_ROW], ["raw: "])


def test_with_no_leads_any_field_gives_a_header():
    assert lead_table([], ["company.domain", "raw:whatever"]) == [
        ["company.domain", "raw:whatever"]
    ]


def test_available_fields_lists_columns_then_raw_then_nested():
    available = available_fields([DATABASE_ROW, REALTIME_ROW])
    assert available[: len(DEFAULT_COLUMNS)] == list(DEFAULT_COLUMNS)
    assert available.index("headline") < available.index("company.domain")
    assert "jobs.job_title" in available and "educations.ended_on.year" in available
    assert len(available) == len(set(available))


# --------------------------------------------------------------------------- parse_fields


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        (",;", None),
        ([], None),
        ([[None, None]], None),
        ("full_name", ["full_name"]),
        ("full_name, company.domain", ["full_name", "company.domain"]),
        ("full_name;job_title ; lead_id", ["full_name", "job_title", "lead_id"]),
        ("full_name\ncompany\r\nlead_id", ["full_name", "company", "lead_id"]),
        (["full_name", None, "", "lead_id"], ["full_name", "lead_id"]),
        ([["full_name", "company"], [None, "lead_id"]], ["full_name", "company", "lead_id"]),
        ((("Full name",), ("Job title",), (None,)), ["Full name", "Job title"]),
        ([["full_name, company"], ["lead_id"]], ["full_name", "company", "lead_id"]),
        ([[1.0, "jobs.0.title"]], ["1", "jobs.0.title"]),
        (7.0, ["7"]),
    ],
)
def test_parse_fields(value, expected):
    assert parse_fields(value) == expected


def test_parsed_fields_feed_lead_table():
    fields = parse_fields([["Company", None], ["company.domain", "lead_id"]])
    assert lead_table([REALTIME_ROW], fields)[1] == ["Slack", "slack.com", 80282110]


# --------------------------------------------------------------------------- cell values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("text", "text"),
        (True, True),
        (False, False),
        (0, 0),
        (2253, 2253),
        (-7, -7),
        (1.5, 1.5),
        (0.0, 0.0),
        (float("nan"), None),
        (float("inf"), None),
        (10**15 - 1, 10**15 - 1),
        (12345678901234567890, "12345678901234567890"),
        (Decimal("2.50"), 2.5),
        ([], None),
        ({}, None),
        (["SaaS", None, "", "ABM"], "SaaS; ABM"),
        ([1, 2.5, True], "1; 2.5; TRUE"),
        ([["a", "b"], ["c"]], "a; b; c"),
        ({"year": 2007, "month": 5}, '{"year":2007,"month":5}'),
        ({"name": "Zürich", "tags": ["a"]}, '{"name":"Zürich","tags":["a"]}'),
        (datetime(2026, 1, 2, 3, 4), datetime(2026, 1, 2, 3, 4)),
    ],
)
def test_to_cell(value, expected):
    result = to_cell(value)
    assert result == expected and type(result) is type(expected)


def test_lists_of_objects_read_as_phrases():
    jobs = [
        {"job_title": "Freelance Artist", "company_name": "Anderson Art Work"},
        {"job_title": "Senior Marketing Director", "company": {"name": "Slack"}},
        {"job_title": "Advisor"},
        {"company_name": "Stealth"},
    ]
    assert to_cell(jobs) == (
        "Freelance Artist @ Anderson Art Work; Senior Marketing Director @ Slack; Advisor; Stealth"
    )
    assert to_cell(DATABASE_ROW["educations"]) == "EITI (Ingenieur); EasyVista"
    assert to_cell(REALTIME_ROW["languages"]) == "Englisch; Deutsch"
    assert to_cell([{"a": 1}, {}, {"b": [2]}]) == '{"a":1}; {"b":[2]}'


def test_list_and_object_columns_in_a_table():
    table = lead_table([DATABASE_ROW, REALTIME_ROW], ["skills", "jobs", "company", "raw:company"])
    assert table[1][:3] == [
        "ITIL; ServiceNow; Salesforce",
        "CIO Procurement - Finance - CSR @ ENGIE; Head of Enterprise Service Management @ ENGIE IT",
        "ENGIE",
    ]
    assert table[1][3] is None
    assert table[2][:3] == [None, None, "Slack"]
    assert table[2][3] == (
        '{"name":"Slack","domain":"slack.com","linkedin_url":'
        '"https://www.linkedin.com/company/slack-technologies/",'
        '"industry":"Software Development","headcount":2500}'
    )


@pytest.mark.parametrize("length", [EXCEL_MAX_CELL_CHARS - 1, EXCEL_MAX_CELL_CHARS])
def test_text_up_to_the_cell_limit_is_kept_whole(length):
    text = "a" * (length - 1) + "Z"
    assert to_cell(text) == text


@pytest.mark.parametrize("extra", [1, 2, 100_000])
def test_text_beyond_the_cell_limit_is_cut_at_exactly_the_limit(extra):
    text = "b" * (EXCEL_MAX_CELL_CHARS + extra)
    assert to_cell(text) == "b" * EXCEL_MAX_CELL_CHARS


def test_cut_counts_as_excel_does_and_never_splits_an_emoji():
    # Excel counts UTF-16 units: each emoji is 2. 16,383 emoji = 32,766 units, then one more
    # emoji would straddle the limit and must go whole.
    text = "😀" * 16_384
    cut = to_cell(text)
    assert cut == "😀" * 16_383 and utf16_len(cut) == 32_766
    mixed = "x" + "😀" * 16_383 + "tail"  # 1 + 32,766 = 32,767 units, then the tail
    assert to_cell(mixed) == "x" + "😀" * 16_383
    fits = "😀" * 16_383 + "y"
    assert to_cell(fits) == fits


def test_long_list_and_object_text_is_cut_too():
    assert len(to_cell(["w" * 20_000, "v" * 20_000])) == EXCEL_MAX_CELL_CHARS
    assert len(to_cell({"summary": "s" * 40_000})) == EXCEL_MAX_CELL_CHARS
    row = {"lead_id": "x", "summary": "s" * 40_000, "job_title": "t" * 40_000}
    table = lead_table([row], ["summary", "job_title"])
    assert [len(cell) for cell in table[1]] == [EXCEL_MAX_CELL_CHARS] * 2


ILLEGAL = "".join(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def test_control_characters_are_removed_and_tab_newline_kept():
    text = f"Ac{ILLEGAL}me\tCorp\nLine 2\r\nEnd"
    assert to_cell(text) == "Acme\tCorp\nLine 2\r\nEnd"
    assert to_cell("\x00\x01") is None
    assert to_cell("lone \ud800 surrogate \ufffe\uffff") == "lone  surrogate "
    row = {"company_name": "Ac\x00me", "job_title": "\x07CTO", "full_name": "\x0b"}
    assert lead_table([row], ["company", "job_title", "full_name"])[1] == ["Acme", "CTO", None]


HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "+1 (555) 010-9999",
    "-2+3",
    "@SUM(A1:A9)",
    "مدير التسويق \u200fالأول",  # RTL with a right-to-left mark
    "\u202eevil\u202c",  # RTL override stays: it is legal text
    "営業部長 / 销售总监",
    "Growth 🚀 Lead 👩🏽‍💻",
    "tab\tseparated\nand\nnewlines",
    "  padded  ",
    "'quoted",
    "NULL",
    "None",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_kept_exactly(text):
    assert to_cell(text) == text
    row = {"full_name": text, "company_name": text, "headline": text}
    assert lead_table([row], ["full_name", "company", "headline"])[1] == [text] * 3


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_becomes_a_value_an_xlsx_cell_accepts(text):
    cell = to_cell(text)
    if cell is None:
        assert text == "" or all(table_module._ILLEGAL.match(c) for c in text)
        return
    assert utf16_len(cell) <= EXCEL_MAX_CELL_CHARS
    kept = [c for c in text if not table_module._ILLEGAL.match(c)]
    assert cell == "".join(kept)
    sheet = openpyxl.Workbook().active
    sheet["A1"].value = cell  # raises IllegalCharacterError on anything illegal


def test_cleaned_values_save_and_load_in_a_real_workbook():
    rows = [
        {
            "full_name": f"Acme{ILLEGAL}Corp",
            "headline": "👩🏽‍💻\t営業\nمدير",
            "summary": "z" * 40_000,
        },
        REALTIME_ROW,
    ]
    table = lead_table(rows, ["full_name", "headline", "summary", "company.headcount"])
    book = openpyxl.Workbook()
    sheet = book.active
    for row in table:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    loaded = [list(r) for r in openpyxl.load_workbook(buffer).active.iter_rows(values_only=True)]
    assert loaded == table


# --------------------------------------------------------------------------- shape


def test_every_row_has_the_header_width():
    rows = [DATABASE_ROW, REALTIME_ROW, {}, None, {"only": "this"}]
    for fields in (None, ["company"], ["raw:only", "company.domain", "skills", "lead_id"]):
        table = lead_table(rows, fields)
        assert len(table) == len(rows) + 1
        assert len({len(row) for row in table}) == 1


def test_pad_makes_ragged_rows_rectangular_without_touching_the_input():
    ragged = [("a",), ["b", "c", "d"], []]
    assert pad(ragged) == [["a", None, None], ["b", "c", "d"], [None, None, None]]
    assert ragged == [("a",), ["b", "c", "d"], []]
    assert pad([]) == []
    assert pad([[1, 2], [3, 4]]) == [[1, 2], [3, 4]]


# --------------------------------------------------------------------------- status line


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1240, "1,240 matches"),
        (1, "1 match"),
        (0, "0 matches"),
        (2_500_000, "2,500,000 matches"),
        (1240.0, "1,240 matches"),
        ("1240", "1,240 matches"),
        ("within limit", "matches within limit"),
        ("  Within   limit ", "matches Within limit"),
        (None, "matches unknown"),
        ("", "matches unknown"),
        (True, "matches unknown"),
    ],
)
def test_status_line_counts(count, text):
    line = status_line(info(results_count=count))
    assert line.split(" · ")[1] == text


def test_status_line_fresh_answer():
    assert status_line(info()) == (
        "Generect · 1,240 matches · 25 rows · $0.50 charged · fetched 2026-11-22 10:31 UTC"
    )


def test_status_line_cached_answer_shows_the_original_charge_and_no_charge_now():
    line = status_line(info(from_cache=True))
    assert line == (
        "Generect · 1,240 matches · 25 rows · $0.50 charged · fetched 2026-11-22 10:31 UTC"
        " · from cache (no charge now)"
    )


def test_status_line_test_mode_says_nothing_was_debited():
    line = status_line(info(test_mode=True, from_cache=True, mode="realtime", rows=1))
    assert line == (
        "Generect realtime · 1,240 matches · 1 row · $0.50 priced, not debited"
        " · fetched 2026-11-22 10:31 UTC · from cache (no charge now) · TEST MODE"
    )


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0"), "$0.00"),
        (Decimal("0.5"), "$0.50"),
        (Decimal("0.0175"), "$0.0175"),
        (Decimal("0.04"), "$0.04"),
        (Decimal("48.000"), "$48.00"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("-0.20"), "-$0.20"),
        (Decimal("1E+1"), "$10.00"),
    ],
)
def test_status_line_money(amount, text):
    assert f" · {text} charged · " in status_line(info(amount_charged=amount))


def test_status_line_times_are_shown_in_utc():
    paris = timezone(timedelta(hours=1))
    assert "fetched 2026-11-22 09:31 UTC" in status_line(
        info(fetched_at=datetime(2026, 11, 22, 10, 31, tzinfo=paris))
    )
    assert "fetched 2026-11-22 10:31 UTC" in status_line(
        info(fetched_at=datetime(2026, 11, 22, 10, 31))
    )


def test_status_line_is_one_short_line():
    line = status_line(info(results_count="within limit", from_cache=True, test_mode=True))
    assert "\n" not in line and len(line) <= 160


def test_search_info_is_frozen_and_built_from_an_answer():
    result = SimpleNamespace(
        leads=[DATABASE_ROW, REALTIME_ROW],
        results_count="within limit",
        amount_charged=Decimal("0.08"),
        test_mode=True,
    )
    answer = SimpleNamespace(result=result, from_cache=True, fetched_at=FETCHED)
    built = SearchInfo.from_answer(answer, mode="realtime")
    assert built == SearchInfo("within limit", 2, Decimal("0.08"), FETCHED, True, True, "realtime")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.rows = 3  # type: ignore[misc]


# --------------------------------------------------------------------------- search_table


def test_search_table_with_rows():
    spill = search_table([DATABASE_ROW, REALTIME_ROW], info(rows=2))
    width = len(DEFAULT_COLUMNS)
    assert len(spill) == 4 and {len(row) for row in spill} == {width}
    assert spill[0] == [status_line(info(rows=2))] + [None] * (width - 1)
    assert spill[1] == list(DEFAULT_COLUMNS)
    # =DROP(A1#,1) is the lead table; =DROP(A1#,2) the rows only.
    assert spill[1:] == lead_table([DATABASE_ROW, REALTIME_ROW])
    assert [row[0] for row in spill[2:]] == ["Birama Traoré", "Sarah Chen"]


def test_search_table_with_zero_leads_is_status_and_header():
    spill = search_table([], info(rows=0, results_count=0, amount_charged=Decimal("0")))
    assert spill == [
        [
            "Generect · 0 matches · 0 rows · $0.00 charged · fetched 2026-11-22 10:31 UTC",
            *[None] * (len(DEFAULT_COLUMNS) - 1),
        ],
        list(DEFAULT_COLUMNS),
    ]


def test_search_table_with_fields_and_without_status():
    spill = search_table([REALTIME_ROW], info(rows=1), "company, company.domain")
    assert spill[0] == [status_line(info(rows=1)), None]
    assert spill[1:] == [["company", "company.domain"], ["Slack", "slack.com"]]
    single = search_table([REALTIME_ROW], info(rows=1), ["company"])
    assert single[0] == [status_line(info(rows=1))]
    plain = search_table([REALTIME_ROW], info(rows=1), ["company"], status=False)
    assert plain == [["company"], ["Slack"]]


def test_search_table_unknown_field_raises_before_shaping():
    with pytest.raises(CriteriaError, match="Unknown field 'emails'"):
        search_table([DATABASE_ROW], info(), ["emails"])


def test_search_table_on_many_messy_rows_stays_rectangular():
    rows = []
    for i in range(2400):
        row = copy.copy(DATABASE_ROW if i % 3 else REALTIME_ROW)
        row["summary"] = "s" * (i % 7) + ("\x00" if i % 5 == 0 else "")
        if i % 4 == 0:
            row["job_title"] = None
        rows.append(row)
    spill = search_table(rows, info(rows=len(rows)))
    assert len(spill) == 2402 and len({len(row) for row in spill}) == 1
    assert sum(1 for row in spill[2:] if row[3] is None) == 0  # title falls back every time
    assert all(not (isinstance(c, float) and math.isnan(c)) for row in spill for c in row)


def test_docstring_examples_hold():
    failures, attempted = doctest.testmod(table_module)
    assert attempted >= 4 and failures == 0


def test_each_cell_is_its_column_chain_whatever_the_first_key_holds() -> None:
    # The table reads the usual cell (short clean text under the chain's first key) inline;
    # every other first value must fall through to the chain exactly as the reader does.
    from generect_excel.table.columns import _column_reader

    rows = [
        {"full_name": "Ada Lovelace", "job_title": "CTO", "lead_id": "L1"},
        {"full_name": "   ", "name": "From name", "job_title": "", "title": "From title"},
        {"full_name": "Tab\there", "job_title": "x" * 40_000, "lead_id": 42},
        {"full_name": None, "unformatted_full_name": "Raw", "job_title": ["a", "b"]},
        {"company_name": "=cmd()", "location": "  Paris  ", "lead_id": 7.0},
        "not a row",
    ]
    table = lead_table(rows)
    assert table[0] == list(DEFAULT_COLUMNS)
    for row, shaped in zip(rows, table[1:], strict=True):
        source = row if isinstance(row, dict) else {}
        assert shaped == [_column_reader(name)(source) for name in DEFAULT_COLUMNS]
    assert table[1][0] == "Ada Lovelace" and table[2][0] == "From name"
    assert table[2][3] == "From title" and table[5][0] is None
