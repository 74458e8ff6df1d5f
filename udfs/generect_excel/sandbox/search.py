"""Filtering the population the way Generect's docs describe it.

Every filter turns into a bitmap of rows (:mod:`.bitmaps`): the values of one list filter are
any-of (OR), different filters all apply (AND), ``exclude_*`` filters subtract
(``exclude_ids`` takes the Sales Navigator id, which rows carry as ``sales_id``, ``id`` or
``lead_id``).

**Order is not stable between calls**, as Generect's is not (its MCP server: "Ordering is not
stable, so offset is unreliable"). Matches are ranked by row id, then each call moves every row
by a random amount of up to :data:`ORDER_JITTER` places (a per-call shuffle seeded by the
sandbox's seed and a call counter, so a test's sequence of calls is repeatable). Rows near a
page boundary so move between pages: naive ``offset_by`` pages overlap and miss leads, while
paging with ``exclude_ids`` never repeats one. ``shuffle=None`` keeps the plain row order.

Matching rules:

- ``job_titles`` (and ``past_job_titles``): a lead matches a value when its title contains all
  the value's words, in any order and case ("marketing manager" finds "Content Marketing
  Manager"); common acronyms count both ways ("VP Sales" finds "Vice President of Sales").
  Listed in ``strict``: the whole title must equal the value.
- ``locations`` / ``company_locations``: each comma-separated part of the value names a city,
  state or country (with common abbreviations: "CA", "NYC", "UK"), and a place matches when
  every part does ("San Francisco, CA"; "Germany"; "London"). Listed in ``strict``: the value
  must equal the full place text or one name exactly.
- ``company_name`` (case-insensitive, whole name), ``company_link`` (a LinkedIn company URL),
  ``company_id`` (LinkedIn's numeric id), ``find_by_emails`` (the addresses' domain): one
  company; unknown -> no leads.
- realtime ``keywords``: every word of a keyword appears in the lead's title, skills or
  headline tagline. ``functions``, ``first_name``, ``last_name``, ``past_company_names``,
  ``past_company_ids``, ``years_in_position``, ``years_in_company``, ``changed_jobs``,
  ``posted_on_linkedin`` and ``lead_industries`` filter too.
- Accepted but not modelled (they select nothing away): ``personas``, ``schools``, ``groups``,
  ``groups_keywords``, ``years_of_experience``, ``num_of_connections``, ``mentioned_in_news``,
  ``linkedin_filter_link``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from . import bitmaps
from . import pools as P
from .population import (
    CHANGED_JOBS,
    JOB_START_MISSING,
    PHOTO_MISSING,
    POSITION_START_MISSING,
    POSTED,
    STOPWORDS,
    TRUNCATED_NAME,
    Population,
    norm,
    title_words,
    years_bucket,
)
from .validation import paging

__all__ = ["ORDER_JITTER", "SearchResult", "run_search"]

ORDER_JITTER = 40
"""How many places a call may move a row from its rank (see the module docstring)."""

_WORD = re.compile(r"\w+")
_LINK = re.compile(r"linkedin\.com/company/([^/?#\s]+)")
_FUNCTION_ALIASES = {
    "hr": "human resources",
    "people": "human resources",
    "it": "information technology",
    "customer support": "customer success",
    "support": "customer success",
    "management": "general management",
    "executive": "general management",
    "data science": "data",
    "analytics": "data",
    "software engineering": "engineering",
}
_EMPTY_FLAGS = {
    "job_started_on": JOB_START_MISSING,
    "profile_photo": PHOTO_MISSING,
    "started_at_position": POSITION_START_MISSING,
}


class SearchResult:
    """The rows of one page (row ids) and the total number of matches."""

    __slots__ = ("row_ids", "total")

    def __init__(self, row_ids: list[int], total: int) -> None:
        self.row_ids = row_ids
        self.total = total


def _any(values: Iterable[Any], rows_of: Callable[[Any], int]) -> int:
    bm = 0
    for value in values:
        bm |= rows_of(value)
    return bm


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(norm(text)) if w not in STOPWORDS]


def _word_rows(pop: Population, words: list[str], lookup: Callable[[str], int]) -> int:
    """Rows having every word (a plural falls back to its singular)."""
    if not words:
        return 0
    bm = pop.all_rows
    for word in words:
        rows = lookup(word)
        if not rows and word.endswith("s"):
            rows = lookup(word[:-1])
        bm &= rows
        if not bm:
            break
    return bm


def _title_rows(pop: Population, value: str, strict: bool) -> int:
    if strict:
        wanted = norm(value)
        return _any(
            (t for t, title in enumerate(pop.titles) if norm(title) == wanted),
            lambda t: pop.by_title[t],
        )
    return _word_rows(pop, _words(value), pop.title_word_rows)


def _place_ids(pop: Population, value: str, strict: bool) -> set[int]:
    text = norm(value)
    if strict:
        exact = {pid for pid, place in enumerate(pop.place_text) if norm(place) == text}
        return exact | pop.places_by_name.get(text, set())
    if text in P.LOCATION_ALIASES:
        target = P.LOCATION_ALIASES[text]
        if "," in target:  # a whole place
            return {pid for pid, place in enumerate(pop.place_text) if norm(place) == target}
        return set(pop.places_by_name.get(target, set()))
    result: set[int] | None = None
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        ids = pop.places_by_name.get(P.LOCATION_ALIASES.get(part, part), set())
        result = set(ids) if result is None else result & ids
    return result or set()


def _place_rows(pop: Population, value: str, strict: bool, by_place: list[int]) -> int:
    return _any(_place_ids(pop, value, strict), lambda pid: by_place[pid])


def _vocab_rows(
    pop: Population, values: list[str], table: tuple[str, ...], by_value: list[int]
) -> int:
    index = pop.lazy(f"vocab_index:{id(table)}", lambda: {name: i for i, name in enumerate(table)})
    return _any(values, lambda v: by_value[index[v]] if v in index else 0)


def _company(pop: Population, body: Mapping[str, Any]) -> int | None:
    """The anchored company's index, -1 for an unknown company, None when not anchored."""
    if body.get("company_name"):
        return pop.company_by_name.get(norm(body["company_name"]), -1)
    if body.get("company_link"):
        match = _LINK.search(body["company_link"].lower())
        if not match:
            return -1
        ref = match.group(1)
        if ref.isdigit():
            return pop.company_by_linkedin_id.get(int(ref), -1)
        return pop.company_by_slug.get(ref, -1)
    if body.get("company_id") is not None:
        return pop.company_by_linkedin_id.get(body["company_id"], -1)
    if body.get("find_by_emails"):
        domain = body["find_by_emails"][0].rsplit("@", 1)[-1].lower()
        return pop.company_by_domain.get(domain, -1)
    return None


def _company_rows(pop: Population, c: int) -> int:
    return bitmaps.from_ids(pop.company_rows[c], pop.size) if c >= 0 else 0


# ----------------------------------------------------------------- lazy indexes
def _names_index(pop: Population) -> dict[str, dict[str, list[int]]]:
    """norm(first), norm(last) and norm(full name) -> rows, as rows display them."""
    firsts = [norm(n) for n in P.FIRST_NAMES]
    lasts = [norm(n) for n in P.LAST_NAMES]
    first_col = [firsts[x] for x in pop.col_first]
    last_col = [lasts[x] for x in pop.col_last]
    for i, flags in enumerate(pop.col_flags):
        if flags & TRUNCATED_NAME:
            last_col[i] = last_col[i][0] + "."
    for i, kind in pop.hostile.items():
        if kind in P.HOSTILE_NAMES:
            first, last = P.HOSTILE_NAMES[kind]
            first_col[i], last_col[i] = norm(first), norm(last)
    index: dict[str, dict[str, list[int]]] = {"first": {}, "last": {}, "full": {}}
    for i, (first, last) in enumerate(zip(first_col, last_col, strict=True)):
        index["first"].setdefault(first, []).append(i)
        index["last"].setdefault(last, []).append(i)
        index["full"].setdefault(f"{first} {last}", []).append(i)
    return index


def _truncated_rows(pop: Population) -> int:
    """Rows whose displayed first or last name is one character or empty."""
    short = [i for i, f in enumerate(pop.col_flags) if f & TRUNCATED_NAME]
    bm = bitmaps.from_ids((i for i in short if pop.hostile.get(i) not in P.HOSTILE_NAMES), pop.size)
    for i, kind in pop.hostile.items():
        names = P.HOSTILE_NAMES.get(kind)
        if names and any(len(n.rstrip(".").strip()) <= 1 for n in names):
            bm |= 1 << i
    return bm


def _ids_index(pop: Population) -> dict[str, int]:
    return {pop.lead_id(i): i for i in range(pop.size)}


def _profile_word_rows(pop: Population, word: str) -> int:
    by_profile = pop.lazy("by_profile", lambda: bitmaps.group(pop.col_profile, len(pop.profiles)))
    profile_words = pop.lazy(
        "profile_words",
        lambda: [
            title_words(" ".join([*skills, tagline, pop.functions[fi]]))
            for fi, skills, tagline in pop.profiles
        ],
    )
    return _any(
        (p for p, words in enumerate(profile_words) if word in words), lambda p: by_profile[p]
    )


def _function_rows(pop: Population, value: str) -> int:
    by_function = pop.lazy(
        "by_function",
        lambda: bitmaps.group([pop.title_function[t] for t in pop.col_title], len(pop.functions)),
    )
    wanted = _FUNCTION_ALIASES.get(norm(value), norm(value))
    return _any(
        (f for f, name in enumerate(pop.functions) if norm(name) == wanted),
        lambda f: by_function[f],
    )


def _past_rows(pop: Population) -> list[list[int]]:
    rows: list[list[int]] = [[] for _ in pop.co_name]
    for i, c in enumerate(pop.col_past_company):
        if c >= 0:
            rows[c].append(i)
    return rows


def _past_company_rows(pop: Population, c: int) -> int:
    if c < 0:
        return 0
    return bitmaps.from_ids(pop.lazy("past_rows", lambda: _past_rows(pop))[c], pop.size)


def _past_title_rows(pop: Population, value: str) -> int:
    def build() -> list[int]:
        has_past = pop.col_past_company
        column = [
            t if has_past[i] >= 0 else len(pop.titles) for i, t in enumerate(pop.col_past_title)
        ]
        return bitmaps.group(column, len(pop.titles) + 1)[:-1]

    by_past_title = pop.lazy("by_past_title", build)

    def lookup(word: str) -> int:
        return _any(pop.titles_by_word.get(word, ()), lambda t: by_past_title[t])

    return _word_rows(pop, _words(value), lookup)


def _place_rows_of(pop: Population, strict: bool, by_place: list[int], value: str) -> int:
    """:func:`_place_rows` with the value last, for :func:`functools.partial`."""
    return _place_rows(pop, value, strict, by_place)


def _bucket_rows(pop: Population, name: str, column: list[int]) -> list[int]:
    """Bucket (1..5) -> rows; index 0 is unused so that buckets index directly."""
    return pop.lazy(name, lambda: [0, *bitmaps.group([years_bucket(m) - 1 for m in column], 5)])


def _company_id_index(pop: Population, value: str) -> int:
    return pop.company_by_linkedin_id.get(int(value), -1) if value.strip().isdigit() else -1


# ----------------------------------------------------------------- the search
def matching_rows(pop: Population, body: Mapping[str, Any], mode: str) -> int:
    """The bitmap of rows a valid request body selects."""
    strict = set(body.get("strict") or [])
    bm = pop.all_rows

    def get(name: str) -> Any:
        value = body.get(name)
        return value if value not in (None, [], "") else None

    if (v := get("job_titles")) is not None:
        bm &= _any(v, lambda t: _title_rows(pop, t, "job_titles" in strict))
    if (v := get("seniorities")) is not None:
        bm &= _vocab_rows(pop, v, pop.seniorities, pop.by_seniority)
    for name, by_place in (("locations", pop.by_location), ("company_locations", pop.by_hq)):
        places = partial(_place_rows_of, pop, name in strict, by_place)
        if (v := get(name)) is not None:
            bm &= _any(v, places)
        if (v := get("exclude_" + name)) is not None:
            bm &= ~_any(v, places)
    if (v := get("company_industries")) is not None:
        bm &= _vocab_rows(pop, v, pop.industries, pop.by_industry)
    if (v := get("exclude_company_industries")) is not None:
        bm &= ~_vocab_rows(pop, v, pop.industries, pop.by_industry)
    if (v := get("company_headcounts")) is not None:
        bm &= _vocab_rows(pop, v, pop.headcounts, pop.by_headcount)
    if (v := get("exclude_company_headcounts")) is not None:
        bm &= ~_vocab_rows(pop, v, pop.headcounts, pop.by_headcount)
    if (v := get("company_types")) is not None:
        bm &= _vocab_rows(pop, v, pop.company_types, pop.by_type)
    company = _company(pop, body)
    if company is not None:
        bm &= _company_rows(pop, company)
    if (v := get("exclude_names")) is not None:
        full = pop.lazy("names", lambda: _names_index(pop))["full"]
        bm &= ~bitmaps.from_ids((i for name in v for i in full.get(norm(name), ())), pop.size)
    if (v := get("exclude_ids")) is not None:
        ids = pop.lazy("ids", lambda: _ids_index(pop))
        bm &= ~bitmaps.from_ids((ids[x] for x in v if x in ids), pop.size)
    for field in get("filter_empty_vars") or ():
        bm &= ~(
            pop.website_missing if field == "company_website" else pop.by_flag[_EMPTY_FLAGS[field]]
        )
    if body.get("skip_truncated_names") is True:
        bm &= ~pop.lazy("truncated", lambda: _truncated_rows(pop))
    if mode == "realtime" and bm:
        bm &= _realtime_rows(pop, body)
    return bm


def _realtime_rows(pop: Population, body: Mapping[str, Any]) -> int:
    bm = pop.all_rows

    def get(name: str) -> Any:
        value = body.get(name)
        return value if value not in (None, [], "") else None

    if (v := get("keywords")) is not None:

        def either(word: str) -> int:
            return pop.title_word_rows(word) | _profile_word_rows(pop, word)

        bm &= _any(v, lambda k: _word_rows(pop, _words(k), either))
    if (v := get("functions")) is not None:
        bm &= _any(v, lambda f: _function_rows(pop, f))
    if (v := get("exclude_functions")) is not None:
        bm &= ~_any(v, lambda f: _function_rows(pop, f))
    for name in ("first_name", "last_name"):
        if (v := get(name)) is not None:
            index = pop.lazy("names", lambda: _names_index(pop))[name.split("_")[0]]
            bm &= bitmaps.from_ids((i for x in v for i in index.get(norm(x), ())), pop.size)
    if (v := get("lead_industries")) is not None:
        bm &= _vocab_rows(pop, v, pop.industries, pop.by_industry)
    if (v := get("exclude_lead_industries")) is not None:
        bm &= ~_vocab_rows(pop, v, pop.industries, pop.by_industry)
    if (v := get("past_job_titles")) is not None:
        bm &= _any(v, lambda t: _past_title_rows(pop, t))
    if (v := get("past_company_names")) is not None:
        bm &= _any(v, lambda n: _past_company_rows(pop, pop.company_by_name.get(norm(n), -1)))
    if (v := get("past_company_ids")) is not None:
        bm &= _any(v, lambda x: _past_company_rows(pop, _company_id_index(pop, x)))
    if (v := get("exclude_past_company_ids")) is not None:
        bm &= ~_any(v, lambda x: _past_company_rows(pop, _company_id_index(pop, x)))
    if (v := get("exclude_current_company_ids")) is not None:
        bm &= ~_any(v, lambda x: _company_rows(pop, _company_id_index(pop, x)))
    for name, column in (
        ("years_in_position", pop.col_pos_months),
        ("years_in_company", pop.col_co_months),
    ):
        if (v := get(name)) is not None:
            buckets = _bucket_rows(pop, "by_" + name, column)
            bm &= _any(v, buckets.__getitem__)
    if body.get("changed_jobs") is True:
        bm &= pop.by_flag[CHANGED_JOBS]
    if body.get("posted_on_linkedin") is True:
        bm &= pop.by_flag[POSTED]
    return bm


def run_search(
    pop: Population, body: Mapping[str, Any], mode: str, *, shuffle: int | None = None
) -> SearchResult:
    """The page a valid body asks for and the total match count. ``shuffle`` seeds this call's
    order (see the module docstring); None keeps row order."""
    bm = matching_rows(pop, body, mode)
    limit, offset = paging(body)
    if shuffle is None:
        return SearchResult(bitmaps.select(bm, offset, limit), bm.bit_count())
    # Only the rows that can reach the page are ranked: cheap on any number of matches.
    ranked = bitmaps.select(bm, 0, offset + limit + ORDER_JITTER)
    rng = random.Random(shuffle)
    order = sorted(range(len(ranked)), key=lambda i: i + rng.random() * ORDER_JITTER)
    return SearchResult([ranked[i] for i in order[offset : offset + limit]], bm.bit_count())
