"""MS-CFB: the OLE compound file around a VBA project's streams (:func:`read_compound_file`,
:func:`write_compound_file`: a deterministic writer)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .compression import VBAProjectError

__all__ = ["CompoundFile", "read_compound_file", "write_compound_file"]


# --- MS-CFB: the compound file around the streams --------------------------------------------

_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
_SECTOR = 512
_MINI_SECTOR = 64
_MINI_CUTOFF = 4096
_FREESECT = 0xFFFFFFFF
_ENDOFCHAIN = 0xFFFFFFFE
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF
_STORAGE, _STREAM, _ROOT = 1, 2, 5
_ENTRY = struct.Struct("<64sHBBIII16sIQQIQ")


@dataclass
class CompoundFile:
    """A compound file as a tree of names: streams by ``"storage/name"`` path, storages with
    their CLSIDs. Timestamps and sibling order are not kept: the writer regenerates them."""

    root_clsid: bytes = bytes(16)
    storages: dict[str, bytes] = field(default_factory=dict)  # path -> CLSID
    streams: dict[str, bytes] = field(default_factory=dict)  # path -> data


def _chain(table: list[int], start: int) -> list[int]:
    sectors: list[int] = []
    current = start
    while current not in (_ENDOFCHAIN, _FREESECT):
        if current >= len(table) or len(sectors) > len(table):
            raise VBAProjectError("broken sector chain in the compound file")
        sectors.append(current)
        current = table[current]
    return sectors


def read_compound_file(data: bytes) -> CompoundFile:
    """Parse an MS-CFB file (version 3 or 4) into a :class:`CompoundFile`."""
    if data[:8] != _SIGNATURE:
        raise VBAProjectError("not an OLE compound file")
    (major,) = struct.unpack_from("<H", data, 26)
    sector_shift, mini_shift = struct.unpack_from("<HH", data, 30)
    sector_size, mini_size = 1 << sector_shift, 1 << mini_shift
    (n_fat, first_dir, _, cutoff, first_minifat, n_minifat, first_difat, n_difat) = (
        struct.unpack_from("<IIIIIIII", data, 44)
    )

    def sector(index: int) -> bytes:
        start = (index + 1) * sector_size
        return data[start : start + sector_size]

    difat = [s for s in struct.unpack_from("<109I", data, 76) if s != _FREESECT]
    current = first_difat
    for _ in range(n_difat):
        values = struct.unpack(f"<{sector_size // 4}I", sector(current))
        difat += [s for s in values[:-1] if s != _FREESECT]
        current = values[-1]
    fat: list[int] = []
    for index in difat[:n_fat]:
        fat += struct.unpack(f"<{sector_size // 4}I", sector(index))

    def read_chain(start: int) -> bytes:
        return b"".join(sector(s) for s in _chain(fat, start))

    directory = read_chain(first_dir)
    # Fields: 0 name, 1 name length, 2 type, 3 color, 4 left, 5 right, 6 child, 7 CLSID,
    # 8 state bits, 9-10 times, 11 start sector, 12 size.
    entries = [_ENTRY.unpack_from(directory, i) for i in range(0, len(directory), 128)]
    size_mask = 0xFFFFFFFF if major == 3 else 0xFFFFFFFFFFFFFFFF  # v3 ignores the high half
    root = entries[0]
    mini_stream = read_chain(root[11]) if root[12] else b""
    minifat: list[int] = []
    if n_minifat:
        raw = read_chain(first_minifat)
        minifat = list(struct.unpack(f"<{len(raw) // 4}I", raw))

    def stream_data(entry: tuple) -> bytes:
        start, size = entry[11], entry[12] & size_mask
        if size == 0:
            return b""
        if size < cutoff:
            chunks = [
                mini_stream[s * mini_size : (s + 1) * mini_size] for s in _chain(minifat, start)
            ]
            return b"".join(chunks)[:size]
        return read_chain(start)[:size]

    result = CompoundFile(root_clsid=root[7])

    def walk(index: int, parent: str, seen: set[int]) -> None:
        # Siblings form a binary tree; every node in it is a child of ``parent``.
        if index == _NOSTREAM:
            return
        if index in seen or index >= len(entries):
            raise VBAProjectError("broken directory tree in the compound file")
        seen.add(index)
        entry = entries[index]
        name = entry[0][: max(entry[1] - 2, 0)].decode("utf-16-le")
        path = f"{parent}/{name}" if parent else name
        if entry[2] == _STORAGE:
            result.storages[path] = entry[7]
            walk(entry[6], path, seen)
        elif entry[2] == _STREAM:
            result.streams[path] = stream_data(entry)
        walk(entry[4], parent, seen)
        walk(entry[5], parent, seen)

    walk(root[6], "", set())
    return result


def _cfb_key(name: str) -> tuple[int, str]:
    # MS-CFB orders siblings by name length first, then by upper-cased name.
    return (len(name), name.upper())


def _entry(
    name: str, kind: int, *, left: int, right: int, child: int, clsid: bytes, start: int, size: int
) -> bytes:
    encoded = (name.encode("utf-16-le") + b"\x00\x00") if name else b""
    if len(encoded) > 64:
        raise VBAProjectError(f"name too long for a compound file: {name!r}")
    color = 1 if kind else 0  # black: a sorted chain of black nodes, as xlwings' templates have
    return _ENTRY.pack(
        encoded.ljust(64, b"\x00"), len(encoded), kind, color, left, right, child, clsid, 0, 0, 0,
        start, size,
    )  # fmt: skip


def write_compound_file(cf: CompoundFile) -> bytes:
    """Write ``cf`` as an MS-CFB version 3 file; the same input always gives the same bytes."""
    # Directory: root first, then each storage's children depth-first, siblings sorted and
    # chained through their right pointers (a valid, if unbalanced, all-black tree).
    children: dict[str, list[str]] = {"": []}
    for path in sorted(cf.storages):
        children.setdefault(path, [])
    for path in [*cf.storages, *cf.streams]:
        parent, _, _ = path.rpartition("/")
        if parent not in children:
            raise VBAProjectError(f"stream {path!r} has no storage {parent!r}")
        children[parent].append(path)
    order: list[str] = [""]

    def visit(parent: str) -> None:
        for path in sorted(children[parent], key=lambda p: _cfb_key(p.rpartition("/")[2])):
            order.append(path)
            if path in cf.storages:
                visit(path)

    visit("")
    index = {path: i for i, path in enumerate(order)}

    # Mini stream for small streams, regular sectors for the rest.
    mini = bytearray()
    minifat: list[int] = []
    placement: dict[str, tuple[int, int]] = {}
    big: list[str] = []
    for path in order[1:]:
        if path not in cf.streams:
            continue
        data = cf.streams[path]
        if not data:
            placement[path] = (_ENDOFCHAIN, 0)
        elif len(data) < _MINI_CUTOFF:
            first = len(minifat)
            count = -(-len(data) // _MINI_SECTOR)
            minifat += [first + i + 1 for i in range(count - 1)] + [_ENDOFCHAIN]
            mini += data.ljust(count * _MINI_SECTOR, b"\x00")
            placement[path] = (first, len(data))
        else:
            big.append(path)

    def sectors(length: int) -> int:
        return -(-length // _SECTOR)

    n_dir = sectors(len(order) * 128)
    n_minifat = sectors(len(minifat) * 4)
    n_mini = sectors(len(mini))
    n_big = [sectors(len(cf.streams[p])) for p in big]
    n_fat = 1
    while True:
        total = n_fat + n_dir + n_minifat + n_mini + sum(n_big)
        if n_fat * (_SECTOR // 4) >= total:
            break
        n_fat += 1
    if n_fat > 109:
        raise VBAProjectError("compound file too large for this writer (needs DIFAT sectors)")

    fat = [_FATSECT] * n_fat
    body = bytearray()

    def add_chain(payload: bytes, count: int) -> int:
        first = len(fat)
        fat.extend(first + i + 1 for i in range(count - 1))
        fat.append(_ENDOFCHAIN)
        body.extend(payload.ljust(count * _SECTOR, b"\x00"))
        return first

    entries = bytearray()
    # Placeholders: directory sectors are laid out now, filled in once starts are known.
    dir_first = len(fat)
    fat.extend(dir_first + i + 1 for i in range(n_dir - 1))
    fat.append(_ENDOFCHAIN)
    body.extend(bytes(n_dir * _SECTOR))
    minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat)
    minifat_bytes = minifat_bytes.ljust(n_minifat * _SECTOR, b"\xff")
    minifat_first = add_chain(minifat_bytes, n_minifat) if n_minifat else _ENDOFCHAIN
    mini_first = add_chain(bytes(mini), n_mini) if n_mini else _ENDOFCHAIN
    for path, count in zip(big, n_big, strict=True):
        placement[path] = (add_chain(cf.streams[path], count), len(cf.streams[path]))

    def first_child(parent: str) -> int:
        kids = sorted(children[parent], key=lambda p: _cfb_key(p.rpartition("/")[2]))
        return index[kids[0]] if kids else _NOSTREAM

    def next_sibling(path: str) -> int:
        parent = path.rpartition("/")[0]
        kids = sorted(children[parent], key=lambda p: _cfb_key(p.rpartition("/")[2]))
        position = kids.index(path)
        return index[kids[position + 1]] if position + 1 < len(kids) else _NOSTREAM

    for path in order:
        name = path.rpartition("/")[2]
        if path == "":
            entries += _entry(
                "Root Entry", _ROOT, left=_NOSTREAM, right=_NOSTREAM, child=first_child(""),
                clsid=cf.root_clsid, start=mini_first, size=len(mini),
            )  # fmt: skip
        elif path in cf.storages:
            entries += _entry(
                name, _STORAGE, left=_NOSTREAM, right=next_sibling(path),
                child=first_child(path), clsid=cf.storages[path], start=0, size=0,
            )  # fmt: skip
        else:
            start, size = placement[path]
            entries += _entry(
                name, _STREAM, left=_NOSTREAM, right=next_sibling(path), child=_NOSTREAM,
                clsid=bytes(16), start=start, size=size,
            )  # fmt: skip
    while len(entries) % _SECTOR:
        entries += _ENTRY.pack(
            bytes(64), 0, 0, 0, _NOSTREAM, _NOSTREAM, _NOSTREAM, bytes(16), 0, 0, 0, 0, 0
        )
    dir_offset = (dir_first - n_fat) * _SECTOR
    body[dir_offset : dir_offset + len(entries)] = entries

    fat += [_FREESECT] * (n_fat * (_SECTOR // 4) - len(fat))
    difat = list(range(n_fat)) + [_FREESECT] * (109 - n_fat)
    header = (
        _SIGNATURE
        + bytes(16)
        + struct.pack("<HHHHH", 0x003E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack(
            "<IIIIIIIII",
            0,  # directory sectors: always 0 in version 3
            n_fat,
            dir_first,
            0,
            _MINI_CUTOFF,
            minifat_first,
            n_minifat,
            _ENDOFCHAIN,  # no DIFAT sectors
            0,
        )
        + struct.pack("<109I", *difat)
    )
    return header + struct.pack(f"<{len(fat)}I", *fat) + bytes(body)
