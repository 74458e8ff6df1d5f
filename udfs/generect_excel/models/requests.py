"""The two request models (:class:`LeadSearchRequest`, :class:`RealtimeLeadSearchRequest`),
their field validators and the field sets derived from them. The rules they enforce are listed
in :mod:`generect_excel.models`."""

from __future__ import annotations

import difflib
import functools
import re
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .. import vocab
from .._constants import MAX_LIMIT, MAX_LIMIT_PLUS_OFFSET, MAX_OFFSET

__all__ = [
    "ANCHOR_FIELDS",
    "DATABASE_FIELDS",
    "FILTER_FIELDS",
    "MODES",
    "OPTION_FIELDS",
    "REALTIME_FIELDS",
    "REALTIME_ONLY_FIELDS",
    "LOCAL_FIELDS",
    "LeadSearchRequest",
    "Mode",
    "RealtimeLeadSearchRequest",
    "wire_body",
]

Mode = Literal["database", "realtime"]
MODES: tuple[Mode, ...] = ("database", "realtime")

# "Time in position/company, experience": 1 = under 1 year ... 5 = over 10 years.
YEARS_MIN, YEARS_MAX = 1, 5
YearsBucket = Annotated[StrictInt, Field(ge=YEARS_MIN, le=YEARS_MAX)]
MAX_FIND_BY_EMAILS = 500  # the spec: "up to 500 per request"

_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+)$")


def _unique(items: Iterable[Any]) -> list[Any]:
    """Drop duplicates, keeping the first occurrence (order is the analyst's)."""
    seen: set[Any] = set()
    out = []
    for item in items:
        marker = (type(item).__name__, item)
        if marker not in seen:
            seen.add(marker)
            out.append(item)
    return out


def _as_list(value: Any) -> Any:
    """A lone value where a list is expected becomes a one-item list; None items are dropped.

    Strings are stripped and empty ones dropped. Anything else is left for pydantic's strict
    type check, which names the field.
    """
    if value is None:
        return None
    if isinstance(value, str | int | float | bool) or not isinstance(value, Iterable):
        value = [value]
    elif isinstance(value, Mapping):
        return value  # a mapping is never a list: let pydantic say so
    items = []
    for item in value:
        if item is None:
            continue
        if isinstance(item, str):
            item = item.strip()
            if not item:
                continue
        items.append(item)
    return items


class NumOfConnections(BaseModel):
    """A connection-count range (realtime ``num_of_connections``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: StrictInt | None = Field(default=None, ge=0)
    max: StrictInt | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> NumOfConnections:
        if self.min is None and self.max is None:
            raise PydanticCustomError("connections_empty", "give a minimum, a maximum or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError(
                "connections_order",
                "the minimum ({lo}) is above the maximum ({hi})",
                {"lo": self.min, "hi": self.max},
            )
        return self


class LeadSearchRequest(BaseModel):
    """A database lead search (or count) request, as Generect's ``LeadSearchRequest``.

    Build it with :func:`build_request` (readable errors) rather than directly. ``body()`` is
    the JSON to send.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: ClassVar[Mode] = "database"

    job_titles: list[str] | None = None
    seniorities: list[str] | None = None
    locations: list[str] | None = None
    exclude_locations: list[str] | None = None
    company_locations: list[str] | None = None
    exclude_company_locations: list[str] | None = None
    company_industries: list[str] | None = None
    exclude_company_industries: list[str] | None = None
    company_headcounts: list[str] | None = None
    exclude_company_headcounts: list[str] | None = None
    company_types: list[str] | None = None
    company_name: str | None = None
    company_link: str | None = None
    company_id: StrictInt | None = Field(default=None, ge=1)
    # Listed by the seed pages, dropped by the newer spec; kept so seed bodies stay valid.
    without_company: StrictBool | None = None
    exclude_names: list[str] | None = None
    exclude_ids: list[str] | None = None
    filter_empty_vars: list[str] | None = None
    limit_by: StrictInt | None = Field(default=None, ge=1)
    offset_by: StrictInt | None = Field(default=None, ge=0)
    strict: list[str] | None = None
    skip_truncated_names: StrictBool | None = None
    # Ours, never sent (see LOCAL_FIELDS): "New leads only: yes" asks for leads the register
    # of owned leads does not hold; the engine turns it into exclude_ids.
    new_leads_only: StrictBool | None = None

    # -- field validators ---------------------------------------------------------------

    @field_validator("*", mode="before")
    @classmethod
    def _lists_and_text(cls, value: Any, info: ValidationInfo) -> Any:
        # "*": always a field's validator
        if info.field_name != "personas" and _takes_list(cls, str(info.field_name)):
            return _as_list(value)
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _normalize(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list):
            return value
        name = info.field_name
        if name == "personas":
            return value or None
        if name in vocab.FIELD_VOCABULARY:
            normalized, problems = [], []
            for item in value:
                try:
                    normalized.append(vocab.normalize_value(name, item))
                except vocab.UnknownValueError as exc:
                    problems.append(str(exc))
            if problems:
                raise PydanticCustomError(
                    "unknown_value", "{message}", {"message": problems[0], "problems": problems}
                )
            value = normalized
        elif name == "strict":
            value = [_strict_field(cls, item) for item in value]
        value = _unique(value)
        return value or None

    @field_validator("company_link")
    @classmethod
    def _linkedin_url(cls, value: str | None) -> str | None:
        if value is not None and "linkedin.com/" not in value.lower():
            raise PydanticCustomError(
                "not_linkedin",
                '"{value}" is not a LinkedIn company URL; use one such as '
                "https://www.linkedin.com/company/microsoft/",
                {"value": value},
            )
        return value

    # -- cross-field rules --------------------------------------------------------------

    @model_validator(mode="after")
    def _cross_field_rules(self) -> LeadSearchRequest:
        problems: list[tuple[list[str], str]] = []
        anchors = [f for f in ANCHOR_FIELDS if getattr(self, f, None) is not None]
        if len(anchors) > 1:
            what = "a name, a LinkedIn link or an ID"
            if "find_by_emails" in anchors:
                what = "a name, a LinkedIn link, an ID or emails"
            problems.append((anchors, f"give only one company: {what}"))
        if self.without_company and anchors:
            problems.append(
                (["without_company", *anchors], "without_company cannot go with a company")
            )
        if not self.has_filter():
            problems.append(
                (
                    [],
                    "No filter given: add at least one, such as job titles, seniorities, "
                    "locations, industries, company sizes or a company",
                )
            )
        if not anchors:
            problems.extend(_paging_rules(self.limit_by, self.offset_by))
        problems.extend(self._extra_rules())
        if problems:
            raise PydanticCustomError(
                "criteria", "{message}", {"message": problems[0][1], "problems": problems}
            )
        return self

    def _extra_rules(self) -> list[tuple[list[str], str]]:
        """Mode-specific cross-field rules (overridden by the realtime model)."""
        return []

    # -- what callers use -----------------------------------------------------------------

    def has_filter(self) -> bool:
        """True when at least one field of :data:`FILTER_FIELDS` is set (a True boolean)."""
        for name in FILTER_FIELDS:
            value = getattr(self, name, None)
            if value is None or value is False:
                continue
            return True
        return False

    @property
    def is_anchored(self) -> bool:
        """True for a search anchored to one company (name, link, ID, or emails' domain)."""
        return any(getattr(self, f, None) is not None for f in ANCHOR_FIELDS)

    def body(self) -> dict[str, Any]:
        """The JSON body to send: unset fields and False booleans (the API's default) left out."""
        data = self.model_dump(mode="json", exclude_none=True)
        return {k: v for k, v in data.items() if v is not False}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.body()!r})"


class RealtimeLeadSearchRequest(LeadSearchRequest):
    """A realtime lead search (or count) request: the database fields plus realtime's own."""

    mode: ClassVar[Mode] = "realtime"

    keywords: list[str] | None = None
    functions: list[str] | None = None
    exclude_functions: list[str] | None = None
    past_company_names: list[str] | None = None
    past_company_ids: list[str] | None = None
    exclude_past_company_ids: list[str] | None = None
    exclude_current_company_ids: list[str] | None = None
    schools: list[StrictInt] | None = None
    groups: list[StrictInt] | None = None
    groups_keywords: list[str] | None = None
    years_in_position: list[YearsBucket] | None = None
    years_in_company: list[YearsBucket] | None = None
    years_of_experience: list[YearsBucket] | None = None
    changed_jobs: StrictBool | None = None
    posted_on_linkedin: StrictBool | None = None
    mentioned_in_news: StrictBool | None = None
    linkedin_filter_link: str | None = None
    personas: list[list[Any]] | None = None
    first_name: list[str] | None = None
    last_name: list[str] | None = None
    lead_industries: list[str] | None = None
    exclude_lead_industries: list[str] | None = None
    past_job_titles: list[str] | None = None
    num_of_connections: NumOfConnections | None = None
    include_full_profile: StrictBool | None = None
    find_by_emails: list[str] | None = None
    include_total_count: StrictBool | None = None
    max_profiles_scanned: StrictInt | None = Field(default=None, ge=1)

    @field_validator("personas", mode="before")
    @classmethod
    def _personas(cls, value: Any) -> Any:
        # A persona is itself a list ([name, functions, seniorities, prohibits, priority?]);
        # _as_list would wrap a lone persona wrongly, so only None-items are dropped here.
        if isinstance(value, list | tuple):
            return [p for p in value if p is not None]
        return value

    @field_validator("find_by_emails", mode="after")
    @classmethod
    def _emails(cls, value: list[str] | None) -> list[str] | None:
        if not value:
            return value
        bad = [e for e in value if not _EMAIL.match(e)]
        if bad:
            raise PydanticCustomError(
                "email", '"{value}" is not an email address', {"value": bad[0]}
            )
        if len(value) > MAX_FIND_BY_EMAILS:
            raise PydanticCustomError(
                "too_many_emails",
                "{n} addresses; at most {limit} per request",
                {"n": len(value), "limit": MAX_FIND_BY_EMAILS},
            )
        domains = sorted({_EMAIL.match(e).group(1).lower() for e in value})  # type: ignore[union-attr]
        if len(domains) > 1:
            raise PydanticCustomError(
                "email_domains",
                "every address must share one domain (found {domains})",
                {"domains": ", ".join(domains[:3])},
            )
        return [e.lower() for e in value]


def _paging_rules(limit: Any, offset: Any) -> list[tuple[list[str], str]]:
    """Generect's paging limits for a search without a company anchor, as (fields, message).

    Shared by the model's cross-field rules and by :func:`_paging_problems`, which applies them
    when other fields failed and so the model's own rules never ran."""
    limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    offset = offset if isinstance(offset, int) and not isinstance(offset, bool) else None
    problems: list[tuple[list[str], str]] = []
    if limit is not None and limit > MAX_LIMIT:
        problems.append(
            (
                ["limit_by"],
                f"{limit} is too many; use 1 to {MAX_LIMIT} (a search without a company anchor)",
            )
        )
    if offset is not None and offset > MAX_OFFSET:
        problems.append(
            (
                ["offset_by"],
                f"{offset} is too far; use 0 to {MAX_OFFSET} (a search without a company anchor)",
            )
        )
    if (
        limit is not None
        and offset is not None
        and limit <= MAX_LIMIT
        and offset <= MAX_OFFSET
        and limit + offset > MAX_LIMIT_PLUS_OFFSET
    ):
        problems.append(
            (
                ["limit_by", "offset_by"],
                f"limit plus offset is {limit + offset}; at most {MAX_LIMIT_PLUS_OFFSET} "
                "for a search without a company anchor",
            )
        )
    return problems


# -- field sets -------------------------------------------------------------------------------

DATABASE_FIELDS: frozenset[str] = frozenset(LeadSearchRequest.model_fields)
REALTIME_FIELDS: frozenset[str] = frozenset(RealtimeLeadSearchRequest.model_fields)
REALTIME_ONLY_FIELDS: frozenset[str] = REALTIME_FIELDS - DATABASE_FIELDS
"""Fields Generect refuses at the database endpoints (400 pointing at realtime)."""

ANCHOR_FIELDS: tuple[str, ...] = ("company_name", "company_link", "company_id", "find_by_emails")
"""Fields that anchor a search to one company (at most one may be set)."""

OPTION_FIELDS: frozenset[str] = frozenset(
    {
        "limit_by",
        "offset_by",
        "strict",
        "skip_truncated_names",
        "without_company",
        "filter_empty_vars",
        "include_full_profile",
        "include_total_count",
        "max_profiles_scanned",
        "new_leads_only",
    }
)
"""Paging, matching and response options: they shape a search but are not one."""

LOCAL_FIELDS: frozenset[str] = frozenset({"new_leads_only"})
"""Fields of ours that are part of the analyst's question (and so of the cache key) but never
go to Generect: :func:`wire_body` leaves them out."""


def wire_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` without :data:`LOCAL_FIELDS`: what may be sent to Generect."""
    return {k: v for k, v in body.items() if k not in LOCAL_FIELDS}


FILTER_FIELDS: tuple[str, ...] = tuple(
    name
    for name in RealtimeLeadSearchRequest.model_fields
    if name not in OPTION_FIELDS and not name.startswith("exclude_")
)
"""Fields that count as "a filter": every criterion that selects leads. Options
(:data:`OPTION_FIELDS`) and exclusions (``exclude_*``, which only narrow a search) do not; a
boolean filter counts when it is True."""

# Lists whose order carries meaning; every other list of scalars is an any-of set.
_ORDERED_FIELDS = frozenset({"personas"})


@functools.cache  # asked for every field of every request built; the answer never changes
def _takes_list(cls: type[BaseModel], name: str) -> bool:
    return _is_list_field(cls.model_fields[name].annotation)


def _is_list_field(annotation: Any) -> bool:
    """``list[X] | None`` -> True (personas, a list of lists, is handled by its own validator)."""
    return any(typing.get_origin(arg) is list for arg in typing.get_args(annotation))


def _strict_field(cls: type[LeadSearchRequest], item: Any) -> str:
    """``strict`` names fields; accept them as the API spells them only."""
    if not isinstance(item, str):
        return item
    name = item.strip()
    if name in REALTIME_FIELDS and name not in OPTION_FIELDS:
        return name
    choices = [f for f in cls.model_fields if f not in OPTION_FIELDS]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    hint = (
        f'; did you mean "{close[0]}"?'
        if close
        else " (use a field name such as company_locations)"
    )
    raise PydanticCustomError(
        "strict_field", "{message}", {"message": f'"{name}" is not a field to match strictly{hint}'}
    )


# -- building requests ------------------------------------------------------------------------
