"""The worksheet functions' arguments read into a request: cell values to scalars, criteria
blocks to a parsed (and kept) request, paging (moved out of :mod:`generect_excel.functions`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._constants import STORE_MEMO_ENTRIES
from ..criteria import criteria_from_block, with_paging
from ..errors import CriteriaError, ProtocolError
from ..memo import BoundedMemo
from ..models import LeadSearchRequest, parse_mode

# GENERECT_SEARCH's page size when neither the formula nor the criteria say: small, so a
# half-built sheet never buys thousands of rows by accident.
DEFAULT_SEARCH_LIMIT = 25

# (function, arguments frozen with their types) -> the request they parse to.
_REQUESTS: BoundedMemo[Any, LeadSearchRequest] = BoundedMemo(
    STORE_MEMO_ENTRIES, 4 * STORE_MEMO_ENTRIES
)


def _cells(value: Any) -> Iterator[Any]:
    """Every cell of a range, row by row (a bare value is one cell)."""
    if isinstance(value, list | tuple):
        for item in value:
            yield from _cells(item)
    else:
        yield value


def scalar(value: Any, name: str, *, blank_is_omitted: bool = True) -> Any:
    """One value from an argument that may come as a 1x1 range (``[[v]]`` or ``[v]``).

    Raises :class:`CriteriaError` when a range of several cells (or none) is given where one
    value is expected. Blank text counts as empty (``None``) unless ``blank_is_omitted`` is
    False.
    """
    if isinstance(value, list | tuple):
        cells = list(_cells(value))
        if len(cells) != 1:
            # A reference is clipped to the sheet's used area: its count may not be the
            # range's size, so the message does not quote it.
            size = "a range of several cells" if cells else "an empty range"
            raise CriteriaError(
                f"{name}: expected one cell or value, got {size}. Point it at a single cell."
            )
        value = cells[0]
    if blank_is_omitted and isinstance(value, str) and not value.strip():
        return None
    return value


def _page_number(value: Any, name: str, label: str) -> Any:
    """``limit``/``offset``: one value; empty text is an error, not the default."""
    value = scalar(value, name, blank_is_omitted=False)
    if isinstance(value, str) and not value.strip():
        raise CriteriaError(
            f"{label}: empty text is not a number. Leave it out (or its cell empty) for the "
            "default, or give a whole number."
        )
    return value


def _frozen(value: Any) -> Any:
    """A hashable twin of an argument that keeps each value's type (``1.0``, ``1`` and
    ``True`` are equal in Python, not in a criteria range). Raises TypeError when a value
    cannot be hashed."""
    if isinstance(value, list | tuple):
        return (value.__class__, tuple([_frozen(item) for item in value]))
    hash(value)
    return (value.__class__, value)


def _memoized_request(key: Any, parse: Any) -> LeadSearchRequest:
    """``parse()``, or the request it gave for the same ``key`` last time."""
    try:
        frozen = _frozen(key)
    except TypeError:  # an unhashable cell value: parse it every time
        return parse()
    request = _REQUESTS.get(frozen)
    if request is None:
        request = parse()
        _REQUESTS.put(frozen, request)
    return request


def _block(criteria: Any) -> Any:
    # A single cell or text arrives as a bare value; the criteria parser takes any shape.
    if criteria is None:
        raise CriteriaError(
            "No criteria: give the range holding your filters as the first argument."
        )
    return criteria


def request_for_count(
    criteria: Any, mode: Any = None, *, origin: tuple[int, int] | None = None
) -> LeadSearchRequest:
    """The validated count request for a criteria block (raises CriteriaError; free).

    ``origin``: the sheet row and column of the block's top left cell when the caller knows
    them (the refresher does): problems then name the sheet's rows instead of the block's.
    """
    return _memoized_request(
        ("count", criteria, mode, origin),
        lambda: criteria_from_block(
            _block(criteria), mode=parse_mode(scalar(mode, "mode")), origin=origin
        ),
    )


def request_for_search(
    criteria: Any,
    limit: Any = None,
    offset: Any = None,
    mode: Any = None,
    *,
    origin: tuple[int, int] | None = None,
) -> LeadSearchRequest:
    """The validated search request: criteria, then the page (``limit``/``offset``).

    An omitted limit keeps the criteria's own ``limit_by``, else :data:`DEFAULT_SEARCH_LIMIT`.
    ``origin`` as for :func:`request_for_count`.
    """
    return _memoized_request(
        ("search", criteria, limit, offset, mode, origin),
        lambda: _parse_search(criteria, limit, offset, mode, origin),
    )


def _parse_search(
    criteria: Any, limit: Any, offset: Any, mode: Any, origin: tuple[int, int] | None = None
) -> LeadSearchRequest:
    request = criteria_from_block(
        _block(criteria), mode=parse_mode(scalar(mode, "mode")), origin=origin
    )
    limit = _page_number(limit, "limit", "Limit")
    offset = _page_number(offset, "offset", "Offset")
    if limit is None and request.body().get("limit_by") is None:
        limit = DEFAULT_SEARCH_LIMIT
    if limit is None and offset is None:
        return request
    return with_paging(request, limit=limit, offset=offset)


def _count_value(answer: Any) -> int | str:
    count = answer.result.results_count
    if count is None:
        raise ProtocolError("Generect's count answer had no results_count. Refresh later.")
    return count
