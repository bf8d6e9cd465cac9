"""Rendering rows as an aligned table, JSON or CSV (the --format option)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from dmarcflow.answers import to_json

__all__ = ["FORMATS", "format_option", "to_csv", "to_json", "to_table"]

FORMATS = ("table", "json", "csv")
FC = TypeVar("FC", bound=Callable[..., Any])


def format_option(default: str = "table") -> Callable[[FC], FC]:
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default=default, show_default=True,
        help="Output format: a table for people, json or csv for programs.",
    )


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)  # e.g. warning codes
    return value


def to_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 80) -> str:
    """Columns padded to their widest cell; numbers right-aligned; long text cut with an ellipsis."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and rows for i in range(len(columns))]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    widths = _fit(widths, max_width, numeric)
    lines = [_line(columns, widths, numeric), _line(["-" * w for w in widths], widths, numeric)]
    lines += [_line(r, widths, numeric) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _fit(widths: list[int], max_width: int, numeric: list[Any]) -> list[int]:
    """Shrink the widest text columns until the line fits."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > max_width:
        text_cols = [i for i in range(len(widths)) if not numeric[i] and widths[i] > 8]
        if not text_cols:
            break
        widest = max(text_cols, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _line(values: Sequence[str], widths: list[int], numeric: list[Any]) -> str:
    parts = []
    for i, (value, w) in enumerate(zip(values, widths, strict=False)):
        v = value if len(value) <= w else value[: w - 1] + "…"
        parts.append(v.rjust(w) if numeric[i] else v.ljust(w))
    return "  ".join(parts).rstrip()


def wrap_cell(text: str, width: int | None) -> list[str]:
    """A table cell over as many lines as it needs: never cut, so names can be copied whole.

    Breaks at spaces; a word longer than the column is split across lines (nothing is dropped).
    ``width`` None: one line, however long (``--wide``).
    """
    if width is None or len(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for whole in text.split(" "):
        word = whole
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def wrap_text(text: str, width: int | None, indent: str, subsequent: str | None = None) -> list[str]:
    """Prose wrapped at ``width`` (None: one line), for explanations, fixes and advice."""
    import textwrap

    if width is None:
        return [indent + text]
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent if subsequent is None else subsequent,
                         break_long_words=False, break_on_hyphens=False)


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), 127) if c != 9}  # a tab stays a tab


def printable(value: Any) -> str:
    """Report text as safe terminal output: control characters (escape sequences, CR) shown as \\xNN."""
    return ("-" if value is None else str(value)).translate(_CONTROL)
