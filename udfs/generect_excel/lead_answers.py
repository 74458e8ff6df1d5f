"""Requests and answers of preview, enrich-by-id and email find (issue 14), as typed models.

Each answer has the shape the engine already stores, ledgers and coalesces for searches:

- :class:`PreviewResult`: ``leads`` are the masked preview rows (``id``, names, title, company,
  location, industry, seniority, headcount range: no LinkedIn URL, domain, email or phone).
- :class:`EnrichResult`: ``leads`` holds the one full profile bought (empty when Generect has
  no data for the id: a free answer), so a ledger row counts it and the register of owned
  leads records it like a search's rows.
- :class:`EmailResult`: ``email`` is the verified work email, or None for a miss (free).
  A miss is stored like any answer, with its age (``fetched_at``), so a recalculation never
  asks again; only a new refresh value does.

:class:`OperationRequest` is the request the engine keys, prices and sends for these
operations: a mode and a body (the engine's ``_Request``).

Core: no xlwings, openpyxl or HTTP here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Self

from .responses import CountResult, SearchResult, _shape_error, _validate

__all__ = [
    "EmailResult",
    "EnrichResult",
    "OperationRequest",
    "PreviewResult",
]


@dataclass(frozen=True)
class OperationRequest:
    """A body to send as one operation (``mode`` as the registry names it)."""

    mode: str
    payload: str  # canonical JSON: the request is hashable and immutable

    @classmethod
    def of(cls, body: dict[str, Any], mode: str = "database") -> Self:
        return cls(mode, json.dumps(body, sort_keys=True, separators=(",", ":")))

    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.payload))


class PreviewResult(SearchResult):
    """A page of masked preview rows (``data.leads``) and its charge."""


class EnrichResult(SearchResult):
    """One full profile bought by id (``leads`` = [profile], or [] when none was found)."""

    @classmethod
    def from_api(cls, payload: Any, *, test_mode: bool = False, path: str | None = None) -> Self:
        """Build from ``{"data": {profile}, "meta": {...}}``; ProtocolError on another shape."""
        data, meta = cls._parts(payload, path)
        return _validate(
            cls,
            {
                "leads": [data] if data else [],
                **cls._charge(meta),
                "test_mode": test_mode,
                "raw_meta": meta,
            },
            payload,
            path,
        )

    @property
    def profile(self) -> dict[str, Any] | None:
        return self.leads[0] if self.leads else None


class EmailResult(CountResult):
    """An email finder answer: the email found (None: a miss) and what Generect said of it."""

    email: str | None = None
    data: dict[str, Any] = {}

    @classmethod
    def from_api(cls, payload: Any, *, test_mode: bool = False, path: str | None = None) -> Self:
        """Build from ``{"data": {"valid_email": ...}, "meta": {...}}``."""
        data, meta = cls._parts(payload, path)
        email = data.get("valid_email")
        if email is not None and not isinstance(email, str):
            raise _shape_error("'data.valid_email' is not text", payload, path)
        return _validate(
            cls,
            {
                "email": email or None,
                "data": data,
                **cls._charge(meta),
                "test_mode": test_mode,
                "raw_meta": meta,
            },
            payload,
            path,
        )
