"""Vocabularies: what analysts type, normalized to the API's spelling."""

from __future__ import annotations

import pytest

from generect_excel import vocab
from generect_excel.vocab import UnknownValueError, allowed_values, get_vocabulary, normalize_value


@pytest.mark.parametrize(
    ("field", "typed", "sent"),
    [
        ("seniorities", "CXO", "c_suite"),
        ("seniorities", "C-Suite", "c_suite"),
        ("seniorities", "C level", "c_suite"),
        ("seniorities", "VP", "vp"),
        ("seniorities", "Vice President", "vp"),
        ("seniorities", "Entry Level", "entry"),
        ("seniorities", "Directors", "director"),
        ("seniorities", " owner ", "owner"),
        ("company_headcounts", "10001+", "10 000+"),
        ("company_headcounts", "10,000+", "10 000+"),
        ("company_headcounts", "10000+", "10 000+"),
        ("company_headcounts", "10 000+", "10 000+"),
        ("company_headcounts", "51 - 200", "51-200"),
        ("exclude_company_headcounts", "1001-5000", "1001-5000"),
        ("company_types", "private", "Privately Held"),
        ("company_types", "PUBLIC COMPANY", "Public Company"),
        ("company_types", "self-employed", "Self Employed"),
        ("filter_empty_vars", "profile photo", "profile_photo"),
        ("company_industries", "software development", "Software Development"),
        ("company_industries", "it services and it consulting", "IT Services and IT Consulting"),
        (
            "company_industries",
            "TECHNOLOGY, INFORMATION AND INTERNET",
            "Technology, Information and Internet",
        ),
        ("company_industries", "e-learning providers", "E-Learning Providers"),
        ("company_industries", "non-profit organizations", "Non-profit Organizations"),
        (
            "exclude_company_industries",
            "hvac and refrigeration equipment manufacturing",
            "HVAC and Refrigeration Equipment Manufacturing",
        ),
        ("lead_industries", "banking", "Banking"),
        ("job_titles", "  Head of Sales ", "Head of Sales"),  # free text passes through
    ],
)
def test_normalize_value(field: str, typed: str, sent: str) -> None:
    assert normalize_value(field, typed) == sent


def test_unknown_industry_names_the_closest() -> None:
    with pytest.raises(UnknownValueError) as info:
        normalize_value("company_industries", "Software")
    assert info.value.suggestions[0] == "Software Development"
    assert str(info.value).startswith(
        '"Software" is not a valid industry; did you mean "Software Development"'
    )


def test_unknown_without_close_values_points_to_the_list() -> None:
    with pytest.raises(UnknownValueError, match=r'GENERECT_VALUES\("seniorities"\)'):
        normalize_value("seniorities", "qqqq")


def test_lookup_is_quiet_and_is_valid_agrees() -> None:
    sizes = get_vocabulary("company_headcounts")
    assert sizes.lookup("10,000+") == "10 000+"
    assert sizes.lookup("50-100") is None
    assert sizes.is_valid("1,001-5,000")
    assert not sizes.is_valid("10")
    industries = get_vocabulary("company_industries")
    assert industries.is_valid("Technology, Information and Internet")
    assert not industries.is_valid("Technology")


def test_industries_are_the_linkedin_list_in_linkedin_casing() -> None:
    values = allowed_values("industry")
    assert len(values) == 434
    assert "Software Development" in values and "IT Services and IT Consulting" in values
    assert all(v == v.strip() and v[0].isupper() for v in values)


def test_vocabulary_lookup_by_field_or_label() -> None:
    assert get_vocabulary("exclude_company_headcounts").name == "company_headcounts"
    assert get_vocabulary("Company size").name == "company_headcounts"
    assert get_vocabulary("Seniority").name == "seniorities"
    assert vocab.vocabulary_names() == [
        "seniorities", "company_headcounts", "company_types", "filter_empty_vars",
        "company_industries",
    ]  # fmt: skip
    with pytest.raises(KeyError):
        get_vocabulary("favourite colour")
