"""Writing a leaderboard frame to a file, and showing it in Jupyter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXPORT_FORMATS", "EXPORT_CHUNK", "export_frame", "show", "format_for"]

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


#: Rows per block when a frame is written to CSV or Parquet (one Parquet row group each).
EXPORT_CHUNK = 20_000
_CSV_TEXT_ROWS = 2_000  # rows per block of CSV text (a block's text is built whole)


def export_frame(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    chunk_rows: int = EXPORT_CHUNK,
) -> Path:
    """Write ``frame`` as CSV, Parquet, JSON (a list of records), Markdown or HTML.

    CSV and Parquet are written ``chunk_rows`` rows at a time (CSV appended, Parquet one row
    group per block through ``pyarrow.parquet.ParquetWriter``), so the file never needs a
    second copy of the frame. Both read back equal: ``pd.read_csv(path)`` and
    ``pd.read_parquet(path)`` give the same frame.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be 1 or more, got {chunk_rows}")
    chosen = format_for(path, format)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if chosen == "csv":
        _write_csv(frame, target, chunk_rows)
    elif chosen == "parquet":
        _write_parquet(frame, target, chunk_rows)
    elif chosen == "json":
        frame.to_json(target, orient="records", indent=2)
    elif chosen == "markdown":
        target.write_text(frame.to_markdown(index=False) + "\n", encoding="utf-8")
    else:
        target.write_text(html_document(frame), encoding="utf-8")
    return target


def _write_csv(frame: pd.DataFrame, target: Path, chunk_rows: int) -> None:
    from modelboard.leaderboard._csv import csv_block

    with target.open("w", encoding="utf-8", newline="") as out:
        frame.iloc[:0].to_csv(out, index=False)  # the header, even for no runs
        step = min(chunk_rows, _CSV_TEXT_ROWS)  # text blocks are small: ~2 KB a row
        for start in range(0, len(frame), step):
            block = frame.iloc[start : start + step]
            text = csv_block(block)  # the text pandas writes, made a column at a time
            if text is None:
                block.to_csv(out, index=False, header=False)
            else:
                out.write(text)


def _write_parquet(frame: pd.DataFrame, target: Path, chunk_rows: int) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError("Parquet export needs pyarrow: pip install 'modelboard[export]'") from exc
    schema = pa.Schema.from_pandas(frame, preserve_index=False)  # types from every row
    with pq.ParquetWriter(target, schema) as writer:
        if not len(frame):
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
        for start in range(0, len(frame), chunk_rows):
            block = frame.iloc[start : start + chunk_rows]
            writer.write_table(pa.Table.from_pandas(block, schema=schema, preserve_index=False))


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
