"""What each request field takes (:data:`FIELD_KINDS`), the labels analysts may use for it
(:data:`FIELD_LABELS`), and finding the field a label names (:func:`field_for_label`)."""

from __future__ import annotations

import functools
import re
from typing import Any

from ..suggest import closest

TEXT_LIST = "text list"  # split on ; , and line breaks
LOCATION_LIST = "location list"  # split on ; and line breaks only
VOCAB_LIST = "vocabulary list"  # split on ; and line breaks; commas re-joined into values
INT_LIST = "whole-number list"
INT = "whole number"
BOOL = "yes/no"
TEXT = "text"  # one value, never split
CONNECTIONS = "connections range"
PERSONAS = "personas"

FIELD_KINDS: dict[str, str] = {
    "job_titles": TEXT_LIST,
    "seniorities": VOCAB_LIST,
    "locations": LOCATION_LIST,
    "exclude_locations": LOCATION_LIST,
    "company_locations": LOCATION_LIST,
    "exclude_company_locations": LOCATION_LIST,
    "company_industries": VOCAB_LIST,
    "exclude_company_industries": VOCAB_LIST,
    "company_headcounts": VOCAB_LIST,
    "exclude_company_headcounts": VOCAB_LIST,
    "company_types": VOCAB_LIST,
    "company_name": TEXT,
    "company_link": TEXT,
    "company_id": INT,
    "without_company": BOOL,
    "exclude_names": TEXT_LIST,
    "exclude_ids": TEXT_LIST,
    "filter_empty_vars": VOCAB_LIST,
    "limit_by": INT,
    "offset_by": INT,
    "strict": TEXT_LIST,
    "skip_truncated_names": BOOL,
    "new_leads_only": BOOL,
    "keywords": TEXT_LIST,
    "functions": TEXT_LIST,
    "exclude_functions": TEXT_LIST,
    "past_company_names": TEXT_LIST,
    "past_company_ids": TEXT_LIST,
    "exclude_past_company_ids": TEXT_LIST,
    "exclude_current_company_ids": TEXT_LIST,
    "schools": INT_LIST,
    "groups": INT_LIST,
    "groups_keywords": TEXT_LIST,
    "years_in_position": INT_LIST,
    "years_in_company": INT_LIST,
    "years_of_experience": INT_LIST,
    "changed_jobs": BOOL,
    "posted_on_linkedin": BOOL,
    "mentioned_in_news": BOOL,
    "linkedin_filter_link": TEXT,
    "personas": PERSONAS,
    "first_name": TEXT_LIST,
    "last_name": TEXT_LIST,
    "lead_industries": VOCAB_LIST,
    "exclude_lead_industries": VOCAB_LIST,
    "past_job_titles": TEXT_LIST,
    "num_of_connections": CONNECTIONS,
    "include_full_profile": BOOL,
    "find_by_emails": TEXT_LIST,
    "include_total_count": BOOL,
    "max_profiles_scanned": INT,
}
"""Request field -> what its cells hold (drives splitting and type conversion)."""

# Pseudo-fields for the two ends of num_of_connections ("Min connections", "Max connections").
_MIN_CONNECTIONS = "num_of_connections.min"
_MAX_CONNECTIONS = "num_of_connections.max"

# The first label is the one shown in messages; matching ignores case, spacing, punctuation
# and a plural "s". The API names themselves are always accepted too.
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "job_titles": ("Job titles", "Title", "Job", "Position", "Role", "Current title"),
    "seniorities": ("Seniority", "Seniority level", "Level", "Job level", "Management level"),
    "locations": (
        "Location",
        "Lead location",
        "Person location",
        "Geography",
        "Geo",
        "Country",
        "Region",
        "City",
    ),
    "exclude_locations": (
        "Exclude locations",
        "Excluded locations",
        "Exclude lead locations",
        "Exclude countries",
        "Not in location",
    ),
    "company_locations": (
        "HQ location",
        "Company location",
        "Company HQ",
        "HQ",
        "Headquarters",
        "Headquarters location",
        "Company country",
        "HQ country",
    ),
    "exclude_company_locations": (
        "Exclude HQ locations",
        "Exclude company locations",
        "Excluded HQ locations",
        "Exclude headquarters",
    ),
    "company_industries": ("Industry", "Company industry", "Sector"),
    "exclude_company_industries": (
        "Exclude industries",
        "Exclude company industries",
        "Excluded industries",
        "Exclude sectors",
    ),
    "company_headcounts": (
        "Company size",
        "Headcount",
        "Company headcount",
        "Employees",
        "Employee count",
        "Number of employees",
        "Size",
        "Company sizes",
    ),
    "exclude_company_headcounts": (
        "Exclude company sizes",
        "Exclude headcounts",
        "Exclude sizes",
        "Excluded company sizes",
    ),
    "company_types": ("Company type", "Type", "Organization type", "Ownership"),
    "company_name": ("Company", "Company name", "Account", "Employer", "Current company"),
    "company_link": (
        "Company LinkedIn URL",
        "Company link",
        "Company LinkedIn",
        "Company URL",
        "LinkedIn company URL",
        "Company LinkedIn link",
    ),
    "company_id": ("Company ID", "LinkedIn company ID", "Company LinkedIn ID"),
    "without_company": ("Without company",),
    "exclude_names": ("Exclude names", "Exclude people", "Excluded names"),
    "exclude_ids": ("Exclude IDs", "Exclude lead IDs", "Excluded IDs"),
    "filter_empty_vars": ("Must have", "Required fields", "Non-empty fields", "Filter empty"),
    "limit_by": ("Limit", "Max results", "Max leads", "Number of leads", "Rows", "Results"),
    "offset_by": ("Offset", "Skip", "Start after"),
    "strict": ("Strict", "Strict match", "Strict fields", "Match exactly"),
    "skip_truncated_names": ("Skip truncated names", "Skip short names"),
    "new_leads_only": (
        "New leads only",
        "Only new leads",
        "Net new",
        "Net-new only",
        "Exclude owned leads",
        "Skip leads I own",
    ),
    "keywords": ("Keywords", "Keyword", "Profile keywords"),
    "functions": ("Functions", "Job function", "Department"),
    "exclude_functions": ("Exclude functions", "Exclude departments"),
    "past_company_names": (
        "Past companies",
        "Past company",
        "Previous companies",
        "Former companies",
        "Past company names",
    ),
    "past_company_ids": ("Past company IDs",),
    "exclude_past_company_ids": ("Exclude past company IDs",),
    "exclude_current_company_ids": ("Exclude current company IDs", "Exclude company IDs"),
    "schools": ("School IDs", "Schools", "School"),
    "groups": ("Group IDs", "Groups", "LinkedIn groups"),
    "groups_keywords": ("Group keywords", "Group names"),
    "years_in_position": ("Years in position", "Time in position", "Years in role"),
    "years_in_company": (
        "Years in company",
        "Years at company",
        "Time at company",
        "Time in company",
        "Tenure",
    ),
    "years_of_experience": ("Years of experience", "Experience", "Total experience"),
    "changed_jobs": ("Changed jobs", "Recently changed jobs", "Job changers", "Job change"),
    "posted_on_linkedin": ("Posted on LinkedIn", "Recently posted", "Active on LinkedIn"),
    "mentioned_in_news": ("Mentioned in news", "In the news", "Mentioned in the news"),
    "linkedin_filter_link": (
        "Sales Navigator URL",
        "Sales Navigator link",
        "LinkedIn search URL",
        "LinkedIn filter link",
        "Search URL",
    ),
    "personas": ("Personas", "Persona"),
    "first_name": ("First name", "First names"),
    "last_name": ("Last name", "Last names", "Surname"),
    "lead_industries": ("Lead industry", "Person industry", "Lead industries"),
    "exclude_lead_industries": ("Exclude lead industries", "Exclude person industries"),
    "past_job_titles": (
        "Past job titles",
        "Past titles",
        "Previous titles",
        "Previous job titles",
        "Former titles",
    ),
    "num_of_connections": ("Connections", "Number of connections", "Connection count"),
    _MIN_CONNECTIONS: ("Min connections", "Minimum connections", "At least connections"),
    _MAX_CONNECTIONS: ("Max connections", "Maximum connections", "At most connections"),
    "include_full_profile": ("Full profile", "Include full profile", "Full profiles"),
    "find_by_emails": ("Emails", "Email", "Find by emails", "Email addresses"),
    "include_total_count": ("Total count", "Include total count"),
    "max_profiles_scanned": ("Max profiles scanned", "Scan limit", "Profiles scanned"),
}
"""Request field -> the labels analysts may use for it (first one shown in messages)."""

# Words of a header line ("Filter | Values", "Field | Value", "Criteria"): never a field.
_HEADER_KEYS = frozenset(
    {
        "filter",
        "field",
        "criteria",
        "criterion",
        "criterium",
        "parameter",
        "param",
        "label",
        "key",
        "name",
        "setting",
        "option",
        "condition",
        "value",
        "searchcriteria",
        "searchfilter",
        "leadcriteria",
        "leadsearch",
        "leadsearchcriteria",
        "fieldname",
        "filtername",
        "what",
        "input",
        "entry",
    }
)


_NOT_KEY = re.compile(r"[^0-9a-z]+")
_TRAILING_DIGITS = re.compile(r"\d+$")


# Every criteria cell's label goes through here at each parse (a CLI refresh parses each
# formula's range once, in a fresh process): the few labels a workbook uses are kept.
@functools.lru_cache(maxsize=1024)
def _key(text: str) -> str:
    return _NOT_KEY.sub("", str(text).lower())


def _singular(key: str) -> str:
    if key.endswith("ies") and len(key) > 4:
        return key[:-3] + "y"
    if key.endswith("s") and not key.endswith("ss") and len(key) > 2:
        return key[:-1]
    return key


def _build_label_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, labels in FIELD_LABELS.items():
        for label in (*labels, name):
            for k in (_key(label), _singular(_key(label))):
                owner = table.setdefault(k, name)
                if owner != name:  # pragma: no cover - guarded by a test
                    raise RuntimeError(f"label {label!r} is claimed by {owner} and {name}")
    return table


_LABEL_TABLE = _build_label_table()


def field_for_label(label: Any) -> str | None:
    """The request field a label names ("Job Title", "HQ location", "job_titles"), or None."""
    if not isinstance(label, str):
        return None
    k = _key(label)
    if not k:
        return None
    return _LABEL_TABLE.get(k) or _LABEL_TABLE.get(_singular(k))


def _display(field_name: str) -> str:
    return FIELD_LABELS[field_name][0]


def _suggest_labels(label: str, n: int = 3, cutoff: float = 0.7) -> list[str]:
    k = _key(label)
    close = closest(k, _LABEL_TABLE, n=12, cutoff=cutoff, words=False)
    out: list[str] = []
    for match in close:
        shown = _display(_LABEL_TABLE[match])
        if shown not in out:
            out.append(shown)
    return out[:n]


def _is_header(cell: Any) -> bool:
    if not isinstance(cell, str) or field_for_label(cell) is not None:
        return False
    k = _key(cell)
    k = _TRAILING_DIGITS.sub("", k)
    return k in _HEADER_KEYS or _singular(k) in _HEADER_KEYS or "criteria" in k
