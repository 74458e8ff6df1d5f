"""How many requests may be in flight at once: a limit that learns Generect's cap.

Generect caps lead calls in flight per key *and source IP*, so a team behind one office
address shares one cap and no setting can know its share in advance. Each process therefore
keeps one :class:`ConcurrencyLimiter` per (base URL, key fingerprint), shared by every
:class:`~generect_excel.client.Client` made for them (the worksheet functions, the pending
fetches and the refresher all get theirs from :func:`limiter_for`).

The rule is AIMD, as in TCP's congestion control:

- the limit starts at ``ceiling`` (``settings.max_parallel``);
- a 429 multiplies it by ``decrease`` (:data:`~generect_excel._constants.THROTTLE_DECREASE`,
  0.7), at most once per round: a 429 for a request sent before the last decrease was
  caused by the old, larger limit, which has already been paid for;
- an answer (any 2xx) adds ``1 / limit``, so about one more request per round of ``limit``
  answers;
- it never exceeds ``ceiling`` and never falls below 1.

Other failures (5xx, a lost connection) say nothing about the cap and leave the limit alone.
A throttled request releases its slot before it waits (the client sleeps outside the slot),
so the limit counts only requests actually at the server.

    limiter = ConcurrencyLimiter(8)
    ticket = limiter.acquire()
    try:
        status = send()
    finally:
        limiter.release(ticket, "throttled" if status == 429 else "answered")
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Literal

from . import _constants as C

__all__ = ["ConcurrencyLimiter", "Signal", "Ticket", "limiter_for", "reset_limiters"]

# What a finished request says about the cap: "answered" (grow), "throttled" (shrink),
# "failed" (nothing: a 5xx or a lost connection is not about concurrency).
Signal = Literal["answered", "throttled", "failed"]


@dataclass(frozen=True)
class Ticket:
    """One slot, held by one request; ``round`` is the decrease count when it was taken."""

    round: int


class ConcurrencyLimiter:
    """An adaptive cap on requests in flight, for threads and asyncio alike (see the module).

    ``acquire(cap)`` also honours a caller's own, smaller cap (a client whose
    ``max_parallel`` is below the shared ceiling).
    """

    def __init__(self, ceiling: int, *, decrease: float = C.THROTTLE_DECREASE) -> None:
        if ceiling < 1:
            raise ValueError(f"ceiling must be at least 1, not {ceiling}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be between 0 and 1, not {decrease}")
        self._cond = threading.Condition()
        self._ceiling = ceiling
        self._limit = float(ceiling)
        self._decrease = decrease
        self._in_flight = 0
        self._round = 0
        self._throttles = 0
        # asyncio callers waiting for a slot: (their loop, their future), woken on a release.
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # -- what it knows ---------------------------------------------------------------------

    @property
    def ceiling(self) -> int:
        return self._ceiling

    @property
    def limit(self) -> int:
        """Requests allowed in flight now: the learned limit, rounded down, at least 1."""
        return max(1, int(self._limit))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def throttles(self) -> int:
        """429s reported so far (every one, also those that did not shrink the limit)."""
        return self._throttles

    def raise_ceiling(self, ceiling: int) -> None:
        """Let the limit grow up to ``ceiling`` if that is higher (a client with a larger
        ``max_parallel`` joined); the learned limit itself is kept."""
        with self._cond:
            self._ceiling = max(self._ceiling, ceiling)

    def __repr__(self) -> str:
        return (
            f"<ConcurrencyLimiter limit={self._limit:.2f} ceiling={self._ceiling} "
            f"in_flight={self._in_flight}>"
        )

    # -- slots -----------------------------------------------------------------------------

    def _take(self, cap: int | None) -> Ticket | None:
        # Under self._cond.
        allowed = self.limit if cap is None else min(self.limit, max(1, cap))
        if self._in_flight >= allowed:
            return None
        self._in_flight += 1
        return Ticket(self._round)

    def acquire(self, cap: int | None = None) -> Ticket:
        """Wait for a free slot (blocking this thread) and take it."""
        with self._cond:
            while (ticket := self._take(cap)) is None:
                self._cond.wait()
            return ticket

    async def acquire_async(self, cap: int | None = None) -> Ticket:
        """Wait for a free slot without blocking the event loop, and take it."""
        loop = asyncio.get_running_loop()
        while True:
            with self._cond:
                ticket = self._take(cap)
                if ticket is not None:
                    return ticket
                waiter: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, waiter))
            try:
                await waiter
            except asyncio.CancelledError:
                with self._cond:
                    if (loop, waiter) in self._async_waiters:
                        self._async_waiters.remove((loop, waiter))
                raise

    def release(self, ticket: Ticket, signal: Signal) -> None:
        """Give the slot back and learn from how the request ended (see the module's rule)."""
        with self._cond:
            self._in_flight -= 1
            if signal == "throttled":
                self._throttles += 1
                if ticket.round == self._round:
                    self._limit = max(1.0, self._limit * self._decrease)
                    self._round += 1
            elif signal == "answered":
                self._limit = min(float(self._ceiling), self._limit + 1.0 / self._limit)
            self._cond.notify_all()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, waiter in waiters:
            # A closed event loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


# One limiter per (base URL, key fingerprint) in the process.
_limiters_lock = threading.Lock()
_limiters: dict[tuple[str, str], ConcurrencyLimiter] = {}


def limiter_for(base_url: str, account: str, max_parallel: int) -> ConcurrencyLimiter:
    """The process's limiter for this base URL and key fingerprint (created once).

    ``max_parallel`` is the creating client's setting; a later client with a larger one raises
    the ceiling, a smaller one passes its own cap to :meth:`ConcurrencyLimiter.acquire`.
    """
    with _limiters_lock:
        limiter = _limiters.get((base_url, account))
        if limiter is None:
            limiter = _limiters[(base_url, account)] = ConcurrencyLimiter(max_parallel)
        else:
            limiter.raise_ceiling(max_parallel)
        return limiter


def reset_limiters() -> None:
    """Forget every learned limit (tests; a fresh start)."""
    with _limiters_lock:
        _limiters.clear()


def _forget_limiters_in_child() -> None:
    # A forked child must not inherit a lock some parent thread held, nor slots it never took.
    global _limiters_lock
    _limiters_lock = threading.Lock()
    _limiters.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_limiters_in_child)
