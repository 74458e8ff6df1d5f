"""Work emails (issue 14): ``=GENERECT_EMAIL`` and ``generect-excel email``. Pure core.

One ``email/find`` call per lead, through the engine: a found email is billed and stored, a
miss is free and stored too (with its age), so a recalculation never asks again; a new
refresh value asks once more. A whole column is a column of ``=GENERECT_EMAIL(...)`` cells
that the refresher evaluates in parallel (``max_parallel`` at once). Why not the bulk
endpoint: see the README's "Preview, then buy only what you pick; work emails".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import CriteriaError
from .functions import Outcome, scalar
from .lead_answers import EmailResult, OperationRequest
from .ledger import Origin

__all__ = ["NO_EMAIL", "email_request", "run_email"]

# What a cell shows for a lead whose work email Generect could not find (stored: not re-asked).
NO_EMAIL = "(no email found)"


# --------------------------------------------------------------------------- work emails


def email_request(lead: Any, last_name: Any = None, domain: Any = None) -> OperationRequest:
    """The email-find request: by lead id or LinkedIn URL (``lead`` alone), or by first name
    (``lead``), ``last_name`` and ``domain``. CriteriaError (free) for anything else."""
    first = "" if lead is None else str(lead).strip()
    last = "" if last_name is None else str(last_name).strip()
    where = "" if domain is None else str(domain).strip().lower()
    if last or where:
        if not (first and last and where):
            raise CriteriaError("Give a first name, a last name and a company domain.")
        host = where.removeprefix("https://").removeprefix("http://").removeprefix("www.")
        return OperationRequest.of(
            {"first_name": first, "last_name": last, "domain": host.split("/")[0]}
        )
    if not first:
        raise CriteriaError("Give a lead id, a LinkedIn URL, or first name, last name, domain.")
    if "linkedin.com/" in first.lower():
        return OperationRequest.of({"linkedin_url": first})
    return OperationRequest.of({"lead_id": first})


def run_email(
    engine: Any,
    lead: Any,
    last_name: Any = None,
    domain: Any = None,
    refresh: Any = None,
    origin: Origin | None = None,
) -> tuple[str, Any]:
    """``=GENERECT_EMAIL``: the verified work email, or :data:`NO_EMAIL` (stored: a
    recalculation does not ask again)."""
    request = email_request(lead, last_name, domain)
    answer = engine.run("email", request, refresh=refresh, origin=origin)
    result: EmailResult = answer.result
    return (result.email or NO_EMAIL), answer


def _check_email(
    lead: Any = None,
    last_name: Any = None,
    domain: Any = None,
    refresh: Any = None,
    *,
    origin: tuple[int, int] | None = None,  # no criteria range: nothing to name
) -> Any:
    scalar(refresh, "refresh")
    return email_request(
        scalar(lead, "lead"), scalar(last_name, "last_name"), scalar(domain, "domain")
    )


def _outcome_email(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    names = ("lead", "last_name", "domain", "refresh")
    lead, last, domain, refresh = (scalar(args.get(n), n) for n in names)
    value, answer = run_email(engine, lead, last, domain, refresh, origin)
    return Outcome(value, answer)
