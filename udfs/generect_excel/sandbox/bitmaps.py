"""Row-id sets as Python integers: bit ``i`` set means row ``i`` is in the set.

A set of 100,000 rows is a 12.5 kB integer, and ``&``, ``|``, ``& ~`` and ``bit_count()`` on
it run in C in microseconds, which is what keeps a filtered search over the whole population
at a few milliseconds without numpy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["from_ids", "group", "select"]

# For every byte value, the positions of its set bits.
_BITS: tuple[tuple[int, ...], ...] = tuple(
    tuple(j for j in range(8) if value >> j & 1) for value in range(256)
)
_NONZERO = re.compile(rb"[^\x00]")


def from_ids(ids: Iterable[int], size: int) -> int:
    """The bitmap of ``ids`` (each in ``range(size)``)."""
    buffer = bytearray((size + 7) // 8)
    for i in ids:
        buffer[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buffer, "little")


def group(column: Sequence[int], keys: int) -> list[int]:
    """One pass over ``column`` (values in ``range(keys)``): key -> bitmap of its rows."""
    nbytes = (len(column) + 7) // 8
    buffers = [bytearray(nbytes) for _ in range(keys)]
    for i, value in enumerate(column):
        buffers[value][i >> 3] |= 1 << (i & 7)
    return [int.from_bytes(buffer, "little") for buffer in buffers]


def select(bitmap: int, offset: int, limit: int) -> list[int]:
    """Row ids of ``bitmap`` in ascending order, skipping ``offset``, at most ``limit``."""
    out: list[int] = []
    if limit <= 0 or bitmap <= 0:
        return out
    data = bitmap.to_bytes((bitmap.bit_length() + 7) // 8, "little")
    skip = offset
    for match in _NONZERO.finditer(data):
        pos = match.start()
        bits = _BITS[data[pos]]
        if skip >= len(bits):
            skip -= len(bits)
            continue
        base = pos << 3
        for j in bits[skip:]:
            out.append(base + j)
            if len(out) == limit:
                return out
        skip = 0
    return out
