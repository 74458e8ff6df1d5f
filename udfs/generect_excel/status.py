"""The status row of a GENERECT table: what the answer cost and where it came from
(:class:`SearchInfo`, :func:`status_line`), and the line a table kept after a failed refresh
shows (:class:`HeldTable`, :func:`kept_status_line`). Moved out of :mod:`generect_excel.table`,
which re-exports every name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ._constants import CELL_MESSAGE_MAX

__all__ = [
    "HeldTable",
    "SearchInfo",
    "charge_text",
    "held_table",
    "kept_status_line",
    "status_line",
]


# --------------------------------------------------------------------------- charge metadata


@dataclass(frozen=True)
class SearchInfo:
    """What one search answer cost and where it came from, for the status row.

    ``amount_charged`` is what Generect charged when the answer was fetched (a cached answer
    costs nothing now); ``fetched_at`` is when (UTC); ``results_count`` is Generect's estimate
    of all matches (an int, a string such as ``"within limit"``, or unknown). ``new_rows`` is
    how many rows were new to the register of owned leads when bought (None: not known),
    ``excluded`` how many owned leads the request excluded and ``exclusion`` why.
    """

    results_count: int | str | None
    rows: int
    amount_charged: Decimal
    fetched_at: datetime
    from_cache: bool
    test_mode: bool
    mode: str = "database"
    new_rows: int | None = None
    excluded: int = 0
    exclusion: str = ""

    @classmethod
    def from_answer(cls, answer: Any, *, mode: str) -> SearchInfo:
        """Build from an ``engine.Answer`` holding a ``responses.SearchResult``."""
        result = answer.result
        facts = getattr(result, "register_facts", None) or {}
        return cls(
            results_count=result.results_count,
            rows=len(result.leads),
            amount_charged=Decimal(result.amount_charged),
            fetched_at=answer.fetched_at,
            from_cache=bool(answer.from_cache),
            test_mode=bool(result.test_mode),
            mode=mode,
            new_rows=facts.get("new"),
            excluded=int(facts.get("excluded") or 0),
            exclusion=str(facts.get("rule") or ""),
        )


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _matches_text(count: int | str | None) -> str:
    if isinstance(count, bool):  # a bool is an int to Python, never a count
        count = None
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    if isinstance(count, str) and re.fullmatch(r"\s*\d[\d,]*\s*", count):
        count = int(count.replace(",", ""))
    if isinstance(count, int):
        return _plural(count, "match", "matches")
    if isinstance(count, str) and count.strip():
        return "matches " + " ".join(count.split())  # "matches within limit"
    return "matches unknown"


def _money(amount: Decimal) -> str:
    """Dollars for humans: cents at least, more digits only when the charge has them."""
    amount = Decimal(amount)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    exponent = amount.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{sign}${amount:,.{min(places, 6)}f}"


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:  # the store keeps UTC; a naive time is taken as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def charge_text(amount: Decimal, test_mode: bool) -> str:
    """What an answer cost, in the one wording every status line uses.

    A test key is never debited, but Generect still prices its answers, so the amount is
    shown with "priced, not debited" rather than "charged".

    >>> charge_text(Decimal("0.5"), False), charge_text(Decimal("0.04"), True)
    ('$0.50 charged', '$0.04 priced, not debited')
    """
    return f"{_money(amount)} {'priced, not debited' if test_mode else 'charged'}"


def status_line(info: SearchInfo) -> str:
    """One short line for the status cell.

    >>> from datetime import datetime, UTC
    >>> status_line(SearchInfo(1240, 25, Decimal("0.5"), datetime(2026, 11, 22, 10, 31,
    ...     tzinfo=UTC), from_cache=True, test_mode=False, mode="database"))
    'Generect · 1,240 matches · 25 rows · $0.50 charged · fetched 2026-11-22 10:31 UTC · from cache (no charge now)'
    """
    head = "Generect" if info.mode == "database" else f"Generect {info.mode}"
    parts = [
        head,
        _matches_text(info.results_count),
        _plural(info.rows, "row"),
    ]
    if info.new_rows is not None:
        parts.append(f"{info.new_rows:,} new")
    if info.excluded:
        why = f" ({info.exclusion})" if info.exclusion else ""
        parts.append(f"{info.excluded:,} owned excluded{why}")
    parts += [
        charge_text(info.amount_charged, info.test_mode),
        f"fetched {_when(info.fetched_at)}",
    ]
    if info.from_cache:
        parts.append("from cache (no charge now)")
    if info.test_mode:
        parts.append("TEST MODE")
    return " · ".join(parts)


# --------------------------------------------------------------------------- a failed refresh

STATUS_SEPARATOR = " · "
_FETCHED = re.compile(r"fetched (\d{4}-\d\d-\d\d \d\d:\d\d UTC)")
_ROWS = re.compile(r"(?<![\d,.])(\d[\d,]*) rows?\b")


@dataclass(frozen=True)
class HeldTable:
    """What a status line says about the table already shown under it: its head
    ("Generect", "Generect realtime"), when its data was fetched and how many rows it has."""

    head: str
    fetched: str | None  # "2026-11-22 10:31 UTC", or None when the line does not say
    rows: int | None

    @classmethod
    def from_answer(cls, answer: Any, *, mode: str) -> HeldTable:
        """The table a stored ``engine.Answer`` shows."""
        return cls(
            head="Generect" if mode == "database" else f"Generect {mode}",
            fetched=_when(answer.fetched_at),
            rows=len(answer.result.leads),
        )


def held_table(value: Any) -> HeldTable | None:
    """What a saved status cell says about the table under it, or None when it holds no
    GENERECT table (empty, an error line, "Not fetched yet").

    >>> held_table("Generect · 1,240 matches · 25 rows · $0.50 charged · fetched 2026-11-22 10:31 UTC")
    HeldTable(head='Generect', fetched='2026-11-22 10:31 UTC', rows=25)
    """
    if not isinstance(value, str) or not value.startswith("Generect"):
        return None
    if STATUS_SEPARATOR not in value:
        return None
    head, _, rest = value.partition(STATUS_SEPARATOR)
    fetched = _FETCHED.search(rest)
    rows = _ROWS.search(rest)
    return HeldTable(
        head=head,
        fetched=fetched.group(1) if fetched else None,
        rows=int(rows.group(1).replace(",", "")) if rows else None,
    )


def kept_status_line(
    held: HeldTable, failure: str, *, failed_at: datetime, unknown: bool = False
) -> str:
    """The status line of a table kept because its refresh failed: when the refresh failed,
    what is shown and when it was fetched, then why (the failure's own message).

    ``unknown``: the refresh was sent and its answer lost (it may have been charged); the rows
    are kept all the same, and the line says so.

    >>> from datetime import datetime, UTC
    >>> kept_status_line(HeldTable("Generect", "2026-11-22 10:31 UTC", 25),
    ...     "Cannot reach Generect: check the network.", failed_at=datetime(2026, 12, 3, 8, 40,
    ...     tzinfo=UTC))
    'Generect · refresh failed 2026-12-03 08:40 UTC · showing 25 rows fetched 2026-11-22 10:31 UTC · Cannot reach Generect: check the network.'
    """
    what = "refresh outcome unknown (may have been charged)" if unknown else "refresh failed"
    shown = "showing " + (_plural(held.rows, "row") if held.rows is not None else "the rows")
    shown += f" fetched {held.fetched}" if held.fetched else " fetched earlier"
    reason = " ".join(str(failure).split())
    if len(reason) > CELL_MESSAGE_MAX:
        reason = reason[: CELL_MESSAGE_MAX - 1].rstrip() + "…"
    return STATUS_SEPARATOR.join([held.head, f"{what} {_when(failed_at)}", shown, reason])
