"""What the demo shows when training is done: leaderboard, compare, and where the files are."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from modelboard.tracking import StoredRun, Tracker
    from rich.console import Console

__all__ = [
    "SEED_COLUMNS",
    "seed_row",
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


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def seed_row(stored: StoredRun) -> dict[str, Any]:
    """One run's seed-paper row read from its records, plus id, framework, macro averages."""
    run, data, network = stored.run, stored.data, stored.network
    params = run.params
    evaluation = stored.evaluations.get("val")
    metrics = evaluation.metrics if evaluation is not None else {}
    per_class = evaluation.per_class if evaluation is not None else {}
    splits = data.splits if data is not None else {}
    train, val = splits.get("train"), splits.get("val")
    image = (data.image if data is not None else None) or {}
    optimizer = network.optimizer.name if network and network.optimizer else params.get("optimizer")
    loss = network.loss if network is not None and network.loss else params.get("loss")
    epochs = network.epochs_run if network is not None and network.epochs_run else None
    batch_size = network.batch_size if network is not None and network.batch_size else None
    augmentations = [{"type": a.type, **a.params} for a in data.augmentations] if data else []
    ended = run.ended or run.heartbeat
    return {
        "id": run.id,
        "name": run.name,
        "framework": run.framework,
        "status": run.status,
        "data_name": data.name if data is not None else None,
        "model_name": network.architecture if network is not None else run.name,
        "val_accuracy": metrics.get("accuracy"),
        "val_precision_per_class": _json(per_class.get("precision")),
        "val_recall_per_class": _json(per_class.get("recall")),
        "augmentations": _json(augmentations),
        "train_x_shape": _json(train.x_shape) if train else None,
        "train_y_shape": _json(train.y_shape) if train else None,
        "val_x_shape": _json(val.x_shape) if val else None,
        "val_y_shape": _json(val.y_shape) if val else None,
        "width": image.get("width"),
        "height": image.get("height"),
        "channels": image.get("channels"),
        "optimizer": optimizer,
        "loss_function": loss if isinstance(loss, str) or loss is None else _json(loss),
        "num_classes": data.num_classes if data is not None else None,
        "batch_size": batch_size or params.get("batch_size"),
        "epochs": epochs or params.get("epochs"),
        "val_precision_macro": metrics.get("precision_macro"),
        "val_recall_macro": metrics.get("recall_macro"),
        "duration": round(ended - run.created, 2) if ended else None,
    }


def leaderboard_frame(
    tracker: Tracker, run_ids: Sequence[str], session: str | None = None
) -> pd.DataFrame:
    """The demo's runs ranked by validation accuracy, every seed column filled.

    The rows and columns are ``tracker.leaderboard()``'s (``session``, the demo's ``demo`` tag,
    selects its runs in the database); a seed column it leaves empty is filled from the run's
    records. Without ``Tracker.leaderboard`` the frame is built from the records alone.
    """
    import pandas as pd

    seed = pd.DataFrame([seed_row(tracker.get(run_id)) for run_id in run_ids])
    board = getattr(tracker, "leaderboard", None)
    if board is None:
        ranked = seed.sort_values("val_accuracy", ascending=False, na_position="last")
    else:
        where = None if session is None else f"tags.demo = '{session}'"
        ranked = board(sort="val_accuracy", ascending=False, where=where)
        ranked = ranked[ranked["id"].isin(list(run_ids))].reset_index(drop=True)
        by_id = seed.set_index("id")
        for column in seed.columns:
            if column == "id":
                continue
            fallback = ranked["id"].map(by_id[column])
            if column not in ranked.columns:
                ranked[column] = fallback
            else:
                ranked[column] = ranked[column].where(ranked[column].notna(), fallback)
    first = [c for c in _FIRST_COLUMNS if c in ranked.columns]
    order = first + [c for c in ranked.columns if c not in first]
    return ranked[order].reset_index(drop=True)


def _cell(value: Any, column: str) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, (str, list, dict, tuple)) and pd.isna(value)):
        return "-"
    if column == "id":
        return str(value)[:8]
    if isinstance(value, float):
        return f"{value:.1f}" if column == "duration" else f"{value:.4f}"
    return str(value)


def print_leaderboard(console: Console, frame: pd.DataFrame) -> None:
    """The leaderboard as a rich table, ranked by validation accuracy."""
    from rich.table import Table

    table = Table(title="Leaderboard: ranked by validation accuracy", title_justify="left")
    table.add_column("#", justify="right")
    columns = [(c, h) for c, h in _TABLE_COLUMNS if c in frame.columns]
    for column, header in columns:
        numeric = column in ("batch_size", "epochs", "duration") or column.startswith("val_")
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for rank, (_, row) in enumerate(frame.iterrows(), start=1):
        table.add_row(str(rank), *(_cell(row[c], c) for c, _ in columns))
    console.print(table)


def _frame_table(frame: pd.DataFrame, title: str, index: bool = False) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    if index:
        table.add_column(str(frame.index.name or ""), overflow="fold")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold", max_width=48)
    for key, (_, row) in zip(frame.index, frame.iterrows(), strict=True):
        cells = [_cell(v, str(c)) for c, v in row.items()]
        table.add_row(*([str(key)] if index else []), *cells)
    return table


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


def print_compare(console: Console, tracker: Tracker, a: str, b: str) -> Any:
    """``tracker.compare(a, b)``: the layers aligned across frameworks, then the differing
    training and evaluation rows (at most ``_COMPARE_ROWS`` each). Returns the comparison
    (``None`` when this build lacks ``Tracker.compare``)."""
    compare = getattr(tracker, "compare", None)
    if compare is None:
        console.print("[yellow]tracker.compare() is not available in this build of modelboard[/]")
        return None
    result = compare(a, b)
    runs = getattr(result, "runs", [])
    labels = getattr(result, "labels", [])
    names = {label: f"{run.run.framework} {label}" for label, run in zip(labels, runs, strict=True)}
    short = [f"{run.run.framework} {run.id[:8]}" for run in runs]
    console.print(f"[bold]Compare[/]: keras basic_cnn {a[:8]} against torch basic_cnn {b[:8]}")
    layers = getattr(result, "layers", None)
    if layers is not None and len(layers):
        same = int((layers["match"] == "same").sum()) if "match" in layers else None
        title = "Layers aligned by canonical type" + (
            f": {same} of {len(layers)} the same" if same is not None else ""
        )
        console.print(_frame_table(_layer_view(layers, list(labels), short), title))
    sections = getattr(result, "sections", None)
    if sections is None:
        console.print(str(result))
        return result
    for name in _COMPARE_SECTIONS:
        frame = sections.get(name)
        if frame is None or frame.empty:
            continue
        shown = frame.drop(columns=["differs"], errors="ignore").head(_COMPARE_ROWS)
        shown = shown.rename(columns=names)
        more = len(frame) - len(shown)
        title = f"{name}: differences" + (f" (first {len(shown)} of {len(frame)})" if more else "")
        console.print(_frame_table(shown, title, index=True))
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


def _curves_html(result: Any, png: Path) -> str:
    """The compared runs' metric curves overlaid (``Comparison.plot_curves``), inlined."""
    plot = getattr(result, "plot_curves", None)
    if plot is None:
        return ""
    return _figure(Path(plot(png)), "metric curves of both runs")


def _compare_html(result: Any) -> str:
    if result is None:
        return "<p>tracker.compare() is not available in this build.</p>"
    parts = []
    layers = getattr(result, "layers", None)
    if layers is not None and len(layers):
        parts.append("<h3>layers, aligned by canonical type</h3>")
        parts.append(layers.to_html(index=False, na_rep="-", border=0))
    for name, frame in (getattr(result, "sections", None) or {}).items():
        if len(frame):
            parts.append(f"<h3>{html.escape(str(name))}: differences</h3>")
            parts.append(frame.to_html(na_rep="-", border=0))
    return "".join(parts) or f"<pre>{html.escape(str(result))}</pre>"


#: Plots shown in the HTML report for each run (the others are listed by path).
_INLINE_PLOTS = ("training_curves.png", "val_confusion_matrix.png")


def _figure(file: Path, caption: str) -> str:
    encoded = base64.b64encode(file.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}"/>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def write_html(
    path: Path, tracker: Tracker, frame: pd.DataFrame, compare_result: Any, title: str
) -> Path:
    """A self-contained HTML report: leaderboard, compare, and each run's plots inlined."""
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Store: <code>{html.escape(tracker.location.describe())}</code></p>",
        "<h2>Leaderboard, ranked by validation accuracy</h2>",
        frame.to_html(index=False, na_rep="-", border=0),
        "<h2>Keras basic_cnn against PyTorch basic_cnn</h2>",
        _compare_html(compare_result),
        _curves_html(compare_result, path.with_name("compare_curves.png")),
        "<h2>Plots</h2>",
    ]
    for _, row in frame.iterrows():
        stored = tracker.get(str(row["id"]))
        folder = tracker.store.artifact_dir(stored.id, create=False)
        images, others = [], []
        for artifact in stored.artifacts:
            file = folder / artifact.path
            if artifact.path in _INLINE_PLOTS and file.is_file():
                images.append(_figure(file, artifact.path))
            else:
                others.append(html.escape(str(file)))
        heading = f"{row['framework']} {row['model_name']} {str(row['id'])[:8]}"
        listing = f"<p>more: {', '.join(others)}</p>" if others else ""
        sections.append(f"<h3>{html.escape(heading)}</h3>{''.join(images)}{listing}")
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:360px}"
        "figure{display:inline-block;margin:4px}"
    )
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
