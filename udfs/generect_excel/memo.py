"""A bounded, thread-safe memo of derived values (decoded answers, validated results, shaped
tables), shared by the store, the engine and the worksheet functions."""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from typing import Any, Generic, TypeVar

__all__ = ["BoundedMemo"]


MemoKey = TypeVar("MemoKey")
MemoValue = TypeVar("MemoValue")

# Every memo: a forked child gives each a fresh lock.
_MEMOS: weakref.WeakSet[BoundedMemo[Any, Any]] = weakref.WeakSet()


def _forget_in_child() -> None:
    for memo in list(_MEMOS):
        memo._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class BoundedMemo(Generic[MemoKey, MemoValue]):
    """A thread-safe least-recently-used memo bounded by count and by total weight.

    The store, the engine and the worksheet functions keep what they derived last (a decoded
    answer, a validated result, a shaped table) with what it was derived from, and check that
    on each use: a value is reused only for the very same input. ``weight`` says how big a
    value is (characters, rows, cells); one heavier than ``max_weight`` is not kept.

    Example::

        memo = BoundedMemo(max_items=512, max_weight=1_000_000)
        memo.put("k", (text, decoded), weight=len(text))
        hit = memo.get("k")
    """

    def __init__(self, max_items: int, max_weight: int) -> None:
        self.max_items = max_items
        self.max_weight = max_weight
        self._lock = threading.Lock()
        self._items: OrderedDict[MemoKey, tuple[MemoValue, int]] = OrderedDict()
        self._weight = 0
        _MEMOS.add(self)

    def get(self, key: MemoKey) -> MemoValue | None:
        """The value kept under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: MemoKey, value: MemoValue, weight: int = 1) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used past the bounds."""
        if weight > self.max_weight or self.max_items <= 0:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._items[key] = (value, weight)
            self._weight += weight
            while len(self._items) > self.max_items or self._weight > self.max_weight:
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._items)

    def _forget_after_fork(self) -> None:
        # The parent's lock may have been held by one of its threads at the fork.
        self._lock = threading.Lock()
