"""What the demo shows when training is done: leaderboard, compare, and where the files are."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from modelboard.compare import Comparison
    from modelboard.tracking import Tracker

__all__ = [
    "SEED_COLUMNS",
    "leaderboard_frame",
    "print_leaderboard",
    "print_compare",
    "write_csv",
    "write_html",
    "store_folder",
]

#: The seed paper's leaderboard row (its art data set section), under the leaderboard's names.
SEED_COLUMNS = (
    "data_name",
    "model_name",
    "val_accuracy",
    "val_precision_per_class",
    "val_recall_per_class",
    "augmentations",
    "train_x_shape",
    "train_y_shape",
    "val_x_shape",
    "val_y_shape",
    "width",
    "height",
    "channels",
    "optimizer",
    "loss_function",
    "num_classes",
    "batch_size",
    "epochs",
)
_FIRST_COLUMNS = ("id", "name", "framework", "status", *SEED_COLUMNS)
#: Printed in the leaderboard table: (column, header).
_TABLE_COLUMNS = (
    ("id", "run"),
    ("framework", "framework"),
    ("model_name", "model"),
    ("optimizer", "optimizer"),
    ("batch_size", "batch"),
    ("epochs", "epochs"),
    ("val_accuracy", "val_accuracy"),
    ("val_precision_macro", "mean precision"),
    ("val_recall_macro", "mean recall"),
    ("duration", "seconds"),
)


def leaderboard_frame(tracker: Tracker, run_ids: Sequence[str], session: str) -> pd.DataFrame:
    """The demo's runs (``tags.demo = session``) from ``tracker.leaderboard()``, ranked by
    validation accuracy, run columns and the seed paper's row first."""
    where = f"tags.demo = '{session}'"
    ranked = tracker.leaderboard(sort="val_accuracy", ascending=False, where=where)
    ranked = ranked[ranked["id"].isin(list(run_ids))]
    first = [c for c in _FIRST_COLUMNS if c in ranked.columns]
    order = first + [c for c in ranked.columns if c not in first]
    return ranked[order].reset_index(drop=True)


def print_leaderboard(console: Console, frame: pd.DataFrame) -> None:
    """The leaderboard as a rich table, ranked by validation accuracy."""
    from rich.table import Table

    from modelboard.cli.render import format_cell

    table = Table(title="Leaderboard: ranked by validation accuracy", title_justify="left")
    table.add_column("#", justify="right")
    columns = [(c, h) for c, h in _TABLE_COLUMNS if c in frame.columns]
    for column, header in columns:
        numeric = column in ("batch_size", "epochs", "duration") or column.startswith("val_")
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for rank, (_, row) in enumerate(frame.iterrows(), start=1):
        table.add_row(str(rank), *(format_cell(row[c], c) for c, _ in columns))
    console.print(table)


#: Compare sections the demo prints (``modelboard compare`` shows every one).
_COMPARE_SECTIONS = ("training", "evaluation")
_COMPARE_ROWS = 8
_DESCRIBED = re.compile(r"^(?:[A-Za-z_]\w*\.)*(?P<layer>[^(]*?)\s*(?:\((?P<config>.*)\))?$")


def _layer_view(layers: pd.DataFrame, labels: list[str], names: list[str]) -> pd.DataFrame:
    """The aligned layers, compact: canonical type, each run's layer and parameter count, the
    canonical config (of the first run that has the layer) and whether they match."""
    import pandas as pd

    rows = []
    for _, row in layers.iterrows():
        out: dict[str, Any] = {"type": row.get("type")}
        config = None
        for label, name in zip(labels, names, strict=True):
            text = row.get(label)
            match = _DESCRIBED.match(text) if isinstance(text, str) else None
            out[name] = match.group("layer") if match else None
            out[f"{name} params"] = row.get(f"{label} params")
            if config is None and match is not None:
                config = match.group("config")
        out["config"] = config
        out["match"] = row.get("match")
        rows.append(out)
    return pd.DataFrame(rows)


def _table(frame: pd.DataFrame, title: str, index: bool = False) -> Table:
    """The CLI's table of ``frame``, its title on the left like the leaderboard's."""
    from modelboard.cli.render import frame_table

    table = frame_table(frame, title, index=index)
    table.title_justify = "left"
    return table


def print_compare(console: Console, tracker: Tracker, a: str, b: str) -> Comparison:
    """``tracker.compare(a, b)``: the layers aligned across frameworks, then the differing
    training and evaluation rows (at most ``_COMPARE_ROWS`` each). Returns the comparison."""
    result: Comparison = tracker.compare(a, b)
    runs, labels = result.runs, result.labels
    names = {label: f"{run.run.framework} {label}" for label, run in zip(labels, runs, strict=True)}
    short = [f"{run.run.framework} {run.id[:8]}" for run in runs]
    first, second = (f"{run.run.framework} {run.run.name} {run.id[:8]}" for run in runs)
    console.print(f"[bold]Compare[/]: {first} against {second}")
    layers = result.layers
    if len(layers):
        same = int((layers["match"] == "same").sum())
        title = f"Layers aligned by canonical type: {same} of {len(layers)} the same"
        console.print(_table(_layer_view(layers, list(labels), short), title))
    for name in _COMPARE_SECTIONS:
        frame = result.sections.get(name)
        if frame is None or frame.empty:
            continue
        shown = frame.drop(columns=["differs"], errors="ignore").head(_COMPARE_ROWS)
        shown = shown.rename(columns=names)
        more = len(frame) - len(shown)
        title = f"{name}: differences" + (f" (first {len(shown)} of {len(frame)})" if more else "")
        console.print(_table(shown, title, index=True))
    console.print(f"every difference: modelboard compare {a[:8]} {b[:8]}")
    return result


def store_folder(tracker: Tracker) -> Path:
    """The folder of the store: the SQLite file's folder, else the artifact root's parent."""
    location = tracker.location
    if location.is_sqlite:
        from sqlalchemy.engine import make_url

        database = make_url(location.url).database
        if database:
            return Path(database).parent
    return location.artifact_root.parent


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write the leaderboard as CSV (per-class lists and augmentations as JSON text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def write_html(
    path: Path, tracker: Tracker, run_ids: Sequence[str], compare: Sequence[str] | None
) -> Path:
    """The dashboard's report of the demo's runs (``modelboard report``): one self-contained
    HTML file with the leaderboard, every run's page and the cross-framework compare."""
    from modelboard.ui.report import write_report

    return write_report(path, store=tracker, runs=list(run_ids), compare=compare or None)
