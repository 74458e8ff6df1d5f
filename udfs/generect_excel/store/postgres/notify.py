"""Waking the processes that wait on another's claim, with PostgreSQL's LISTEN/NOTIFY.

A process that finds a request (or a criteria family's turn) claimed by another waits, then
looks again. With SQLite it can only sleep; on the team store the server says when a claim is
gone: a trigger on ``inflight`` (migration ``0002_claim_released_notify``) notifies
:data:`CHANNEL` with the claim's key when its row is deleted, at the commit that saved the
answer or released the claim. One listening connection per store and process (a daemon thread)
wakes the threads waiting on that key, so waiting costs no pooled connection and a waiter sees
the answer within a round trip instead of up to a poll's pause later.

Nothing depends on a notification arriving: a wait that hears nothing ends after its pause, as
a poll would, and the caller looks at the store again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ... import _constants as C

__all__ = ["CHANNEL", "ClaimWatcher"]

log = logging.getLogger(__name__)

CHANNEL = "generect_claims"
"""The channel the ``inflight`` trigger notifies, with the released claim's key."""


class ClaimWatcher:
    """Threads waiting for claims to go, woken by the server's notifications.

    ``connect`` opens a new autocommit connection to the store's database.
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._waiting: dict[str, set[threading.Event]] = {}
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def wait(self, key: str, seconds: float, *, still_held: Callable[[], bool]) -> bool:
        """Wait up to ``seconds`` for the claim on ``key`` to go; True when it went (or was
        already gone: ``still_held`` is asked once the listener hears, closing the gap between
        the caller's look and its wait), False after the full pause."""
        woken = threading.Event()
        deadline = time.monotonic() + seconds
        with self._lock:
            self._waiting.setdefault(key, set()).add(woken)
        try:
            if self._listen(min(seconds, C.STORE_BUSY_TIMEOUT)):
                try:
                    if not still_held():
                        return True
                except Exception as exc:  # the caller's next look at the store will say
                    log.debug("could not look at a claim while waiting: %s", exc)
            return woken.wait(max(0.0, deadline - time.monotonic()))
        finally:
            with self._lock:
                events = self._waiting.get(key)
                if events is not None:
                    events.discard(woken)
                    if not events:
                        del self._waiting[key]

    def close(self) -> None:
        """Stop listening (the thread ends within a second)."""
        self._stop.set()

    def _listen(self, seconds: float) -> bool:
        """Start the listener of this process if it is not running; whether it listens."""
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            if not alive or self._pid != os.getpid():  # a forked child listens on its own
                self._listening.clear()
                self._stop.clear()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="generect-claim-listener", daemon=True
                )
                self._thread.start()
        return self._listening.wait(seconds)

    def _run(self) -> None:
        try:
            conn = self._connect()
        except Exception as exc:  # waiters poll instead
            log.info("cannot listen for released claims: %s", exc)
            return
        try:
            conn.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            while not self._stop.is_set():
                # A short timeout lets close() end the thread.
                for note in conn.notifies(timeout=1.0):
                    with self._lock:
                        for woken in self._waiting.get(note.payload, ()):
                            woken.set()
        except Exception as exc:  # the connection went: waiters poll until a new listener
            log.info("stopped listening for released claims: %s", exc)
        finally:
            self._listening.clear()
            with contextlib.suppress(Exception):
                conn.close()
