"""The API's closed vocabularies, and what analysts type instead.

Generect answers 400 to any spelling but its own ("c_suite", "10 000+", "Privately Held",
"Software Development"), so every value is normalized here before a request is built, and an
unknown one fails for free with the closest valid values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from .suggest import closest, did_you_mean

__all__ = [
    "FIELD_VOCABULARY",
    "UnknownValueError",
    "Vocabulary",
    "allowed_values",
    "get_vocabulary",
    "normalize_value",
    "vocabulary_names",
]


class UnknownValueError(ValueError):
    """A value outside a vocabulary. Its message names the closest valid values."""

    def __init__(self, vocabulary: Vocabulary, raw: str, suggestions: list[str]) -> None:
        self.vocabulary = vocabulary
        self.raw = raw
        self.suggestions = suggestions
        if suggestions:
            hint = did_you_mean(suggestions)
        else:
            # Both ways to see the list: a cell's short form drops the parenthesis.
            hint = (
                f'see the list with =GENERECT_VALUES("{vocabulary.name}") '
                f"(or: generect-excel values {vocabulary.name})"
            )
        super().__init__(f'"{raw}" is not a valid {vocabulary.label}; {hint}')


def _key(text: str) -> str:
    """Spelling-insensitive comparison key: lower case, letters, digits and '+' only."""
    return re.sub(r"[^0-9a-z+]+", "", text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """A closed list of API values, with friendly synonyms mapped onto them."""

    name: str
    label: str  # singular, for messages: "seniority", "company size"
    values: tuple[str, ...]
    synonyms: dict[str, str] = field(default_factory=dict)  # key(synonym) -> value
    _table: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = {_key(v): v for v in self.values}
        table.update(self.synonyms)
        object.__setattr__(self, "_table", table)

    def lookup(self, raw: str) -> str | None:
        """The API's spelling of ``raw``, or None (cheap: no suggestions are computed)."""
        table = self._table
        k = _key(str(raw))
        if k in table:
            return table[k]
        # Plurals ("Directors", "Founders") and a trailing "level"/"employees" word.
        for trimmed in (k.removesuffix("s"), k.removesuffix("level"), k.removesuffix("employees")):
            if trimmed and trimmed in table:
                return table[trimmed]
        return None

    def normalize(self, raw: str) -> str:
        """Return the API's spelling of ``raw`` or raise :class:`UnknownValueError`."""
        text = str(raw).strip()
        value = self.lookup(text)
        if value is None:
            raise UnknownValueError(self, text, self.suggest(text))
        return value

    def is_valid(self, raw: str) -> bool:
        """True when ``raw`` normalizes to a value of this vocabulary."""
        return self.lookup(raw) is not None

    def suggest(self, raw: str, n: int = 3) -> list[str]:
        """The closest valid values (:func:`generect_excel.suggest.closest`): containment,
        whole spelling and word-by-word spelling ("Sofware" -> "Software Development")."""
        return closest(str(raw), self.values, n=n)


def _syn(mapping: dict[str, list[str]]) -> dict[str, str]:
    return {_key(alias): value for value, aliases in mapping.items() for alias in aliases}


SENIORITIES = Vocabulary(
    name="seniorities",
    label="seniority",
    values=(
        "owner",
        "founder",
        "c_suite",
        "partner",
        "vp",
        "head",
        "director",
        "manager",
        "senior",
        "entry",
        "intern",
    ),
    synonyms=_syn(
        {
            "c_suite": [
                "CXO",
                "C-Suite",
                "C Suite",
                "C level",
                "C-level",
                "CxO",
                "Chief",
                "Chief Officer",
                "Executive",
                "C_Suite",
                "CEO level",
            ],
            "vp": ["VP", "Vice President", "Vice-President", "SVP", "EVP", "AVP"],
            "entry": ["Entry Level", "Entry-level", "Junior", "Entry"],
            "intern": ["Internship", "Trainee"],
            "owner": ["Owners", "Business Owner"],
            "founder": ["Co-founder", "Cofounder", "Co founder"],
            "head": ["Head of", "Heads"],
            "senior": ["Senior level", "Sr", "Experienced"],
            "manager": ["Mgr", "Management"],
            "director": ["Dir"],
        }
    ),
)

HEADCOUNTS = Vocabulary(
    name="company_headcounts",
    label="company size",
    values=("1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10 000+"),
    # The seeds' "10001+" is rejected by the live API: accept every spelling, send "10 000+".
    synonyms=_syn(
        {
            "10 000+": [
                "10001+",
                "10,001+",
                "10000+",
                "10,000+",
                "10k+",
                "10 001+",
                "10000 +",
                "more than 10000",
                "over 10000",
            ],
            "1-10": ["1 to 10", "0-10", "2-10", "1–10"],
            "11-50": ["11 to 50", "11–50"],
            "51-200": ["51 to 200", "51–200"],
            "201-500": ["201 to 500", "201–500"],
            "501-1000": ["501 to 1000", "501–1,000", "501-1,000"],
            "1001-5000": ["1001 to 5000", "1,001-5,000", "1k-5k"],
            "5001-10000": ["5001 to 10000", "5,001-10,000", "5k-10k"],
        }
    ),
)

COMPANY_TYPES = Vocabulary(
    name="company_types",
    label="company type",
    values=(
        "Public Company",
        "Privately Held",
        "Non Profit",
        "Government Agency",
        "Educational",
        "Self Employed",
        "Partnership",
        "Self Owned",
    ),
    synonyms=_syn(
        {
            "Public Company": ["Public", "Publicly Held", "Listed"],
            "Privately Held": ["Private", "Private Company"],
            "Non Profit": ["Nonprofit", "Non-profit", "NGO", "Not for profit"],
            "Government Agency": ["Government", "Public Sector", "Gov"],
            "Educational": ["Education", "Educational Institution", "University", "School"],
            "Self Employed": ["Self-employed", "Freelance", "Freelancer"],
            "Self Owned": ["Self-owned"],
        }
    ),
)

FILTER_EMPTY_VARS = Vocabulary(
    name="filter_empty_vars",
    label="filter_empty_vars field",
    values=("job_started_on", "profile_photo", "started_at_position", "company_website"),
    synonyms=_syn(
        {
            "profile_photo": ["photo", "profile picture", "picture"],
            "company_website": ["website"],
            "job_started_on": ["job start", "job start date"],
            "started_at_position": ["position start", "position start date"],
        }
    ),
)

# LinkedIn title case: small words stay lower, a few acronyms stay upper, and after a hyphen
# LinkedIn keeps lower case ("Non-profit", "Post-production") except for these names.
_SMALL_WORDS = {"and", "or", "of", "for", "the", "in", "on", "to", "a", "an", "with", "by", "at"}
_ACRONYMS = {"it": "IT", "hvac": "HVAC"}
_HYPHEN_EXCEPTIONS = {"e-learning": "E-Learning", "bed-and-breakfasts": "Bed-and-Breakfasts"}


def _title_word(word: str, first: bool) -> str:
    bare = word.rstrip(",")
    tail = word[len(bare) :]
    low = bare.lower()
    if low in _HYPHEN_EXCEPTIONS:
        out = _HYPHEN_EXCEPTIONS[low]
    elif low in _ACRONYMS:
        out = _ACRONYMS[low]
    elif low in _SMALL_WORDS and not first:
        out = low
    else:
        out = low[:1].upper() + low[1:]
    return out + tail


def linkedin_case(name: str) -> str:
    """``"it services and it consulting"`` -> ``"IT Services and IT Consulting"``."""
    return " ".join(_title_word(w, i == 0) for i, w in enumerate(name.split()))


@cache
def _industries() -> Vocabulary:
    text = (
        resources.files("generect_excel")
        .joinpath("data/linkedin-industries-v2.txt")
        .read_text(encoding="utf-8")
    )
    names = tuple(linkedin_case(line) for line in text.splitlines() if line.strip())
    return Vocabulary(
        name="company_industries",
        label="industry",
        values=names,
        synonyms=_syn(
            {
                "Non-profit Organizations": ["Nonprofit", "Non Profit", "Non-profit"],
                "IT Services and IT Consulting": ["IT Services", "IT Consulting"],
                "Technology, Information and Internet": ["Internet", "Tech"],
            }
        ),
    )


def _vocabularies() -> dict[str, Vocabulary]:
    return {
        v.name: v
        for v in (SENIORITIES, HEADCOUNTS, COMPANY_TYPES, FILTER_EMPTY_VARS, _industries())
    }


# Request field -> the vocabulary its values must come from.
FIELD_VOCABULARY: dict[str, str] = {
    "seniorities": "seniorities",
    "company_headcounts": "company_headcounts",
    "exclude_company_headcounts": "company_headcounts",
    "company_types": "company_types",
    "filter_empty_vars": "filter_empty_vars",
    "company_industries": "company_industries",
    "exclude_company_industries": "company_industries",
    "lead_industries": "company_industries",
    "exclude_lead_industries": "company_industries",
}

# Friendly names for GENERECT_VALUES(field).
_VOCAB_ALIASES = {
    "seniority": "seniorities",
    "headcounts": "company_headcounts",
    "headcount": "company_headcounts",
    "companysize": "company_headcounts",
    "size": "company_headcounts",
    "companytype": "company_types",
    "type": "company_types",
    "types": "company_types",
    "industry": "company_industries",
    "industries": "company_industries",
    "filteremptyvars": "filter_empty_vars",
}


def vocabulary_names() -> list[str]:
    return list(_vocabularies())


def get_vocabulary(name: str) -> Vocabulary:
    """Look a vocabulary up by its name, a request field using it, or a friendly label."""
    vocabularies = _vocabularies()
    if name in vocabularies:
        return vocabularies[name]
    if name in FIELD_VOCABULARY:
        return vocabularies[FIELD_VOCABULARY[name]]
    k = _key(name)
    for candidate in (k, k.removeprefix("company"), k.removesuffix("s")):
        if candidate in _VOCAB_ALIASES:
            return vocabularies[_VOCAB_ALIASES[candidate]]
        for vname in vocabularies:
            if _key(vname) == candidate:
                return vocabularies[vname]
    # A typo of a list's name or alias ("industy", "seniorty") gets the closest list.
    aliases = {**{_key(v): v for v in vocabularies}, **_VOCAB_ALIASES}
    guess = closest(k, aliases, n=1, words=False)
    hint = f' Did you mean "{aliases[guess[0]]}"?' if guess else ""
    raise KeyError(f'No value list for "{name}".{hint} Lists exist for: {", ".join(vocabularies)}.')


def allowed_values(name: str) -> tuple[str, ...]:
    """The allowed values of a vocabulary (by name, request field or friendly label)."""
    return get_vocabulary(name).values


def normalize_value(field_name: str, raw: str) -> str:
    """Normalize ``raw`` for request field ``field_name``; free text passes through stripped."""
    vocab_name = FIELD_VOCABULARY.get(field_name)
    if vocab_name is None:
        return str(raw).strip()
    return _vocabularies()[vocab_name].normalize(raw)
