"""Closest valid names for a typo: one helper for every "did you mean ...?" in the product.

Criteria labels ("Seniorty"), vocabulary values ("Sofware", "Drector", "Privat") and config
file settings ("api_kye") are all suggested here, so that a typo gets the same kind of answer
wherever it is made. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]

_WORD = re.compile(r"[0-9a-z]+")


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
    k = _key(text)
    if not k:
        return []
    typed = _words(text)
    scored: list[tuple[float, int, str]] = []
    for choice in choices:
        ck = _key(choice)
        matcher = difflib.SequenceMatcher(None, k, ck)
        score = matcher.ratio()
        if words:
            if len(k) >= 4 and (k in ck or ck in k):
                score += 1.0
            own = _words(choice)
            for word in typed:
                best = max((difflib.SequenceMatcher(None, word, w).ratio() for w in own), default=0)
                if best >= 0.8 and len(word) >= 4 or best == 1.0:
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
    return out


def did_you_mean(suggestions: Iterable[str]) -> str:
    """``'did you mean "a" or "b"?'``, or ``""`` when there is nothing to suggest."""
    quoted = [f'"{s}"' for s in suggestions]
    return f"did you mean {' or '.join(quoted)}?" if quoted else ""
