"""The SQLite store's crash journal: charges that could not be written, kept in a plain-text
file next to the store and imported when it opens."""

from __future__ import annotations

import contextlib
import json
import logging
import os

from ...errors import StoreError
from ...ledger import Charge
from ..records import CacheEntry, UnknownOutcome, _ts, _utcnow
from .rows import SQLiteRows

log = logging.getLogger(__name__)


JOURNAL_SUFFIX = ".unsaved.jsonl"


class SQLiteJournal(SQLiteRows):
    """The fallback journal of unsaved charges."""

    def _journal(self, entry: CacheEntry, charge: Charge | None, cause: StoreError) -> StoreError:
        from ...budget import format_money

        amount = charge.amount_charged if charge is not None else entry.amount_charged
        line = json.dumps({"entry": entry.to_json(), "charge": charge and charge.to_json()})
        try:
            self._append_journal(line)
        except OSError as exc:
            # Last resort: the log. Neither the entry nor the charge contains the key.
            log.error("UNSAVED GENERECT CHARGE (store and journal failed): %s", line)
            return StoreError(
                f"Charged {format_money(amount)} but could not save the answer or its charge: "
                f"neither the store nor {self.journal_path} could be written "
                f"({exc.strerror or exc}). Free disk space or fix GENERECT_HOME's permissions; "
                "the charge is written in full to the error log.",
                short=f"Charged {format_money(amount)} but could not save it: free disk space "
                "or fix GENERECT_HOME's permissions.",
                details=f"{cause.details}; journal {self.journal_path}: {exc}",
            )
        log.error("charge of $%s kept in %s: %s", amount, self.journal_path, cause.details)
        return StoreError(
            f"Charged {format_money(amount)}, but the store is unavailable: kept in "
            f"{self.journal_path}, saved on the next start.",
            short=f"Charged {format_money(amount)}, but the store is unavailable: kept in "
            f"{self.journal_path.name}, saved on the next start.",
            details=f"{cause.details}; journal: {self.journal_path}",
        )

    def _journal_unknown(
        self, unknown: UnknownOutcome, charge: Charge | None, cause: StoreError
    ) -> StoreError:
        line = json.dumps({"unknown": unknown.to_json(), "charge": charge and charge.to_json()})
        try:
            self._append_journal(line)
        except OSError as exc:
            log.error("UNSAVED GENERECT UNKNOWN OUTCOME (store and journal failed): %s", line)
            return StoreError(
                "A call that may have been charged could not be recorded: neither the store nor "
                f"{self.journal_path} could be written ({exc.strerror or exc}). Check the "
                "balance before retrying; free disk space or fix GENERECT_HOME's permissions.",
                short="A call that may have been charged could not be recorded: check the "
                "balance before retrying.",
                details=f"{cause.details}; journal {self.journal_path}: {exc}",
            )
        log.error("unknown outcome kept in %s: %s", self.journal_path, cause.details)
        return StoreError(
            f"A call that may have been charged was kept in {self.journal_path}, "
            "saved on the next start.",
            short=f"A call that may have been charged was kept in {self.journal_path.name}, "
            "saved on the next start.",
            details=f"{cause.details}; journal: {self.journal_path}",
        )

    def _append_journal(self, line: str) -> None:
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def recover_journal(self) -> int:
        """Import the fallback journal into the store; returns the number of lines imported.

        Idempotent: a charge already in the ledger is not added twice, and a cache entry only
        replaces an older one (an unknown outcome only one older than it, and an entry clears
        an older unknown outcome). The imported journal is renamed, not deleted.
        """
        try:
            text = self.journal_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise StoreError(
                f"Cannot read the store's journal of unsaved charges {self.journal_path}: "
                "check its permissions (it holds charges not yet in the ledger), then retry.",
                details=f"{self.journal_path}: {exc}",
            ) from exc
        records: list[tuple[CacheEntry | UnknownOutcome, Charge | None]] = []
        for number, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
                record: CacheEntry | UnknownOutcome
                if "unknown" in data:
                    record = UnknownOutcome.from_json(data["unknown"])
                else:
                    record = CacheEntry.from_json(data["entry"])
                charge = Charge.from_json(data["charge"]) if data.get("charge") else None
            except (ValueError, KeyError, TypeError) as exc:
                # A line cut short by a crash: keep going, the rest is still money.
                log.error("skipping unreadable line %d of %s: %s", number, self.journal_path, exc)
                continue
            records.append((record, charge))
        with self._transaction("importing unsaved charges", write=True) as conn:
            for record, charge in records:
                current = self._get(conn, record.key)
                if isinstance(record, UnknownOutcome):
                    if current is None or current.fetched_at < record.at:
                        self._put_unknown(conn, record)
                elif current is None or current.fetched_at <= record.fetched_at:
                    self._put(conn, record)
                    conn.execute(
                        "DELETE FROM unknown_outcomes WHERE key = ? AND at <= ?",
                        (record.key, _ts(record.fetched_at)),
                    )
                if charge is not None:
                    self._add_charge(conn, charge)
        stamp = _utcnow().strftime("%Y%m%dT%H%M%S%f")
        with contextlib.suppress(OSError):
            self.journal_path.rename(
                self.journal_path.with_name(f"{self.path.name}.imported-{stamp}.jsonl")
            )
        log.info("imported %d unsaved charge(s) from %s", len(records), self.journal_path)
        return len(records)
