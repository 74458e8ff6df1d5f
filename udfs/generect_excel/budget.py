"""The budget: what a request may cost at worst, and whether the caps allow it. Pure functions.

The worst case of a search is ``limit_by`` x the published price per row of its mode (database
$0.02, realtime $0.04), doubled when ``include_full_profile`` is set (Generect bills the
profile as one enrichment per lead on top of the search). A search without ``limit_by`` is
assumed to return the most a filter-only search can: 2,400 rows. A realtime count costs its
flat price; a database count is free. The truth is always the answer's
``meta.amount_charged``: the estimate only decides whether to send.

Two caps, from settings (``max_spend_per_request``/``GENERECT_MAX_SPEND_PER_REQUEST`` and
``max_spend_per_day``/``GENERECT_MAX_SPEND_PER_DAY``): a request whose worst case exceeds the
first, or would take the day's ledger total past the second, is refused with
:class:`~generect_excel.errors.BudgetError` before anything is sent. A cap of 0 forbids every
paid call. Test-mode keys (``test_...``) are never debited, so they never count against a cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from . import _constants as C
from .errors import BudgetError
from .settings import ENV_VARS

__all__ = [
    "DryRunTotal",
    "Estimate",
    "Kind",
    "check",
    "dry_run_total",
    "estimate_cost",
    "format_money",
    "price_per_row",
    "worst_case_rows",
]

Kind = Literal["search", "count"]
Mode = Literal["database", "realtime"]

ZERO = Decimal("0")


class _Request(Protocol):
    mode: Any

    def body(self) -> dict[str, Any]: ...


def format_money(amount: Decimal) -> str:
    """``$1.50``, ``$0.004``: cents, or more digits only when the amount has them."""
    if amount == amount.quantize(Decimal("0.01")):
        return f"${amount:.2f}"
    return f"${amount.normalize():f}"


def price_per_row(mode: str) -> Decimal:
    """The published price of one returned lead in ``mode``."""
    return C.PRICE_REALTIME_ROW if mode == "realtime" else C.PRICE_DATABASE_ROW


def _body(request: _Request | Mapping[str, Any]) -> Mapping[str, Any]:
    return request if isinstance(request, Mapping) else request.body()


def worst_case_rows(request: _Request | Mapping[str, Any]) -> int:
    """The most rows a search can return (and bill): its ``limit_by``, else the maximum."""
    limit = _body(request).get("limit_by")
    return int(limit) if limit is not None else C.MAX_LIMIT


def estimate_cost(
    request: _Request | Mapping[str, Any], kind: Kind, mode: str | None = None
) -> Decimal:
    """The worst-case cost in USD of sending ``request`` as a ``kind`` ("search"/"count").

    ``request`` is a request model (its ``.body()`` and ``.mode`` are used) or a body mapping,
    in which case ``mode`` is required.

    >>> estimate_cost({"job_titles": ["CEO"], "limit_by": 25}, "search", "database")
    Decimal('0.50')
    """
    if mode is None:
        if isinstance(request, Mapping):
            raise TypeError("mode is required when request is a plain mapping")
        mode = str(request.mode)
    if kind == "count":
        return C.PRICE_REALTIME_COUNT if mode == "realtime" else C.PRICE_DATABASE_COUNT
    if kind != "search":
        raise ValueError(f"kind must be 'search' or 'count', got {kind!r}")
    amount = worst_case_rows(request) * price_per_row(mode)
    if _body(request).get("include_full_profile"):
        amount *= 2
    return amount


@dataclass(frozen=True)
class Estimate:
    """What one request would cost now, at worst.

    ``amount`` is the worst case if it were sent; ``cached`` says an answer is already stored
    (a refresh would pay ``amount`` again, a plain recalculation nothing); ``test_mode`` says it
    would not be debited. ``cost`` is what it would really spend without a refresh.
    """

    kind: Kind
    mode: str
    amount: Decimal
    rows: int
    cached: bool = False
    test_mode: bool = False

    @property
    def cost(self) -> Decimal:
        """What sending it without a refresh would be debited, at worst."""
        return ZERO if self.cached or self.test_mode else self.amount

    @property
    def refresh_cost(self) -> Decimal:
        """What fetching it afresh would be debited, at worst."""
        return ZERO if self.test_mode else self.amount


def check(
    estimate: Decimal,
    spent_today: Decimal,
    settings: Any,
    *,
    test_mode: bool = False,
    what: str = "This request",
    reserved: Decimal = ZERO,
) -> None:
    """Raise :class:`BudgetError` if ``estimate`` breaks a cap given ``spent_today`` (the
    day's ledger) and ``reserved`` (the worst cases of paid calls in flight, not charged yet).

    ``settings`` needs ``max_spend_per_request`` and ``max_spend_per_day``. The error's message
    names the estimate, the cap, what was spent and what is reserved, and the variable that
    raises the cap (``what`` names the request in the details); it also carries ``estimate``,
    ``cap``, ``spent_today``, ``reserved`` and ``setting`` attributes.
    """
    if test_mode or estimate <= 0:
        return
    per_request = Decimal(settings.max_spend_per_request)
    per_day = Decimal(settings.max_spend_per_day)
    if estimate > per_request:
        raise _breach(
            f"May cost up to {format_money(estimate)}, over the {format_money(per_request)} "
            f"per-request cap: lower the limit or raise {ENV_VARS['max_spend_per_request']}.",
            estimate=estimate,
            cap=per_request,
            spent_today=spent_today,
            setting="max_spend_per_request",
            what=what,
            reserved=reserved,
            config_file=getattr(settings, "config_file", None),
        )
    if spent_today + reserved + estimate > per_day:
        raise _breach(
            _day_message(estimate, per_day, spent_today, reserved),
            estimate=estimate,
            cap=per_day,
            spent_today=spent_today,
            setting="max_spend_per_day",
            what=what,
            reserved=reserved,
            config_file=getattr(settings, "config_file", None),
        )


def _day_message(estimate: Decimal, cap: Decimal, spent: Decimal, reserved: Decimal) -> str:
    """The daily cap's refusal, in one cell-sized line: what was spent and what calls in
    flight hold are told apart (a reservation is not a charge)."""
    raise_it = f"Raise {ENV_VARS['max_spend_per_day']}."
    if not reserved:
        return (
            f"Up to {format_money(estimate)} more would pass today's {format_money(cap)} "
            f"cap ({format_money(spent)} spent). {raise_it}"
        )
    held = f"{format_money(spent)} spent, {format_money(reserved)} reserved"
    message = (
        f"{format_money(estimate)} more passes today's {format_money(cap)} cap "
        f"({held} by calls in flight). {raise_it}"
    )
    if len(message) <= C.CELL_MESSAGE_MAX:
        return message
    short = f"{format_money(spent)} spent, {format_money(reserved)} in flight"
    return f"{format_money(estimate)} more passes today's {format_money(cap)} cap ({short}). {raise_it}"


def _breach(
    message: str,
    *,
    estimate: Decimal,
    cap: Decimal,
    spent_today: Decimal,
    setting: str,
    what: str,
    reserved: Decimal,
    config_file: Any = None,
) -> BudgetError:
    # The CLI prints the whole: where the cap is set; a cell keeps the first sentence.
    where = f"`{setting} = ...` in {config_file}" if config_file else f"`{setting}` in the config"
    error = BudgetError(
        f"{message} Nothing was sent. The cap is {ENV_VARS[setting]} or {where}.",
        short=message,
        details=(
            f"{what} was refused: {message} Nothing was sent. Worst case {format_money(estimate)}; "
            f"spent today {format_money(spent_today)} (unknown outcomes at their worst case); "
            f"reserved by paid calls in flight {format_money(reserved)}; "
            f"cap {format_money(cap)}. Raise it with "
            f"the environment variable {ENV_VARS[setting]} or `{setting} = ...` in the config "
            "file (generect-excel's config.toml)."
        ),
    )
    error.estimate = estimate  # type: ignore[attr-defined]
    error.cap = cap  # type: ignore[attr-defined]
    error.spent_today = spent_today  # type: ignore[attr-defined]
    error.reserved = reserved  # type: ignore[attr-defined]
    error.setting = setting  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True)
class DryRunTotal:
    """The sum of many :class:`Estimate` objects, for ``--dry-run``.

    ``cost`` is what running them now would spend at worst (cached answers are free);
    ``refresh_cost`` what fetching all of them afresh would; ``requests``, ``cached`` and
    ``paid`` count them.
    """

    requests: int
    cached: int
    paid: int
    cost: Decimal
    refresh_cost: Decimal

    def summary(self) -> str:
        """One line for a person: "12 requests (4 cached): up to $3.20 now, $5.00 refreshed"."""
        return (
            f"{self.requests} request(s) ({self.cached} cached): up to {format_money(self.cost)} "
            f"now, {format_money(self.refresh_cost)} if all are refreshed"
        )


def dry_run_total(estimates: Iterable[Estimate]) -> DryRunTotal:
    """Add up estimates (identical requests should be passed once: they are paid once)."""
    items = list(estimates)
    return DryRunTotal(
        requests=len(items),
        cached=sum(1 for e in items if e.cached),
        paid=sum(1 for e in items if e.cost > 0),
        cost=sum((e.cost for e in items), ZERO),
        refresh_cost=sum((e.refresh_cost for e in items), ZERO),
    )
