"""Fault injection: Generect's test-mode behaviours, plus what robustness tests need.

Generect's own (header ``X-Generect-Test-Behaviour``, honoured for ``test_`` keys):

- ``not_found`` -> 404, ``insufficient_funds`` -> 402, ``rate_limited`` -> 429,
  ``upstream_error`` -> 502 (all with the JSON error envelope);
- ``slow`` -> the normal answer after :attr:`SandboxConfig.slow_seconds`;
- ``latency=<s>`` -> the normal answer after ``s`` seconds.

The sandbox's own, for robustness tests:

- ``malformed_json`` -> 200 ``application/json`` with a truncated JSON body;
- ``html_error`` -> 502 with an HTML page, as a proxy in front of an API sends;
- ``drop`` -> 200 headers and part of the body, then the connection is closed;
- ``hang`` -> no answer until the client gives up, the server stops, or the hang limit
  (120 s by default) passes; then the connection is closed;
- ``charged_drop`` -> the request is served and charged as usual (its transaction is in the
  billing history), then the answer is cut halfway and the connection closed: the charge
  whose answer never arrives, as live Generect can leave it.

Faults reach a request three ways, first match wins: the header (``test_`` keys only), the
server's fault queue (:class:`FaultQueue`, one fault consumed per request, optionally only by
one path; fed by ``Sandbox.queue_faults`` or ``POST /_sandbox/faults``), or the key itself
(``test_fault-upstream_error``, ``fault-rate_limited``, ``test_fault-latency=2``): Excel cannot
set headers, but any key can be typed. A fault never charges, except ``charged_drop``; ``slow``
and ``latency`` only delay an answer that is billed as usual.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CHARGED_DROP",
    "CHARGING_FAULTS",
    "DELAY_FAULTS",
    "FAULTS",
    "Fault",
    "FaultQueue",
    "fault_for_key",
    "parse_fault",
]

FAULTS = (
    "not_found",
    "insufficient_funds",
    "rate_limited",
    "upstream_error",
    "slow",
    "malformed_json",
    "html_error",
    "drop",
    "hang",
    "charged_drop",
)
DELAY_FAULTS = frozenset({"slow", "latency"})  # these delay a normal, billed answer
CHARGED_DROP = "charged_drop"
# The faults after which a call is billed as usual (the answer may still never arrive).
CHARGING_FAULTS = DELAY_FAULTS | {CHARGED_DROP}
MAX_FAULT_SECONDS = 120.0
_KEY_FAULT = re.compile(r"^(?:test_)?fault-(.+)$")


@dataclass(frozen=True)
class Fault:
    """One fault: ``name`` is one of :data:`FAULTS` or ``"latency"`` (with ``seconds``)."""

    name: str
    seconds: float | None = None

    def __str__(self) -> str:
        return f"latency={self.seconds:g}" if self.name == "latency" else self.name


def parse_fault(text: str) -> Fault:
    """``"rate_limited"`` or ``"latency=2.5"`` -> :class:`Fault`; ValueError when unknown."""
    value = str(text).strip().lower()
    if value.startswith("latency="):
        try:
            seconds = float(value.split("=", 1)[1])
        except ValueError:
            seconds = math.nan
        if not 0 <= seconds <= MAX_FAULT_SECONDS:  # also refuses nan
            raise ValueError(
                f"latency must be a number of seconds from 0 to {MAX_FAULT_SECONDS:g}: {text!r}"
            )
        return Fault("latency", seconds)
    if value not in FAULTS:
        raise ValueError(f"unknown fault {text!r}; known: {', '.join(FAULTS)}, latency=<s>")
    return Fault(value)


def fault_for_key(key: str) -> Fault | None:
    """The fault a key asks for by its name (``test_fault-drop``), or None."""
    match = _KEY_FAULT.match(key)
    if not match:
        return None
    try:
        return parse_fault(match.group(1))
    except ValueError:
        return None


def _same_path(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


class FaultQueue:
    """Faults waiting for the next requests, in order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[Fault, str | None]] = []

    def push(self, faults: Iterable[str | Fault], *, path: str | None = None) -> int:
        """Queue ``faults`` (names or :class:`Fault`); only requests to ``path`` take them when
        given. Validates all before queueing any; returns how many are now pending."""
        parsed = [f if isinstance(f, Fault) else parse_fault(f) for f in faults]
        with self._lock:
            self._items.extend((fault, path) for fault in parsed)
            return len(self._items)

    def take(self, path: str) -> Fault | None:
        """The first pending fault meant for ``path``, removed from the queue."""
        with self._lock:
            for index, (fault, only) in enumerate(self._items):
                if only is None or _same_path(only, path):
                    del self._items[index]
                    return fault
        return None

    def pending(self) -> list[dict[str, str | None]]:
        with self._lock:
            return [{"fault": str(fault), "path": path} for fault, path in self._items]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
