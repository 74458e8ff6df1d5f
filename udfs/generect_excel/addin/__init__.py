"""The Excel add-in: its .xlam built from xlwings' template (build), the VBA project writer
(vba_project), and installing it into Excel's startup folder (install)."""
