"""A workbook file's GENERECT formulas, shared by the workbook refresher and the ribbon.

A shared lower layer (below the edges that use it, above the core it calls):

    parse       find GENERECT calls in formula text and read their arguments
    references  read argument values from a workbook file (ranges, names, saved values)
    plan        plan, quote (dry run) and run a file's calls concurrently through the engine
    write       write an evaluated plan's results into the file (what a failed refresh keeps)
    xlsxpatch   patch results into the worksheet XML in place; atomic replace

Nothing here is imported by :mod:`generect_excel.udfs` (openpyxl and lxml stay out of Excel's
worksheet-function process until an action needs them).
"""
