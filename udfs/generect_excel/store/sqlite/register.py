"""The register of owned leads in the SQLite store: its tables (migration
``0009_owned_leads``) and its queries (see :mod:`generect_excel.store.register` for what the
register is and which identifier keys a lead).

Pure SQL on a connection the store hands over; the store owns transactions and errors.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from ...ledger import Origin
from ..register import OwnedLead, Purchase, _text, lead_key

__all__ = ["SCHEMA", "counts", "owned_leads", "page_exclusions", "recent_ids", "record"]

SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE owned_leads (
        base_url TEXT NOT NULL,
        lead_id TEXT NOT NULL,
        id_field TEXT NOT NULL,
        first_bought_at TEXT NOT NULL,
        last_bought_at TEXT NOT NULL,
        times_bought INTEGER NOT NULL,
        account TEXT NOT NULL,
        test_mode INTEGER NOT NULL,
        mode TEXT NOT NULL,
        cache_key TEXT NOT NULL,
        criteria_key TEXT NOT NULL,
        request TEXT NOT NULL,
        workbook TEXT,
        sheet TEXT,
        cell TEXT,
        cost TEXT NOT NULL,
        charge_id TEXT NOT NULL,
        full_name TEXT,
        job_title TEXT,
        company_name TEXT,
        linkedin_url TEXT,
        PRIMARY KEY (base_url, lead_id)
    )
    """,
    # Covers net-new's read of the most recent ids (no table lookups on a large register).
    "CREATE INDEX owned_leads_recent ON owned_leads (base_url, test_mode, last_bought_at, lead_id)",
    "CREATE INDEX owned_leads_first ON owned_leads (first_bought_at)",
    """
    CREATE TABLE lead_purchases (
        charge_id TEXT NOT NULL,
        base_url TEXT NOT NULL,
        lead_id TEXT NOT NULL,
        time TEXT NOT NULL,
        cache_key TEXT NOT NULL,
        criteria_key TEXT NOT NULL,
        page_offset INTEGER NOT NULL,
        PRIMARY KEY (charge_id, lead_id)
    )
    """,
    "CREATE INDEX lead_purchases_family ON lead_purchases (criteria_key, page_offset)",
)
"""The statements of migration ``0009_owned_leads``."""


def _ts(moment: datetime) -> str:
    # The store's fixed-width UTC text (text order is time order).
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def record(conn: sqlite3.Connection, purchase: Purchase) -> int:
    """Register ``purchase``'s leads (inside the caller's transaction); returns how many of its
    rows were new: not owned before this call (a row without an identifier counts as new)."""
    keyed = [(lead_key(lead), lead) for lead in purchase.leads]
    ids = list(dict.fromkeys(k[0] for k, _ in keyed if k is not None))
    owned = _owned_among(conn, purchase.base_url, ids)
    rows = max(1, len(purchase.leads))
    share = (Decimal(purchase.amount_charged) / rows).quantize(Decimal("0.000001"))
    when = _ts(purchase.time)
    new = 0
    seen: set[str] = set()
    for key, lead in keyed:
        if key is None:
            new += 1
            continue
        lead_id, id_field = key
        if lead_id in seen:
            continue  # the same lead twice in one answer: bought once
        seen.add(lead_id)
        conn.execute(
            "INSERT OR IGNORE INTO lead_purchases (charge_id, base_url, lead_id, time, "
            "cache_key, criteria_key, page_offset) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                purchase.charge_id,
                purchase.base_url,
                lead_id,
                when,
                purchase.cache_key,
                purchase.criteria_key,
                purchase.page_offset,
            ),
        )
        if lead_id in owned:
            conn.execute(
                "UPDATE owned_leads SET times_bought = times_bought + 1, last_bought_at = ? "
                "WHERE base_url = ? AND lead_id = ?",
                (when, purchase.base_url, lead_id),
            )
            continue
        new += 1
        conn.execute(
            "INSERT INTO owned_leads (base_url, lead_id, id_field, first_bought_at, "
            "last_bought_at, times_bought, account, test_mode, mode, cache_key, criteria_key, "
            "request, workbook, sheet, cell, cost, charge_id, full_name, job_title, "
            "company_name, linkedin_url) "
            "VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                purchase.base_url,
                lead_id,
                id_field,
                when,
                when,
                purchase.account,
                int(purchase.test_mode),
                purchase.mode,
                purchase.cache_key,
                purchase.criteria_key,
                purchase.request,
                purchase.origin.workbook,
                purchase.origin.sheet,
                purchase.origin.cell,
                str(share),
                purchase.charge_id,
                _text(lead, "full_name", "unformatted_full_name"),
                _text(lead, "job_title", "title", "raw_job_title"),
                _text(lead, "company_name", "lead_company_name", "company.name"),
                _text(lead, "linkedin_url"),
            ),
        )
    return new


def _owned_among(conn: sqlite3.Connection, base_url: str, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT lead_id FROM owned_leads WHERE base_url = ? AND lead_id IN ({marks})",
            (base_url, *chunk),
        ).fetchall()
        found.update(r[0] for r in rows)
    return found


def page_exclusions(
    conn: sqlite3.Connection, criteria_key: str, page_offset: int
) -> tuple[list[str], int]:
    """The leads bought for the same criteria by pages at another offset (to exclude), and how
    many of them came from earlier pages (offset below ``page_offset``: the wire offset skips
    only the earlier positions nobody bought)."""
    rows = conn.execute(
        "SELECT lead_id, MIN(page_offset) FROM lead_purchases "
        "WHERE criteria_key = ? AND page_offset != ? GROUP BY lead_id ORDER BY MIN(time), lead_id",
        (criteria_key, page_offset),
    ).fetchall()
    earlier = sum(1 for _, offset in rows if offset < page_offset)
    return [r[0] for r in rows], earlier


def recent_ids(
    conn: sqlite3.Connection, base_url: str, test_mode: bool, limit: int
) -> tuple[list[str], int]:
    """The ``limit`` most recently bought lead ids of the register for ``base_url`` (test-mode
    leads apart from real ones), and how many the register holds in all."""
    rows = conn.execute(
        "SELECT lead_id FROM owned_leads WHERE base_url = ? AND test_mode = ? "
        "ORDER BY last_bought_at DESC LIMIT ?",
        (base_url, int(test_mode), limit),
    ).fetchall()
    total = len(rows)
    if total >= limit:  # counted only when capped: the status line says "of N owned"
        total = conn.execute(
            "SELECT COUNT(*) FROM owned_leads WHERE base_url = ? AND test_mode = ?",
            (base_url, int(test_mode)),
        ).fetchone()[0]
    return [r[0] for r in rows], int(total)


def owned_leads(
    conn: sqlite3.Connection,
    since: datetime | None = None,
    *,
    criteria_keys: Iterable[str] | None = None,
) -> list[OwnedLead]:
    """The register, oldest purchase first; ``since`` keeps leads first bought at or after it,
    ``criteria_keys`` those first bought by one of these criteria families."""
    clauses, params = [], []
    if since is not None:
        clauses.append("first_bought_at >= ?")
        params.append(_ts(since))
    if criteria_keys is not None:
        keys = list(criteria_keys)
        if not keys:
            return []
        clauses.append(
            "lead_id IN (SELECT lead_id FROM lead_purchases WHERE criteria_key IN "
            f"({','.join('?' * len(keys))}))"
        )
        params.extend(keys)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = conn.execute(
        "SELECT lead_id, id_field, first_bought_at, last_bought_at, times_bought, mode, cost, "
        "request, workbook, sheet, cell, full_name, job_title, company_name, linkedin_url, "
        f"test_mode, base_url, cache_key FROM owned_leads{where} "
        "ORDER BY first_bought_at, rowid",
        params,
    ).fetchall()
    return [
        OwnedLead(
            lead_id=r[0],
            id_field=r[1],
            first_bought_at=_parse_ts(r[2]),
            last_bought_at=_parse_ts(r[3]),
            times_bought=r[4],
            mode=r[5],
            cost=Decimal(r[6]),
            request=json.loads(r[7]),
            origin=Origin(r[8], r[9], r[10]),
            full_name=r[11],
            job_title=r[12],
            company_name=r[13],
            linkedin_url=r[14],
            test_mode=bool(r[15]),
            base_url=r[16],
            cache_key=r[17],
        )
        for r in rows
    ]


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Totals of the register: leads owned, purchases of leads, leads bought more than once."""
    owned, twice = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(times_bought > 1), 0) FROM owned_leads"
    ).fetchone()
    purchases = conn.execute("SELECT COUNT(*) FROM lead_purchases").fetchone()[0]
    return {"owned": int(owned), "purchases": int(purchases), "bought_twice": int(twice)}
