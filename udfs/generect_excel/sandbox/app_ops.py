"""The sandbox's operations beyond lead search: lead operations (preview, enrich, emails),
company search, the account and its transactions, and charging for them (moved out of
:mod:`generect_excel.sandbox.app`; :class:`~generect_excel.sandbox.app.SandboxApp` inherits them)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from .. import _constants as C
from . import billing, leadops
from .accounts import Accounts
from .companies import company_page, company_row, matching_companies, validate_companies
from .config import SandboxConfig
from .population import Population
from .search import run_search
from .validation import InvalidRequest
from .wire import _decode, _json_bytes, _JSONResponse, _money

if TYPE_CHECKING:
    from .app import _Endpoint

MODE_HEADER = "X-Generect-Mode"
INSUFFICIENT_FUNDS = "Insufficient funds in the account."


class _OperationsMixin:
    """What :class:`~generect_excel.sandbox.app.SandboxApp` serves besides lead search."""

    config: SandboxConfig
    population: Population
    accounts: Accounts
    bulk_jobs: leadops.BulkJobs
    _searches: int
    _error: Callable[..., Response]
    _sleep: Callable[[float], Awaitable[None]]

    def _charge(self, entry: dict[str, Any], path: str, amount: Decimal) -> bool:
        """Debit ``amount`` for ``path`` (not in test mode); False when the balance is short."""
        debited = Decimal("0")
        if amount and not entry["test_mode"]:
            operation = C.TRANSACTION_TYPES.get(path)
            if not self.accounts.debit(entry["key"], amount, operation=operation):
                return False
            debited = amount
        entry.update(amount_charged=_money(amount), debited=_money(debited))
        return True

    def _preview_free(self, fingerprint: str) -> bool:
        """Preview is free once this month's spend reaches the published threshold."""
        return self.accounts.snapshot(fingerprint).used_this_month >= C.PREVIEW_TIER_SPEND

    def _serve_leadop(
        self, endpoint: _Endpoint, request: Request, raw: bytes, entry: dict[str, Any]
    ) -> Response:
        """Preview, enrich by id, email find (one, bulk, job status): see :mod:`.leadops`."""
        test_mode = entry["test_mode"]
        headers = {MODE_HEADER: "test"} if test_mode else None
        pop = self.population
        if endpoint.kind == "email_job":
            job = self.bulk_jobs.get(entry["key"], request.path_params.get("job_id", ""))
            if job is None:
                return self._error(404, "Job not found", test_mode)
            job.reads += 1
            done = job.reads >= 2  # the first read says "processing": clients must poll
            if done and not job.debited:
                if not self._charge(entry, endpoint.path, job.amount):
                    return self._error(402, INSUFFICIENT_FUNDS, test_mode)
                job.debited = True
            meta = {
                "job_id": job.job_id,
                "status": "completed" if done else "processing",
                "total": len(job.results),
                "processed": len(job.results) if done else 0,
                "amount_charged": _money(job.amount if done else Decimal("0")),
                "error": None,
            }
            entry["rows"] = len(job.results) if done else 0
            return _JSONResponse(
                {"data": job.results if done else None, "meta": meta}, 200, headers
            )
        try:
            body = _decode(raw)
            if endpoint.kind == "email_bulk":
                job = self.bulk_jobs.submit(pop, entry["key"], body)
                meta = {
                    "job_id": job.job_id,
                    "status": "pending",
                    "total": len(job.results),
                    "processed": 0,
                    "amount_charged": 0,
                    "error": None,
                }
                return _JSONResponse({"data": None, "meta": meta}, 202, headers)
            if endpoint.kind == "email":
                data, amount = leadops.find_email(pop, body)
                if not self._charge(entry, endpoint.path, amount):
                    return self._error(402, INSUFFICIENT_FUNDS, test_mode)
                entry["rows"] = 1 if data.get("valid_email") else 0
                meta = {"amount_charged": _money(amount)}
                return _JSONResponse({"data": data, "meta": meta}, 200, headers)
            if endpoint.kind == "enrich":
                row = leadops.enrich_lookup(pop, body)
                amount = Decimal("0") if row is None else C.PRICE_ENRICH_DATABASE_LEAD
                if not self._charge(entry, endpoint.path, amount):
                    return self._error(402, INSUFFICIENT_FUNDS, test_mode)
                entry["rows"] = 0 if row is None else 1
                data = {} if row is None else leadops.full_profile(pop, row)
                meta = {"amount_charged": _money(amount)}
                return _JSONResponse({"data": data, "meta": meta}, 200, headers)
            flat = leadops.preview_search_body(body)
        except InvalidRequest as exc:
            return self._error(400, exc.detail, test_mode)
        self._searches += 1
        shuffle = (
            None if self.config.stable_order else self.config.seed * 1_000_003 + self._searches
        )
        result = run_search(pop, flat, "database", shuffle=shuffle)
        price = Decimal("0") if self._preview_free(entry["key"]) else C.PRICE_PREVIEW_ROW
        amount = price * len(result.row_ids)
        if not self._charge(entry, endpoint.path, amount):
            return self._error(402, INSUFFICIENT_FUNDS, test_mode)
        entry.update(rows=len(result.row_ids), results_count=result.total)
        rows = [leadops.masked_row(pop, i) for i in result.row_ids]
        return _JSONResponse(
            {"data": {"leads": rows}, "meta": {"amount_charged": _money(amount)}}, 200, headers
        )

    async def _serve_companies(
        self, endpoint: _Endpoint, raw: bytes, entry: dict[str, Any]
    ) -> Response:
        """A company search or count (see :mod:`.companies`): checked, priced per company
        returned (a count per request in realtime), debited, answered in the spec's shape."""
        test_mode, fingerprint = entry["test_mode"], entry["key"]
        mode = endpoint.mode or "database"
        try:
            body = validate_companies(_decode(raw), mode)
        except InvalidRequest as exc:
            return self._error(400, exc.detail, test_mode)
        if mode == "realtime":
            await self._sleep(self.config.realtime_latency)
        pop = self.population
        found = matching_companies(pop, body)
        rows: list[dict[str, Any]] | None = None
        if endpoint.kind == "company_count":
            price = C.PRICE_REALTIME_COMPANY_COUNT if mode == "realtime" else C.PRICE_DATABASE_COUNT
            amount = price
        else:
            rows = [company_row(pop, c) for c in company_page(found, body)]
            price = C.PRICE_REALTIME_COMPANY if mode == "realtime" else C.PRICE_DATABASE_COMPANY
            amount = price * len(rows)
        debited = Decimal("0")
        if amount and not test_mode:
            operation = C.TRANSACTION_TYPES.get(endpoint.path)
            if not self.accounts.debit(fingerprint, amount, operation=operation):
                return self._error(402, INSUFFICIENT_FUNDS, test_mode)
            debited = amount
        entry.update(
            rows=None if rows is None else len(rows),
            results_count=len(found),
            amount_charged=_money(amount),
            debited=_money(debited),
        )
        data: dict[str, Any] = {"results_count": len(found)}
        if rows is not None:
            data = {"companies": rows, "results_count": len(found)}
        headers = {MODE_HEADER: "test"} if test_mode else None
        return _JSONResponse(
            {"data": data, "meta": {"amount_charged": _money(amount)}}, 200, headers
        )

    def _render_database_row(self, i: int) -> bytes:
        return _json_bytes(self.population.database_row(i))

    def _account(self, fingerprint: str, test_mode: bool) -> Response:
        account = self.accounts.snapshot(fingerprint)
        data = {
            "id": str(uuid.UUID(hex=fingerprint * 2)),
            "email": "analyst@sandbox.example",
            "name": "Sandbox Analyst",
            "plan": "Sandbox",
            "credits": {
                "balance": _money(account.balance),
                "used_this_month": _money(account.used_this_month),
                "monthly_limit": _money(self.accounts.monthly_limit),
            },
            "preview_tier": account.used_this_month >= C.PREVIEW_TIER_SPEND,
        }
        headers = {MODE_HEADER: "test"} if test_mode else None
        return _JSONResponse({"data": data}, 200, headers)

    def _transactions(self, fingerprint: str, request: Request, test_mode: bool) -> Response:
        page = billing.select(self.accounts.transactions(fingerprint), request.query_params)
        headers = {MODE_HEADER: "test"} if test_mode else None
        return _JSONResponse(
            {"data": {"transactions": [billing.to_json(t) for t in page]}}, 200, headers
        )
