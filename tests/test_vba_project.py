"""The pure-Python VBA project reader/writer, checked against olefile and xlwings' template.

The template's module streams were compressed by Office tools, so decompressing them checks
our decompressor; olefile (an independent MS-CFB reader) checks the compound files we write.
"""

from __future__ import annotations

import io
import random
import zipfile

import olefile
import pytest

from generect_excel.addin.build import template_path
from generect_excel.addin.vba_project import (
    VBAProject,
    VBAProjectError,
    compress,
    decompress,
    read_compound_file,
    write_compound_file,
)


@pytest.fixture(scope="module")
def template_vba() -> bytes:
    with zipfile.ZipFile(template_path()) as zf:
        return zf.read("xl/vbaProject.bin")


def test_reads_the_same_streams_as_olefile(template_vba: bytes) -> None:
    cf = read_compound_file(template_vba)
    ole = olefile.OleFileIO(io.BytesIO(template_vba))
    listed = {"/".join(parts) for parts in ole.listdir(streams=True, storages=False)}
    assert set(cf.streams) == listed
    for path, data in cf.streams.items():
        assert ole.openstream(path).read() == data, path


def test_written_compound_file_reads_back_in_olefile(template_vba: bytes) -> None:
    cf = read_compound_file(template_vba)
    written = write_compound_file(cf)
    assert written == write_compound_file(read_compound_file(written))  # deterministic
    ole = olefile.OleFileIO(io.BytesIO(written))
    for path, data in cf.streams.items():
        assert ole.openstream(path).read() == data, path
    assert ole.get_type("VBA") == olefile.STGTY_STORAGE


def test_decompresses_office_written_modules(template_vba: bytes) -> None:
    project = VBAProject.from_bytes(template_vba)
    assert project.name == "MyAddin"
    assert set(project.module_names()) >= {"ThisWorkbook", "RibbonMyAddin", "xlwings"}
    ribbon = project.module_source("RibbonMyAddin")
    assert ribbon.startswith('Attribute VB_Name = "RibbonMyAddin"')
    assert "Sub RunMain(control As IRibbonControl)" in ribbon
    assert "Public Function RunPython(" in project.module_source("xlwings")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 17, 4095, 4096, 4097, 8192, 12_345])
def test_compress_round_trips_text(size: int) -> None:
    rng = random.Random(size)
    words = [b"Dim ", b"As String", b"\r\n", b"RunPython ", b"End Sub", b"x", b"'"]
    data = b""
    while len(data) < size:
        data += rng.choice(words)
    data = data[:size]
    packed = compress(data)
    assert decompress(packed) == data
    assert len(packed) < len(data) or size < 64


def test_compress_long_runs_use_maximum_length_tokens() -> None:
    data = b"A" * 4096 + b"B" * 5000
    packed = compress(data)
    assert decompress(packed) == data
    assert len(packed) < 200


def test_incompressible_full_chunk_is_stored_raw() -> None:
    data = random.Random(7).randbytes(8192)
    packed = compress(data)
    assert decompress(packed) == data
    assert len(packed) == 1 + 2 * (2 + 4096)


def test_rejects_what_is_not_a_vba_project() -> None:
    with pytest.raises(VBAProjectError):
        read_compound_file(b"PK\x03\x04 not an OLE file")
    with pytest.raises(VBAProjectError):
        decompress(b"\x02abc")


def test_module_edits_round_trip(template_vba: bytes) -> None:
    project = VBAProject.from_bytes(template_vba)
    project.rename_module("RibbonMyAddin", "RibbonRenamed")
    project.set_module_source(
        "RibbonRenamed", 'Attribute VB_Name = "RibbonRenamed"\r\nSub Go()\r\nEnd Sub\r\n'
    )
    project.rename_project("Renamed")
    reread = VBAProject.from_bytes(project.to_bytes())
    assert reread.name == "Renamed"
    assert "RibbonRenamed" in reread.module_names()
    assert "RibbonMyAddin" not in reread.module_names()
    assert reread.module_source("RibbonRenamed").endswith("Sub Go()\r\nEnd Sub\r\n")
    # Untouched modules keep their source (and their compiled cache offset).
    original = VBAProject.from_bytes(template_vba)
    assert reread.module_source("Dictionary") == original.module_source("Dictionary")
    with pytest.raises(VBAProjectError):
        reread.set_module_source("NoSuchModule", "")
    with pytest.raises(VBAProjectError):
        reread.set_module_source("RibbonRenamed", "text VBA cannot hold: \u4e2d")
