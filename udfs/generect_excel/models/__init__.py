"""Lead search requests: what may be sent to Generect, checked before anything is sent.

Two pydantic models follow Generect's spec: :class:`LeadSearchRequest` (database mode) and
:class:`RealtimeLeadSearchRequest` (realtime mode, a superset), plus the fields the seed pages
list (``without_company``). The same models serve search and count: count simply ignores
paging.

Everything the API would reject and that can be known in advance fails here, for free, as one
:class:`~generect_excel.errors.CriteriaError` listing every problem in words an analyst can act
on. :func:`build_request` is the entry point; it never lets a pydantic ``ValidationError`` out.

Rules enforced:

- unknown fields are refused, naming the closest field; a realtime-only field in database mode
  says so ("keywords works only in realtime mode: use mode realtime");
- vocabulary fields (seniorities, company sizes, company types, industries, filter_empty_vars)
  are normalized to the API's spelling (:func:`generect_excel.vocab.normalize_value`);
- list fields are stripped, emptied values dropped, duplicates removed (first one kept);
- strict types: booleans are booleans, ``schools``/``groups`` and the ``years_*`` fields are
  lists of whole numbers (``years_*`` in 1..5), ``company_id`` a whole number;
- at most one company anchor (``company_name``, ``company_link``, ``company_id``, or realtime's
  ``find_by_emails``, whose shared domain anchors the search);
- at least one filter (see :data:`FILTER_FIELDS`: options, paging and exclusions alone are not
  a search);
- ``limit_by`` 1..2400, ``offset_by`` 0..2399 and their sum at most 2400 for searches without a
  company anchor (Generect's limits for filter-only searches).
"""

from __future__ import annotations

from .build import (
    build_request,
    canonical_json,
    field_problems,
    parse_mode,
    request_class,
    with_paging,
)
from .requests import (
    ANCHOR_FIELDS,
    DATABASE_FIELDS,
    FILTER_FIELDS,
    LOCAL_FIELDS,
    MODES,
    OPTION_FIELDS,
    REALTIME_FIELDS,
    REALTIME_ONLY_FIELDS,
    LeadSearchRequest,
    Mode,
    RealtimeLeadSearchRequest,
    wire_body,
)

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
    "build_request",
    "canonical_json",
    "field_problems",
    "parse_mode",
    "request_class",
    "wire_body",
    "with_paging",
]
