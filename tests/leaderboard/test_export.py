"""Exporting the leaderboard frame: every format, and CSV that reads back equal."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from modelboard.leaderboard import export_frame, show


def test_csv_reads_back_equal(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    frame = tracker.leaderboard(sort="val_accuracy")
    path = export_frame(frame, tmp_path / "board.csv")
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_parquet_and_json_read_back(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    frame = tracker.leaderboard(columns="id,name,val_accuracy,batch_size,early_stop")
    back = pd.read_parquet(export_frame(frame, tmp_path / "board.parquet"))
    assert _cells(back) == _cells(frame)
    records = json.loads(export_frame(frame, tmp_path / "b.json").read_text())
    assert [r["id"] for r in records] == list(frame["id"])


def test_markdown_and_html(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    frame = tracker.leaderboard(columns="id,name,val_accuracy")
    markdown = export_frame(frame, tmp_path / "b.md").read_text()
    assert markdown.splitlines()[0].startswith("| id") and ids["torch"] in markdown
    html = export_frame(frame, tmp_path / "b.out", format="html").read_text()
    assert "<table" in html and ids["keras"] in html
    assert "<table" in show(frame)  # no IPython here: the plain HTML comes back


def test_unknown_format_is_an_error(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tracker, _ = sample
    with pytest.raises(ValueError, match="cannot tell the export format"):
        export_frame(tracker.leaderboard(), tmp_path / "board.xlsx")
    with pytest.raises(ValueError, match="unknown export format"):
        export_frame(tracker.leaderboard(), tmp_path / "board.csv", format="xml")


def _cells(frame: pd.DataFrame) -> list[list[object]]:
    return [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]


def test_html_export_is_a_complete_document_with_escaped_cells(tmp_path: Path) -> None:
    from html.parser import HTMLParser

    import pandas as pd

    frame = pd.DataFrame(
        {"name": ["<script>alert(1)</script>", "plain"], "val_accuracy": [0.9, 0.5]}
    )
    text = export_frame(frame, tmp_path / "board.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text

    class Nesting(HTMLParser):
        void = {"meta", "br", "hr", "img", "link", "input"}

        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []
            self.seen: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.seen.append(tag)
            if tag not in self.void:
                self.open.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
            self.open.pop()

    parser = Nesting()
    parser.feed(text)
    parser.close()
    assert parser.open == []
    assert parser.seen[:3] == ["html", "head", "meta"]
    assert {"title", "body", "table"} <= set(parser.seen)
    assert parser.seen.count("tr") == 3  # the header and two runs
