"""Owners of in-flight claims: ``host|pid|unique`` tokens, and whether an owner's process is
alive. The same for every backend: an owner is a process, wherever the store lives."""

from __future__ import annotations

import itertools
import os
import socket
import sys
import uuid
from datetime import datetime

__all__ = ["is_abandoned", "new_owner"]


# Owners of the in-flight claims this process holds right now. A claim carrying this process's
# id but not listed here was left behind (a release that failed) and may be taken over.
_LIVE_OWNERS: set[str] = set()
_HOST = socket.gethostname()


def _forget_in_child() -> None:
    _LIVE_OWNERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


# Owners are this process's random token plus a counter: unique without asking the OS for
# randomness at every claim (os.urandom lets other threads take the interpreter meanwhile,
# which delays the first of a burst of cells). A forked child has its own pid; a later
# process reusing the pid has its own token.
_OWNER_TOKEN = uuid.uuid4().hex
_owner_numbers = itertools.count()


def new_owner() -> str:
    """A unique in-flight claim owner: ``host|pid|unique``."""
    return f"{_HOST}|{os.getpid()}|{_OWNER_TOKEN}{next(_owner_numbers):x}"


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (never signals it)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        # os.kill(pid, 0) would *terminate* the process on Windows.
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_abandoned(owner: str, expires_at: datetime, now: datetime) -> bool:
    """Whether a claim held by ``owner`` until ``expires_at`` may be taken over at ``now``: it
    has expired, or its owner was a process of this machine that is gone (or one of this
    process's that no longer holds it). Another machine's claim only expires: its process
    cannot be seen from here."""
    if expires_at <= now:
        return True
    host, _, rest = owner.partition("|")
    pid_text, _, _ = rest.partition("|")
    if host != _HOST or not pid_text.isdigit():
        return False  # another machine's claim: only its expiry can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return owner not in _LIVE_OWNERS
    return not _pid_alive(pid)
