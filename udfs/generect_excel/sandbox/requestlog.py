"""The sandbox's request log: one JSON line per API call, and the same entries in memory.

An entry: ``time`` (UTC, ISO 8601), ``method``, ``path``, ``key`` (the key's fingerprint,
never the key), ``body`` (the decoded JSON body, or the raw text cut to 2,000 characters when
it is not JSON), ``status`` (None when no answer was sent), ``rows`` (leads returned),
``results_count``, ``amount_charged`` (what the answer reported), ``debited`` (what the
balance lost: 0 in test mode), ``test_mode``, ``fault`` (the injected fault, or None) and
``duration_ms``. Tests and benchmarks count billable calls from it exactly.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..operations import OPERATIONS
from .faults import CHARGING_FAULTS

__all__ = ["BILLED_PATHS", "RequestLog", "is_billable"]

# The paths whose successful answers Generect bills (database counts are free), as the
# operation registry describes them.
BILLED_PATHS = frozenset(op.path for op in OPERATIONS.values() if op.billable)
_RAW_BODY_LIMIT = 2000


def is_billable(entry: dict[str, Any]) -> bool:
    """A 200 answer on a billed path that no failure fault spoiled (test mode included: it
    reports a price, it just does not debit); ``charged_drop`` is billed, then cut."""
    fault = entry.get("fault")
    return (
        entry.get("status") == 200
        and entry.get("path") in BILLED_PATHS
        and (fault is None or str(fault).split("=")[0] in CHARGING_FAULTS)
    )


class RequestLog:
    """Thread-safe: the server thread writes, tests read."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def body_for_log(raw: bytes, decoded: Any) -> Any:
        if decoded is not None:
            return decoded
        text = raw.decode("utf-8", errors="replace")
        return text[:_RAW_BODY_LIMIT] if text else None

    def record(self, **fields: Any) -> dict[str, Any]:
        entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **fields}
        # ASCII only: a body may hold lone surrogates or U+2028, which must not break lines.
        line = json.dumps(entry, ensure_ascii=True, default=str)
        with self._lock:
            self._entries.append(entry)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def billable(self) -> list[dict[str, Any]]:
        return [e for e in self.entries() if is_billable(e)]

    def clear(self) -> None:
        """Forget the in-memory entries; the file keeps its history (it is append-only)."""
        with self._lock:
            self._entries.clear()
