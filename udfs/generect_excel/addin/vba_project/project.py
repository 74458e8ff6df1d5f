"""MS-OVBA 2.3.4.2: the ``dir`` stream, and the VBA project as a whole (:class:`VBAProject`)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .compound import CompoundFile, read_compound_file, write_compound_file
from .compression import VBAProjectError, compress, decompress

__all__ = ["VBAProject"]


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
