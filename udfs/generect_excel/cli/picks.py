"""``generect-excel preview``, ``enrich`` and ``email``: preview, buy only what you pick, emails.

The same calls as ``=GENERECT_PREVIEW``, ``=GENERECT_ENRICH`` and ``=GENERECT_EMAIL``
(:mod:`generect_excel.picks`), through the engine: stored, priced before, ledgered after;
an already-owned lead is never bought again.

Example::

    generect-excel preview criteria.toml --limit 500 --csv preview.csv
    generect-excel enrich --ids-file picked.csv --csv bought.csv
    generect-excel email ACwAAA... https://www.linkedin.com/in/jordan-ellis
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from .core import (
    _cut,
    _engine,
    _refresh_value,
    add_criteria_arguments,
    check_output_folder,
    load_criteria,
    open_output,
)

__all__ = ["email", "enrich", "preview", "register"]

EXIT_OK = 0


def _origin(what: str) -> Any:
    from ..ledger import Origin

    return Origin(workbook=f"cli:{what}")


def _write(table: list[list[Any]], out: str | None) -> None:
    """Rows (a header first) to ``out`` as CSV, or to the terminal as a plain table."""
    from .ledger_view import csv_safe

    if out:
        with open_output(out) as fh:
            writer = csv.writer(fh)
            for row in table:
                writer.writerow(["" if v is None else csv_safe(v) for v in row])
        print(f"wrote {len(table) - 1} row(s) to {out}", file=sys.stderr)
        return
    cells = [[_cut(v) for v in row] for row in table]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def preview(args: argparse.Namespace) -> int:
    """Masked rows with their ids for a criteria file ($0.002 a row); ``--dry-run`` prints the
    body preview would send and its worst case, and sends nothing (check-criteria for preview).
    """
    from ..budget import format_money
    from ..picks import preview_request_for, run_preview

    request = preview_request_for(load_criteria(args), args.limit, args.offset)
    engine = _engine()
    if args.dry_run:
        estimate = engine.estimate(request, "preview")
        print(json.dumps(request.body(), indent=2, ensure_ascii=False))
        now = (
            "free now (answer stored)"
            if estimate.cached
            else f"up to {format_money(estimate.cost)}"
        )
        print(f"preview: {now}", file=sys.stderr)
        return EXIT_OK
    if args.csv:
        check_output_folder(args.csv)
    table, _ = run_preview(
        engine, request, refresh=_refresh_value(args), origin=_origin(Path(args.file).name)
    )
    _write(table[1:], args.csv)
    print(table[0][0], file=sys.stderr)
    return EXIT_OK


def _ids_from(args: argparse.Namespace) -> list[str]:
    from ..errors import CriteriaError
    from ..picks import picked_ids

    ids: list[Any] = list(args.ids)
    if args.ids_file:
        path = Path(args.ids_file)
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
        except OSError as exc:
            raise CriteriaError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        header = [h.strip().lower() for h in rows[0]] if rows else []
        column = header.index("id") if "id" in header else 0
        buy = header.index("buy") if "buy" in header else None
        body = rows[1:] if header and ("id" in header) else rows
        picked = [r[column] for r in body if len(r) > column]
        ticks = None if buy is None else [r[buy] if len(r) > buy else "" for r in body]
        ids += picked_ids(picked, ticks)
    found = picked_ids(ids)
    if not found:
        raise CriteriaError("No ids: give them as arguments or with --ids-file (a CSV with id).")
    return found


def enrich(args: argparse.Namespace) -> int:
    """Buy the full profiles of the picked ids ($0.02 each); owned leads are not bought again."""
    from ..budget import format_money
    from ..picks import buy, buy_table, enrich_request

    ids = _ids_from(args)
    engine = _engine()
    if args.dry_run:
        stored = {i for i in ids if engine.estimate(enrich_request(i), "enrich").cached}
        owned = engine.store.owned_among(engine.settings.base_url, ids) - stored
        price = engine.estimate(enrich_request(ids[0]), "enrich").amount
        worst = (len(ids) - len(stored) - len(owned)) * price
        print(
            f"enrich {len(ids)} id(s): {len(stored)} stored, {len(owned)} owned (free); "
            f"up to {format_money(worst)}"
        )
        return EXIT_OK
    if args.csv:
        check_output_folder(args.csv)
    bought = buy(engine, ids, refresh=_refresh_value(args), origin=_origin("enrich"))
    table = buy_table(bought, test_mode=engine.settings.test_mode_key)
    _write(table[1:], args.csv)
    print(table[0][0], file=sys.stderr)
    return EXIT_OK


def email(args: argparse.Namespace) -> int:
    """The verified work email of each lead (id or LinkedIn URL; billed only when found)."""
    from ..emails import NO_EMAIL, run_email

    engine = _engine()
    table: list[list[Any]] = [["lead", "email"]]
    found = 0
    for lead in _ids_from(args):
        value, _ = run_email(engine, lead, refresh=_refresh_value(args), origin=_origin("email"))
        found += value != NO_EMAIL
        table.append([lead, value])
    _write(table, args.csv)
    print(f"Generect email · {found} found of {len(table) - 1}", file=sys.stderr)
    return EXIT_OK


def _id_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="lead ids (from preview or search)")
    parser.add_argument(
        "--ids-file",
        metavar="CSV",
        default=None,
        help="a CSV with an 'id' column (and optionally a 'Buy' column: only ticked rows)",
    )
    parser.add_argument("--csv", metavar="OUT", default=None, help="write the rows to this CSV")
    parser.add_argument(
        "--refresh", action="store_true", help="ask again (an owned lead is still not bought)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``preview``, ``enrich`` and ``email``."""
    parser = subparsers.add_parser(
        "preview",
        help="masked rows with their ids for a criteria file ($0.002 a row, cached)",
        description=(
            "Preview the leads matching a criteria file: masked rows (no LinkedIn URL, "
            "domain, email or phone) with the id to buy them by. Example: "
            "generect-excel preview criteria.toml --limit 500 --csv preview.csv"
        ),
    )
    add_criteria_arguments(parser)
    parser.add_argument("--limit", type=int, default=None, help="rows (default 100, max 1000)")
    parser.add_argument("--offset", type=int, default=None, help="rows to skip")
    parser.add_argument("--csv", metavar="OUT", default=None, help="write the rows to this CSV")
    parser.add_argument("--refresh", action="store_true", help="fetch afresh (pays again)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the body preview would send and its worst case; send nothing",
    )
    parser.set_defaults(handler=preview)

    parser = subparsers.add_parser(
        "enrich",
        help="buy the full profiles of picked ids ($0.02 each; owned leads free)",
        description=(
            "Buy the full profile of each picked id. Stored and already-owned leads cost "
            "nothing; the worst case of the rest is checked against the caps first. "
            "Example: generect-excel enrich --ids-file picked.csv --csv bought.csv"
        ),
    )
    _id_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the worst case; send nothing")
    parser.set_defaults(handler=enrich)

    parser = subparsers.add_parser(
        "email",
        help="find verified work emails by lead id or LinkedIn URL (billed when found)",
        description=(
            "Find the verified work email of each lead (id or LinkedIn URL). Found emails "
            "and misses are stored: asking again costs nothing. "
            "Example: generect-excel email --ids-file bought.csv --csv emails.csv"
        ),
    )
    _id_arguments(parser)
    parser.set_defaults(handler=email)
