"""Read and rewrite the VBA project inside an Excel add-in (``xl/vbaProject.bin``), in pure Python.

Excel keeps VBA in an OLE compound file (MS-CFB) holding one compressed source stream per module
plus a compressed ``dir`` stream that lists the modules (MS-OVBA). Excel runs the compiled
p-code cached beside the source only when the ``_VBA_PROJECT`` stream's version matches its own;
xlwings' templates carry version ``0xFFFF``, so Excel recompiles every module from source on
open. That is what lets xlwings' own release pipeline stamp new source into its templates without
Excel, and what lets us do the same: we rewrite a module's source, point its ``MODULEOFFSET`` at
the start of the stream (no p-code), and write a new compound file.

Only what the add-in build needs is here: replace a module's source, rename a module or the
project, and a deterministic writer (sorted directory, zero timestamps, fixed layout), so the
same input gives the same bytes.

Example::

    project = VBAProject.from_bytes(Path("vbaProject.bin").read_bytes())
    project.set_module_source("Module1", 'Attribute VB_Name = "Module1"\\r\\nSub Hi()\\r\\nEnd Sub\\r\\n')
    Path("vbaProject.bin").write_bytes(project.to_bytes())
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = [
    "CompoundFile",
    "VBAProject",
    "VBAProjectError",
    "compress",
    "decompress",
    "read_compound_file",
    "write_compound_file",
]


class VBAProjectError(ValueError):
    """The bytes are not a VBA project this module understands."""


# --- MS-OVBA 2.4.1: the compression used for module source and the dir stream ----------------

_CHUNK = 4096


def _copy_token_bits(position_in_chunk: int) -> int:
    """Bits used for the offset of a copy token: grows with the position in the chunk."""
    bits = max((position_in_chunk - 1).bit_length(), 4)
    return min(bits, 12)


def decompress(data: bytes) -> bytes:
    """Decompress an MS-OVBA CompressedContainer."""
    if not data or data[0] != 0x01:
        raise VBAProjectError("not an MS-OVBA compressed container (signature byte is not 0x01)")
    out = bytearray()
    pos = 1
    while pos < len(data):
        if pos + 2 > len(data):
            raise VBAProjectError("truncated chunk header")
        (header,) = struct.unpack_from("<H", data, pos)
        size = (header & 0x0FFF) + 3
        if (header >> 12) & 0x7 != 0b011:
            raise VBAProjectError("bad chunk signature")
        compressed = bool(header & 0x8000)
        end = min(pos + size, len(data))
        pos += 2
        chunk_start = len(out)
        if not compressed:
            out += data[pos : pos + _CHUNK]
            pos += _CHUNK
            continue
        while pos < end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if not flags & (1 << bit):
                    out.append(data[pos])
                    pos += 1
                    continue
                (token,) = struct.unpack_from("<H", data, pos)
                pos += 2
                bits = _copy_token_bits(len(out) - chunk_start)
                length = (token & (0xFFFF >> bits)) + 3
                offset = (token >> (16 - bits)) + 1
                if offset > len(out) - chunk_start:
                    raise VBAProjectError("copy token points before its chunk")
                for _ in range(length):  # may overlap itself, byte by byte as the spec says
                    out.append(out[-offset])
    return bytes(out)


def _compress_chunk(chunk: bytes) -> bytes:
    """Compress one chunk of at most 4096 bytes to header + data (greedy longest match)."""
    body = bytearray()
    heads: dict[bytes, list[int]] = {}
    pos = 0
    n = len(chunk)
    while pos < n:
        flag_at = len(body)
        body.append(0)
        flags = 0
        for bit in range(8):
            if pos >= n:
                break
            bits = _copy_token_bits(pos)
            max_length = min((0xFFFF >> bits) + 3, n - pos)
            max_offset = 1 << bits
            best_length, best_offset = 0, 0
            if max_length >= 3:
                for candidate in reversed(heads.get(chunk[pos : pos + 3], ())):
                    offset = pos - candidate
                    if offset > max_offset:
                        break
                    length = 3
                    while length < max_length and chunk[candidate + length] == chunk[pos + length]:
                        length += 1
                    if length > best_length:
                        best_length, best_offset = length, offset
                        if length == max_length:
                            break
            step = best_length if best_length >= 3 else 1
            if best_length >= 3:
                token = ((best_offset - 1) << (16 - bits)) | (best_length - 3)
                body += struct.pack("<H", token)
                flags |= 1 << bit
            else:
                body.append(chunk[pos])
            for p in range(pos, pos + step):
                if p + 3 <= n:
                    heads.setdefault(chunk[p : p + 3], []).append(p)
            pos += step
        body[flag_at] = flags
    if len(body) + 2 > _CHUNK + 2:
        if n != _CHUNK:  # a raw chunk must hold exactly 4096 bytes; text never gets here
            raise VBAProjectError("incompressible partial chunk")
        return struct.pack("<H", 0x3000 | (_CHUNK - 1)) + chunk
    return struct.pack("<H", 0xB000 | (len(body) + 2 - 3)) + bytes(body)


def compress(data: bytes) -> bytes:
    """Compress ``data`` to an MS-OVBA CompressedContainer (deterministic)."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), _CHUNK):
        out += _compress_chunk(data[start : start + _CHUNK])
    return bytes(out)


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


# --- MS-OVBA 2.3.4.2: the dir stream, and the project as a whole ------------------------------

_PROJECTCODEPAGE = 0x0003
_PROJECTNAME = 0x0004
_PROJECTVERSION = 0x0009  # its size field says 4, but 6 bytes follow (MS-OVBA 2.3.4.2.1.11)
_PROJECTMODULES = 0x000F
_MODULENAME = 0x0019
_MODULESTREAMNAME = 0x001A
_MODULESTREAMNAMEUNICODE = 0x0032
_MODULENAMEUNICODE = 0x0047
_MODULEOFFSET = 0x0031
_MODULETERMINATOR = 0x002B
_DIRTERMINATOR = 0x0010


@dataclass
class _Module:
    name: str
    stream: str
    offset: int
    record_indexes: dict[int, int]  # record id -> position in VBAProject._records


class VBAProject:
    """The VBA project of a workbook: its modules' source, editable, written back as bytes."""

    def __init__(self, cf: CompoundFile, root: str = "") -> None:
        self._cf = cf
        self._root = f"{root}/" if root else ""
        self._records = self._parse_dir(decompress(self._stream("VBA/dir")))
        self._codepage = "cp1252"
        for record_id, data in self._records:
            if record_id == _PROJECTCODEPAGE:
                self._codepage = f"cp{struct.unpack('<H', data)[0]}"
        self._modules = self._find_modules()
        self._sources: dict[str, str] = {}

    @classmethod
    def from_bytes(cls, data: bytes) -> VBAProject:
        """Parse ``vbaProject.bin`` bytes."""
        return cls(read_compound_file(data))

    def _stream(self, path: str) -> bytes:
        try:
            return self._cf.streams[self._root + path]
        except KeyError:
            raise VBAProjectError(f"no {path} stream: not a VBA project") from None

    @staticmethod
    def _parse_dir(data: bytes) -> list[tuple[int, bytes]]:
        records: list[tuple[int, bytes]] = []
        pos = 0
        while pos < len(data):
            record_id, size = struct.unpack_from("<HI", data, pos)
            if record_id == _PROJECTVERSION:
                size = 6
            records.append((record_id, data[pos + 6 : pos + 6 + size]))
            pos += 6 + size
            if record_id == _DIRTERMINATOR:
                break
        if not records or records[-1][0] != _DIRTERMINATOR:
            raise VBAProjectError("the dir stream has no terminator")
        return records

    def _dir_bytes(self) -> bytes:
        out = bytearray()
        for record_id, data in self._records:
            size = 4 if record_id == _PROJECTVERSION else len(data)
            out += struct.pack("<HI", record_id, size) + data
        return bytes(out)

    def _find_modules(self) -> list[_Module]:
        modules: list[_Module] = []
        current: dict[int, int] = {}
        for i, (record_id, _) in enumerate(self._records):
            if record_id == _MODULENAME:
                current = {}
            current[record_id] = i
            if record_id == _MODULETERMINATOR:
                name = self._records[current[_MODULENAME]][1].decode(self._codepage)
                stream = self._records[current[_MODULESTREAMNAME]][1].decode(self._codepage)
                (offset,) = struct.unpack("<I", self._records[current[_MODULEOFFSET]][1])
                modules.append(_Module(name, stream, offset, current))
        return modules

    def _module(self, name: str) -> _Module:
        for module in self._modules:
            if module.name.lower() == name.lower():
                return module
        raise VBAProjectError(f"no VBA module named {name!r}")

    @property
    def name(self) -> str:
        """The VBA project's name (as the VBA editor shows it)."""
        for record_id, data in self._records:
            if record_id == _PROJECTNAME:
                return data.decode(self._codepage)
        raise VBAProjectError("the dir stream has no project name")

    def module_names(self) -> list[str]:
        """Module names in the order the project lists them."""
        return [m.name for m in self._modules]

    def module_source(self, name: str) -> str:
        """A module's source text, including its ``Attribute`` lines."""
        module = self._module(name)
        if module.name in self._sources:
            return self._sources[module.name]
        raw = self._stream(f"VBA/{module.stream}")[module.offset :]
        return decompress(raw).decode(self._codepage)

    def set_module_source(self, name: str, source: str) -> None:
        """Replace a module's source; Excel compiles it on open (no p-code is kept)."""
        module = self._module(name)
        try:  # fail now, not in Excel, on characters the project's code page cannot hold
            source.encode(self._codepage)
        except UnicodeEncodeError as exc:
            raise VBAProjectError(f"module {name!r}: {exc}") from None
        self._sources[module.name] = source

    def rename_module(self, old: str, new: str) -> None:
        """Rename a module (and its stream); its ``Attribute VB_Name`` line follows."""
        module = self._module(old)
        if not new.isidentifier() or not new.isascii():
            raise VBAProjectError(f"not a valid VBA module name: {new!r}")
        source = self.module_source(module.name)
        old_attr = f'Attribute VB_Name = "{module.name}"'
        if old_attr not in source:
            raise VBAProjectError(f"module {module.name!r} has no VB_Name attribute")
        source = source.replace(old_attr, f'Attribute VB_Name = "{new}"', 1)
        self._sources.pop(module.name, None)
        old_stream = f"VBA/{module.stream}"
        data = self._cf.streams.pop(self._root + old_stream)
        self._cf.streams[self._root + f"VBA/{new}"] = data
        encoded, unicode = new.encode(self._codepage), new.encode("utf-16-le")
        for record_id, value in (
            (_MODULENAME, encoded),
            (_MODULENAMEUNICODE, unicode),
            (_MODULESTREAMNAME, encoded),
            (_MODULESTREAMNAMEUNICODE, unicode),
        ):
            position = module.record_indexes.get(record_id)
            if position is not None:
                self._records[position] = (record_id, value)
        self._rename_in_project_stream(module.name, new)
        self._rename_in_name_map(module.name, new)
        module.name = module.stream = new
        self._sources[new] = source

    def rename_project(self, new: str) -> None:
        """Rename the VBA project (what the VBA editor shows beside the file name)."""
        if not new.isidentifier() or not new.isascii():
            raise VBAProjectError(f"not a valid VBA project name: {new!r}")
        old = self.name
        for i, (record_id, _) in enumerate(self._records):
            if record_id == _PROJECTNAME:
                self._records[i] = (record_id, new.encode(self._codepage))
        text = self._stream("PROJECT").decode(self._codepage)
        text = text.replace(f'Name="{old}"', f'Name="{new}"', 1)
        self._cf.streams[self._root + "PROJECT"] = text.encode(self._codepage)

    def _rename_in_project_stream(self, old: str, new: str) -> None:
        lines = self._stream("PROJECT").decode(self._codepage).split("\r\n")
        for i, line in enumerate(lines):
            key, sep, value = line.partition("=")
            if sep and key == "Module" and value == old:
                lines[i] = f"Module={new}"
            elif sep and key == old:  # the [Workspace] window position line
                lines[i] = f"{new}={value}"
        self._cf.streams[self._root + "PROJECT"] = "\r\n".join(lines).encode(self._codepage)

    def _rename_in_name_map(self, old: str, new: str) -> None:
        # PROJECTwm: pairs of (MBCS name NUL, UTF-16 name NUL NUL), ended by NUL NUL.
        path = self._root + "PROJECTwm"
        if path not in self._cf.streams:
            return
        old_pair = old.encode(self._codepage) + b"\x00" + old.encode("utf-16-le") + b"\x00\x00"
        new_pair = new.encode(self._codepage) + b"\x00" + new.encode("utf-16-le") + b"\x00\x00"
        self._cf.streams[path] = self._cf.streams[path].replace(old_pair, new_pair, 1)

    def to_bytes(self) -> bytes:
        """The project as ``vbaProject.bin`` bytes (deterministic)."""
        for module in self._modules:
            if module.name not in self._sources:
                continue
            data = compress(self._sources[module.name].encode(self._codepage))
            self._cf.streams[self._root + f"VBA/{module.stream}"] = data
            position = module.record_indexes[_MODULEOFFSET]
            self._records[position] = (_MODULEOFFSET, struct.pack("<I", 0))
            module.offset = 0
        self._sources = {}
        self._cf.streams[self._root + "VBA/dir"] = compress(self._dir_bytes())
        return write_compound_file(self._cf)
