"""Formula discovery: every argument form the refresher reads, table-driven."""

from __future__ import annotations

import pytest

from generect_excel.formulas.parse import (
    EXCEL_MAX_ROW,
    ArrayConstant,
    FormulaSyntaxError,
    Literal,
    Name,
    Omitted,
    Reference,
    Unsupported,
    parse_area,
    parse_expression,
    parse_formula,
)

# (formula, expected function, expected args in order)
ARGUMENT_FORMS = [
    ("=GENERECT_COUNT(A1:D12)", "GENERECT_COUNT", [Reference(None, (1, 1, 4, 12))]),
    ("=GENERECT_COUNT($A$2:$D$12)", "GENERECT_COUNT", [Reference(None, (1, 2, 4, 12))]),
    ("=GENERECT_COUNT(D12:A1)", "GENERECT_COUNT", [Reference(None, (1, 1, 4, 12))]),
    ("=GENERECT_COUNT(Sheet2!A1:B4)", "GENERECT_COUNT", [Reference("Sheet2", (1, 1, 2, 4))]),
    (
        "=GENERECT_COUNT('My Sheet'!$A$1:$B$4)",
        "GENERECT_COUNT",
        [Reference("My Sheet", (1, 1, 2, 4))],
    ),
    (
        "=GENERECT_COUNT('Bob''s leads'!A1:B4)",
        "GENERECT_COUNT",
        [Reference("Bob's leads", (1, 1, 2, 4))],
    ),
    ("=GENERECT_COUNT(A:B)", "GENERECT_COUNT", [Reference(None, (1, 1, 2, EXCEL_MAX_ROW))]),
    ("=GENERECT_COUNT(Criteria)", "GENERECT_COUNT", [Name("Criteria")]),
    ("=GENERECT_COUNT(Sheet1!Criteria)", "GENERECT_COUNT", [Name("Criteria", "Sheet1")]),
    ("=GENERECT_COUNT((A1:B2))", "GENERECT_COUNT", [Reference(None, (1, 1, 2, 2))]),
    (
        '=GENERECT_COUNT(A1:B5,"realtime",TRUE)',
        "GENERECT_COUNT",
        [Reference(None, (1, 1, 2, 5)), Literal("realtime"), Literal(True)],
    ),
    (
        '=GENERECT_SEARCH(A1:B5,,,,"realtime")',
        "GENERECT_SEARCH",
        [Reference(None, (1, 1, 2, 5)), Omitted(), Omitted(), Omitted(), Literal("realtime")],
    ),
    (
        "=GENERECT_SEARCH(A1:B5, $B$15 , 1.5E1)",
        "GENERECT_SEARCH",
        [Reference(None, (1, 1, 2, 5)), Reference(None, (2, 15, 2, 15)), Literal(15.0)],
    ),
    (
        "=GENERECT_SEARCH(A1:B5,-5,+3)",
        "GENERECT_SEARCH",
        [Reference(None, (1, 1, 2, 5)), Literal(-5.0), Literal(3.0)],
    ),
    (
        '=GENERECT_SEARCH(A1:B5,10,0,"full_name, ""quoted"" name")',
        "GENERECT_SEARCH",
        [
            Reference(None, (1, 1, 2, 5)),
            Literal(10.0),
            Literal(0.0),
            Literal('full_name, "quoted" name'),
        ],
    ),
    (
        '=GENERECT_SEARCH({"Job titles","CEO";"Location",-2})',
        "GENERECT_SEARCH",
        [ArrayConstant((("Job titles", "CEO"), ("Location", -2.0)))],
    ),
    ('=_xludf.GENERECT_VALUES("Seniority")', "GENERECT_VALUES", [Literal("Seniority")]),
    ("=[1]!GENERECT_BALANCE()", "GENERECT_BALANCE", []),
    ("='Generect.xlam'!GENERECT_SPEND()", "GENERECT_SPEND", [Omitted()]),
    ('=generect_spend("month")', "GENERECT_SPEND", [Literal("month")]),
]


def _shape(arg):
    # Compare without the source text, which is kept only for messages.
    if isinstance(arg, Reference):
        return Reference(arg.sheet, arg.bounds)
    if isinstance(arg, Name):
        return Name(arg.name, arg.sheet)
    if isinstance(arg, Literal):
        return Literal(arg.value)
    if isinstance(arg, ArrayConstant):
        return ArrayConstant(arg.rows)
    if isinstance(arg, Omitted):
        return Omitted()
    return arg


@pytest.mark.parametrize(("formula", "function", "args"), ARGUMENT_FORMS)
def test_argument_forms(formula: str, function: str, args: list) -> None:
    parsed = parse_formula(formula)
    assert parsed.whole is not None, formula
    assert parsed.whole.function == function
    got = [_shape(a) for a in parsed.whole.args]
    # Trailing optional arguments left out are Omitted.
    assert got[: len(args)] == args
    assert all(isinstance(a, Omitted) for a in got[len(args) :])


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ('B1&"x"', "expression"),
        ("TODAY()", "function call"),
        ("Table1[Company]", "structured"),
        ("[1]Sheet1!A1", "another workbook"),
        ("Sheet1:Sheet3!A1", "several sheets"),
        ("#N/A", "error value"),
        ("-A1", "expression"),
    ],
)
def test_unsupported_arguments_say_why(argument: str, reason: str) -> None:
    parsed = parse_formula(f"=GENERECT_COUNT(A1:B2,{argument})")
    mode = parsed.whole.args[1]
    assert isinstance(mode, Unsupported)
    assert reason in mode.reason


def test_spill_reference_is_a_clear_syntax_error() -> None:
    with pytest.raises(FormulaSyntaxError, match="spill references"):
        parse_formula("=GENERECT_COUNT(A1#)")


@pytest.mark.parametrize(
    ("formula", "whole", "single", "calls"),
    [
        ("=GENERECT_COUNT(A1:B2)", True, False, 1),
        ("=_xlfn.SINGLE(GENERECT_SEARCH(A1:B2))", True, True, 1),
        ("=IFERROR(GENERECT_COUNT(A1:B2),0)", False, False, 1),
        ("=GENERECT_COUNT(A1:B2)+GENERECT_COUNT(C1:D2)", False, False, 2),
        ('=GENERECT_VALUES("Seniority")&""', False, False, 1),
        ("=SUM(A1:A3)", False, False, 0),
        ("=GENERECT_NOTAFUNCTION(A1)", False, False, 0),
    ],
)
def test_where_the_call_sits(formula: str, whole: bool, single: bool, calls: int) -> None:
    parsed = parse_formula(formula)
    assert (parsed.whole is not None) is whole
    assert parsed.single is single
    assert len(parsed.calls) == calls


def test_extra_arguments_are_counted() -> None:
    parsed = parse_formula('=GENERECT_SPEND("month", "me", 3)')  # two arguments, one extra
    assert parsed.whole.extra == 1
    assert parsed.whole.arg("period") == Literal("month", '"month"')


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("A1", (1, 1, 1, 1)),
        ("$XFD$1048576", (16384, 1048576, 16384, 1048576)),
        ("B2:A1", (1, 1, 2, 2)),
        ("2:5", (1, 2, 16384, 5)),
        ("XFE1", None),
        ("A0", None),
        ("Criteria", None),
    ],
)
def test_parse_area(text: str, bounds: tuple | None) -> None:
    assert parse_area(text) == bounds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'Lead list'!$A$2:$D$12", Reference("Lead list", (1, 2, 4, 12))),
        ("=25", Literal(25.0)),
        ('"database"', Literal("database")),
        ("OFFSET(A1,0,0,5,2)", Unsupported),
    ],
)
def test_defined_name_values(value: str, expected) -> None:
    parsed = parse_expression(value)
    if expected is Unsupported:
        assert isinstance(parsed, Unsupported)
    else:
        assert _shape(parsed) == expected
