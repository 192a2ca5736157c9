"""How every command prints results: ``--format table|json|csv`` through one helper, :func:`emit`."""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    pass


def deprecated(old: str, new: str) -> None:
    """One stderr line: the old spelling still works for this release; ``new`` is the one to use."""
    typer.echo(f"{old} is deprecated; use {new}", err=True)


out = Console(width=None if sys.stdout.isatty() else 120)  # piped output: wide enough for every column


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[Format, typer.Option("--format", help="How results are printed: table, json or csv.")]


JsonOpt = Annotated[bool, typer.Option("--json", hidden=True, help="Deprecated: use --format json.")]


def output_format(fmt: Format, json_: bool) -> Format:
    """--format, or json from the deprecated --json."""
    if json_:
        deprecated("--json", "--format json")
        return Format.json
    return fmt


def note_left_out(lines: list[str], partial: list[str] = ()) -> None:
    """One stderr line for each system or round left out, and for each scored on fewer items."""
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    for line in dict.fromkeys(lines):  # a system of several runs is named once
        err.print(escape(f"left out: {line}"))
    for line in dict.fromkeys(partial):
        err.print(escape(f"partial: {line}"))


def _plain(value):
    """A value as JSON has it: NaN becomes null, nested lists and dicts likewise."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _cell(value) -> str:
    """A CSV cell: empty for a missing value, JSON for a nested one."""
    value = _plain(value)
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def emit(
    rows: list[dict],
    title: str,
    fmt: Format | bool,
    notes: list[str] = (),
    *,
    shown: list[dict] | None = None,
    extra: dict | None = None,
) -> None:
    """The one way a command prints results (``--format``). table: a rich table of ``shown`` (the rows as
    people read them; default ``rows``), numbers to two decimals and a missing value as —, the notes under
    it; json: one document ``{"title", "rows", "notes", **extra}`` with NaN as null; csv: a header (every
    column any row has) and one line per row, nested values as JSON, and the notes on stderr so that
    stdout holds the table alone. A bool ``fmt`` (this function's former ``as_json``) means json or table."""
    if isinstance(fmt, bool):
        fmt = Format.json if fmt else Format.table
    if fmt is Format.json:
        document = {"title": title, "rows": rows, "notes": list(notes), **(extra or {})}
        print(json.dumps(_plain(document), indent=2))
        return
    if fmt is Format.csv:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if columns:
            writer.writerow(columns)
        writer.writerows([_cell(row.get(k)) for k in columns] for row in rows)
        print(buf.getvalue(), end="")
        for note in notes:
            typer.echo(f"note: {note}", err=True)
        return
    from rich.table import Table

    shown = rows if shown is None else shown
    if not shown:
        out.print(escape(f"{title}: nothing to show"), highlight=False)
    else:
        table = Table(title=escape(title))
        columns = list(dict.fromkeys(k for row in shown for k in row))
        first = {k: next((row[k] for row in shown if row.get(k) is not None), None) for k in columns}
        for col in columns:
            numeric = isinstance(first[col], (int, float)) and not isinstance(first[col], bool)
            table.add_column(escape(str(col)), justify="right" if numeric else "left")
        for row in shown:
            table.add_row(*(_shown(row.get(k)) for k in columns))
        out.print(table)
    for note in notes:
        out.print(escape(note), highlight=False)


def emit_tables(tables: list[tuple[str, list[dict], list[str]]], title: str, fmt: Format) -> None:
    """Several (title, rows, notes) tables of one command: as tables, one after another; as JSON or CSV,
    one document, so that it parses: a single table as ``emit`` prints it, several as one whose rows
    start with ``table`` (the title of theirs) and whose notes are prefixed with it."""
    if fmt is Format.table or len(tables) == 1:
        for name, rows, notes in tables:
            emit(rows, name, fmt, notes)
        return
    rows = [{"table": name, **row} for name, part, _ in tables for row in part]
    emit(rows, title, fmt, [f"{name}: {note}" for name, _, notes in tables for note in notes])


def _shown(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else escape(str(value))
