"""Criteria ranges as xlwings hands them to Python, files and keyword arguments."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generect_excel import vocab
from generect_excel.criteria import (
    FIELD_KINDS,
    FIELD_LABELS,
    criteria_from_block,
    criteria_from_file,
    criteria_from_kwargs,
    criteria_from_mapping,
    field_for_label,
    parse_block,
    with_paging,
)
from generect_excel.errors import CRITERIA_PROBLEMS_HINT, CriteriaError
from generect_excel.models import (
    REALTIME_FIELDS,
    LeadSearchRequest,
    RealtimeLeadSearchRequest,
    build_request,
    canonical_json,
)

SEED_BODY = {
    "job_titles": ["CEO", "Founder"],
    "seniorities": ["c_suite"],
    "locations": ["San Francisco, CA"],
    "company_industries": ["Software Development"],
    "company_headcounts": ["51-200"],
    "limit_by": 50,
}

# (id, block, mode, exact body). Each block is what xlwings passes for a range an analyst
# might select: lists of rows, None for empty cells, floats for numbers.
LAYOUTS: list[tuple[str, object, str, dict]] = [
    (
        "vertical seed",
        [
            ["Job titles", "CEO", "Founder"],
            ["Seniority", "CXO", None],
            ["Location", "San Francisco, CA", None],
            ["Industry", "Software Development", None],
            ["Company size", "51-200", None],
            ["Limit", 50.0, None],
        ],
        "database",
        SEED_BODY,
    ),
    (
        "vertical with Filter | Values header",
        [
            ["Filter", "Values"],
            ["Job title", "CEO; Founder"],
            ["Seniority", "CXO"],
            ["Location", "San Francisco, CA"],
            ["Industry", "software development"],
            ["Company size", "51-200"],
            ["Limit", 50.0],
        ],
        "database",
        SEED_BODY,
    ),
    (
        "vertical with Field | Value | Value 2 header",
        [["Field", "Value", "Value 2"], ["Title", "CEO", "CTO"]],
        "database",
        {"job_titles": ["CEO", "CTO"]},
    ),
    (
        "vertical with a Criteria title row",
        [["Lead search criteria", None], ["Seniority", "VP"]],
        "database",
        {"seniorities": ["vp"]},
    ),
    (
        "horizontal, values below each header",
        [
            ["Job title", "Seniority", "HQ location"],
            ["CEO", "CXO", "Berlin, Germany"],
            ["CTO", "VP", None],
        ],
        "database",
        {
            "job_titles": ["CEO", "CTO"],
            "seniorities": ["c_suite", "vp"],
            "company_locations": ["Berlin, Germany"],
        },
    ),
    (
        "horizontal with a Field/Value header column",
        [["Field", "Job title", "Company size"], ["Value", "Founder", "11-50"]],
        "database",
        {"job_titles": ["Founder"], "company_headcounts": ["11-50"]},
    ),
    (
        "vertical with blank rows between",
        [["Job title", "CEO"], [None, None], [None, None], ["Location", "Germany"]],
        "database",
        {"job_titles": ["CEO"], "locations": ["Germany"]},
    ),
    (
        "vertical with a blank first row and first column",
        [[None, None, None], [None, "Job title", "CEO"], [None, "Seniority", "Director"]],
        "database",
        {"job_titles": ["CEO"], "seniorities": ["director"]},
    ),
    (
        "semicolons split",
        [["Job titles", "CEO;CTO ; CFO"]],
        "database",
        {"job_titles": ["CEO", "CTO", "CFO"]},
    ),
    (
        "line breaks split",
        [["Job titles", "Head of Sales\nHead of Marketing\r\nVP Sales"]],
        "database",
        {"job_titles": ["Head of Sales", "Head of Marketing", "VP Sales"]},
    ),
    (
        "commas split job titles",
        [["Job titles", "CEO, Founder, Owner"]],
        "database",
        {"job_titles": ["CEO", "Founder", "Owner"]},
    ),
    (
        "values in several cells",
        [["Seniority", "Owner", "Founder", "Partner", None]],
        "database",
        {"seniorities": ["owner", "founder", "partner"]},
    ),
    (
        "a location keeps its comma",
        [["Location", "San Francisco, CA; New York, NY, United States"]],
        "database",
        {"locations": ["San Francisco, CA", "New York, NY, United States"]},
    ),
    (
        "HQ locations keep their commas, several cells",
        [["Company location", "Austin, Texas", "London, England, United Kingdom"]],
        "database",
        {"company_locations": ["Austin, Texas", "London, England, United Kingdom"]},
    ),
    (
        "industries with commas are re-joined",
        [["Industry", "technology, information and internet, Software Development"]],
        "database",
        {"company_industries": ["Technology, Information and Internet", "Software Development"]},
    ),
    (
        "an industry with three commas",
        [["Industries", "Oil, Gas, and Mining, Banking"]],
        "database",
        {"company_industries": ["Oil, Gas, and Mining", "Banking"]},
    ),
    (
        "sizes with thousands commas",
        [["Company size", "10,000+, 1,001-5,000", "51 - 200"]],
        "database",
        {"company_headcounts": ["10 000+", "1001-5000", "51-200"]},
    ),
    (
        "mixed case labels",
        [["JOB TITLE", "CEO"], ["seniority", "c-suite"], ["company SIZE", "10001+"]],
        "database",
        {"job_titles": ["CEO"], "seniorities": ["c_suite"], "company_headcounts": ["10 000+"]},
    ),
    (
        "labels with punctuation and plurals",
        [["Job Title(s):", "CEO"], ["HQ-Locations", "France"], ["Company types", "private"]],
        "database",
        {
            "job_titles": ["CEO"],
            "company_locations": ["France"],
            "company_types": ["Privately Held"],
        },
    ),
    (
        "API names as labels",
        [["job_titles", "CEO"], ["company_headcounts", "201-500"], ["limit_by", 10.0]],
        "database",
        {"job_titles": ["CEO"], "company_headcounts": ["201-500"], "limit_by": 10},
    ),
    (
        "floats for whole numbers",
        [["Title", "CFO"], ["Limit", 100.0], ["Offset", 200.0]],
        "database",
        {"job_titles": ["CFO"], "limit_by": 100, "offset_by": 200},
    ),
    (
        "numbers typed as text",
        [["Title", "CFO"], ["Limit", " 2,400 "], ["Offset", "0"]],
        "database",
        {"job_titles": ["CFO"], "limit_by": 2400, "offset_by": 0},
    ),
    (
        "booleans as Excel booleans",
        [["Keywords", "kubernetes"], ["Changed jobs", True], ["Posted on LinkedIn", False]],
        "realtime",
        {"keywords": ["kubernetes"], "changed_jobs": True},
    ),
    (
        "booleans as yes / y / x / 1.0",
        [
            ["Job title", "CTO"],
            ["Changed jobs", "yes"],
            ["Posted on LinkedIn", "Y"],
            ["Mentioned in news", "x"],
            ["Full profile", 1.0],
        ],
        "realtime",
        {
            "job_titles": ["CTO"],
            "changed_jobs": True,
            "posted_on_linkedin": True,
            "mentioned_in_news": True,
            "include_full_profile": True,
        },
    ),
    (
        "booleans as no / n / 0 / FALSE text are left out",
        [
            ["Job title", "CTO"],
            ["Changed jobs", "no"],
            ["Posted on LinkedIn", "n"],
            ["Total count", 0.0],
            ["Skip truncated names", "FALSE"],
        ],
        "realtime",
        {"job_titles": ["CTO"]},
    ),
    (
        "Excel turned 1-10 into a date (US: 10 January)",
        [["Company size", dt.datetime(2026, 1, 10), "51-200"]],
        "database",
        {"company_headcounts": ["1-10", "51-200"]},
    ),
    (
        "Excel turned 11-50 into November 1950",
        [["Headcount", dt.datetime(1950, 11, 1)]],
        "database",
        {"company_headcounts": ["11-50"]},
    ),
    (
        "one row as a flat list",
        ["Job title", "CEO", "CTO"],
        "database",
        {"job_titles": ["CEO", "CTO"]},
    ),
    (
        "one row as a 2-D list",
        [["Job title", "CEO", "CTO"]],
        "database",
        {"job_titles": ["CEO", "CTO"]},
    ),
    (
        "one column as a 2-D list",
        [["Seniority"], ["VP"], ["Director"], [None]],
        "database",
        {"seniorities": ["vp", "director"]},
    ),
    (
        "one column as a flat list",
        ["Seniority", "Vice President", "Head of"],
        "database",
        {"seniorities": ["vp", "head"]},
    ),
    (
        "rows continuing the label above",
        [["Job title", "CEO"], [None, "CTO"], [None, "CFO"], ["Seniority", "CXO"]],
        "database",
        {"job_titles": ["CEO", "CTO", "CFO"], "seniorities": ["c_suite"]},
    ),
    (
        "horizontal with a merged header over two columns",
        [["Job title", None, "Location"], ["CEO", "CTO", "Paris"]],
        "database",
        {"job_titles": ["CEO", "CTO"], "locations": ["Paris"]},
    ),
    (
        "a label twice gathers both",
        [["Job title", "CEO"], ["Location", "Spain"], ["Job titles", "Founder"]],
        "database",
        {"job_titles": ["CEO", "Founder"], "locations": ["Spain"]},
    ),
    (
        "duplicates dropped, order kept",
        [["Job title", "CEO; CTO; CEO", "CTO"], ["Seniority", "CXO", "C-Suite"]],
        "database",
        {"job_titles": ["CEO", "CTO"], "seniorities": ["c_suite"]},
    ),
    (
        "realtime fields",
        [
            ["Keywords", "machine learning, growth marketing"],
            ["Past companies", "Google; Stripe"],
            ["Years in position", 1.0, 2.0],
            ["Schools", "123, 456"],
            ["Groups", 789.0],
            ["Functions", "Sales, Marketing"],
        ],
        "realtime",
        {
            "keywords": ["machine learning", "growth marketing"],
            "functions": ["Sales", "Marketing"],
            "past_company_names": ["Google", "Stripe"],
            "schools": [123, 456],
            "groups": [789],
            "years_in_position": [1, 2],
        },
    ),
    (
        "connections as a range text",
        [["Job title", "CEO"], ["Connections", "500+"]],
        "realtime",
        {"job_titles": ["CEO"], "num_of_connections": {"min": 500}},
    ),
    (
        "connections from min and max rows",
        [["Job title", "CEO"], ["Min connections", 100.0], ["Max connections", "1000"]],
        "realtime",
        {"job_titles": ["CEO"], "num_of_connections": {"min": 100, "max": 1000}},
    ),
    (
        "company anchor by name: no 2400 cap",
        [["Company", "Acme Corp"], ["Limit", 5000.0]],
        "database",
        {"company_name": "Acme Corp", "limit_by": 5000},
    ),
    (
        "company name keeps its comma",
        [["Company name", "Acme, Inc."], ["Seniority", "VP"]],
        "database",
        {"seniorities": ["vp"], "company_name": "Acme, Inc."},
    ),
    (
        "company LinkedIn URL label",
        [["Company LinkedIn URL", "https://www.linkedin.com/company/microsoft/"]],
        "database",
        {"company_link": "https://www.linkedin.com/company/microsoft/"},
    ),
    (
        "company ID as a float",
        [["Company ID", 1035.0], ["Job title", "Engineer"]],
        "database",
        {"job_titles": ["Engineer"], "company_id": 1035},
    ),
    (
        "Company holding a LinkedIn URL becomes the link",
        [["Company", "https://linkedin.com/company/acme"]],
        "realtime",
        {"company_link": "https://linkedin.com/company/acme"},
    ),
    (
        "Company holding a number becomes the ID",
        [["Company", 1035.0]],
        "database",
        {"company_id": 1035},
    ),
    (
        "company types by friendly names",
        [["Company type", "Private; Public, nonprofit"]],
        "database",
        {"company_types": ["Privately Held", "Public Company", "Non Profit"]},
    ),
    (
        "exclusions next to filters",
        [
            ["Location", "United States"],
            ["Exclude locations", "Texas, United States"],
            ["Exclude industries", "Staffing and Recruiting"],
            ["Exclude company size", "1-10"],
        ],
        "database",
        {
            "locations": ["United States"],
            "exclude_locations": ["Texas, United States"],
            "exclude_company_industries": ["Staffing and Recruiting"],
            "exclude_company_headcounts": ["1-10"],
        },
    ),
    (
        "must-have fields and strict matching by label",
        [
            ["Job title", "CEO"],
            ["Must have", "website; photo"],
            ["Strict", "HQ location, Job titles"],
        ],
        "database",
        {
            "job_titles": ["CEO"],
            "filter_empty_vars": ["company_website", "profile_photo"],
            "strict": ["company_locations", "job_titles"],
        },
    ),
    (
        "double quotes protect a comma",
        [["Job titles", '"VP, Sales", CEO']],
        "database",
        {"job_titles": ["VP, Sales", "CEO"]},
    ),
    (
        "past companies keep their legal suffix",
        [["Past companies", "Acme, Inc., Globex; Initech, LLC"]],
        "realtime",
        {"past_company_names": ["Acme, Inc.", "Globex", "Initech, LLC"]},
    ),
    (
        "ragged rows",
        [["Job title", "CEO", "CTO", "CFO"], ["Seniority", "VP"], ["Location"]],
        "database",
        {"job_titles": ["CEO", "CTO", "CFO"], "seniorities": ["vp"]},
    ),
    (
        "horizontal with a blank row under the headers",
        [["Seniority", "Industry"], [None, None], ["Director", "Banking"]],
        "database",
        {"seniorities": ["director"], "company_industries": ["Banking"]},
    ),
    (
        "rows as tuples",
        (("Job title", "Owner"), ("Company size", "1-10")),
        "database",
        {"job_titles": ["Owner"], "company_headcounts": ["1-10"]},
    ),
    (
        "seniority synonyms",
        [["Seniority", "C-Suite, Vice President, Entry Level, Directors"]],
        "database",
        {"seniorities": ["c_suite", "vp", "entry", "director"]},
    ),
    (
        "Sales Navigator URL and emails (realtime)",
        [
            ["Sales Navigator URL", "https://www.linkedin.com/sales/search/people?query=x"],
            ["Emails", "Ann@Acme.com; bob@acme.com"],
        ],
        "realtime",
        {
            "linkedin_filter_link": "https://www.linkedin.com/sales/search/people?query=x",
            "find_by_emails": ["ann@acme.com", "bob@acme.com"],
        },
    ),
    (
        "a label without values is ignored",
        [["Job title", "CEO"], ["Industry", None, None], ["Keywords", ""]],
        "database",
        {"job_titles": ["CEO"]},
    ),
    (
        "an empty numeric cell read as NaN is ignored",
        [["Job title", "CEO"], ["Limit", math.nan]],
        "database",
        {"job_titles": ["CEO"]},
    ),
    (
        "whole numbers in text fields become text",
        [["Exclude IDs", 12345.0, "678"], ["Job title", "CEO"]],
        "database",
        {"job_titles": ["CEO"], "exclude_ids": ["12345", "678"]},
    ),
    (
        "years of experience and in company, realtime",
        [["Years in company", "1; 2"], ["Years of experience", 5.0]],
        "realtime",
        {"years_in_company": [1, 2], "years_of_experience": [5]},
    ),
]


def test_there_are_at_least_forty_layouts() -> None:
    assert len(LAYOUTS) >= 40


@pytest.mark.parametrize(
    ("block", "mode", "body"), [c[1:] for c in LAYOUTS], ids=[c[0] for c in LAYOUTS]
)
def test_layout_gives_exact_body(block: object, mode: str, body: dict) -> None:
    request = criteria_from_block(block, mode=mode)
    assert request.body() == body
    assert request.mode == mode
    assert isinstance(
        request, RealtimeLeadSearchRequest if mode == "realtime" else LeadSearchRequest
    )


# (id, block, mode, the one problem expected, or fragments it must contain)
ERRORS: list[tuple[str, object, str, list[str]]] = [
    (
        "unknown label, vertical",
        [["Jbo title", "CEO"]],
        "database",
        ['Unknown criteria label "Jbo title" (row 1 of the criteria); did you mean "Job titles"'],
    ),
    (
        "unknown label, horizontal",
        [["Job title", "Senority"], ["CEO", "VP"]],
        "database",
        ['Unknown criteria label "Senority" (column 2 of the criteria); did you mean "Seniority"'],
    ),
    (
        "unknown industry with suggestion",
        [["Job title", "CEO"], ["Industry", "Software"]],
        "database",
        [
            'Industry (row 2 of the criteria): "Software" is not a valid industry; did you mean "Software Development"'
        ],
    ),
    (
        "unknown seniority",
        [["Seniority", "Boss"]],
        "database",
        ['Seniority (row 1 of the criteria): "Boss" is not a valid seniority'],
    ),
    (
        "unknown company size, horizontal",
        [["Company size"], ["50-100"]],
        "database",
        ['Company size (column 1 of the criteria): "50-100" is not a valid company size'],
    ),
    (
        "realtime-only field in database mode",
        [["Job title", "CEO"], ["Keywords", "kubernetes"]],
        "database",
        ["Keywords (row 2 of the criteria) works only in realtime mode: use mode realtime"],
    ),
    (
        "two company identifiers",
        [["Company", "Acme"], ["Company ID", 1035.0]],
        "database",
        [
            "Company (row 1 of the criteria), Company ID (row 2 of the criteria): give only one company"
        ],
    ),
    (
        "Company URL and Company link",
        [
            ["Company", "https://linkedin.com/company/a"],
            ["Company link", "https://linkedin.com/company/b"],
        ],
        "database",
        ["give only one company", "Company"],
    ),
    (
        "no filter at all",
        [["Limit", 50.0], ["Offset", 10.0]],
        "database",
        ["No filter given"],
    ),
    (
        "exclusions alone are no filter",
        [["Exclude locations", "Texas"]],
        "database",
        ["No filter given"],
    ),
    (
        "a single cell",
        "Job title",
        "database",
        ["No filter given"],
    ),
    (
        "a single value without a label",
        "CEO",
        "database",
        ['Unknown criteria label "CEO" (row 1 of the criteria)'],
    ),
    (
        "limit above 2400",
        [["Job title", "CEO"], ["Limit", 3000.0]],
        "database",
        ["Limit (row 2 of the criteria): 3000 is too many; use 1 to 2400"],
    ),
    (
        "limit zero",
        [["Job title", "CEO"], ["Limit", 0.0]],
        "database",
        ["Limit (row 2 of the criteria): 0 is out of range; use 1 to 2400"],
    ),
    (
        "offset above 2399",
        [["Job title", "CEO"], ["Offset", 2400.0]],
        "database",
        ["Offset (row 2 of the criteria): 2400 is too far; use 0 to 2399"],
    ),
    (
        "limit plus offset above 2400",
        [["Job title", "CEO"], ["Limit", 2000.0], ["Offset", 500.0]],
        "database",
        [
            "Limit (row 2 of the criteria), Offset (row 3 of the criteria): limit plus offset is 2500; at most 2400"
        ],
    ),
    (
        "1.5 for a whole number",
        [["Job title", "CEO"], ["Limit", 1.5]],
        "database",
        ["Limit (row 2 of the criteria): 1.5 is not a whole number"],
    ),
    (
        "1.5 for years",
        [["Years in position", 1.5]],
        "realtime",
        ["Years in position (row 1 of the criteria): 1.5 is not a whole number"],
    ),
    (
        "years out of 1..5",
        [["Years in position", 7.0]],
        "realtime",
        ["Years in position (row 1 of the criteria): 7 is out of range; use 1 to 5"],
    ),
    (
        "bad boolean",
        [["Job title", "CEO"], ["Changed jobs", "maybe"]],
        "realtime",
        ['Changed jobs (row 2 of the criteria): "maybe" is not yes or no'],
    ),
    (
        "a number as a boolean",
        [["Job title", "CEO"], ["Changed jobs", 2.0]],
        "realtime",
        ["Changed jobs (row 2 of the criteria): 2 is not yes or no"],
    ),
    (
        "a date in a text field",
        [["Job title", dt.datetime(2026, 1, 10)]],
        "database",
        [
            "Job title (row 1 of the criteria): the date 2026-01-10 is not a valid value: format "
            "the cell as text",
            "as text",
        ],
    ),
    (
        "two values for a one-value field",
        [["Job title", "CEO"], ["Limit", 50.0, 100.0]],
        "database",
        ["Limit (row 2 of the criteria): takes one value, found 2"],
    ),
    (
        "values before any label",
        [[None, "CEO"], ["Seniority", "VP"]],
        "database",
        ["Values without a label in row 1 of the criteria"],
    ),
    (
        "an empty range",
        [[None, None], [None, None]],
        "database",
        ["The criteria range is empty"],
    ),
    (
        "mode inside the range",
        [["Mode", "realtime"], ["Job title", "CEO"]],
        "database",
        ["Mode (row 1 of the criteria) is not a criterion"],
    ),
    (
        "a number as a label",
        [["Job title", "CEO"], [5.0, "x"]],
        "database",
        ["5 (row 2 of the criteria) is not a criteria label"],
    ),
    (
        "an Excel error value in a cell",
        [["Job title", "#N/A"]],
        "database",
        ["Job title (row 1 of the criteria): the cell shows the Excel error #N/A"],
    ),
    (
        "personas in a range",
        [["Personas", "sales leaders"]],
        "realtime",
        ["Personas (row 1 of the criteria): give personas in a criteria file or from Python"],
    ),
    (
        "a company link that is not LinkedIn",
        [["Company link", "acme.com"]],
        "database",
        ['Company link (row 1 of the criteria): "acme.com" is not a LinkedIn company URL'],
    ),
    (
        "TRUE in a text field",
        [["Job title", True]],
        "database",
        ["Job title (row 1 of the criteria): TRUE is not a value here"],
    ),
    (
        "infinity in a text field",
        [["Job title", math.inf]],
        "database",
        ["Job title (row 1 of the criteria): inf is not a value"],
    ),
    (
        "emails from two domains",
        [["Emails", "a@acme.com, b@globex.com"]],
        "realtime",
        ["Emails (row 1 of the criteria): every address must share one domain"],
    ),
    (
        "strict on an unknown field",
        [["Job title", "CEO"], ["Strict", "Nonsense"]],
        "database",
        ['Strict (row 2 of the criteria): "Nonsense" is not a field to match strictly'],
    ),
    (
        "connections range the wrong way round",
        [["Job title", "CEO"], ["Connections", "1000-500"]],
        "realtime",
        ["Connections (row 2 of the criteria): the minimum (1000) is above the maximum (500)"],
    ),
]


@pytest.mark.parametrize(
    ("block", "mode", "fragments"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_error_names_the_label(block: object, mode: str, fragments: list[str]) -> None:
    with pytest.raises(CriteriaError) as info:
        criteria_from_block(block, mode=mode)
    text = "\n".join(info.value.problems)
    for fragment in fragments:
        assert fragment in text
    # the cell-ready line is one line, short
    assert "\n" not in str(info.value) and len(str(info.value)) <= 120


def test_every_problem_is_reported_at_once() -> None:
    block = [["Jbo title", "CEO"], ["Limit", 1.5], ["Changed jobs", "maybe"], ["Seniority", "VP"]]
    with pytest.raises(CriteriaError) as info:
        criteria_from_block(block)
    problems = info.value.problems
    assert problems[0].startswith('Unknown criteria label "Jbo title" (row 1 of the criteria)')
    assert "Limit (row 2 of the criteria): 1.5 is not a whole number" in problems
    assert any(p.startswith('Changed jobs (row 3 of the criteria): "maybe"') for p in problems)
    assert (
        "Changed jobs (row 3 of the criteria) works only in realtime mode: use mode realtime"
        in problems
    )
    assert str(info.value).endswith(f"(+{len(problems) - 1} more: {CRITERIA_PROBLEMS_HINT})")


def test_parse_block_returns_api_fields_before_normalization() -> None:
    fields = parse_block([["Job titles", "CEO, Founder"], ["Seniority", "CXO"], ["Limit", 50.0]])
    assert fields == {"job_titles": ["CEO", "Founder"], "seniorities": ["CXO"], "limit_by": 50}


def test_parse_block_raises_criteria_error_with_label() -> None:
    with pytest.raises(
        CriteriaError, match=r"Limit \(row 1 of the criteria\): 1\.5 is not a whole number"
    ):
        parse_block([["Limit", 1.5]])


def test_unknown_mode_is_a_criteria_error() -> None:
    with pytest.raises(CriteriaError, match='use "database" or "realtime"'):
        criteria_from_block([["Job title", "CEO"]], mode="fast")


def test_mode_spellings() -> None:
    assert criteria_from_block([["Job title", "CEO"]], mode=" Realtime ").mode == "realtime"


# -- labels -----------------------------------------------------------------------------------


def test_every_request_field_has_a_kind_and_labels() -> None:
    assert set(FIELD_KINDS) == set(REALTIME_FIELDS)
    assert set(FIELD_LABELS) >= REALTIME_FIELDS


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("Job titles", "job_titles"),
        ("Job Title", "job_titles"),
        ("Title", "job_titles"),
        ("  job-title  ", "job_titles"),
        ("Seniority", "seniorities"),
        ("Seniorities", "seniorities"),
        ("Company size", "company_headcounts"),
        ("Headcount", "company_headcounts"),
        ("Industry", "company_industries"),
        ("Industries", "company_industries"),
        ("Location", "locations"),
        ("HQ location", "company_locations"),
        ("Company location", "company_locations"),
        ("Company type", "company_types"),
        ("Exclude locations", "exclude_locations"),
        ("Exclude industries", "exclude_company_industries"),
        ("Company", "company_name"),
        ("Company LinkedIn URL", "company_link"),
        ("Company link", "company_link"),
        ("Company ID", "company_id"),
        ("Keywords", "keywords"),
        ("Past companies", "past_company_names"),
        ("Changed jobs", "changed_jobs"),
        ("Posted on LinkedIn", "posted_on_linkedin"),
        ("Years in position", "years_in_position"),
        ("Limit", "limit_by"),
        ("LIMIT_BY", "limit_by"),
        ("company_headcounts", "company_headcounts"),
        ("Filter", None),
        ("Notes", None),
        (5.0, None),
    ],
)
def test_field_for_label(label: object, field: str | None) -> None:
    assert field_for_label(label) == field


# -- files and keyword arguments --------------------------------------------------------------


def test_file_toml_with_friendly_labels(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '"Job titles" = ["CEO", "Founder"]\nSeniority = "CXO"\nLocation = "San Francisco, CA"\n'
        'Industry = "Software Development"\n"Company size" = "51-200"\nLimit = 50\n',
        encoding="utf-8",
    )
    request = criteria_from_file(path)
    assert request.mode == "database"
    assert request.body() == SEED_BODY


def test_file_json_seed_body_with_mode_key(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    body = {
        "job_titles": ["CEO", "Founder"],
        "seniorities": ["CXO"],
        "locations": ["San Francisco, CA"],
        "company_industries": ["Software Development"],
        "company_headcounts": ["51-200"],
        "limit_by": 50,
        "mode": "realtime",
    }
    path.write_text(json.dumps(body), encoding="utf-8")
    request = criteria_from_file(path)
    assert request.mode == "realtime"
    assert request.body() == SEED_BODY
    # the explicit argument wins over the file's key
    assert criteria_from_file(path, mode="database").mode == "database"


def test_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('Industry = "Software"\n"Job titel" = "CEO"\n', encoding="utf-8")
    with pytest.raises(CriteriaError) as info:
        criteria_from_file(path)
    assert info.value.problems[0].startswith(
        'Unknown criteria label "Job titel"; did you mean "Job titles"'
    )
    assert any(
        p.startswith('Industry: "Software" is not a valid industry') for p in info.value.problems
    )


def test_file_personas_and_connections_in_realtime(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    personas = [["Sales leaders", ["Sales"], ["vp", "director"], [], 1]]
    path.write_text(
        json.dumps({"personas": personas, "num_of_connections": {"min": 500}, "mode": "realtime"}),
        encoding="utf-8",
    )
    assert criteria_from_file(path).body() == {
        "personas": personas,
        "num_of_connections": {"min": 500},
    }


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("missing.toml", None, "Cannot read the criteria file"),
        ("bad.toml", "job_titles = [", r"bad.toml is not valid TOML \(Invalid"),
        ("bad.json", "{", r"bad.json is not valid JSON \(Expecting"),
        ("list.json", '["CEO"]', "expected field names and values"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, text: str | None, fragment: str) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(CriteriaError, match=fragment):
        criteria_from_file(path)


def test_file_without_suffix_tries_json_then_toml(tmp_path: Path) -> None:
    path = tmp_path / "criteria"
    path.write_text('Title = "CEO"\n', encoding="utf-8")
    assert criteria_from_file(path).body() == {"job_titles": ["CEO"]}


def test_kwargs() -> None:
    request = criteria_from_kwargs(
        job_titles=["CEO"], seniorities="CXO, VP", locations="San Francisco, CA", limit_by=10.0
    )
    assert request.body() == {
        "job_titles": ["CEO"],
        "seniorities": ["c_suite", "vp"],
        "locations": ["San Francisco, CA"],
        "limit_by": 10,
    }
    assert criteria_from_kwargs("realtime", keywords="rust").mode == "realtime"


def test_kwargs_errors_name_the_argument() -> None:
    with pytest.raises(
        CriteriaError, match="keywords works only in realtime mode: use mode realtime"
    ):
        criteria_from_kwargs(job_titles="CEO", keywords="rust")
    with pytest.raises(CriteriaError, match='Unknown criteria label "job_tittle"'):
        criteria_from_kwargs(job_tittle="CEO")


def test_mapping_matches_block() -> None:
    from_mapping = criteria_from_mapping({"Job title": "CEO; CTO", "Company size": "10,000+"})
    from_block = criteria_from_block([["Job title", "CEO; CTO"], ["Company size", "10,000+"]])
    assert from_mapping.body() == from_block.body()


def test_with_paging_from_criteria() -> None:
    request = criteria_from_block([["Job title", "CEO"], ["Limit", 50.0]])
    assert with_paging(request, limit=100.0, offset=None).body()["limit_by"] == 100
    with pytest.raises(CriteriaError, match=r"Limit, Offset: limit plus offset is 2600"):
        with_paging(request, limit=2000, offset=600)


# -- properties -------------------------------------------------------------------------------

_WORDS = [
    *(labels[0] for labels in FIELD_LABELS.values()),
    *FIELD_KINDS,
    "Filter",
    "Values",
    "Field",
    "Value",
    "Criteria",
    "Mode",
    "Title",
    "HQ",
    "x",
    "yes",
    "no",
    "TRUE",
    "San Francisco, CA",
    "Software",
    "Software Development",
    "10,000+",
    "1-10",
    "CXO",
    "Technology, Information and Internet",
    "Acme, Inc.",
    "https://linkedin.com/company/a",
    "a@acme.com",
    "500+",
    "1000-500",
    "#N/A",
    '"VP, Sales"',
    "CEO; CTO\nCFO",
    "",
    "  ",
    *vocab.allowed_values("seniorities"),
    *vocab.allowed_values("company_headcounts"),
]
_CELLS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.booleans(),
    st.text(max_size=30),
    st.sampled_from(_WORDS),
    st.datetimes(),
    st.dates(),
)
_BLOCKS = st.one_of(
    st.lists(st.lists(_CELLS, max_size=6), max_size=7),  # ragged rows
    st.lists(_CELLS, max_size=6),  # a single row or column
    _CELLS,  # a single cell
)


@settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(block=_BLOCKS, mode=st.sampled_from(["database", "realtime"]))
def test_any_block_gives_a_request_or_a_criteria_error(block: object, mode: str) -> None:
    try:
        request = criteria_from_block(block, mode=mode)
    except CriteriaError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert "\n" not in str(exc) and len(str(exc)) <= 120
        return
    body = request.body()
    assert body
    json.dumps(body)
    # the body is itself valid criteria, and stable
    again = build_request(mode, body)
    assert again.body() == body
    assert canonical_json(again.body()) == canonical_json(body)


def test_title_row_above_a_horizontal_block() -> None:
    block = [[None, None, None], ["Lead criteria", None, None], ["Job title", "Seniority", None],
             ["CEO", "VP", None]]  # fmt: skip
    assert criteria_from_block(block).body() == {"job_titles": ["CEO"], "seniorities": ["vp"]}


def test_positions_count_from_the_top_left_of_the_range() -> None:
    # a blank first row and a title row: the unknown label sits in the range's 4th row
    block = [[None, None], ["Search criteria", None], ["Job title", "CEO"], ["Senority", "VP"]]
    with pytest.raises(CriteriaError, match=r'"Senority" \(row 4 of the criteria\)'):
        criteria_from_block(block)
    horizontal = [[None, "Job title", "Sizes"], [None, "CEO", "1-10"]]
    with pytest.raises(CriteriaError, match=r'"Senority" \(column 3 of the criteria\)'):
        criteria_from_block([[None, "Job title", "Senority"], [None, "CEO", "VP"]])
    assert criteria_from_block(horizontal).body() == {
        "job_titles": ["CEO"],
        "company_headcounts": ["1-10"],
    }


def test_curly_quotes_protect_a_comma() -> None:
    block = [["Job titles", "\u201cVP, Sales\u201d, CEO"]]
    assert criteria_from_block(block).body() == {"job_titles": ["VP, Sales", "CEO"]}


def test_values_under_a_header_line_need_a_label() -> None:
    with pytest.raises(CriteriaError, match=r"Values without a label in row 2 of the criteria"):
        criteria_from_block([["Filter", "Values"], [None, "CEO"], ["Seniority", "VP"]])
