"""Narrow terminal layouts of wide tables: compact columns, rows grouped under a heading, tables split by columns.

The text report aims at 100 columns (:data:`compare.report.format.WIDTH`). tabulate's "simple"
format pads every column to its header plus two, and a table of method pairs repeats two long
method labels on every row, so the wide tables of the report are laid out here instead:

- :func:`compact_table`: headers may take two lines (``"loss\\nmax rel"``), columns are as wide
  as their widest line and two spaces apart, with a row of dashes under the headers;
- :func:`grouped_table`: the leading key columns (the method pair) leave the table and head
  each group of rows instead, on a line of their own;
- :func:`split_columns`: a table with many value columns becomes several, each repeating the
  leading columns, each within the width.

Markdown and CSV keep the full, flat tables (:mod:`compare.report.tables`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence

from tabulate import tabulate

from compare.report.format import WIDTH, fill

INDENT = "  "  # rows under a group heading


def terminal_width() -> int:
    """Columns of the terminal (``$COLUMNS`` first), :data:`WIDTH` when there is none (a file, a pipe)."""
    return max(40, shutil.get_terminal_size((WIDTH, 24)).columns)


def wrap(line: str, width: int, indent: str = "  ") -> str:
    """``line`` wrapped at spaces only (never inside a method label such as ``numerical-fast``)."""
    return fill(line, width, indent, break_words=False)


def _cell_lines(cell: object) -> list[str]:
    return str(cell).split("\n")


def compact_table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """The table's lines: headers (bottom-aligned when some take two lines), dashes, then the rows."""
    height = max((len(_cell_lines(h)) for h in head), default=1)
    header_rows = [[""] * len(head) for _ in range(height)]
    for j, h in enumerate(head):
        parts = _cell_lines(h)
        for i, part in enumerate(parts):
            header_rows[height - len(parts) + i][j] = part
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[j]) for r in [*header_rows, *cells]) for j in range(len(head))]
    dashes = ["-" * w for w in widths]
    text = tabulate([*header_rows, dashes, *cells], tablefmt="plain", disable_numparse=True)
    return [line.rstrip() for line in text.split("\n")]


def grouped_table(
    head: Sequence[str], rows: Sequence[Sequence[object]], keys: int, heading: Callable[[Sequence[object]], str]
) -> str:
    """The table without its first ``keys`` columns; each run of rows with the same keys under ``heading(keys)``."""
    lines = compact_table(head[keys:], [row[keys:] for row in rows])
    n_header = len(lines) - len(rows)
    out = [INDENT + line for line in lines[:n_header]]
    last = None
    for row, line in zip(rows, lines[n_header:], strict=True):
        key = tuple(row[:keys])
        if key != last:
            out.append(heading(key))
            last = key
        out.append(INDENT + line)
    return "\n".join(out) + "\n"


def split_columns(
    head: Sequence[str], rows: Sequence[Sequence[object]], keep: int, group: int = 1, width: int = WIDTH
) -> list[tuple[list[str], list[list[object]]]]:
    """Several tables, each with the first ``keep`` columns and as many groups of ``group`` columns as fit."""
    spans = [list(range(j, min(j + group, len(head)))) for j in range(keep, len(head), group)]
    tables: list[list[int]] = []
    for span in spans:
        trial = [*(tables[-1] if tables else []), *span]
        if tables and _width(head, rows, [*range(keep), *trial]) <= width:
            tables[-1] = trial
        else:
            tables.append(list(span))
    out = []
    for columns in tables or [[]]:
        picked = [*range(keep), *columns]
        out.append(([head[j] for j in picked], [[row[j] for j in picked] for row in rows]))
    return out


def _width(head: Sequence[str], rows: Sequence[Sequence[object]], columns: list[int]) -> int:
    """The width :func:`compact_table` gives the table of ``columns``."""
    widths = []
    for j in columns:
        cells = [head[j], *(r[j] for r in rows)]
        widths.append(max(len(line) for cell in cells for line in _cell_lines(cell)))
    return sum(widths) + 2 * (len(widths) - 1)
