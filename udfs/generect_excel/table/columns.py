"""Where each column of a lead table comes from: the logical columns and their fallbacks
(``COLUMN_SOURCES``), and the readers of a row's fields by dot path (moved out of
:mod:`generect_excel.table`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..cell_values import _MISSING, _SHORT_TEXT, Cell, _fit_text, _has_value, to_cell

# --------------------------------------------------------------------------- column sources


@dataclass(frozen=True)
class Join:
    """A source made of several parts joined by ``sep``; each part is a tuple of alternative
    dot paths (the first non-empty wins). Empty parts are left out; all empty -> no value."""

    parts: tuple[tuple[str, ...], ...]
    sep: str


@dataclass(frozen=True)
class WebsiteFromDomain:
    """A bare domain (``slack.com``) turned into a URL (``https://slack.com``).

    Why: every other source of ``company_website`` is a full URL, and a uniform column is one
    an analyst can click and de-duplicate. The raw domain stays reachable as
    ``company.domain``.
    """

    path: str


Source = str | Join | WebsiteFromDomain

# The logical columns, in their default order, each with its fallbacks: the first source that
# gives a non-empty value wins. Paths are the API's own spellings (dot = nested object).
# Decisions (see FACTS.md for the field names):
# - industry: the company's industry first (the analyst filters by company_industries); the
#   row's top-level ``industry`` is the lead's own profile industry, a last resort.
# - job_title: ``headline`` is NOT a fallback: it is free self-description ("Helping SaaS teams
#   grow | Speaker") that would spoil filters and pivots on the column. Ask for it by name.
# - linkedin_url: the Sales Navigator link is the last resort (realtime rows may lack
#   ``linkedin_url``); it still opens the lead's profile for Sales Navigator users.
COLUMN_SOURCES: Mapping[str, tuple[Source, ...]] = {
    "full_name": (
        "full_name",
        "name",
        "unformatted_full_name",
        Join((("first_name",), ("middle_name",), ("last_name",)), " "),
    ),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "job_title": ("job_title", "title", "raw_job_title"),
    "company": ("company_name", "lead_company_name", "company.name", "raw_company_name"),
    "industry": ("company_industry", "company.industry", "industry"),
    "location": (
        "location",
        Join(
            (
                ("location_city", "city"),
                ("location_state", "state"),
                ("location_country", "country"),
            ),
            ", ",
        ),
    ),
    "linkedin_url": ("linkedin_url", "linkedin", "linkedin_sales_link"),
    "company_linkedin_url": (
        "company_url",
        "company_linkedin_url",
        "company.linkedin_url",
        "company.url",
    ),
    "company_website": (
        "company_website",
        "website",
        "company.website",
        WebsiteFromDomain("company.domain"),
        WebsiteFromDomain("company_domain"),
    ),
    "lead_id": ("lead_id", "id", "sales_id"),
}

DEFAULT_COLUMNS: tuple[str, ...] = tuple(COLUMN_SOURCES)

# "raw:industry" asks for the row's own field, bypassing the logical column of that name, and
# "raw:some_field" for a field outside the catalogue (FIELD_CATALOGUE): the explicit way to
# reach what Generect sends without documenting it.
RAW_PREFIX = "raw:"


# --------------------------------------------------------------------------- field paths


def _norm(name: str) -> str:
    """Field-name key: case-insensitive, spaces and hyphens as underscores ("Job title")."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _split_path(path: str) -> list[str]:
    """``"jobs[0].title"`` / ``"jobs.0.title"`` -> ``["jobs", "0", "title"]``."""
    path = re.sub(r"\[\s*(\d+)\s*\]", r".\1", path.strip())
    return [segment.strip() for segment in path.split(".") if segment.strip()]


def _step(value: Any, segment: str, loose: bool) -> Any:
    """One step down a path. On a list, a number indexes it and a name maps over its items."""
    if isinstance(value, Mapping):
        found = value.get(segment, _MISSING)
        if found is _MISSING and loose:
            for key in value:
                if isinstance(key, str) and _norm(key) == segment:
                    return value[key]
        return found
    if isinstance(value, list | tuple):
        if segment.isdigit():
            index = int(segment)
            return value[index] if index < len(value) else _MISSING
        mapped = [_step(item, segment, loose) for item in value]
        mapped = [item for item in mapped if item is not _MISSING]
        return mapped if mapped else _MISSING
    return _MISSING


Getter = Callable[[Mapping[str, Any]], Any]


def _path_getter(path: str, head_keys: Sequence[str] | None = None, *, loose: bool) -> Getter:
    """A function reading ``path`` from a row (``_MISSING`` when absent).

    ``head_keys`` are the spellings of the top-level key the rows use (found once per table,
    so the per-row work is a dict lookup); ``None`` means the path's own spelling. ``loose``
    also matches nested keys case-insensitively (for names an analyst typed).
    """
    segments = _split_path(path)
    head, rest = segments[0], segments[1:]
    keys = tuple(head_keys or (head,))
    if loose:
        rest = [_norm(segment) for segment in rest]

    if len(keys) == 1 and not rest:
        (key,) = keys
        return lambda row: row.get(key, _MISSING)

    def get(row: Mapping[str, Any]) -> Any:
        value = _MISSING
        for key in keys:
            value = row.get(key, _MISSING)
            if value is not _MISSING:
                break
        for segment in rest:
            if value is _MISSING:
                break
            value = _step(value, segment, loose)
        return value

    return get


# A path of a logical source, ready for reading: a top-level key, or (key, nested keys).
KeyPath = str | tuple[str, tuple[str, ...]]
ChainItem = KeyPath | Callable[[Mapping[str, Any]], Cell]


def _key_path(path: str) -> KeyPath:
    head, *rest = _split_path(path)
    return (head, tuple(rest)) if rest else head


def _read(row: Mapping[str, Any], path: KeyPath) -> Any:
    """The value at a logical source's path (objects only, no list steps), or ``None``."""
    if type(path) is str:
        return row.get(path)
    value: Any = row.get(path[0])
    for key in path[1]:
        if value is None:
            return None
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _source_items(source: Source) -> list[ChainItem]:
    """One fallback source as chain items: a key path (read inline: the common case) or a
    cell-reader for joins and domains."""
    if isinstance(source, str):
        return [_key_path(source)]
    if isinstance(source, WebsiteFromDomain):
        domain_path = _key_path(source.path)

        def website(row: Mapping[str, Any]) -> Cell:
            domain = to_cell(_read(row, domain_path))
            if not isinstance(domain, str) or not domain.strip():
                return None
            domain = domain.strip()
            return domain if "://" in domain else "https://" + domain

        return [website]
    parts = tuple(tuple(_key_path(path) for path in paths) for paths in source.parts)
    sep = source.sep

    def joined(row: Mapping[str, Any]) -> Cell:
        texts = []
        for alternatives in parts:
            for path in alternatives:
                value = _read(row, path)
                if value is None:
                    continue
                cell = to_cell(value)
                if _has_value(cell):
                    texts.append(str(cell).strip())
                    break
        return sep.join(texts) if texts else None

    return [joined]


# Built once at import: a logical column's chain never depends on the rows.
_CHAINS: dict[str, tuple[ChainItem, ...]] = {
    name: tuple(item for source in sources for item in _source_items(source))
    for name, sources in COLUMN_SOURCES.items()
}


def _column_reader(name: str) -> Callable[[Mapping[str, Any]], Cell]:
    """The fallback chain of a logical column: the first source with a value wins.

    2,400 rows x 11 columns must shape in a few milliseconds, so the common cases (a key or
    a nested key holding short clean text) are handled inline, without further calls.
    Logical columns read the API's own (lower-case) spellings; only names an analyst types
    are matched case-insensitively.
    """
    items = _CHAINS[name]
    short = _SHORT_TEXT

    def first(row: Mapping[str, Any]) -> Cell:
        for item in items:
            kind = type(item)
            if kind is str:
                value = row.get(item)  # type: ignore[arg-type]
            elif kind is tuple:
                value = row.get(item[0])  # type: ignore[index]
                for key in item[1]:  # type: ignore[index]
                    if value is None:
                        break
                    value = value.get(key) if isinstance(value, Mapping) else None
            else:
                cell = item(row)  # type: ignore[operator]
                if _has_value(cell):
                    return cell
                continue
            if value is None:
                continue
            if type(value) is str:
                # isprintable() is False for every character _ILLEGAL removes.
                if len(value) <= short and value.isprintable():
                    if value and not value.isspace():
                        return value
                    continue
                cell = _fit_text(value)
            else:
                cell = to_cell(value)
            if _has_value(cell):
                return cell
        return None

    return first
