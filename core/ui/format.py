"""Human formats for the dashboard: dates, durations, 4 significant digits, sparklines."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from markupsafe import Markup, escape

from modelboard.store.columns import parse_json_text

__all__ = [
    "format_date",
    "format_duration",
    "format_number",
    "format_shape",
    "format_value",
    "sparkline",
]

DATE_COLUMNS = frozenset({"created", "ended", "heartbeat"})
DURATION_COLUMNS = frozenset({"duration"})


def format_date(value: float | None) -> str:
    """Unix seconds as ``2026-12-03 11:55:37`` (UTC)."""
    if value is None:
        return ""
    return datetime.fromtimestamp(float(value), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """``4.2 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_number(value: Any) -> str:
    """Integers as they are, floats to 4 significant digits, NaN/Inf by name."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        return f"{value:.4g}"
    return str(value)


def _numbers(value: Any) -> list[float] | None:
    if not isinstance(value, (list, tuple)) or not value:
        return None
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            return None
        out.append(float(item))
    return out


def sparkline(values: list[float], width: int = 64, height: int = 16) -> Markup:
    """A small inline SVG bar chart of ``values`` (a per-class list), with the values as its
    tooltip."""
    finite = [v for v in values if math.isfinite(v)]
    top = max([abs(v) for v in finite] or [1.0]) or 1.0
    bar = width / len(values)
    bars = []
    for index, value in enumerate(values):
        size = 0.0 if not math.isfinite(value) else abs(value) / top * (height - 1)
        x = index * bar
        bars.append(
            f'<rect x="{x:.1f}" y="{height - size:.1f}" width="{max(bar - 1, 1):.1f}" '
            f'height="{size:.1f}"></rect>'
        )
    title = escape(", ".join(format_number(v) for v in values))
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" role="img" '
        f'viewBox="0 0 {width} {height}"><title>{title}</title>{"".join(bars)}</svg>'
    )


def format_value(label: str, value: Any) -> Markup | str:
    """A leaderboard cell: dates and durations by column, numbers to 4 significant digits,
    per-class lists as sparklines; every text is escaped by the template."""
    if value is None:
        return ""
    if label in DATE_COLUMNS and isinstance(value, (int, float)):
        return format_date(value)
    if label in DURATION_COLUMNS and isinstance(value, (int, float)):
        return format_duration(value)
    if isinstance(value, str) and value.startswith("["):
        value = parse_json_text(value)
    if "shape" in label and isinstance(value, list):
        return format_shape(value)
    numbers = _numbers(value)
    if numbers is not None and _is_per_class(label):
        return sparkline(numbers)
    if numbers is not None:
        return "[" + ", ".join(format_number(n) for n in numbers) + "]"
    if isinstance(value, (int, float)):
        return format_number(value)
    return str(value)


_PER_CLASS = ("precision", "recall", "f1", "support", "auc", "average_precision")


def _is_per_class(label: str) -> bool:
    """Lists of one value per class (drawn as sparklines); other number lists stay text."""
    last = label.rsplit(".", 1)[-1]
    return label.endswith("_per_class") or last in _PER_CLASS


def format_shape(shape: list[Any]) -> str:
    """A tensor shape as ``(None, 8, 8, 1)``; several shapes as a list of them."""
    if all(isinstance(d, list) for d in shape) and shape:
        return "[" + ", ".join(format_shape(d) for d in shape) + "]"
    dims = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")
