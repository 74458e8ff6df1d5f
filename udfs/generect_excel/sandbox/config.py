"""The sandbox's settings: one frozen dataclass, validated when built."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..errors import SettingsError

__all__ = ["LOOPBACK", "SandboxConfig"]

LOOPBACK = "127.0.0.1"  # the only address the sandbox ever binds


@dataclass(frozen=True)
class SandboxConfig:
    """How a :class:`~generect_excel.sandbox.Sandbox` behaves.

    ``port=0`` picks a free port. ``realtime_latency`` delays realtime search and count (as
    Generect's 5-60 s do); ``latency`` delays every call. ``balance`` opens every new key's
    account (USD); ``max_parallel`` lead calls in flight per key, more answer 429.
    ``retry_after`` (whole seconds) is sent as ``Retry-After`` with every 429 (the cap's and
    the ``rate_limited`` fault's); None sends none, as live Generect does.
    ``slow_seconds`` is what the ``slow`` fault waits, ``hang_limit`` the longest a ``hang``
    lasts. ``log_path`` gets the JSON-lines request log (in memory only when None).
    ``stable_order`` True keeps search results in one order across calls; by default the order
    moves between calls as Generect's does (see :mod:`generect_excel.sandbox.search`).
    """

    host: str = LOOPBACK
    port: int = 0
    seed: int = 1
    leads: int = 100_000
    clean: bool = False
    latency: float = 0.0
    realtime_latency: float = 3.0
    balance: Decimal = Decimal("100")
    monthly_limit: Decimal = Decimal("10000")
    max_parallel: int = 50
    retry_after: int | None = None
    slow_seconds: float = 5.0
    hang_limit: float = 120.0
    log_path: Path | None = None
    stable_order: bool = False

    def __post_init__(self) -> None:
        if self.host != LOOPBACK:
            raise SettingsError(
                f"The sandbox only listens on {LOOPBACK} (asked for {self.host!r}): it is a local "
                "imitation for demos and tests, never a server for other machines."
            )
        if not 0 <= self.port <= 65535:
            raise SettingsError(
                f"Sandbox port must be 0 (any free port) to 65535, not {self.port}."
            )
        if self.leads < 1:
            raise SettingsError(f"The sandbox needs at least 1 lead, not {self.leads}.")
        for name in ("latency", "realtime_latency", "slow_seconds", "hang_limit"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise SettingsError(
                    f"Sandbox {name} must be a number of seconds >= 0, not {value!r}."
                )
        if self.max_parallel < 1:
            raise SettingsError(
                f"Sandbox max_parallel must be at least 1, not {self.max_parallel}."
            )
        if self.retry_after is not None and (
            isinstance(self.retry_after, bool)
            or not isinstance(self.retry_after, int)
            or self.retry_after < 0
        ):
            raise SettingsError(
                f"Sandbox retry_after must be whole seconds >= 0 or None, not {self.retry_after!r}."
            )
        for name in ("balance", "monthly_limit"):
            try:
                amount = Decimal(str(getattr(self, name)))
            except InvalidOperation:
                raise SettingsError(f"Sandbox {name} must be an amount in USD.") from None
            if not amount.is_finite() or amount < 0:
                raise SettingsError(f"Sandbox {name} must be an amount >= 0 in USD.")
            object.__setattr__(self, name, amount)
        if self.log_path is not None:
            object.__setattr__(self, "log_path", Path(self.log_path))
