"""Generect for Excel: Generect's B2B lead data in Excel workbooks, never paid for twice."""

from __future__ import annotations

__version__ = "0.1.0"
