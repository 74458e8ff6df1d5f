"""The sandbox's preview, enrich-by-id and email-finder endpoints, as pure functions.

The application (:mod:`.app`) runs these behind its usual pipeline (auth, caps, faults) and
debits what they price. Each lead keeps the ``id`` a database search gives it (the row's
Sales Navigator id) across preview, search, enrich and email, as Generect's do (FACTS.md,
"Stable ids"):

- **Preview** takes Generect's nested body (``lead_search_criteria`` and
  ``company_search_criteria``), runs the database search it means, and returns masked rows: no
  LinkedIn URL, domain, email or phone, only what the spec's example shows, with the ``id``.
- **Enrich** (``/enrich/database/lead/``) returns the full profile of one lead by ``id``,
  ``linkedin_url`` or ``email``; an unknown lead is a free answer with no data.
- **Email find** answers for about three leads in four (a deterministic choice per row, so a
  test knows which leads miss); a miss is free. Bulk jobs take at most 50 leads, complete on
  their second status read (the first says ``processing``, so clients must poll), and debit
  the found emails when they complete.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .. import _constants as C
from .population import Population, norm
from .validation import InvalidRequest, validate

__all__ = [
    "BulkJobs",
    "email_for",
    "enrich_lookup",
    "full_profile",
    "masked_row",
    "preview_search_body",
    "row_of",
]

# The nested preview body's filters, and the database search fields they mean.
LEAD_FILTERS = {
    "job_titles": "job_titles",
    "seniorities": "seniorities",
    "locations": "locations",
    "company_industries": "company_industries",
    "company_headcounts": "company_headcounts",
}
COMPANY_FILTERS = {
    "industries": "company_industries",
    "headcounts": "company_headcounts",
    "locations": "company_locations",
    "company_types": "company_types",
}
PAGING = ("limit_by", "offset_by")
IDENTIFIERS = ("id", "linkedin_url", "email")
ENRICH_FLAGS = (
    "people_also_viewed",
    "posts",
    "comments",
    "reactions",
    "get_full_experience",
    "inexact_company",
)
# One row in this many has no findable work email (a miss, free).
EMAIL_MISS_EVERY = 4


def _section(body: Mapping[str, Any], name: str, allowed: Mapping[str, str]) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest({name: ["Expected a dictionary."]})
    extra = [k for k in value if k not in allowed and not (name.startswith("lead") and k in PAGING)]
    if extra:
        raise InvalidRequest({f"{name}.{k}": ["Unknown field."] for k in extra})
    return dict(value)


def preview_search_body(body: Any) -> dict[str, Any]:
    """The flat database search body a preview request means (validated), or
    :class:`InvalidRequest` with Generect's field map."""
    if not isinstance(body, Mapping):
        raise InvalidRequest({"non_field_errors": ["Invalid data. Expected a dictionary."]})
    unknown = [k for k in body if k not in ("lead_search_criteria", "company_search_criteria")]
    if unknown:
        raise InvalidRequest({k: ["Unknown field."] for k in unknown})
    lead = _section(body, "lead_search_criteria", LEAD_FILTERS)
    company = _section(body, "company_search_criteria", COMPANY_FILTERS)
    flat: dict[str, Any] = {}
    for name, value in lead.items():
        flat[LEAD_FILTERS.get(name, name)] = value
    for name, value in company.items():
        target = COMPANY_FILTERS[name]
        merged = list(flat.get(target) or [])
        merged += [v for v in value if v not in merged] if isinstance(value, list) else [value]
        flat[target] = merged
    return validate(flat, "database")


def masked_row(pop: Population, i: int) -> dict[str, Any]:
    """Row ``i`` as preview shows it: the spec example's fields and nothing that identifies
    the person outside Generect (no LinkedIn URL, domain, email or phone)."""
    row = pop.database_row(i)
    return {
        "id": pop.lead_id(i),
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "title": row["job_title"],
        "company_name": row["company_name"],
        "location": row["location"],
        "industry": row["company_industry"],
        "seniority": row["seniority"],
        "headcount_range": row["company_headcount_range"],
    }


def row_of(pop: Population, lead_id: str) -> int | None:
    """The row of a lead id (the ``id`` preview and search give), or None."""
    index = pop.lazy("ids_index", lambda: {pop.lead_id(i): i for i in range(pop.size)})
    return index.get(str(lead_id).strip())


def _domain(pop: Population, i: int) -> str:
    return pop.co_domain[pop.col_company[i]]


def work_email(pop: Population, i: int) -> str:
    first, last, _ = pop.names(i)
    local = ".".join(w for w in (norm(first), norm(last).rstrip(".")) if w).replace(" ", "")
    return f"{local or 'contact'}@{_domain(pop, i)}"


def email_for(pop: Population, i: int) -> str | None:
    """The verified work email of row ``i``, or None for the one row in
    :data:`EMAIL_MISS_EVERY` whose email cannot be found."""
    if (pop.row_hash(i) >> 17) % EMAIL_MISS_EVERY == 0:
        return None
    return work_email(pop, i)


def full_profile(pop: Population, i: int) -> dict[str, Any]:
    """Row ``i`` as ``/enrich/database/lead/`` returns it (the spec example's fields)."""
    row = pop.database_row(i)
    c = pop.col_company[i]
    return {
        "id": pop.lead_id(i),
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "full_name": row["full_name"],
        "title": row["job_title"],
        "headline": row.get("headline") or row["job_title"],
        "has_current_position": True,
        "linkedin_url": row["linkedin_url"],
        "location": row["location"],
        "seniority": row["seniority"],
        "company": {
            "id": pop.co_linkedin_id[c],
            "name": row["company_name"],
            "domain": _domain(pop, i),
            "linkedin_url": row["company_url"],
            "industry": row["company_industry"],
            "headcount_range": row["company_headcount_range"],
        },
        "work_history": row["jobs"],
        "education": [],
        "skills": row["skills"],
    }


def enrich_lookup(pop: Population, body: Any) -> int | None:
    """The row an enrich body names (None: no such lead, a free empty answer), or
    :class:`InvalidRequest` unless exactly one identifier is given."""
    if not isinstance(body, Mapping):
        raise InvalidRequest({"non_field_errors": ["Invalid data. Expected a dictionary."]})
    unknown = [k for k in body if k not in IDENTIFIERS and k not in ENRICH_FLAGS]
    if unknown:
        raise InvalidRequest({k: ["Unknown field."] for k in unknown})
    given = [k for k in IDENTIFIERS if body.get(k)]
    if len(given) != 1 or not isinstance(body[given[0]], str):
        # The spec's example gives this one message as a string, not a list.
        raise InvalidRequest({"fields": "exactly one of id, linkedin_url, email is required"})  # type: ignore[dict-item]
    value = body[given[0]]
    if given[0] == "id":
        return row_of(pop, value)
    if given[0] == "linkedin_url":
        index = pop.lazy("url_index", lambda: {pop.linkedin_url(i): i for i in range(pop.size)})
        return index.get(value.strip().rstrip("/"))
    index = pop.lazy("email_index", lambda: {work_email(pop, i): i for i in range(pop.size)})
    return index.get(value.strip().lower())


def _email_row(pop: Population, item: Any) -> int | None:
    """The row one email-find item names, or :class:`InvalidRequest`."""
    problem = "Provide one of: lead_id, linkedin_url, or first_name+last_name+domain."
    if not isinstance(item, Mapping):
        raise InvalidRequest({"non_field_errors": [problem]})
    if isinstance(item.get("lead_id"), str) and item["lead_id"].strip():
        return row_of(pop, item["lead_id"])
    if isinstance(item.get("linkedin_url"), str) and item["linkedin_url"].strip():
        return enrich_lookup(pop, {"linkedin_url": item["linkedin_url"]})
    parts = [item.get(k) for k in ("first_name", "last_name", "domain")]
    if not all(isinstance(p, str) and p.strip() for p in parts):
        raise InvalidRequest({"non_field_errors": [problem]})
    first, last, domain = (str(p).strip() for p in parts)
    local = f"{norm(first)}.{norm(last)}".replace(" ", "")
    index = pop.lazy("email_index", lambda: {work_email(pop, i): i for i in range(pop.size)})
    return index.get(f"{local}@{domain.lower()}")


def find_email(pop: Population, item: Any) -> tuple[dict[str, Any], Decimal]:
    """One email-find answer's ``data`` and its price (only a found email is billed)."""
    i = _email_row(pop, item)
    email = None if i is None else email_for(pop, i)
    data: dict[str, Any] = {}
    if isinstance(item, Mapping) and item.get("lead_id"):
        data["lead_id"] = item["lead_id"]
    if email is None:
        return {**data, "valid_email": None}, Decimal("0")
    domain = email.rsplit("@", 1)[1]
    data.update(
        valid_email=email,
        result="valid",
        catch_all=False,
        source="generect",
        email_format="first.last",
        mx_domain=domain,
    )
    return data, C.PRICE_EMAIL_FOUND


@dataclass
class _Job:
    job_id: str
    owner: str
    results: list[dict[str, Any]]
    amount: Decimal
    reads: int = 0
    debited: bool = False


@dataclass
class BulkJobs:
    """Bulk email jobs by id, per key fingerprint (thread-safe)."""

    jobs: dict[str, _Job] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, pop: Population, owner: str, body: Any) -> _Job:
        """A new job for a valid body (its results are worked out now, served on completion)."""
        if not isinstance(body, Mapping) or "leads" not in body:
            raise InvalidRequest({"leads": ["This field is required."]})
        leads = body["leads"]
        if not isinstance(leads, list) or not leads:
            raise InvalidRequest({"leads": ["Expected a non-empty list."]})
        if len(leads) > C.EMAIL_BULK_MAX:
            raise InvalidRequest(
                {"leads": [f"Ensure this field has no more than {C.EMAIL_BULK_MAX} elements."]}
            )
        answers = [find_email(pop, item) for item in leads]
        job = _Job(
            job_id=str(uuid.uuid4()),
            owner=owner,
            results=[data for data, _ in answers],
            amount=sum((price for _, price in answers), Decimal("0")),
        )
        with self.lock:
            self.jobs[job.job_id] = job
        return job

    def get(self, owner: str, job_id: str) -> _Job | None:
        with self.lock:
            job = self.jobs.get(job_id)
            return job if job is not None and job.owner == owner else None

    def clear(self) -> None:
        with self.lock:
            self.jobs.clear()
