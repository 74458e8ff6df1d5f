"""Criteria from a mapping: a JSON or TOML file, or Python keyword arguments."""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import CriteriaError
from ..models import REALTIME_FIELDS, LeadSearchRequest, Mode, build_request, parse_mode
from .fields import FIELD_KINDS, PERSONAS, _key, _suggest_labels, field_for_label
from .parsed import _finish, _Parsed, _raise


def criteria_from_mapping(
    data: Mapping[str, Any], *, mode: Mode | str | None = None
) -> LeadSearchRequest:
    """Criteria given as a mapping (a parsed file, keyword arguments) -> a validated request.

    Keys may be API names or friendly labels; a value may be a list or a single value (text is
    split like a cell). An optional ``mode`` key is used when ``mode`` is None.
    """
    parsed = _Parsed()
    file_mode: Any = None
    raw: dict[str, list[Any]] = {}
    where_of: dict[str, str] = {}
    for key, value in data.items():
        label = str(key)
        if _key(label) == "mode":
            file_mode = value
            continue
        name = field_for_label(label)
        if name is None:
            suggestions = _suggest_labels(label) or [
                f for f in difflib.get_close_matches(label, sorted(REALTIME_FIELDS), n=1)
            ]
            hint = (
                "; did you mean " + " or ".join(f'"{s}"' for s in suggestions) + "?"
                if suggestions
                else ""
            )
            parsed.problems.items.append(f'Unknown criteria label "{label}"{hint}')
            continue
        if FIELD_KINDS.get(name) == PERSONAS or name == "num_of_connections":
            cells = [value] if isinstance(value, Mapping) else _listify(value, nested=True)
        else:
            cells = _listify(value, nested=False)
        raw.setdefault(name, []).extend(cells)
        where_of.setdefault(name, label)
    resolved = parse_mode(mode if mode is not None else file_mode)
    _finish(raw, where_of, parsed)
    _raise(parsed, resolved)
    return build_request(resolved, parsed.fields, labels=parsed.labels)


def _listify(value: Any, *, nested: bool) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        if nested:
            return list(value)
        flat: list[Any] = []
        for item in value:
            flat.extend(item if isinstance(item, list | tuple) else [item])
        return flat
    return [value]


def criteria_from_file(path: str | Path, *, mode: Mode | str | None = None) -> LeadSearchRequest:
    """Criteria from a JSON or TOML file (chosen by suffix; otherwise JSON, then TOML).

    Keys may be API names (``job_titles``) or friendly labels (``"Job titles"``), values lists
    or strings; an optional ``mode`` key picks the mode unless ``mode`` is given.

    Example ``criteria.toml``::

        "Job titles" = ["CEO", "Founder"]
        Seniority = "CXO"
        Location = "San Francisco, CA"
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CriteriaError(f"Cannot read the criteria file {p}: {exc.strerror or exc}.") from None
    data = _load_text(text, p)
    if not isinstance(data, Mapping):
        raise CriteriaError(
            f"{p.name}: expected field names and values (a JSON object or TOML table)."
        )
    return criteria_from_mapping(data, mode=mode)


def _load_text(text: str, p: Path) -> Any:
    suffix = p.suffix.lower()
    loaders: list[tuple[str, Any]] = [("JSON", json.loads), ("TOML", tomllib.loads)]
    if suffix == ".toml":
        loaders.reverse()
    errors = []
    for name, load in loaders:
        try:
            return load(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            errors.append(f"{name}: {exc}")
            if suffix in (".json", ".toml"):
                break
    # Name the format the file claims to be, and where the parser stopped: a line to fix.
    kind = {".json": "JSON", ".toml": "TOML"}.get(suffix, "JSON or TOML")
    detail = errors[0] if kind == "JSON or TOML" else errors[0].split(": ", 1)[1]
    raise CriteriaError(f"{p.name} is not valid {kind} ({detail}): fix the file and retry.")


def criteria_from_kwargs(mode: Mode | str = "database", **fields: Any) -> LeadSearchRequest:
    """Criteria from Python keyword arguments (API names or label-like names).

    >>> criteria_from_kwargs(job_titles=["CEO"], seniorities="CXO").body()
    {'job_titles': ['CEO'], 'seniorities': ['c_suite']}
    """
    return criteria_from_mapping(fields, mode=mode)
