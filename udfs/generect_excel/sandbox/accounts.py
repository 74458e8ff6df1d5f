"""Balances per key fingerprint: every new key opens an account with the configured balance.

Keys are never stored: accounts are keyed by :func:`generect_excel.settings.key_fingerprint`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Account", "Accounts"]


@dataclass
class Account:
    balance: Decimal
    used_this_month: Decimal = Decimal("0")


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

    def debit(self, fingerprint: str, amount: Decimal) -> bool:
        """Charge ``amount``; False (and nothing charged) when the balance cannot cover it."""
        with self._lock:
            account = self._get(fingerprint)
            if amount > account.balance:
                return False
            account.balance -= amount
            account.used_this_month += amount
            return True

    def set_balance(self, fingerprint: str, balance: Decimal) -> None:
        with self._lock:
            self._get(fingerprint).balance = Decimal(balance)

    def reset(self) -> None:
        """Every account back to the opening balance (by forgetting them all)."""
        with self._lock:
            self._accounts.clear()
