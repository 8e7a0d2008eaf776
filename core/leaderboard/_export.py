"""Writing a leaderboard frame to a file, and showing it in Jupyter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXPORT_FORMATS", "export_frame", "show", "format_for"]

EXPORT_FORMATS = ("csv", "parquet", "json", "markdown", "html")
_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}


def format_for(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The export format: ``format`` if given, else from the file's suffix."""
    if format is not None:
        chosen = format.lower()
        if chosen not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {format!r}; use one of {EXPORT_FORMATS}")
        return chosen
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"cannot tell the export format from {str(path)!r}; name it *.csv, *.parquet, "
            "*.json, *.md or *.html, or pass format="
        )
    return _SUFFIXES[suffix]


def export_frame(
    frame: pd.DataFrame, path: str | os.PathLike[str], format: str | None = None
) -> Path:
    """Write ``frame`` as CSV, Parquet, JSON (a list of records), Markdown or HTML.

    The CSV reads back equal: ``pd.read_csv(path)`` gives the same frame.
    """
    chosen = format_for(path, format)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if chosen == "csv":
        frame.to_csv(target, index=False)
    elif chosen == "parquet":
        frame.to_parquet(target, index=False)
    elif chosen == "json":
        frame.to_json(target, orient="records", indent=2)
    elif chosen == "markdown":
        target.write_text(frame.to_markdown(index=False) + "\n", encoding="utf-8")
    else:
        target.write_text(html_document(frame), encoding="utf-8")
    return target


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem}"
    "table{border-collapse:collapse;font-size:.85rem}"
    "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3;position:sticky;top:0}"
)


def html_document(frame: pd.DataFrame, title: str = "modelboard leaderboard") -> str:
    """``frame`` as a complete HTML5 document (doctype, charset, title, one escaped table)."""
    import html

    table = frame.to_html(index=False, na_rep="", escape=True, border=0)
    heading = html.escape(title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{heading}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{heading}</h1>\n<p>{len(frame):,} runs</p>\n{table}\n</body>\n</html>\n"
    )


def show(frame: pd.DataFrame, **options: Any) -> Any:
    """Show a leaderboard in Jupyter: interactive (sort, search) through itables when it is
    installed, plain HTML otherwise. Outside IPython the HTML text is returned."""
    try:
        from IPython.display import HTML, display
    except ImportError:
        return frame.to_html(index=False, na_rep="")
    try:
        import itables
    except ImportError:
        display(HTML(frame.to_html(index=False, na_rep="")))
        return None
    itables.show(frame, **options)
    return None
