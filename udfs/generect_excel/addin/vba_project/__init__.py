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

from .compound import CompoundFile, read_compound_file, write_compound_file
from .compression import VBAProjectError, compress, decompress
from .project import VBAProject

__all__ = [
    "CompoundFile",
    "VBAProject",
    "VBAProjectError",
    "compress",
    "decompress",
    "read_compound_file",
    "write_compound_file",
]
