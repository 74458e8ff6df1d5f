"""What a formula's GENERECT calls are made of: a call, its arguments (literals, references,
names, array constants, what is not supported), a parsed formula (moved out of
:mod:`generect_excel.formulas.parse`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..functions import FUNCTION_NAMES


class FormulaSyntaxError(ValueError):
    """A formula the tokenizer cannot read (unbalanced quotes or brackets)."""


@dataclass(frozen=True)
class Omitted:
    """An optional argument left out (``f(A1,,3)``, or fewer arguments than the maximum)."""

    text: str = ""


@dataclass(frozen=True)
class Literal:
    """A constant: a number (float, as Excel hands numbers over), text, or TRUE/FALSE."""

    value: float | str | bool
    text: str = ""


@dataclass(frozen=True)
class ArrayConstant:
    """An array constant ``{1,2;3,4}``: rows of literal values."""

    rows: tuple[tuple[Any, ...], ...]
    text: str = ""


@dataclass(frozen=True)
class Reference:
    """A cell or range: ``bounds`` is (min_col, min_row, max_col, max_row), 1-based;
    a whole column has rows 1..EXCEL_MAX_ROW (the reader clips it to the used area)."""

    sheet: str | None
    bounds: tuple[int, int, int, int]
    text: str = ""

    @property
    def is_cell(self) -> bool:
        """Whether it is one cell."""
        c1, r1, c2, r2 = self.bounds
        return c1 == c2 and r1 == r2


@dataclass(frozen=True)
class Name:
    """A defined name, optionally qualified with a sheet (``Sheet1!Criteria``)."""

    name: str
    sheet: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Unsupported:
    """An argument the refresher cannot read from a file (an expression, a function call)."""

    text: str
    reason: str


Arg = Omitted | Literal | ArrayConstant | Reference | Name | Unsupported


@dataclass(frozen=True)
class Call:
    """One GENERECT_* call: its canonical function name and its arguments, in order.

    ``args`` has one entry per position up to the function's last parameter (missing ones are
    :class:`Omitted`); ``extra`` counts arguments beyond the function's signature.
    """

    function: str
    args: tuple[Arg, ...]
    extra: int = 0

    def arg(self, name: str) -> Arg:
        """The argument for parameter ``name`` (see ``functions.FUNCTION_NAMES``)."""
        return self.args[FUNCTION_NAMES[self.function].index(name)]


@dataclass(frozen=True)
class ParsedFormula:
    """Every GENERECT call of one formula, and the call that is the whole formula, if any."""

    text: str
    calls: tuple[Call, ...] = field(default_factory=tuple)
    whole: Call | None = None
    single: bool = False  # the whole call is wrapped in @ (``_xlfn.SINGLE``)
