"""Closest valid names for a typo: one helper for every "did you mean ...?" in the product.

Criteria labels ("Seniorty"), vocabulary values ("Sofware", "Drector", "Privat") and config
file settings ("api_kye") are all suggested here, so that a typo gets the same kind of answer
wherever it is made. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["closest", "did_you_mean"]

_WORD = re.compile(r"[0-9a-z]+")
# A bad cell is parsed again at every recalculation (errors are never memoized), and scoring
# several hundred industries takes a while: the last answers are kept.
_MEMO_SIZE = 256


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z+]+", "", str(text).lower())


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(str(text).lower()) if len(w) >= 2]


def closest(
    text: str,
    choices: Iterable[str],
    *,
    n: int = 3,
    cutoff: float = 0.6,
    words: bool = True,
) -> list[str]:
    """The ``n`` choices closest to ``text``, best first (ties: the shorter first).

    The score is the spelling similarity of the whole text (difflib's ratio, ignoring case,
    spaces and punctuation). With ``words`` (values of several words, such as industries)
    two bonuses are added: one choice containing the other ("Software" in "Software
    Development"), and each typed word that is a close spelling of one of the choice's words
    ("Sofware" ~ "Software"), so that a typo of one word of a long value still finds it.
    Without ``words`` the result is difflib's ``get_close_matches`` on the spelling keys.

    >>> closest("Sofware", ["Software Development", "Retail", "Farming"])
    ['Software Development']
    >>> closest("api_kye", ["api_key", "base_url", "home"], n=1)
    ['api_key']
    """
    return list(_closest(str(text), tuple(choices), n, cutoff, words))


@lru_cache(maxsize=_MEMO_SIZE)
def _closest(
    text: str, choices: tuple[str, ...], n: int, cutoff: float, words: bool
) -> tuple[str, ...]:
    k = _key(text)
    if not k:
        return ()
    # difflib caches what it learns about its second sequence: the typed text goes there.
    whole = difflib.SequenceMatcher(None, "", k)
    word_scores = _word_scores(_words(text), choices) if words else {}
    scored: list[tuple[float, int, str]] = []
    for choice in choices:
        ck = _key(choice)
        whole.set_seq1(ck)
        score = whole.ratio()
        if words:
            if len(k) >= 4 and (k in ck or ck in k):
                score += 1.0
            own = set(_words(choice))
            for typed_word, scores in word_scores.items():
                best = max((scores.get(w, 0.0) for w in own), default=0.0)
                # A near miss counts only for a word that is most of what was typed
                # ("Sofware"), not a side word ("nonexistent_field" is no "fields_of_study").
                near = best >= 0.8 and len(typed_word) >= 4 and 2 * len(typed_word) >= len(k)
                if near or best == 1.0:
                    score += 0.8 * best
        if score >= cutoff:
            scored.append((score, len(choice), choice))
    scored.sort(key=lambda item: (-item[0], item[1]))
    out: list[str] = []
    for _, _, choice in scored:
        if choice not in out:
            out.append(choice)
        if len(out) == n:
            break
    return tuple(out)


def _word_scores(typed: list[str], choices: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """typed word -> {a word of the choices: its similarity, when at least 0.8}: each distinct
    pair is scored once (industries share many words), the hopeless ones skipped cheaply."""
    vocabulary = {w for choice in choices for w in _words(choice)}
    out: dict[str, dict[str, float]] = {}
    for word in typed:
        matcher = difflib.SequenceMatcher(None, "", word)
        scores: dict[str, float] = {}
        for candidate in vocabulary:
            matcher.set_seq1(candidate)
            if matcher.real_quick_ratio() >= 0.8 and matcher.quick_ratio() >= 0.8:
                ratio = matcher.ratio()
                if ratio >= 0.8:
                    scores[candidate] = ratio
        out[word] = scores
    return out


def did_you_mean(suggestions: Iterable[str]) -> str:
    """``'did you mean "a" or "b"?'``, or ``""`` when there is nothing to suggest."""
    quoted = [f'"{s}"' for s in suggestions]
    return f"did you mean {' or '.join(quoted)}?" if quoted else ""
