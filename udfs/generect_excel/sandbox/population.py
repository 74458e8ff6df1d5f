"""The sandbox's synthetic lead population: deterministic, columnar, indexed.

:func:`build_population` draws ``size`` leads from a seed (the same seed always gives the same
rows, on every platform): people with names, titles across functions and seniorities, places,
and employers with LinkedIn industries, headcount buckets and company types. Each attribute is
a column (a list of small integers indexing a table), so 100,000 leads build in about a
second, and each filterable attribute has an inverted index (value -> bitmap of rows, see
:mod:`.bitmaps`), so a filtered search answers in milliseconds. Rows are rendered as JSON
dicts only when returned, in the shape of the mode that asked (database and realtime rows
differ, as Generect's do).

Unless ``clean`` is set, about 1.5 % of the rows carry hostile or awkward text: values
starting with ``=``, ``+``, ``-`` or ``@``, a headline longer than Excel's 32,767-character
cell limit, tabs and line breaks, emoji, right-to-left and CJK text.

None of it is Generect's data: every person is invented, and so is every company but a few
well-known ones (``pools.WELL_KNOWN_COMPANIES``: the companies the templates' examples name),
which are given a share of the leads and of the past employers after everything else is drawn.
"""

from __future__ import annotations

import base64
import random
import re
import unicodedata
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from itertools import accumulate
from typing import Any

from ..vocab import get_vocabulary
from . import bitmaps
from . import pools as P

__all__ = ["Population", "build_population", "norm", "title_words", "years_bucket"]

# Dates are computed from a fixed day, not today, so the same seed gives the same rows forever.
REFERENCE_DATE = date(2026, 7, 1)
_REFERENCE_DATETIME = datetime(2026, 7, 1, 6, 0, 0)
_M64 = (1 << 64) - 1

# Row flags (one small int per row).
PHOTO_MISSING = 1
JOB_START_MISSING = 2
POSITION_START_MISSING = 4
CHANGED_JOBS = 8
POSTED = 16
TRUNCATED_NAME = 32

_WORD = re.compile(r"\w+")
STOPWORDS = frozenset({"of", "and", "the", "a", "an", "for", "in", "at", "to", "with"})
# Title words imply each other both ways, so "VP Sales" finds "Vice President of Sales".
_EXPANSIONS: dict[str, tuple[str, ...]] = {
    "vp": ("vice", "president"),
    "ceo": ("chief", "executive", "officer"),
    "cto": ("chief", "technology", "officer"),
    "cfo": ("chief", "financial", "officer"),
    "coo": ("chief", "operating", "officer"),
    "cmo": ("chief", "marketing", "officer"),
    "cpo": ("chief", "product", "officer"),
    "cio": ("chief", "information", "officer"),
    "hr": ("human", "resources"),
    "sdr": ("sales", "development", "representative"),
    "bdr": ("business", "development", "representative"),
}


def mix(x: int) -> int:
    """splitmix64: a fast, well-spread 64-bit hash for per-row details."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def norm(text: str) -> str:
    """Comparison form of free text: accents folded, lower case, single spaces."""
    folded = unicodedata.normalize("NFKD", str(text))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(folded.lower().split())


def title_words(title: str) -> frozenset[str]:
    """The words a title is found by: its own (minus stop words) plus acronym expansions."""
    words = {w for w in _WORD.findall(norm(title)) if w not in STOPWORDS}
    for short, long in _EXPANSIONS.items():
        if short in words:
            words.update(long)
        elif words.issuperset(long):
            words.add(short)
    return frozenset(words)


def _token(*values: int) -> str:
    """URL-safe text from 64-bit values (LinkedIn ids use the same alphabet)."""
    raw = b"".join(v.to_bytes(8, "little") for v in values)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@cache
def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", norm(text)))


@cache
def _days_ago(days: int) -> str:
    return (_REFERENCE_DATETIME - timedelta(days=days)).strftime("%Y-%m-%d")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@cache
def _month_label(months: int) -> str:
    """LinkedIn's "Sep 2023" for a month ``months`` before the reference date."""
    y, m = divmod(REFERENCE_DATE.year * 12 + REFERENCE_DATE.month - 1 - months, 12)
    return f"{_MONTHS[m]} {y}"


@cache
def _months_ago(months: int) -> str:
    y, m = divmod(REFERENCE_DATE.year * 12 + REFERENCE_DATE.month - 1 - months, 12)
    return f"{y:04d}-{m + 1:02d}-01"


def years_bucket(months: int) -> int:
    """Generect's 1..5 buckets: under 1 y, 1-2 y, 3-5 y, 6-10 y, over 10 y."""
    if months < 12:
        return 1
    if months < 36:
        return 2
    if months < 72:
        return 3
    if months < 132:
        return 4
    return 5


def _decay(n: int, rate: float) -> list[float]:
    return list(accumulate((1.0 - rate) ** k for k in range(n)))


class Population:
    """``size`` synthetic leads built from ``seed``. Immutable once built (indexes that few
    searches need are built on first use, which is idempotent)."""

    def __init__(self, *, seed: int = 1, size: int = 100_000, clean: bool = False) -> None:
        if size < 1:
            raise ValueError("a population needs at least one lead")
        self.seed = seed
        self.size = size
        self.clean = clean
        self._lazy: dict[str, Any] = {}
        self._build_tables()
        self._build_companies(random.Random(seed))
        self._build_rows(random.Random(seed * 7919 + 1))
        # Its own generator, after the others: every other draw stays as it was.
        self._add_well_known_companies(random.Random(seed * 104_729 + 11))
        self._build_indexes()

    # ----------------------------------------------------------------- building
    def _build_tables(self) -> None:
        self.seniorities: tuple[str, ...] = get_vocabulary("seniorities").values
        self.headcounts: tuple[str, ...] = get_vocabulary("company_headcounts").values
        self.company_types: tuple[str, ...] = get_vocabulary("company_types").values
        self.industries: tuple[str, ...] = get_vocabulary("company_industries").values
        self.functions: list[str] = list(P.TITLES)
        titles: list[str] = []
        t_func: list[int] = []
        t_sen: list[int] = []
        weights: list[float] = []
        for fi, (function, by_seniority) in enumerate(P.TITLES.items()):
            for seniority, names in by_seniority.items():
                si = self.seniorities.index(seniority)
                for name in names:
                    titles.append(name)
                    t_func.append(fi)
                    t_sen.append(si)
                    weights.append(
                        P.FUNCTION_WEIGHTS[function] * P.SENIORITY_WEIGHTS[seniority] / len(names)
                    )
        self.titles, self.title_function, self.title_seniority = titles, t_func, t_sen
        self._base_titles = len(titles)
        self._title_cum = list(accumulate(weights))
        self.places = [(city, state, country) for city, state, country, _ in P.LOCATIONS]
        self.place_text = [self._place_text(p) for p in self.places]
        self._place_cum = list(accumulate(w for *_, w in P.LOCATIONS))
        # Profiles: per function, four variants of five skills and a tagline.
        profile_rng = random.Random(20260701)  # fixed: the vocabulary, not the population
        self.profiles: list[tuple[int, tuple[str, ...], str]] = []
        for fi, function in enumerate(self.functions):
            for variant in range(4):
                skills = tuple(profile_rng.sample(P.SKILLS[function], 5))
                tagline = P.TAGLINES[function][variant % len(P.TAGLINES[function])]
                self.profiles.append((fi, skills, tagline))
        self.huge_text = ("Helping B2B teams grow, one workbook at a time. " * 900)[
            : P.HUGE_TEXT_LENGTH
        ]

    @staticmethod
    def _place_text(place: tuple[str, str | None, str]) -> str:
        city, state, country = place
        if city == country:
            return country
        return ", ".join(part for part in (city, state, country) if part)

    def _build_companies(self, rng: random.Random) -> None:
        prefixes, roots = P.COMPANY_PREFIXES, P.COMPANY_ROOTS
        suffixes = list(P.COMPANY_SUFFIX_INDUSTRIES)
        combos = len(prefixes) * len(roots) * len(suffixes)
        count = max(20, min(combos, self.size // 20))
        industry_index = {name: i for i, name in enumerate(self.industries)}
        popular, popular_weights = list(P.POPULAR_INDUSTRIES), list(P.POPULAR_INDUSTRIES.values())
        for names in [*P.COMPANY_SUFFIX_INDUSTRIES.values(), popular]:
            missing = [n for n in names if n not in industry_index]
            if missing:  # the vocabulary file changed under us: fail loudly, not oddly
                raise RuntimeError(f"sandbox industries missing from the vocabulary: {missing}")
        shares = [P.HEADCOUNT_SHAPE[h][0] for h in self.headcounts]
        per_company = [P.HEADCOUNT_SHAPE[h][1] for h in self.headcounts]
        type_names = list(P.COMPANY_TYPE_WEIGHTS)
        type_weights = list(P.COMPANY_TYPE_WEIGHTS.values())

        self.co_name: list[str] = []
        self.co_slug: list[str] = []
        self.co_domain: list[str] = []
        self.co_industry: list[int] = []
        self.co_headcount = rng.choices(range(len(self.headcounts)), weights=shares, k=count)
        self.co_hq = rng.choices(range(len(self.places)), cum_weights=self._place_cum, k=count)
        self.co_linkedin_id = rng.sample(range(10_000, 99_999_999), count)
        self.co_type: list[int] = []
        self.co_website_missing: list[bool] = []
        weights: list[float] = []
        for combo in rng.sample(range(combos), count):
            p, rest = divmod(combo, len(roots) * len(suffixes))
            r, s = divmod(rest, len(suffixes))
            suffix = suffixes[s]
            name = f"{prefixes[p]}{roots[r]} {suffix}"
            self.co_name.append(name)
            slug = _slug(name)
            self.co_slug.append(slug)
            self.co_domain.append(slug.replace("-", "") + ".example")
            draw = rng.random()
            if draw < 0.55:
                industry = rng.choice(P.COMPANY_SUFFIX_INDUSTRIES[suffix])
            elif draw < 0.85:
                industry = rng.choices(popular, weights=popular_weights)[0]
            else:
                industry = rng.choice(self.industries)
            self.co_industry.append(industry_index[industry])
            forced = P.INDUSTRY_COMPANY_TYPE.get(industry)
            company_type = forced or rng.choices(type_names, weights=type_weights)[0]
            self.co_type.append(self.company_types.index(company_type))
            self.co_website_missing.append(rng.random() < 0.08)
        for hc in self.co_headcount:
            weights.append(per_company[hc] * (0.5 + rng.random()))
        self._company_cum = list(accumulate(weights))
        self.company_by_linkedin_id = {cid: c for c, cid in enumerate(self.co_linkedin_id)}
        self.company_by_name = {norm(name): c for c, name in enumerate(self.co_name)}
        self.company_by_slug = {slug: c for c, slug in enumerate(self.co_slug)}
        self.company_by_domain = {domain: c for c, domain in enumerate(self.co_domain)}

    def _build_rows(self, rng: random.Random) -> None:
        n = self.size
        companies = len(self.co_name)
        self.col_company = rng.choices(range(companies), cum_weights=self._company_cum, k=n)
        self.col_title = rng.choices(range(self._base_titles), cum_weights=self._title_cum, k=n)
        # Every company has a leader: its first lead (in row order) gets a leader's title.
        title_index = {title: t for t, title in enumerate(self.titles)}
        small = [title_index[t] for t in P.LEADER_TITLES_SMALL]
        large = [title_index[t] for t in P.LEADER_TITLES_LARGE]
        seen: set[int] = set()
        for i, c in enumerate(self.col_company):
            if c not in seen:
                seen.add(c)
                self.col_title[i] = rng.choice(small if self.co_headcount[c] < 2 else large)
        self.col_first = rng.choices(range(len(P.FIRST_NAMES)), k=n)
        self.col_last = rng.choices(range(len(P.LAST_NAMES)), k=n)
        at_hq = rng.choices((True, False), weights=(3, 1), k=n)
        elsewhere = rng.choices(range(len(self.places)), cum_weights=self._place_cum, k=n)
        hq = self.co_hq
        cc = self.col_company
        self.col_location = [hq[cc[i]] if at_hq[i] else elsewhere[i] for i in range(n)]
        variant = rng.choices(range(4), k=n)
        t_func = self.title_function
        self.col_profile = [t_func[t] * 4 + v for t, v in zip(self.col_title, variant, strict=True)]
        self.col_pos_months = rng.choices(range(240), cum_weights=_decay(240, 0.02), k=n)
        extra = rng.choices(range(120), cum_weights=_decay(120, 0.03), k=n)
        self.col_co_months = [p + e for p, e in zip(self.col_pos_months, extra, strict=True)]
        has_past = rng.choices((True, False), weights=(4, 1), k=n)
        past = rng.choices(range(companies), k=n)
        self.col_past_company = [
            (past[i] if past[i] != cc[i] else (past[i] + 1) % companies) if has_past[i] else -1
            for i in range(n)
        ]
        self.col_past_title = rng.choices(
            range(self._base_titles), cum_weights=self._title_cum, k=n
        )
        flags = [0] * n
        for bit, share in (
            (PHOTO_MISSING, 18),
            (JOB_START_MISSING, 7),
            (POSITION_START_MISSING, 9),
            (CHANGED_JOBS, 10),
            (POSTED, 25),
            (TRUNCATED_NAME, 2),
        ):
            for i, on in enumerate(rng.choices((True, False), weights=(share, 100 - share), k=n)):
                if on:
                    flags[i] |= bit
        self.col_flags = flags
        # Hostile rows: a fixed share, every kind present, drawn after everything else so
        # that --clean changes nothing but these rows.
        self.hostile: dict[int, str] = {}
        if not self.clean:
            kinds = [*P.HOSTILE_NAMES, *P.HOSTILE_TITLES, *P.HOSTILE_HEADLINES]
            count = min(n, max(len(kinds), round(n * 0.015)))
            for j, row in enumerate(rng.sample(range(n), count)):
                self.hostile[row] = kinds[j % len(kinds)]
            title_ids: dict[str, int] = {}
            for row, kind in self.hostile.items():
                text = P.HOSTILE_TITLES.get(kind)
                if text is None:
                    continue
                if text not in title_ids:
                    base = self.col_title[row]
                    title_ids[text] = len(self.titles)
                    self.titles.append(text)
                    self.title_function.append(self.title_function[base])
                    self.title_seniority.append(self.title_seniority[base])
                self.col_title[row] = title_ids[text]
        t_sen = self.title_seniority
        self.col_seniority = [t_sen[t] for t in self.col_title]

    def _add_well_known_companies(self, rng: random.Random) -> None:
        """Append ``pools.WELL_KNOWN_COMPANIES`` and move a share of leads to them.

        Each gets as many leads as a drawn company of its headcount bucket would on average,
        taken from other companies' non-leader rows (every company keeps its leader), three in
        four of them moved to its headquarters; and a share of the past employers becomes one
        of them. Nothing depends on ``clean``, so --clean still changes only the hostile rows.
        """
        per_company = {h: P.HEADCOUNT_SHAPE[h][1] for h in self.headcounts}
        total_weight = self._company_cum[-1]
        place_by_city = {city: pid for pid, (city, _, _) in enumerate(self.places)}
        leaders: set[int] = set()
        seen: set[int] = set()
        for i, c in enumerate(self.col_company):
            if c not in seen:
                seen.add(c)
                leaders.add(i)
        movable = [i for i in range(self.size) if i not in leaders]
        first = len(self.co_name)
        wanted = []
        for name, industry, headcount, company_type, city in P.WELL_KNOWN_COMPANIES:
            slug = _slug(name)
            if norm(name) in self.company_by_name or slug in self.company_by_slug:
                raise RuntimeError(f"a drawn company is called like the well-known {name}")
            c = len(self.co_name)
            self.co_name.append(name)
            self.co_slug.append(slug)
            self.co_domain.append(slug.replace("-", "") + ".example")
            self.co_industry.append(self.industries.index(industry))
            self.co_headcount.append(self.headcounts.index(headcount))
            self.co_hq.append(place_by_city[city])
            self.co_linkedin_id.append(100_000_000 + c)  # above every drawn id
            self.co_type.append(self.company_types.index(company_type))
            self.co_website_missing.append(False)
            self.company_by_linkedin_id[self.co_linkedin_id[c]] = c
            self.company_by_name[norm(name)] = c
            self.company_by_slug[slug] = c
            self.company_by_domain[self.co_domain[c]] = c
            wanted.append(round(self.size * per_company[headcount] / total_weight))
        rows = rng.sample(movable, min(len(movable), sum(wanted)))
        start = 0
        for offset, count in enumerate(wanted):
            c = first + offset
            for i in rows[start : start + count]:
                self.col_company[i] = c
                if rng.random() < 0.75:
                    self.col_location[i] = self.co_hq[c]
                if self.col_past_company[i] == c:
                    self.col_past_company[i] = -1
            start += count
        known = range(first, len(self.co_name))
        weights = [per_company[self.headcounts[self.co_headcount[c]]] for c in known]
        for i, past in enumerate(self.col_past_company):
            if past >= 0 and rng.random() < P.WELL_KNOWN_PAST_SHARE:
                (c,) = rng.choices(known, weights=weights)
                if c != self.col_company[i]:
                    self.col_past_company[i] = c

    def _build_indexes(self) -> None:
        cc = self.col_company
        self.company_rows: list[list[int]] = [[] for _ in self.co_name]
        for i, c in enumerate(cc):
            self.company_rows[c].append(i)
        self.by_seniority = bitmaps.group(self.col_seniority, len(self.seniorities))
        self.by_title = bitmaps.group(self.col_title, len(self.titles))
        self.by_location = bitmaps.group(self.col_location, len(self.places))
        self.by_hq = bitmaps.group([self.co_hq[c] for c in cc], len(self.places))
        self.by_industry = bitmaps.group([self.co_industry[c] for c in cc], len(self.industries))
        self.by_headcount = bitmaps.group([self.co_headcount[c] for c in cc], len(self.headcounts))
        self.by_type = bitmaps.group([self.co_type[c] for c in cc], len(self.company_types))
        self.all_rows = (1 << self.size) - 1
        flags = self.col_flags
        self.by_flag = {
            bit: bitmaps.from_ids((i for i, f in enumerate(flags) if f & bit), self.size)
            for bit in (
                PHOTO_MISSING,
                JOB_START_MISSING,
                POSITION_START_MISSING,
                CHANGED_JOBS,
                POSTED,
                TRUNCATED_NAME,
            )
        }
        missing = self.co_website_missing
        self.website_missing = bitmaps.from_ids(
            (i for i, c in enumerate(cc) if missing[c]), self.size
        )
        # Title words -> titles; a word's row bitmap is built on first use.
        self.titles_by_word: dict[str, list[int]] = {}
        for t, title in enumerate(self.titles):
            for word in title_words(title):
                self.titles_by_word.setdefault(word, []).append(t)
        # Place names (city, state, country) -> place ids.
        self.places_by_name: dict[str, set[int]] = {}
        for pid, place in enumerate(self.places):
            for name in place:
                if name:
                    self.places_by_name.setdefault(norm(name), set()).add(pid)

    # ----------------------------------------------------------------- lazy indexes
    def lazy(self, name: str, factory: Any) -> Any:
        """An index few searches need, built on first use (idempotent, so races are harmless)."""
        value = self._lazy.get(name)
        if value is None:
            value = self._lazy[name] = factory()
        return value

    def title_word_rows(self, word: str) -> int:
        """Bitmap of the rows whose current title has ``word`` (see :func:`title_words`)."""
        cache = self.lazy("title_word_rows", dict)
        if word not in cache:
            bm = 0
            for t in self.titles_by_word.get(word, ()):
                bm |= self.by_title[t]
            cache[word] = bm
        return cache[word]

    # ----------------------------------------------------------------- row details
    def row_hash(self, i: int) -> int:
        return mix(self.seed * 1_000_003 + i)

    def lead_id(self, i: int, h: int | None = None) -> str:
        """The Sales Navigator-style id of row ``i`` (stable for a seed)."""
        h = self.row_hash(i) if h is None else h
        return "ACwAAA" + _token(h, mix(h))

    def linkedin_id(self, i: int, h: int | None = None) -> str:
        """LinkedIn's numeric member id of row ``i``, as a string (as Generect sends it)."""
        h = self.row_hash(i) if h is None else h
        return str(100_000_000 + h % 900_000_000)

    def names(self, i: int) -> tuple[str, str, str]:
        """(first, last, full) of row ``i``, hostile overrides included."""
        kind = self.hostile.get(i)
        if kind in P.HOSTILE_NAMES:
            first, last = P.HOSTILE_NAMES[kind]
        else:
            first, last = P.FIRST_NAMES[self.col_first[i]], P.LAST_NAMES[self.col_last[i]]
            if self.col_flags[i] & TRUNCATED_NAME:
                last = last[0] + "."  # LinkedIn's abbreviation for restricted profiles
        return first, last, f"{first} {last}"

    def headline(self, i: int, h: int | None = None) -> str:
        kind = self.hostile.get(i)
        if kind in P.HOSTILE_HEADLINES:
            return P.HOSTILE_HEADLINES[kind] or self.huge_text
        title = self.titles[self.col_title[i]]
        _, _, tagline = self.profiles[self.col_profile[i]]
        if (self.row_hash(i) if h is None else h) & 1:
            return f"{title} at {self.co_name[self.col_company[i]]}"
        return f"{title} | {tagline}"

    def linkedin_url(self, i: int, h: int | None = None) -> str:
        first, last, _ = self.names(i)
        slug = _slug(f"{first} {last}") or "member"
        h = self.row_hash(i) if h is None else h
        return f"https://www.linkedin.com/in/{slug}-{h >> 40:x}"

    def company_url(self, c: int) -> str:
        return f"https://www.linkedin.com/company/{self.co_slug[c]}"

    def company_website(self, c: int) -> str | None:
        return None if self.co_website_missing[c] else f"https://www.{self.co_domain[c]}"

    @staticmethod
    def _updated_at(h: int) -> str:
        seconds = (h >> 24) % 86_400
        clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        return f"{_days_ago((h >> 8) % 400)}T{clock}Z"

    def _jobs(self, i: int, title: str, h: int) -> list[dict[str, Any]]:
        c = self.col_company[i]
        # Field names as in the full lead example of Generect's spec (ENGIE).
        jobs: list[dict[str, Any]] = [
            {
                "job_title": title,
                "company_name": self.co_name[c],
                "company_id": str(self.co_linkedin_id[c]),
                "company_url": self.company_url(c),
                "company_industry": self.industries[self.co_industry[c]],
                "job_started_on": _month_label(self.col_pos_months[i]),
                "job_ended_on": None,
                "job_still_working": True,
            }
        ]
        past = self.col_past_company[i]
        if past >= 0:
            ended = self.col_co_months[i]
            jobs.append(
                {
                    "job_title": self.titles[self.col_past_title[i]],
                    "company_name": self.co_name[past],
                    "company_id": str(self.co_linkedin_id[past]),
                    "company_url": self.company_url(past),
                    "company_industry": self.industries[self.co_industry[past]],
                    "job_started_on": _month_label(ended + 12 + h % 60),
                    "job_ended_on": _month_label(ended),
                    "job_still_working": False,
                }
            )
        return jobs

    # ----------------------------------------------------------------- rendering
    def database_row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a database search returns it (Generect's database field names)."""
        h = self.row_hash(i)
        first, last, full = self.names(i)
        c = self.col_company[i]
        flags = self.col_flags[i]
        title = self.titles[self.col_title[i]]
        city, state, country = self.places[self.col_location[i]]
        lead_id = self.lead_id(i, h)
        row: dict[str, Any] = {}
        # Some database rows carry ``id`` instead of ``lead_id``, as Generect's do.
        row["id" if h % 10 == 0 else "lead_id"] = lead_id
        row["sales_id"] = lead_id  # the Sales Navigator id, which exclude_ids takes
        row["linkedin_id"] = self.linkedin_id(i, h)
        row["full_name"] = full
        row["first_name"] = first
        row["last_name"] = last
        row["job_title"] = title
        row["raw_job_title"] = f"{title} | {self.co_name[c]}" if (h >> 4) % 5 == 0 else title
        if (h >> 7) % 20:
            row["headline"] = self.headline(i, h)
        row["seniority"] = self.seniorities[self.col_seniority[i]]
        row["linkedin_url"] = self.linkedin_url(i, h)
        row["linkedin_sales_link"] = (
            None
            if (h >> 9) % 20 == 0
            else f"https://www.linkedin.com/sales/lead/{lead_id},NAME_SEARCH,{lead_id[-4:]}"
        )
        row["profile_photo"] = (
            None if flags & PHOTO_MISSING else f"https://media.sandbox.example/p/{lead_id}.jpg"
        )
        row["location"] = self.place_text[self.col_location[i]]
        row["location_city"] = city
        row["location_state"] = state
        row["location_country"] = country
        row["company_name"] = self.co_name[c]
        row["company_url"] = self.company_url(c)
        row["company_website"] = self.company_website(c)
        row["company_industry"] = self.industries[self.co_industry[c]]
        # LinkedIn's own spelling of the top bucket, not the request vocabulary's "10 000+".
        headcount = self.headcounts[self.co_headcount[c]]
        row["company_headcount_range"] = "10001+" if headcount == "10 000+" else headcount
        row["company_type"] = self.company_types[self.co_type[c]]
        row["company_location"] = self.place_text[self.co_hq[c]]
        row["linkedin_company_id"] = self.co_linkedin_id[c]
        row["is_current"] = True
        row["job_started_on"] = (
            None if flags & JOB_START_MISSING else _month_label(self.col_co_months[i])
        )
        row["started_at_position"] = (
            None if flags & POSITION_START_MISSING else _months_ago(self.col_pos_months[i])
        )
        row["num_of_connections"] = 30 + (h >> 28) % 2500
        row["updated_at"] = self._updated_at(h)
        row["jobs"] = self._jobs(i, title, h)
        _, skills, _ = self.profiles[self.col_profile[i]]
        row["skills"] = [] if (h >> 12) % 10 == 0 else list(skills)
        return row

    def realtime_row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a realtime search returns it: other names, a nested ``company`` on some
        rows, ``lead_id`` and ``linkedin_url`` missing on others."""
        h = self.row_hash(i)
        first, last, full = self.names(i)
        c = self.col_company[i]
        flags = self.col_flags[i]
        lead_id = self.lead_id(i, h)
        row: dict[str, Any] = {}
        if (h >> 14) % 10 >= 3:
            row["lead_id"] = lead_id
        row["full_name"] = full
        row["first_name"] = first
        row["last_name"] = last
        row["title"] = self.titles[self.col_title[i]]
        row["headline"] = None if (h >> 7) % 20 == 0 else self.headline(i, h)
        row["location"] = self.place_text[self.col_location[i]]
        if (h >> 17) % 4:
            row["linkedin_url"] = self.linkedin_url(i, h)
        row["sales_navigator_url"] = (
            f"https://www.linkedin.com/sales/lead/{lead_id},NAME_SEARCH,{lead_id[-4:]}"
        )
        website = self.company_website(c)
        if (h >> 19) & 1:
            row["company"] = {
                "name": self.co_name[c],
                "domain": None if website is None else self.co_domain[c],
                "linkedin_url": self.company_url(c),
                "industry": self.industries[self.co_industry[c]],
                "headcount": self.headcounts[self.co_headcount[c]],
            }
        else:
            row["lead_company_name"] = self.co_name[c]
            row["lead_company_linkedin_url"] = self.company_url(c)
            row["lead_company_website"] = website
            row["lead_company_industry"] = self.industries[self.co_industry[c]]
        row["seniority"] = self.seniorities[self.col_seniority[i]]
        row["function"] = self.functions[self.title_function[self.col_title[i]]]
        row["years_in_position"] = years_bucket(self.col_pos_months[i])
        row["years_in_company"] = years_bucket(self.col_co_months[i])
        row["changed_jobs"] = bool(flags & CHANGED_JOBS)
        row["posted_on_linkedin"] = bool(flags & POSTED)
        _, skills, _ = self.profiles[self.col_profile[i]]
        row["skills"] = list(skills)
        return row

    def row(self, i: int, mode: str) -> dict[str, Any]:
        return self.realtime_row(i) if mode == "realtime" else self.database_row(i)


@lru_cache(maxsize=4)
def build_population(seed: int = 1, size: int = 100_000, clean: bool = False) -> Population:
    """The population for ``(seed, size, clean)``, built once per process and shared."""
    return Population(seed=seed, size=size, clean=clean)
