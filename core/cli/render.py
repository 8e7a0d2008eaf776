"""Formatting values and building rich tables for the command line (and the demo)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

__all__ = ["format_cell", "frame_table", "rows_table", "key_value_table"]


def format_cell(value: Any, column: str | None = None) -> str:
    """A value as table text: short ids, local times, 4 significant digits, blanks for missing."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if column == "id" and isinstance(value, str):
        return value[:8]
    if column in ("created", "ended") and isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value)).strftime("%Y-%m-%d %H:%M")
    if column == "duration" and isinstance(value, (int, float)):
        seconds = float(value)
        if seconds < 60:
            return f"{seconds:.1f}s"
        minutes, seconds = divmod(int(seconds), 60)
        return (
            f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
        )
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    if type(value).__name__ == "NAType":  # pandas.NA, without importing pandas
        return ""
    return str(value)


def frame_table(
    frame: pd.DataFrame, title: str | None = None, index: bool = False, wrap: bool = True
) -> Table:
    """A rich table of a DataFrame (``wrap=False``: one line per row, long cells cut)."""
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    names = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    for name in names:
        if wrap:
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=40)
    for key, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [format_cell(v, c) for v, c in zip(row, frame.columns, strict=True)]
        table.add_row(*(([str(key)] if index else []) + cells))
    return table


def rows_table(labels: list[str], rows: list[list[Any]], title: str | None = None) -> Table:
    """A rich table of plain rows, one line per row (long cells are cut)."""
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for label in labels:
        table.add_column(label, no_wrap=True, overflow="ellipsis", max_width=40)
    for row in rows:
        table.add_row(*(format_cell(v, c) for v, c in zip(row, labels, strict=True)))
    return table


def key_value_table(pairs: dict[str, Any], title: str | None = None) -> Table:
    """A two-column rich table of names and values."""
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", title_style="bold")
    table.add_column("field", style="cyan")
    table.add_column("value", overflow="fold")
    for key, value in pairs.items():
        table.add_row(str(key), format_cell(value, key))
    return table
