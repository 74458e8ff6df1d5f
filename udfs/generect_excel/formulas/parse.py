"""Find GENERECT_* calls in formula text and read their arguments (no workbook needed).

A formula is tokenized with openpyxl's :class:`~openpyxl.formula.Tokenizer` (Excel's own
grammar: quoted sheet names, doubled quotes in text, array constants), then every
``GENERECT_COUNT/SEARCH/SPEND/BALANCE/VALUES`` call is picked out with its arguments.

Supported argument forms (each becomes an :data:`Arg`):

============================================  ===========================================
``A1:D12``, ``$A$1:$D$12``, ``B15``, ``A:D``,   :class:`Reference` (``sheet`` None: the
``2:5``                                        formula's own sheet)
``Sheet2!A1:B4``, ``'My Sheet'!$A$1:$B$4``     :class:`Reference` on that sheet
``Criteria``, ``Sheet1!Criteria``              :class:`Name` (a defined name: workbook or
                                               sheet scope, resolved by the reader)
``25``, ``-1``, ``1.5E1``, ``"say ""hi"" "``, :class:`Literal` (float, str, bool)
``TRUE``
``{"Job titles","CEO";"Location","Berlin"}``   :class:`ArrayConstant` (rows of literals)
nothing (``GENERECT_SEARCH(A1:B5,,,,"x")``)    :class:`Omitted`
``(A1:B5)``                                    parentheses around one operand are dropped
anything else: ``B1&"x"``, ``TODAY()``,        :class:`Unsupported`: the formula is reported,
``A1:B2 C1:D4``, ``Table1[Col]``, ``A1#``,     not evaluated
``[1]Sheet1!A1``, ``Sheet1:Sheet3!A1``
============================================  ===========================================

Function spellings: ``GENERECT_COUNT``, ``_xludf.GENERECT_COUNT`` (a user-defined function as
Excel may store it) and ``[1]!GENERECT_COUNT`` / ``'Addin.xlam'!GENERECT_COUNT`` (qualified
with the add-in file), any case.

Where the call sits (:class:`ParsedFormula`): ``whole`` is the call when the formula is exactly
one GENERECT call (``=GENERECT_SEARCH(...)``), also when Excel stored an explicit ``@``
(``_xlfn.SINGLE(GENERECT_SEARCH(...))``, then ``single`` is True: the cell shows only the
first value). A call nested in anything else (``=IFERROR(GENERECT_COUNT(A1:B5),0)``) is still
found (the refresher fetches it, so the add-in finds it in the store), but its cell's value
cannot be computed without a spreadsheet engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from openpyxl.formula import Tokenizer
from openpyxl.formula.tokenizer import Token, TokenizerError
from openpyxl.utils.cell import column_index_from_string

from ..functions import FUNCTION_NAMES
from .calls import (
    Arg,
    ArrayConstant,
    Call,
    FormulaSyntaxError,
    Literal,
    Name,
    Omitted,
    ParsedFormula,
    Reference,
    Unsupported,
)

__all__ = [
    "Arg",
    "ArrayConstant",
    "Call",
    "FormulaSyntaxError",
    "Literal",
    "Name",
    "Omitted",
    "ParsedFormula",
    "Reference",
    "Unsupported",
    "mentions_generect",
    "parse_area",
    "parse_expression",
    "parse_formula",
    "parse_reference",
    "replace_arguments",
]

EXCEL_MAX_COLUMN = 16_384
EXCEL_MAX_ROW = 1_048_576


_GENERECT_HINT = re.compile(r"GENERECT_", re.IGNORECASE)
# "GENERECT_COUNT(", "_xludf.GENERECT_COUNT(", "[1]!GENERECT_COUNT(", "'x.xlam'!GENERECT_COUNT("
_FUNC_NAME = re.compile(
    r"^(?:_xludf\.|\[\d+\]!|'(?:[^']|'')+'!|[A-Za-z0-9_.\-]+\.xla[m]?!)?(GENERECT_[A-Z_]+)\($",
    re.IGNORECASE,
)
_SINGLE = re.compile(r"^_xlfn\.SINGLE\($", re.IGNORECASE)

_CELL = r"\$?([A-Za-z]{1,3})\$?(\d+)"
_CELL_RE = re.compile(rf"^{_CELL}$")
_AREA_RE = re.compile(rf"^{_CELL}:{_CELL}$")
_COLUMNS_RE = re.compile(r"^\$?([A-Za-z]{1,3}):\$?([A-Za-z]{1,3})$")
_ROWS_RE = re.compile(r"^\$?(\d+):\$?(\d+)$")
_SPILL_REF = re.compile(r"[A-Za-z]\$?\d+#")
_NAME_RE = re.compile(r"^[A-Za-z_\\][A-Za-z0-9_.\\?]*$")


def mentions_generect(formula: str) -> bool:
    """A cheap test: could this formula call a GENERECT function?"""
    return bool(_GENERECT_HINT.search(formula))


def parse_area(text: str) -> tuple[int, int, int, int] | None:
    """``"A1"``, ``"$A$1:$B$4"``, ``"A:D"``, ``"2:5"`` -> (min_col, min_row, max_col, max_row),
    else None. The corners may come in any order."""
    text = text.strip()
    match = _CELL_RE.match(text)
    if match:
        col, row = _column(match.group(1)), int(match.group(2))
        return _ordered(col, row, col, row)
    match = _AREA_RE.match(text)
    if match:
        return _ordered(
            _column(match.group(1)),
            int(match.group(2)),
            _column(match.group(3)),
            int(match.group(4)),
        )
    match = _COLUMNS_RE.match(text)
    if match:
        return _ordered(_column(match.group(1)), 1, _column(match.group(2)), EXCEL_MAX_ROW)
    match = _ROWS_RE.match(text)
    if match:
        return _ordered(1, int(match.group(1)), EXCEL_MAX_COLUMN, int(match.group(2)))
    return None


def _column(letters: str) -> int:
    return column_index_from_string(letters.upper())


def _ordered(c1: int, r1: int, c2: int, r2: int) -> tuple[int, int, int, int] | None:
    c1, c2 = sorted((c1, c2))
    r1, r2 = sorted((r1, r2))
    if not (c1 >= 1 and c2 <= EXCEL_MAX_COLUMN and r1 >= 1 and r2 <= EXCEL_MAX_ROW):
        return None
    return (c1, r1, c2, r2)


def _split_sheet(text: str) -> tuple[str | None, str]:
    """``'My ''x'' Sheet'!A1`` -> ("My 'x' Sheet", "A1"); ``A1`` -> (None, "A1")."""
    if text.startswith("'"):
        end = 1
        while True:
            end = text.find("'", end)
            if end < 0:
                raise FormulaSyntaxError(f"unbalanced quote in {text}")
            if text[end + 1 : end + 2] == "'":
                end += 2
                continue
            break
        if text[end + 1 : end + 2] != "!":
            raise FormulaSyntaxError(f"expected ! after the sheet name in {text}")
        return text[1:end].replace("''", "'"), text[end + 2 :]
    if "!" in text:
        sheet, _, rest = text.rpartition("!")
        return sheet, rest
    return None, text


def parse_reference(text: str) -> Reference | Name | Unsupported:
    """One reference operand (as the tokenizer gives it) -> Reference, Name or Unsupported."""
    raw = text.strip()
    if raw.startswith("["):
        return Unsupported(raw, "a reference to another workbook")
    if raw.endswith("#"):
        return Unsupported(raw, "a spill reference (A1#)")
    if "[" in raw:
        return Unsupported(raw, "a table (structured) reference")
    try:
        sheet, rest = _split_sheet(raw)
    except FormulaSyntaxError as exc:
        return Unsupported(raw, str(exc))
    if sheet is not None and ":" in sheet:
        return Unsupported(raw, "a reference across several sheets")
    bounds = parse_area(rest)
    if bounds is not None:
        return Reference(sheet, bounds, raw)
    if _NAME_RE.match(rest) and rest.upper() not in ("TRUE", "FALSE"):
        return Name(rest, sheet, raw)
    return Unsupported(raw, "not a cell, a range or a defined name")


def _literal_number(text: str) -> float:
    return float(text)


def _text_value(token_value: str) -> str:
    # "ab""c" -> ab"c
    return token_value[1:-1].replace('""', '"')


def _array_constant(tokens: list[Token], text: str) -> ArrayConstant | Unsupported:
    rows: list[list[Any]] = [[]]
    negative = False
    for token in tokens[1:-1]:  # inside { }
        if token.type == Token.SEP and token.subtype == Token.ARG:
            continue
        if token.type == Token.SEP and token.subtype == Token.ROW:
            rows.append([])
            continue
        if token.type == Token.OP_PRE and token.value == "-":
            negative = not negative
            continue
        if token.type == Token.WSPACE:
            continue
        if token.type != Token.OPERAND or token.subtype == Token.RANGE:
            return Unsupported(text, "an array constant with something other than values")
        value = _operand_literal(token)
        if isinstance(value, Unsupported):
            return Unsupported(text, value.reason)
        if negative and isinstance(value, float):
            value = -value
        negative = False
        rows[-1].append(value)
    return ArrayConstant(tuple(tuple(row) for row in rows), text)


def _operand_literal(token: Token) -> float | str | bool | Unsupported:
    if token.subtype == Token.NUMBER:
        return _literal_number(token.value)
    if token.subtype == Token.TEXT:
        return _text_value(token.value)
    if token.subtype == Token.LOGICAL:
        return token.value.upper() == "TRUE"
    if token.subtype == Token.ERROR:
        return Unsupported(token.value, "an error value")
    return Unsupported(token.value, "not a value")


def _argument(tokens: list[Token]) -> Arg:
    """The tokens of one argument (whitespace removed) -> an Arg."""
    text = "".join(token.value for token in tokens).strip()
    # Drop parentheses around the whole argument: (A1:B5) is A1:B5.
    while (
        len(tokens) >= 3
        and tokens[0].type == Token.PAREN
        and tokens[0].subtype == Token.OPEN
        and tokens[-1].type == Token.PAREN
        and tokens[-1].subtype == Token.CLOSE
        and _balanced(tokens[1:-1])
    ):
        tokens = tokens[1:-1]
    if not tokens:
        return Omitted(text)
    if tokens[0].type == Token.ARRAY and tokens[0].subtype == Token.OPEN:
        if tokens[-1].type == Token.ARRAY and tokens[-1].subtype == Token.CLOSE:
            return _array_constant(tokens, text)
        return Unsupported(text, "an expression")
    negative = False
    while tokens and tokens[0].type == Token.OP_PRE and tokens[0].value in "+-":
        negative ^= tokens[0].value == "-"
        tokens = tokens[1:]
    if len(tokens) != 1 or tokens[0].type != Token.OPERAND:
        return Unsupported(text, "an expression or a function call")
    token = tokens[0]
    if token.subtype == Token.RANGE:
        if negative:
            return Unsupported(text, "an expression")
        reference = parse_reference(token.value)
        if isinstance(reference, Reference | Name):
            return reference
        return reference
    value = _operand_literal(token)
    if isinstance(value, Unsupported):
        return Unsupported(text, value.reason)
    if negative:
        if not isinstance(value, float):
            return Unsupported(text, "an expression")
        value = -value
    return Literal(value, text)


def _balanced(tokens: list[Token]) -> bool:
    depth = 0
    for token in tokens:
        if token.subtype == Token.OPEN:
            depth += 1
        elif token.subtype == Token.CLOSE:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _canonical(name_token: str) -> str | None:
    match = _FUNC_NAME.match(name_token)
    if not match:
        return None
    name = match.group(1).upper()
    return name if name in FUNCTION_NAMES else None


def _tokens(text: str) -> list[Token]:
    """The formula's tokens without whitespace; FormulaSyntaxError if it cannot be read."""
    try:
        return [t for t in Tokenizer(text).items if t.type != Token.WSPACE]
    except TokenizerError as exc:
        if _SPILL_REF.search(text):  # the tokenizer predates Excel's A1# spill references
            raise FormulaSyntaxError(
                "spill references (A1#) cannot be read from a file: use the range instead"
            ) from None
        raise FormulaSyntaxError(str(exc)) from None


def _generect_calls(tokens: list[Token]) -> Iterator[tuple[int, int, Call]]:
    """Each GENERECT call among ``tokens``, outermost first: (index of its ``NAME(`` token,
    index of its closing token, the call with one argument per parameter)."""
    for start, token in enumerate(tokens):
        if token.type != Token.FUNC or token.subtype != Token.OPEN:
            continue
        function = _canonical(token.value)
        if function is None:
            continue
        end, pieces = _call_arguments(tokens, start)
        params = FUNCTION_NAMES[function]
        args: list[Arg] = [_argument(piece) for piece in pieces]
        if len(args) == 1 and isinstance(args[0], Omitted) and not params:
            args = []
        extra = max(0, len(args) - len(params))
        args = args[: len(params)] + [Omitted()] * (len(params) - len(args))
        yield start, end, Call(function, tuple(args), extra)


def parse_formula(formula: str) -> ParsedFormula:
    """Every GENERECT call in ``formula`` (with or without the leading ``=``).

    Raises :class:`FormulaSyntaxError` when the formula cannot be tokenized.

    >>> parse_formula('=GENERECT_SEARCH(A1:B5,,,,"realtime")').whole.args[4]
    Literal(value='realtime', text='"realtime"')
    """
    text = formula if formula.startswith("=") else "=" + formula
    tokens = _tokens(text)
    calls = list(_generect_calls(tokens))
    whole: Call | None = None
    single = False
    if calls:
        start, end, call = calls[0]
        if start == 0 and end == len(tokens) - 1:
            whole = call
        elif (
            start == 1
            and end == len(tokens) - 2
            and _SINGLE.match(tokens[0].value)
            and tokens[-1].type == Token.FUNC
        ):
            whole, single = call, True
    return ParsedFormula(text, tuple(call for _, _, call in calls), whole, single)


def parse_expression(text: str) -> Arg:
    """One argument-like expression (a defined name's value such as ``Sheet1!$A$1:$B$4`` or
    ``25``) -> an :data:`Arg`. Anything unreadable is :class:`Unsupported`."""
    body = text.strip()
    if body.startswith("="):
        body = body[1:]
    try:
        tokens = [t for t in Tokenizer("=" + body).items if t.type != Token.WSPACE]
    except TokenizerError:
        return Unsupported(body, "not a cell, a range or a value")
    return _argument(tokens)


def _call_arguments(tokens: list[Token], start: int) -> tuple[int, list[list[Token]]]:
    """From the FUNC OPEN token at ``start``: (index of its closing token, argument tokens)."""
    pieces: list[list[Token]] = [[]]
    depth = 0
    for index in range(start + 1, len(tokens)):
        token = tokens[index]
        if token.subtype == Token.OPEN:
            depth += 1
        elif token.subtype == Token.CLOSE:
            if depth == 0:
                return index, pieces
            depth -= 1
        elif depth == 0 and token.type == Token.SEP and token.subtype == Token.ARG:
            pieces.append([])
            continue
        pieces[-1].append(token)
    raise FormulaSyntaxError("a function call is not closed")


def _token_spans(text: str, tokens: list[Token]) -> list[tuple[int, int]]:
    """Where each (non-whitespace) token sits in ``text``: the tokenizer folds runs of spaces
    into one token, so positions are found by walking the text, not by adding lengths."""
    spans = []
    pos = 1 if text.startswith("=") else 0
    for token in tokens:
        while pos < len(text) and text[pos].isspace() and not text.startswith(token.value, pos):
            pos += 1
        if not text.startswith(token.value, pos):
            raise FormulaSyntaxError(f"cannot place {token.value!r} in {text}")
        spans.append((pos, pos + len(token.value)))
        pos += len(token.value)
    return spans


def replace_arguments(formula: str, replace: Callable[[Call], Mapping[str, str] | None]) -> str:
    """``formula`` with some arguments of its GENERECT calls replaced, every other character
    kept. ``replace(call)`` returns {parameter name: new argument text} for that call (None or
    empty: leave it). An argument left out is added, with empty ones before it:

    >>> replace_arguments('=GENERECT_SEARCH(A1:B5)', lambda call: {"refresh": '"r:1"'})
    '=GENERECT_SEARCH(A1:B5,,,,,"r:1")'

    Raises :class:`FormulaSyntaxError` when the formula cannot be tokenized.
    """
    text = formula if formula.startswith("=") else "=" + formula
    tokens = _tokens(text)
    spans = _token_spans(text, tokens)
    edits: list[tuple[int, int, str]] = []
    for start, end, call in _generect_calls(tokens):
        params = FUNCTION_NAMES[call.function]
        wanted = replace(call) or {}
        # The tokens around each argument slot: "(" or "," before it, "," or ")" after it.
        fences = [start]
        depth = 0
        for i in range(start + 1, end):
            if tokens[i].subtype == Token.OPEN:
                depth += 1
            elif tokens[i].subtype == Token.CLOSE:
                depth -= 1
            elif depth == 0 and tokens[i].type == Token.SEP and tokens[i].subtype == Token.ARG:
                fences.append(i)
        fences.append(end)
        slots = len(fences) - 1  # "F()" has one, empty
        for name, new_text in wanted.items():
            k = params.index(name)
            if k < slots:
                before, after = fences[k], fences[k + 1]
                if after - before > 1:  # the old argument: its first to its last token
                    edits.append((spans[before + 1][0], spans[after - 1][1], new_text))
                else:
                    edits.append((spans[before][1], spans[before][1], new_text))
            else:
                at = spans[end][0]
                edits.append((at, at, "," * (k - slots + 1) + new_text))
    # An edit inside an argument that is replaced (a nested call) goes with that argument.
    kept: list[tuple[int, int, str]] = []
    for edit in sorted(edits, key=lambda e: (e[0], -e[1])):
        if kept and edit[0] < kept[-1][1]:
            continue
        kept.append(edit)
    out = text
    for lo, hi, new_text in reversed(kept):
        out = out[:lo] + new_text + out[hi:]
    return out if formula.startswith("=") else out[1:]
