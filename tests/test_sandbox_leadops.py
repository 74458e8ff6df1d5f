"""The sandbox's preview, enrich-by-id and email-finder endpoints over real HTTP (issue 14).

Every answer is checked against Generect's openapi.yaml (``assert_conforms``).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from conftest import assert_conforms, conforming_client
from generect_excel import _constants as C
from generect_excel.sandbox import Sandbox
from generect_excel.settings import key_fingerprint

LIVE = "live-key-leadops-1"
CRITERIA = {
    "lead_search_criteria": {"job_titles": ["CEO"], "limit_by": 30},
    "company_search_criteria": {"industries": ["Software Development"]},
}
MASKED = {"linkedin_url", "domain", "email", "phone", "company_url", "company_website"}


@pytest.fixture
def live(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with conforming_client(sandbox.url, LIVE) as client:
        yield client


def post(client: httpx.Client, path: str, body: Any) -> tuple[int, Any]:
    response = client.post(path, json=body)
    return response.status_code, assert_conforms(response)


def test_preview_masks_rows_keeps_ids_and_prices_each_row(
    sandbox: Sandbox, live: httpx.Client
) -> None:
    status, answer = post(live, C.PATH_PREVIEW_LEADS, CRITERIA)
    assert status == 200
    leads = answer["data"]["leads"]
    assert len(leads) == 30
    assert all(lead["id"] and not (MASKED & set(lead)) for lead in leads)
    assert Decimal(str(answer["meta"]["amount_charged"])) == Decimal("0.06")
    # The same ids a database search gives, for the same leads.
    search = assert_conforms(
        live.post(
            C.PATH_DATABASE_SEARCH,
            json={
                "job_titles": ["CEO"],
                "company_industries": ["Software Development"],
                "limit_by": 1000,
            },
        )
    )
    searched = {row.get("id") or row.get("lead_id") for row in search["data"]["leads"]}
    assert {lead["id"] for lead in leads} <= searched


def test_preview_refuses_unknown_vocabulary_free(sandbox: Sandbox, live: httpx.Client) -> None:
    bad = {"lead_search_criteria": {"seniorities": ["Wizard"], "job_titles": ["CEO"]}}
    status, answer = post(live, C.PATH_PREVIEW_LEADS, bad)
    assert status == 400 and "seniorities" in str(answer["detail"])
    assert sandbox.log.entries()[-1]["debited"] is None


def test_enrich_by_preview_id_returns_the_full_profile(
    sandbox: Sandbox, live: httpx.Client
) -> None:
    _, answer = post(live, C.PATH_PREVIEW_LEADS, CRITERIA)
    first = answer["data"]["leads"][0]
    status, enriched = post(live, C.PATH_ENRICH_DATABASE_LEAD, {"id": first["id"]})
    assert status == 200
    profile = enriched["data"]
    assert profile["id"] == first["id"] and profile["last_name"] == first["last_name"]
    assert profile["linkedin_url"].startswith("https://www.linkedin.com/in/")
    assert profile["company"]["domain"]
    assert Decimal(str(enriched["meta"]["amount_charged"])) == C.PRICE_ENRICH_DATABASE_LEAD
    status, missing = post(live, C.PATH_ENRICH_DATABASE_LEAD, {"id": "ACwAAAnobody"})
    assert status == 200 and missing["data"] == {} and missing["meta"]["amount_charged"] == 0
    status, _ = post(live, C.PATH_ENRICH_DATABASE_LEAD, {"id": first["id"], "email": "a@b.c"})
    assert status == 400


def test_email_find_bills_found_emails_only(sandbox: Sandbox, live: httpx.Client) -> None:
    _, answer = post(live, C.PATH_PREVIEW_LEADS, CRITERIA)
    found = missed = 0
    for lead in answer["data"]["leads"]:
        status, result = post(live, C.PATH_EMAIL_FIND, {"lead_id": lead["id"]})
        assert status == 200 and result["data"]["lead_id"] == lead["id"]
        if result["data"]["valid_email"]:
            found += 1
            assert result["meta"]["amount_charged"] == float(C.PRICE_EMAIL_FOUND)
        else:
            missed += 1
            assert result["meta"]["amount_charged"] == 0
    assert found and missed
    debited = sum(
        Decimal(str(e["debited"] or 0))
        for e in sandbox.log.entries()
        if e["path"] == C.PATH_EMAIL_FIND
    )
    assert debited == found * C.PRICE_EMAIL_FOUND


def test_bulk_email_job_polls_then_completes_and_bills_once(
    sandbox: Sandbox, live: httpx.Client
) -> None:
    _, answer = post(live, C.PATH_PREVIEW_LEADS, CRITERIA)
    items = [{"lead_id": lead["id"]} for lead in answer["data"]["leads"]]
    status, too_many = post(live, C.PATH_EMAIL_FIND_BULK, {"leads": items * 2})
    assert status == 400 and "leads" in too_many["detail"]
    status, submitted = post(live, C.PATH_EMAIL_FIND_BULK, {"leads": items})
    assert status == 202 and submitted["meta"]["status"] == "pending"
    job = submitted["meta"]["job_id"]
    path = C.PATH_EMAIL_FIND_BULK_JOB.format(job_id=job)
    first = assert_conforms(live.get(path))
    assert first["meta"]["status"] == "processing" and first["data"] is None
    done = assert_conforms(live.get(path))
    again = assert_conforms(live.get(path))
    assert done["meta"]["status"] == "completed" and len(done["data"]) == len(items)
    assert done == again
    found = sum(1 for item in done["data"] if item["valid_email"])
    balance = sandbox.accounts.snapshot(key_fingerprint(LIVE)).used_this_month
    assert balance == Decimal("0.06") + found * C.PRICE_EMAIL_FOUND  # the preview + found
    assert live.get(C.PATH_EMAIL_FIND_BULK_JOB.format(job_id="nope")).status_code == 404
