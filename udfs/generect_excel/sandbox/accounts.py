"""Balances per key fingerprint: every new key opens an account with the configured balance.

Keys are never stored: accounts are keyed by :func:`generect_excel.settings.key_fingerprint`.

Each account keeps its billing history, as Generect's ``accounts/transactions`` serves it: every
debit is a ``success`` transaction carrying the charge as negative ``credits`` (the balance's
unit, USD here), the operation's ``type`` and the balance it left. A debit is recorded when the
charge is made, before the answer leaves: an answer lost afterwards keeps its transaction, which
is what ``generect-excel reconcile`` settles lost answers with.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

__all__ = ["Account", "Accounts", "Transaction"]


@dataclass(frozen=True)
class Transaction:
    """One record of an account's billing history (``credits`` < 0 for a charge)."""

    id: str
    time: datetime
    operation: str | None
    credits: Decimal
    status: str
    after_balance: Decimal
    balance_type: str = "platform"


@dataclass
class Account:
    balance: Decimal
    used_this_month: Decimal = Decimal("0")
    transactions: list[Transaction] = field(default_factory=list)


class Accounts:
    """Thread-safe balances; :meth:`debit` checks and charges in one step."""

    def __init__(self, opening_balance: Decimal, monthly_limit: Decimal) -> None:
        self.opening_balance = Decimal(opening_balance)
        self.monthly_limit = Decimal(monthly_limit)
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = {}

    def _get(self, fingerprint: str) -> Account:
        account = self._accounts.get(fingerprint)
        if account is None:
            account = self._accounts[fingerprint] = Account(self.opening_balance)
        return account

    def snapshot(self, fingerprint: str) -> Account:
        with self._lock:
            account = self._get(fingerprint)
            return Account(account.balance, account.used_this_month)

    def debit(self, fingerprint: str, amount: Decimal, *, operation: str | None = None) -> bool:
        """Charge ``amount`` for ``operation`` (a transaction ``type``) and record it in the
        billing history; False (and nothing charged) when the balance cannot cover it."""
        with self._lock:
            account = self._get(fingerprint)
            if amount > account.balance:
                return False
            account.balance -= amount
            account.used_this_month += amount
            self._record(account, -amount, operation, "success")
            return True

    def record(
        self,
        fingerprint: str,
        credits: Decimal,
        *,
        operation: str | None = None,
        status: str = "success",
        time: datetime | None = None,
    ) -> Transaction:
        """Add a transaction to the history as it is (a charge made elsewhere, a top-up, a
        ``pending`` or ``error`` record); a ``success`` one moves the balance too."""
        with self._lock:
            account = self._get(fingerprint)
            if status == "success":
                account.balance += credits
                if credits < 0:
                    account.used_this_month -= credits
            return self._record(account, Decimal(credits), operation, status, time)

    @staticmethod
    def _record(
        account: Account,
        credits: Decimal,
        operation: str | None,
        status: str,
        time: datetime | None = None,
    ) -> Transaction:
        transaction = Transaction(
            id=f"txn_{uuid.uuid4()}",
            time=time or datetime.now(UTC),
            operation=operation,
            credits=credits,
            status=status,
            after_balance=account.balance,
        )
        account.transactions.append(transaction)
        return transaction

    def transactions(self, fingerprint: str) -> list[Transaction]:
        """The account's billing history, newest first."""
        with self._lock:
            history = list(self._get(fingerprint).transactions)
        # Reversed first: the stable sort then lists the later of two equal times first.
        return sorted(reversed(history), key=lambda t: t.time, reverse=True)

    def set_balance(self, fingerprint: str, balance: Decimal) -> None:
        with self._lock:
            self._get(fingerprint).balance = Decimal(balance)

    def reset(self) -> None:
        """Every account back to the opening balance (by forgetting them all)."""
        with self._lock:
            self._accounts.clear()
