"""Preview, then buy only the rows you pick (issue 14). Pure core.

An analyst looks at masked rows for $0.002 each (:func:`run_preview`,
``=GENERECT_PREVIEW``), ticks the ones that fit, and buys only those at $0.02 each
(:func:`buy`, ``=GENERECT_ENRICH``), instead of buying the whole page at $0.02 a row.

**Preview.** The criteria block is the one ``GENERECT_SEARCH`` reads; :func:`preview_body`
maps it onto the nested body preview takes (lead filters in ``lead_search_criteria``, company
ones in ``company_search_criteria``). A criterion preview cannot filter by is refused before
anything is sent (free), naming it. Masked rows are not owned leads: they stay out of the
register.

**Buying picked ids** (:func:`buy`). For each distinct id, in this order, at no charge when
possible:

1. an enrichment stored for the id (this formula's refresh value aside): shown from the store;
2. a lead the register of owned leads already holds (bought by a search or an earlier
   enrichment, by any workbook sharing the store): never bought again, even on refresh; its
   row comes from the stored search answer that bought it;
3. otherwise bought: the worst case of all ids left (``$0.02`` each) is checked against the
   per-request and daily caps first, as one purchase, and refused whole if it passes either
   (nothing sent); then each id is one enrich call through the engine (stored, coalesced,
   claimed, ledgered, and registered as owned in the same transaction as its ledger row).

Work emails are in :mod:`generect_excel.emails`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .. import _constants as C
from .. import budget
from ..errors import BudgetError, CriteriaError, GenerectError, one_line
from ..functions import Outcome, _block, scalar
from ..lead_answers import EnrichResult, OperationRequest
from ..ledger import Origin
from ..store.register import lead_key
from ..table import charge_text

# Re-exported: preview moved to preview.py; its importers (the CLI, tests) read it here.
from .preview import COMPANY_FIELDS as COMPANY_FIELDS
from .preview import LEAD_FIELDS as LEAD_FIELDS
from .preview import PAGING as PAGING
from .preview import PREVIEW_COLUMNS as PREVIEW_COLUMNS
from .preview import _status as _status
from .preview import _whole as _whole
from .preview import preview_body as preview_body
from .preview import preview_request as preview_request
from .preview import preview_request_for as preview_request_for
from .preview import run_preview as run_preview

__all__ = [
    "BUY_COLUMNS",
    "PREVIEW_COLUMNS",
    "Bought",
    "EnrichBatch",
    "buy",
    "batch_answer",
    "buy_table",
    "enrich_request",
    "picked_ids",
    "preview_body",
    "preview_request",
    "preview_request_for",
    "quote_batch",
    "run_preview",
]

log = logging.getLogger(__name__)

BUY_COLUMNS = (
    "id",
    "status",
    "full_name",
    "title",
    "company_name",
    "company_domain",
    "linkedin_url",
    "location",
)
# Cell values that tick a "Buy" box.
_TICKS = frozenset({"true", "x", "yes", "y", "1", "buy", "✓", "✔"})


# --------------------------------------------------------------------------- buying picked ids


def _cells(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _cells(item)
    else:
        yield value


def _ticked(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in _TICKS


def picked_ids(ids: Any, buy_column: Any = None) -> list[str]:
    """The distinct ids of ``ids`` (a range, any shape), in order; with ``buy_column`` (a range
    of the same size), only those whose box is ticked (TRUE, x, yes, 1, ✓). Header cells
    (``id``) and blanks are skipped."""
    values = list(_cells(ids))
    if buy_column is not None:
        ticks = list(_cells(buy_column))
        if len(ticks) != len(values):
            raise CriteriaError(
                f"The Buy column has {len(ticks)} cells for {len(values)} ids: give ranges of "
                "the same size."
            )
        values = [v for v, t in zip(values, ticks, strict=True) if _ticked(t)]
    seen: dict[str, None] = {}
    for value in values:
        if value is None or isinstance(value, bool):
            continue
        text = str(value).strip()
        if text and text.lower() != "id":
            seen.setdefault(text, None)
    return list(seen)


def enrich_request(lead_id: str) -> OperationRequest:
    return OperationRequest.of({"id": lead_id})


@dataclass(frozen=True)
class EnrichBatch:
    """The picked ids of one ``GENERECT_ENRICH`` formula: several enrich calls, priced and
    refused as one purchase (the refresher quotes it with :func:`quote_batch`)."""

    ids: tuple[str, ...]
    mode: str = "database"

    def body(self) -> dict[str, Any]:
        return {"ids": list(self.ids)}


def _split(
    engine: Any, ids: Sequence[str], refresh: Any, origin: Origin | None
) -> tuple[dict[str, Bought], list[str]]:
    """What the store answers for free (stored enrichments, owned leads), and the ids left."""
    results: dict[str, Bought] = {}
    left = []
    for lead_id in ids:
        try:
            answer = engine.cached(
                enrich_request(lead_id), "enrich", refresh=refresh, origin=origin
            )
        except GenerectError as exc:  # an earlier answer was lost: shown, never sent blindly
            results[lead_id] = Bought(lead_id, f"error: {one_line(str(exc))}")
            continue
        if answer is not None:
            results[lead_id] = _bought(lead_id, answer, "stored")
        else:
            left.append(lead_id)
    for lead_id, row in _owned_rows(engine, left).items():
        results[lead_id] = Bought(lead_id, "owned", row)
    return results, [i for i in left if i not in results]


def quote_batch(
    engine: Any, batch: EnrichBatch, refresh: Any = None, origin: Origin | None = None
) -> tuple[bool, budget.Estimate]:
    """Whether buying ``batch`` would send anything, and its worst case (no network)."""
    _, to_buy = _split(engine, batch.ids, refresh, origin)
    amount = len(to_buy) * C.PRICE_ENRICH_DATABASE_LEAD
    estimate = budget.Estimate(
        kind="enrich",  # type: ignore[arg-type]
        mode=batch.mode,
        amount=amount,
        rows=len(to_buy),
        cached=not to_buy,
        test_mode=engine.settings.test_mode_key,
    )
    return bool(to_buy), estimate


@dataclass(frozen=True)
class Bought:
    """One picked id and what buying it came to: ``status`` is ``bought``, ``stored`` (an
    earlier enrichment), ``owned`` (the register held it: not bought again), ``not found``
    (Generect has no profile: free) or ``error: ...``; ``cost`` what this call charged."""

    lead_id: str
    status: str
    profile: Mapping[str, Any] | None = None
    cost: Decimal = Decimal("0")


def _owned_rows(engine: Any, ids: list[str]) -> dict[str, Mapping[str, Any]]:
    """The rows of owned leads among ``ids``, from the stored answers that bought them (or the
    register's own columns when that answer is gone)."""
    owned = engine.store.owned_among(engine.settings.base_url, ids)
    if not owned:
        return {}
    rows: dict[str, Mapping[str, Any]] = {}
    for lead in engine.owned_leads():
        if lead.lead_id not in owned or lead.lead_id in rows:
            continue
        row: Mapping[str, Any] = {
            "id": lead.lead_id,
            "full_name": lead.full_name,
            "job_title": lead.job_title,
            "company_name": lead.company_name,
            "linkedin_url": lead.linkedin_url,
        }
        entry, _ = engine.store.lookup(lead.cache_key, "")
        for stored in (entry.answer.get("leads") or []) if entry is not None else []:
            key = lead_key(stored) if isinstance(stored, Mapping) else None
            if key is not None and key[0] == lead.lead_id:
                row = stored
                break
        rows[lead.lead_id] = row
    return rows


def _check_caps(engine: Any, count: int) -> None:
    """Refuse the whole purchase, before sending anything, when its worst case passes a cap."""
    if engine.settings.test_mode_key or count == 0:
        return
    estimate = count * C.PRICE_ENRICH_DATABASE_LEAD
    budget.check(
        estimate,
        engine.spend("today"),
        engine.settings,
        what=f"Buying {count} picked leads",
        reserved=engine.store.reserved_in_flight(),
    )


def buy(
    engine: Any, ids: Sequence[str], *, refresh: Any = None, origin: Origin | None = None
) -> list[Bought]:
    """Enrich the picked ``ids`` (see the module docstring); one :class:`Bought` per id, in
    order. Raises :class:`~generect_excel.errors.BudgetError` (nothing sent) when the worst
    case of the ids left to buy passes a cap."""
    results, to_buy = _split(engine, ids, refresh, origin)
    _check_caps(engine, len(to_buy))

    def one(lead_id: str) -> Bought:
        try:
            answer = engine.run("enrich", enrich_request(lead_id), refresh=refresh, origin=origin)
        except BudgetError:
            raise
        except GenerectError as exc:
            return Bought(lead_id, f"error: {one_line(str(exc))}")
        return _bought(lead_id, answer, "stored" if answer.from_cache else "bought")

    workers = max(1, min(len(to_buy), int(engine.settings.max_parallel)))
    with ThreadPoolExecutor(workers) as pool:
        for bought in pool.map(one, to_buy):
            results[bought.lead_id] = bought
    return [results[i] for i in ids]


def _bought(lead_id: str, answer: Any, status: str) -> Bought:
    result: EnrichResult = answer.result
    if result.profile is None:
        return Bought(lead_id, "not found")
    cost = Decimal("0") if answer.from_cache else Decimal(result.amount_charged)
    return Bought(lead_id, status, result.profile, cost)


def _column(row: Mapping[str, Any], name: str) -> Any:
    nested = row.get("company")
    company: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}
    if name == "full_name":
        full = row.get("full_name")
        return full or " ".join(str(row[k]) for k in ("first_name", "last_name") if row.get(k))
    if name == "title":
        return row.get("title") or row.get("job_title")
    if name == "company_name":
        return company.get("name") or row.get("company_name")
    if name == "company_domain":
        website = str(row.get("company_website") or "")
        return company.get("domain") or website.removeprefix("https://").removeprefix("www.")
    return row.get(name)


def batch_answer(bought: Sequence[Bought], *, test_mode: bool = False) -> Any:
    """One engine :class:`~generect_excel.engine.Answer` for a whole purchase (the refresher's
    summary counts its rows and charge): ``from_cache`` when nothing was bought now."""
    from datetime import UTC, datetime

    from ..engine import Answer

    paid = [b for b in bought if b.cost or b.status == "bought"]
    result = EnrichResult(
        leads=[dict(b.profile) for b in bought if b.profile is not None],
        amount_charged=sum((b.cost for b in bought), Decimal("0")),
        test_mode=test_mode,
    )
    return Answer(
        result=result,
        from_cache=not paid,
        fetched_at=datetime.now(UTC),
        cache_key="",
        kind="enrich",
        test_mode=test_mode,
    )


def buy_table(bought: Sequence[Bought], *, test_mode: bool = False) -> list[list[Any]]:
    """``=GENERECT_ENRICH``'s spill: status row, header, one row per picked id."""
    paid = sum((b.cost for b in bought), Decimal("0"))
    counts: dict[str, int] = {}
    for b in bought:
        counts[b.status.split(":")[0]] = counts.get(b.status.split(":")[0], 0) + 1
    parts = ["Generect enrich", f"{len(bought):,} picked"]
    parts += [f"{n:,} {status}" for status, n in counts.items()]
    parts.append(charge_text(paid, test_mode) + " now")
    status = _status(parts, from_cache=False, test_mode=test_mode)
    width = len(BUY_COLUMNS)
    table: list[list[Any]] = [[status] + [None] * (width - 1), list(BUY_COLUMNS)]
    for b in bought:
        row = b.profile or {}
        table.append(
            [b.lead_id, b.status] + [_column(row, name) or None for name in BUY_COLUMNS[2:]]
        )
    return table


# --------------------------------------------------------------------------- worksheet functions
# GENERECT_PREVIEW, GENERECT_ENRICH and GENERECT_EMAIL: the registry's checks and evaluations
# (worksheet.py names this module for them).


def _check_preview(
    criteria: Any = None,
    limit: Any = None,
    offset: Any = None,
    mode: Any = None,
    refresh: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> Any:
    if str(scalar(mode, "mode") or "database").strip().lower() != "database":
        raise CriteriaError('Preview searches the database only: leave mode empty or "database".')
    scalar(refresh, "refresh")
    return preview_request(
        _block(criteria), scalar(limit, "limit"), scalar(offset, "offset"), origin=origin
    )


def _outcome_preview(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    request = _check_preview(**args)
    table, answer = run_preview(
        engine, request, refresh=scalar(args.get("refresh"), "refresh"), origin=origin
    )
    return Outcome(table, answer)


def _check_enrich(
    ids: Any = None,
    buy: Any = None,
    refresh: Any = None,
    *,
    origin: tuple[int, int] | None = None,  # no criteria range: nothing to name
) -> Any:
    scalar(refresh, "refresh")
    return EnrichBatch(tuple(picked_ids(ids, buy)))


def _outcome_enrich(engine: Any, args: Mapping[str, Any], origin: Origin | None) -> Outcome:
    batch = _check_enrich(**args)
    bought = buy(engine, batch.ids, refresh=scalar(args.get("refresh"), "refresh"), origin=origin)
    test_mode = engine.settings.test_mode_key
    return Outcome(
        buy_table(bought, test_mode=test_mode),
        batch_answer(bought, test_mode=test_mode),
    )


def _quote_enrich(engine: Any, request: Any, refresh: Any, origin: Origin | None) -> Any:
    return quote_batch(engine, request, refresh, origin)
