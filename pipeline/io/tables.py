"""Reading and writing the tables users bring: CSV, Excel, ODS, Parquet (the names callers import).

Reading: read.py (formats), csvfile.py (separator, header), encoding.py
(compression, encodings). Writing: write.py (atomic outputs), formulas.py (formula cells).
"""
from pipeline.io.csvfile import check_sep, sniff_separator
from pipeline.io.encoding import detect_encoding
from pipeline.io.formulas import neutralise
from pipeline.io.read import (
    count_rows,
    find_text_columns,
    iter_table,
    pick_sheet,
    read_output,
    read_table,
    warn_unused_options,
)
from pipeline.io.write import CSV_SUFFIXES, TableWriter, atomic_folder, atomic_output, check_writable, save_workbook

__all__ = ["CSV_SUFFIXES", "TableWriter", "atomic_folder", "atomic_output", "check_sep", "check_writable", "count_rows",
           "detect_encoding", "find_text_columns", "iter_table", "neutralise", "pick_sheet", "read_output",
           "read_table", "save_workbook", "sniff_separator", "warn_unused_options"]
