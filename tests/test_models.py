"""Request models: fields per mode, cross-field rules, normalization, canonical JSON."""

from __future__ import annotations

import json

import pytest

from generect_excel._constants import MAX_LIMIT, MAX_LIMIT_PLUS_OFFSET, MAX_OFFSET
from generect_excel.errors import CriteriaError
from generect_excel.models import (
    ANCHOR_FIELDS,
    DATABASE_FIELDS,
    FILTER_FIELDS,
    LOCAL_FIELDS,
    OPTION_FIELDS,
    REALTIME_FIELDS,
    REALTIME_ONLY_FIELDS,
    LeadSearchRequest,
    RealtimeLeadSearchRequest,
    build_request,
    canonical_json,
    field_problems,
    parse_mode,
    wire_body,
    with_paging,
)

CEO = {"job_titles": ["CEO"]}


def problems(mode: str, fields: dict) -> list[str]:
    with pytest.raises(CriteriaError) as info:
        build_request(mode, fields)
    return info.value.problems


# -- fields per mode --------------------------------------------------------------------------


def test_database_fields_follow_the_spec_and_the_seeds() -> None:
    assert {
        "job_titles", "seniorities", "locations", "exclude_locations", "company_locations",
        "exclude_company_locations", "company_industries", "exclude_company_industries",
        "company_headcounts", "exclude_company_headcounts", "company_types", "company_name",
        "company_link", "company_id", "exclude_names", "exclude_ids", "filter_empty_vars",
        "limit_by", "offset_by", "strict", "skip_truncated_names", "without_company",
    } == DATABASE_FIELDS - LOCAL_FIELDS  # fmt: skip


def test_local_fields_are_ours_and_never_sent() -> None:
    assert {"new_leads_only"} == LOCAL_FIELDS and LOCAL_FIELDS <= OPTION_FIELDS
    request = build_request("database", {"job_titles": ["CEO"], "new_leads_only": True})
    assert request.body()["new_leads_only"] is True  # part of the question (the cache key)
    assert wire_body(request.body()) == {"job_titles": ["CEO"]}


def test_realtime_only_fields() -> None:
    assert {
        "keywords", "functions", "past_company_names", "schools", "groups", "years_in_position",
        "years_in_company", "changed_jobs", "posted_on_linkedin", "linkedin_filter_link",
        "personas", "first_name", "last_name", "lead_industries", "past_job_titles",
        "include_full_profile", "find_by_emails", "include_total_count", "max_profiles_scanned",
    } <= REALTIME_ONLY_FIELDS  # fmt: skip
    assert REALTIME_ONLY_FIELDS == REALTIME_FIELDS - DATABASE_FIELDS
    assert not REALTIME_ONLY_FIELDS & DATABASE_FIELDS


def test_mode_and_class() -> None:
    assert build_request("database", CEO).mode == "database"
    realtime = build_request("realtime", CEO)
    assert realtime.mode == "realtime"
    assert isinstance(realtime, RealtimeLeadSearchRequest)
    assert isinstance(realtime, LeadSearchRequest)


@pytest.mark.parametrize("field", sorted(REALTIME_ONLY_FIELDS))
def test_realtime_only_field_in_database_mode_has_its_own_message(field: str) -> None:
    assert problems("database", {**CEO, field: ["x"]}) == [
        f"{field} works only in realtime mode: use mode realtime"
    ]


def test_unknown_field_suggests_the_closest() -> None:
    assert problems("database", {"job_title": ["CEO"]}) == [
        'Unknown field "job_title"; did you mean "job_titles"?'
    ]
    assert problems("realtime", {**CEO, "keyword": ["ml"]}) == [
        'Unknown field "keyword"; did you mean "keywords"?'
    ]
    assert problems("database", {**CEO, "zzz": 1}) == ['Unknown field "zzz"']


def test_labels_name_the_fields_in_messages() -> None:
    with pytest.raises(CriteriaError) as info:
        build_request("database", {"keywords": ["ml"]}, labels={"keywords": "Keywords (row 3)"})
    assert info.value.problems == [
        "Keywords (row 3) works only in realtime mode: use mode realtime"
    ]


# -- strict types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("changed_jobs", "yes", 'changed_jobs: "yes" is not TRUE or FALSE'),
        ("changed_jobs", 1, "changed_jobs: 1 is not TRUE or FALSE"),
        ("posted_on_linkedin", 0, "posted_on_linkedin: 0 is not TRUE or FALSE"),
        ("include_full_profile", "true", 'include_full_profile: "true" is not TRUE or FALSE'),
        ("schools", ["123"], 'schools: "123" is not a whole number'),
        ("groups", [1.5], "groups: 1.5 is not a whole number"),
        ("groups", [True], "groups: TRUE is not a whole number"),
        ("years_in_position", [0], "years_in_position: 0 is out of range; use 1 to 5"),
        ("years_in_company", [6], "years_in_company: 6 is out of range; use 1 to 5"),
        ("years_of_experience", [2.0], "years_of_experience: 2.0 is not a whole number"),
        ("company_id", "1035", 'company_id: "1035" is not a whole number'),
        ("company_id", 0, "company_id: 0 is out of range"),
        ("limit_by", 1.5, "limit_by: 1.5 is not a whole number"),
        ("limit_by", 0, "limit_by: 0 is out of range; use 1 to 2400"),
        ("offset_by", -1, "offset_by: -1 is out of range; use 0 to 2399"),
        ("max_profiles_scanned", 0, "max_profiles_scanned: 0 is out of range; use 1 or more"),
        ("keywords", [5], "keywords: 5 is not text"),
        ("job_titles", {"a": 1}, "job_titles: expected a list of values"),
    ],
)
def test_strict_types(field: str, value: object, message: str) -> None:
    found = problems("realtime", {**CEO, field: value})
    assert any(p.startswith(message) for p in found), found


def test_booleans_and_whole_numbers_accepted() -> None:
    request = build_request(
        "realtime",
        {
            **CEO,
            "changed_jobs": True,
            "schools": [1, 2],
            "years_in_position": [1, 5],
            "company_id": 7,
        },
    )
    assert request.body() == {
        "job_titles": ["CEO"],
        "company_id": 7,
        "schools": [1, 2],
        "years_in_position": [1, 5],
        "changed_jobs": True,
    }


# -- normalization ----------------------------------------------------------------------------


def test_vocabulary_fields_are_normalized() -> None:
    request = build_request(
        "realtime",
        {
            "seniorities": ["CXO", "Vice President", "Entry Level", "c_suite"],
            "company_headcounts": ["10001+", "10,000+", "51 - 200"],
            "exclude_company_headcounts": ["1-10"],
            "company_types": ["privately held", "Non-profit"],
            "filter_empty_vars": ["website"],
            "company_industries": ["software development", "it services and it consulting"],
            "exclude_company_industries": ["staffing and recruiting"],
            "lead_industries": ["banking"],
        },
    )
    assert request.body() == {
        "seniorities": ["c_suite", "vp", "entry"],
        "company_industries": ["Software Development", "IT Services and IT Consulting"],
        "exclude_company_industries": ["Staffing and Recruiting"],
        "company_headcounts": ["10 000+", "51-200"],
        "exclude_company_headcounts": ["1-10"],
        "company_types": ["Privately Held", "Non Profit"],
        "filter_empty_vars": ["company_website"],
        "lead_industries": ["Banking"],
    }


def test_every_unknown_vocabulary_value_is_reported_with_suggestions() -> None:
    found = problems("database", {"company_industries": ["Software", "Softwre Development"]})
    assert found[0].startswith(
        'company_industries: "Software" is not a valid industry; did you mean "Software Development"'
    )
    assert found[1].startswith('company_industries: "Softwre Development" is not a valid industry')
    assert '"Software Development"' in found[1]


def test_lists_are_stripped_emptied_and_deduplicated() -> None:
    request = build_request(
        "database",
        {"job_titles": [" CEO ", "", None, "CTO", "CEO"], "locations": "Berlin", "exclude_ids": []},
    )
    assert request.body() == {"job_titles": ["CEO", "CTO"], "locations": ["Berlin"]}


def test_false_booleans_are_left_out_of_the_body() -> None:
    request = build_request(
        "realtime", {**CEO, "changed_jobs": False, "skip_truncated_names": True}
    )
    assert request.body() == {"job_titles": ["CEO"], "skip_truncated_names": True}


def test_strict_names_fields() -> None:
    assert build_request("database", {**CEO, "strict": ["company_locations"]}).body()["strict"] == [
        "company_locations"
    ]
    assert problems("database", {**CEO, "strict": ["company_location"]}) == [
        'strict: "company_location" is not a field to match strictly; did you mean "company_locations"?'
    ]


# -- cross-field rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "anchors",
    [
        {"company_name": "Acme", "company_link": "https://www.linkedin.com/company/acme/"},
        {"company_name": "Acme", "company_id": 1},
        {"company_link": "https://www.linkedin.com/company/acme/", "company_id": 1},
    ],
)
def test_at_most_one_company_anchor(anchors: dict) -> None:
    names = ", ".join(anchors)
    assert problems("database", anchors) == [
        f"{names}: give only one company: a name, a LinkedIn link or an ID"
    ]


def test_emails_are_a_company_anchor_too() -> None:
    found = problems("realtime", {"company_name": "Acme", "find_by_emails": ["a@acme.com"]})
    assert found == [
        "company_name, find_by_emails: give only one company: a name, a LinkedIn link, an ID or emails"
    ]
    request = build_request("realtime", {"find_by_emails": ["A@Acme.com"], "limit_by": 3000})
    assert request.is_anchored
    assert request.body() == {"find_by_emails": ["a@acme.com"], "limit_by": 3000}


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        (["not-an-email"], 'find_by_emails: "not-an-email" is not an email address'),
        (["a@x.com", "b@y.com"], "find_by_emails: every address must share one domain"),
        ([f"p{i}@acme.com" for i in range(501)], "find_by_emails: 501 addresses; at most 500"),
    ],
)
def test_email_rules(emails: list[str], message: str) -> None:
    assert problems("realtime", {"find_by_emails": emails})[0].startswith(message)


def test_without_company_cannot_go_with_a_company() -> None:
    assert problems("database", {"company_name": "Acme", "without_company": True}) == [
        "without_company, company_name: without_company cannot go with a company"
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"limit_by": 10, "offset_by": 5},
        {"strict": ["job_titles"], "skip_truncated_names": True, "without_company": True},
        {"filter_empty_vars": ["profile_photo"]},
        {"exclude_locations": ["Texas"], "exclude_company_industries": ["Banking"]},
        {"exclude_names": ["Ann Lee"], "exclude_ids": ["1"]},
        {"job_titles": ["", "  "]},
    ],
)
def test_at_least_one_filter(fields: dict) -> None:
    found = problems("database", fields)
    assert len(found) == 1 and found[0].startswith("No filter given")


@pytest.mark.parametrize(
    "fields",
    [
        {"include_full_profile": True, "include_total_count": True, "max_profiles_scanned": 10},
        {"changed_jobs": False, "posted_on_linkedin": False},
        {"exclude_functions": ["Sales"], "exclude_lead_industries": ["Banking"]},
    ],
)
def test_realtime_options_and_false_booleans_are_no_filter(fields: dict) -> None:
    assert problems("realtime", fields)[0].startswith("No filter given")


@pytest.mark.parametrize(
    "fields",
    [
        {"seniorities": ["vp"]},
        {"company_id": 1},
        {"company_name": "Acme"},
        {"company_types": ["Partnership"]},
    ],
)
def test_one_filter_is_enough(fields: dict) -> None:
    assert build_request("database", fields).has_filter()


@pytest.mark.parametrize(
    "fields",
    [
        {"changed_jobs": True},
        {"schools": [5]},
        {"num_of_connections": {"min": 500}},
        {"personas": [["Sales leaders", ["Sales"], ["vp"], []]]},
        {"linkedin_filter_link": "https://www.linkedin.com/sales/search/people?x=1"},
    ],
)
def test_realtime_filters(fields: dict) -> None:
    assert build_request("realtime", fields).body() == fields


def test_filter_and_option_sets_are_disjoint_and_complete() -> None:
    assert not set(FILTER_FIELDS) & OPTION_FIELDS
    leftovers = REALTIME_FIELDS - set(FILTER_FIELDS) - OPTION_FIELDS
    assert all(name.startswith("exclude_") for name in leftovers)
    assert set(ANCHOR_FIELDS) <= set(FILTER_FIELDS)


@pytest.mark.parametrize(
    ("limit", "offset", "message"),
    [
        (MAX_LIMIT + 1, None, f"limit_by: {MAX_LIMIT + 1} is too many; use 1 to {MAX_LIMIT}"),
        (None, MAX_OFFSET + 1, f"offset_by: {MAX_OFFSET + 1} is too far; use 0 to {MAX_OFFSET}"),
        (
            2000,
            401,
            f"limit_by, offset_by: limit plus offset is 2401; at most {MAX_LIMIT_PLUS_OFFSET}",
        ),
    ],
)
def test_paging_limits_for_filter_only_searches(
    limit: int | None, offset: int | None, message: str
) -> None:
    fields = {**CEO, "limit_by": limit, "offset_by": offset}
    found = problems("database", fields)
    assert len(found) == 1 and found[0].startswith(message)


def test_paging_at_the_edges_is_fine() -> None:
    assert build_request("database", {**CEO, "limit_by": MAX_LIMIT}).body()["limit_by"] == MAX_LIMIT
    edge = build_request("database", {**CEO, "limit_by": 1, "offset_by": MAX_OFFSET})
    assert edge.body()["offset_by"] == MAX_OFFSET
    both = build_request("database", {**CEO, "limit_by": 400, "offset_by": 2000})
    assert both.body()["limit_by"] + both.body()["offset_by"] == MAX_LIMIT_PLUS_OFFSET


def test_anchored_searches_have_no_2400_cap() -> None:
    request = build_request("database", {"company_id": 1035, "limit_by": 5000, "offset_by": 3000})
    assert request.is_anchored
    assert request.body() == {"company_id": 1035, "limit_by": 5000, "offset_by": 3000}
    assert not build_request("database", CEO).is_anchored


def test_company_link_must_be_linkedin() -> None:
    assert problems("database", {"company_link": "acme.com"})[0].startswith(
        'company_link: "acme.com" is not a LinkedIn company URL'
    )


def test_connections_range() -> None:
    assert problems("realtime", {"num_of_connections": {"min": 9, "max": 1}}) == [
        "num_of_connections: the minimum (9) is above the maximum (1)"
    ]
    assert problems("realtime", {"num_of_connections": {}})[0].startswith(
        "num_of_connections: give a minimum, a maximum or both"
    )


def test_never_a_pydantic_error() -> None:
    with pytest.raises(CriteriaError):
        build_request("database", {"job_titles": object()})


def test_field_problems_skip_cross_field_rules() -> None:
    assert field_problems("database", {}) == []
    assert field_problems("database", {"seniorities": ["boss"]})[0].startswith(
        'seniorities: "boss" is not a valid seniority'
    )


def test_parse_mode() -> None:
    assert parse_mode(None) == "database"
    assert parse_mode("") == "database"
    assert parse_mode(" REALTIME ") == "realtime"
    assert parse_mode("db") == "database"
    with pytest.raises(CriteriaError, match='Mode 5 is not valid: use "database" or "realtime"'):
        parse_mode(5)


# -- with_paging ------------------------------------------------------------------------------


def test_with_paging_replaces_and_validates() -> None:
    request = build_request("realtime", {**CEO, "limit_by": 50})
    paged = with_paging(request, limit=100.0, offset=200)
    assert paged.mode == "realtime"
    assert paged.body() == {"job_titles": ["CEO"], "limit_by": 100, "offset_by": 200}
    assert request.body()["limit_by"] == 50  # the original is unchanged
    assert with_paging(request, limit=None, offset=None).body() == request.body()
    with pytest.raises(CriteriaError, match="Limit: 1.5 is not a whole number"):
        with_paging(request, limit=1.5, offset=None)
    with pytest.raises(
        CriteriaError, match="Limit: TRUE is not a number|Limit: True is not a number"
    ):
        with_paging(request, limit=True, offset=None)
    with pytest.raises(CriteriaError, match="Offset: 2400 is too far"):
        with_paging(request, limit=None, offset=2400)


# -- body and canonical JSON ------------------------------------------------------------------


def test_body_keeps_spec_order_and_omits_unset() -> None:
    request = build_request(
        "database", {"limit_by": 5, "company_headcounts": ["51-200"], "job_titles": ["CEO"]}
    )
    assert list(request.body()) == ["job_titles", "company_headcounts", "limit_by"]
    assert "job_titles" in repr(request)


def test_canonical_json_is_stable_across_orders() -> None:
    a = build_request(
        "database",
        {
            "job_titles": ["CEO", "Founder"],
            "seniorities": ["CXO", "VP"],
            "locations": ["San Francisco, CA", "Berlin"],
            "limit_by": 50,
        },
    )
    b = build_request(
        "database",
        {
            "limit_by": 50,
            "locations": ["Berlin", "San Francisco, CA"],
            "seniorities": ["vp", "c_suite"],
            "job_titles": ["Founder", "CEO"],
        },
    )
    assert a.body() != b.body()  # the analyst's order is kept in what is sent...
    assert canonical_json(a.body()) == canonical_json(b.body())  # ...but not in the cache key
    text = canonical_json(a.body())
    assert " " not in text.replace("San Francisco, CA", "")
    assert json.loads(text) == {
        "job_titles": ["CEO", "Founder"],
        "limit_by": 50,
        "locations": ["Berlin", "San Francisco, CA"],
        "seniorities": ["c_suite", "vp"],
    }


def test_canonical_json_takes_offset_zero_as_no_offset() -> None:
    # The API's default: a formula with offset 0 and one without ask the same question.
    plain = canonical_json({"job_titles": ["CEO"], "limit_by": 5})
    assert canonical_json({"job_titles": ["CEO"], "limit_by": 5, "offset_by": 0}) == plain
    assert canonical_json({"job_titles": ["CEO"], "limit_by": 5, "offset_by": 5}) != plain


def test_canonical_json_differs_when_the_question_differs() -> None:
    a = canonical_json({"job_titles": ["CEO"], "limit_by": 50})
    assert a != canonical_json({"job_titles": ["CEO"], "limit_by": 51})
    assert a != canonical_json({"job_titles": ["CTO"], "limit_by": 50})


def test_canonical_json_keeps_persona_order_and_sorts_nested_keys() -> None:
    body = {
        "personas": [["b", ["Sales"]], ["a", ["HR"]]],
        "num_of_connections": {"max": 9, "min": 1},
    }
    assert canonical_json(body) == (
        '{"num_of_connections":{"max":9,"min":1},"personas":[["b",["Sales"]],["a",["HR"]]]}'
    )
    assert (
        canonical_json({"schools": [3, 1, 2], "x": ["b", 1]}) == '{"schools":[1,2,3],"x":[1,"b"]}'
    )
