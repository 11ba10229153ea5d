"""Tables the CLI prints, in the format the reader asked for (``--format``).

``table``    rich's box table, for a terminal (the default when stdout is one);
``markdown`` a pipe table, every cell in full (the default when stdout is a pipe or a file: rich
             would squeeze it to 80 columns and cut every cell to ``c…``);
``csv``      RFC 4180 through :mod:`csv`;
``json``     a list of row objects (the same as the command's ``--json`` where it has one).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Sequence

FORMATS = ("table", "markdown", "csv", "json")


def add_format_argument(p) -> None:
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: table on a terminal, markdown when piped)")


def resolve_format(fmt: str | None, json_flag: bool = False) -> str:
    if json_flag:
        return "json"
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "markdown"


def _cell(v) -> str:
    return "" if v is None else str(v)


def render(columns: Sequence[str], rows: Sequence[Sequence], fmt: str, title: str = "",
           footer: Sequence[str] = ()) -> str:
    """The table as text in ``fmt`` (not ``table``, which :func:`emit` prints through rich)."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, r)) for r in rows], indent=2, default=str) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows([[_cell(c) for c in r] for r in rows])
        return buf.getvalue()
    if fmt != "markdown":
        raise ValueError(f"render: unknown format {fmt!r}")

    def esc(c):
        return _cell(c).replace("|", "\\|").replace("\n", " ")
    out = [f"{title}\n"] if title else []
    out.append("| " + " | ".join(esc(c) for c in columns) + " |")
    out.append("|" + "---|" * len(columns))
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    out += [""] + list(footer) if footer else []
    return "\n".join(out) + "\n"


def emit(columns: Sequence[str], rows: Sequence[Sequence], fmt: str, title: str = "",
         footer: Sequence[str] = ()) -> None:
    """Print the table to stdout in ``fmt``; ``table`` uses rich at the terminal's width."""
    if fmt != "table":
        sys.stdout.write(render(columns, rows, fmt, title, footer))
        return
    from rich.console import Console
    from rich.table import Table
    tab = Table(title=title or None)
    for c in columns:
        tab.add_column(str(c))
    for r in rows:
        tab.add_row(*[_cell(c) for c in r])
    con = Console()
    con.print(tab)
    for line in footer:
        con.print(line)
