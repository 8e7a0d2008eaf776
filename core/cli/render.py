"""Formatting values and building rich tables for the command line (and the demo)."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from modelboard.optimizer_names import canonical_optimizer

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from modelboard.compare import Comparison
    from modelboard.store import StoredRun

__all__ = [
    "format_cell",
    "format_shape",
    "frame_table",
    "rows_table",
    "write_plain_table",
    "RICH_TABLE_ROWS",
    "key_value_table",
    "comparison_table",
    "layer_alignment_table",
    "render_run",
    "SHOW_COLUMNS",
]

#: The leaderboard columns ``modelboard show`` prints for its run, read as ``ls`` reads them.
SHOW_COLUMNS = (
    "model_name",
    "total_params",
    "optimizer",
    "learning_rate",
    "learning_rate_last",
    "loss_function",
    "batch_size",
    "epochs",
    "epochs_planned",
    "early_stop",
    "data_name",
    "gradient_health",
)


_OPTIMIZER_NAME = re.compile(r"optimizers?(\[\d+\])?\.name")


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


def _is_dims(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value
    )


def format_shape(shape: Any) -> str:
    """A shape as Python writes it: ``(None, 32, 26, 26)``; several (a list of shapes, or a
    mapping of input names to shapes) as ``[(None, 28), (None, 10)]`` / ``image: (None, 28)``."""
    if isinstance(shape, dict):
        return ", ".join(f"{k}: {format_shape(v)}" for k, v in shape.items())
    if _is_dims(shape):
        dims = [_number(d) for d in shape]
        return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
    if isinstance(shape, (list, tuple)):
        return f"[{', '.join(format_shape(s) for s in shape)}]"
    return str(shape)


def _format_list(value: list[Any] | tuple[Any, ...]) -> str:
    if all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if _is_dims(value):
        return f"[{', '.join('None' if v is None else _number(v) for v in value)}]"
    if all(_is_dims(v) for v in value):  # a matrix
        return f"[{', '.join(_format_list(v) for v in value)}]"
    return json.dumps(value, default=str)


def _is_shape_column(column: str | None) -> bool:
    return column is not None and column.rsplit(".", 1)[-1].endswith("shape")


def format_cell(value: Any, column: str | None = None) -> str:
    """A value as table text: short ids, local times, 4 significant digits, blanks for missing;
    shapes (columns named ``*shape``) as ``(None, 32, 26, 26)``, lists of numbers as
    ``[0.86, 0.84]``, lists of names as ``a, b, c``."""
    if value is None:
        return ""
    if _is_shape_column(column):
        if isinstance(value, str) and value[:1] in "[{":
            try:
                value = json.loads(value)
            except ValueError:
                return value
        if isinstance(value, (list, tuple, dict)):
            return format_shape(value)
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
    if isinstance(value, (list, tuple)):
        if column is not None and column.rsplit(".", 1)[-1] == "command":
            return " ".join(str(v) for v in value)
        return _format_list(value)
    if isinstance(value, dict):
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
        table.add_row(*_plain(([str(key)] if index else []) + cells))
    return table


def _plain(cells: list[str]) -> list[Any]:
    """Cells as rich ``Text``: values are never read as markup (``[null, 32]`` would vanish)."""
    from rich.text import Text

    return [Text(cell) for cell in cells]


def rows_table(labels: list[str], rows: list[list[Any]], title: str | None = None) -> Table:
    """A rich table of plain rows, one line per row (long cells are cut)."""
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for label in labels:
        # a run's id prefix is what `show` and `compare` take: never cut it
        least = 8 if label == "id" else None
        table.add_column(label, no_wrap=True, overflow="ellipsis", max_width=40, min_width=least)
    for row in rows:
        table.add_row(*_plain([format_cell(v, c) for v, c in zip(row, labels, strict=True)]))
    return table


#: Tables longer than this print as plain aligned text (rich's layout measures every cell).
RICH_TABLE_ROWS = 100
_CELL_WIDTH = 40


def _cut(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def write_plain_table(out: Any, labels: list[str], rows: list[list[Any]]) -> None:
    """Plain rows as an aligned text table (the cells ``rows_table`` shows, cut at 40
    characters), written to ``out`` in blocks: 100,000 rows print in seconds."""
    cells = [[_cut(format_cell(v, c)) for v, c in zip(row, labels, strict=True)] for row in rows]
    widths = [len(label) for label in labels]
    for cut in cells:
        for i, cell in enumerate(cut):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    numeric = [
        all(isinstance(r[i], (int, float)) or r[i] is None for r in rows)
        for i in range(len(labels))
    ]

    def line(parts: list[str]) -> str:
        return "  ".join(
            p.rjust(w) if right else p.ljust(w)
            for p, w, right in zip(parts, widths, numeric, strict=True)
        ).rstrip()

    out.write(line(labels) + "\n" + line(["-" * w for w in widths]) + "\n")
    for start in range(0, len(cells), 5000):
        out.write("\n".join(line(c) for c in cells[start : start + 5000]) + "\n")


def comparison_table(frame: pd.DataFrame, title: str | None = None) -> Table:
    """A comparison section (index: field; a column per run; ``differs``) as a rich table:
    values formatted by their field's name, differing rows marked ``*`` and bold."""
    from rich.table import Table

    labels = [str(c) for c in frame.columns if c != "differs"]
    table = Table(title=title, header_style="bold", title_justify="left", title_style="bold")
    table.add_column("", no_wrap=True)
    table.add_column("field", style="cyan", overflow="fold")
    for label in labels:
        table.add_column(label, overflow="fold")
    differs = frame["differs"] if "differs" in frame.columns else [False] * len(frame)
    for key, flag, row in zip(
        frame.index, differs, frame[labels].itertuples(index=False), strict=True
    ):
        cells = [format_cell(v, str(key)) for v in row]
        style = "bold" if flag else None
        table.add_row(*_plain(["*" if flag else "", str(key), *cells]), style=style)
    return table


def _short(type_name: str) -> str:
    """A layer's class name without its module (records of older versions kept the path)."""
    return type_name.rsplit(".", 1)[-1]


def layer_alignment_table(comparison: Comparison, title: str) -> Table:
    """The aligned layers, one line each: canonical type, each run's class and path with its
    parameter count, ``match`` and what differs (``Comparison.aligned`` and ``layers``)."""
    from rich.table import Table

    table = Table(title=title, header_style="bold", title_justify="left", title_style="bold")
    table.add_column("layer")
    for label in comparison.labels:
        table.add_column(label, overflow="fold")
    table.add_column("match")
    table.add_column("difference", overflow="fold")
    frame = comparison.layers
    for layers, match, difference in zip(
        comparison.aligned, frame["match"], frame["difference"], strict=True
    ):
        present = [layer for layer in layers if layer is not None]
        cells = [
            "" if layer is None else f"{_short(layer.type)} {layer.path} ({layer.params:,})"
            for layer in layers
        ]
        row = [present[0].canonical_type, *cells, str(match), format_cell(difference)]
        table.add_row(*_plain(row), style=None if match == "same" else "bold")
    return table


def key_value_table(pairs: dict[str, Any], title: str | None = None) -> Table:
    """A two-column rich table of names and values."""
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", title_style="bold")
    table.add_column("field", style="cyan")
    table.add_column("value", overflow="fold")
    for key, value in pairs.items():
        table.add_row(*_plain([str(key), format_cell(value, key)]))
    return table


def render_run(console: Console, stored: StoredRun, columns: dict[str, Any] | None = None) -> None:
    """``modelboard show``: every record of one stored run as tables, section by section.

    ``columns`` are the run's leaderboard values (``SHOW_COLUMNS``, read as ``modelboard ls``
    reads them); they print after the run's own fields, so ``show`` and ``ls`` agree."""
    import pandas as pd

    from modelboard.compare import flatten
    from modelboard.metric_direction import best_value

    run = stored.run
    end = run.ended if run.ended is not None else run.heartbeat
    console.print(
        key_value_table(
            {
                "id": run.id,
                "name": run.name,
                "project": run.project,
                "framework": f"{run.framework or ''} {run.framework_version or ''}".strip(),
                "status": run.status,
                "created": run.created,
                "ended": run.ended,
                "duration": None if end is None else end - run.created,
                "parent_id": run.parent_id,
                "notes": run.notes or None,
                **{f"tags.{k}": v for k, v in run.tags.items()},
                **{f"params.{k}": v for k, v in run.params.items()},
                **(
                    {"error": f"{run.error.get('type')}: {run.error.get('message')}"}
                    if run.error
                    else {}
                ),
            },
            title="run",
        )
    )
    if columns:
        shown = {k: v for k, v in columns.items() if v is not None}
        if shown:
            console.print(key_value_table(shown, title="leaderboard columns (as in ls)"))
    if stored.data is not None:
        fields: dict[str, Any] = {}
        flatten("", {k: v for k, v in stored.data.to_dict().items() if k != "splits"}, fields)
        console.print(key_value_table(fields, title="data"))
        splits = pd.DataFrame(
            [
                {
                    "split": s.name,
                    "size": s.size,
                    "x_shape": s.x_shape,
                    "y_shape": s.y_shape,
                    "x_dtype": s.x_dtype,
                    "fingerprint": s.fingerprint,
                }
                for s in stored.data.splits.values()
            ]
        )
        if not splits.empty:
            console.print(frame_table(splits, title="data splits"))
    network = stored.network
    if network is not None:
        fields = {}
        skip = {"layers", "model_config", "reproduce"}
        if len(network.optimizers) <= 1:
            skip.add("optimizers")  # the one optimizer is ``optimizer.*``
        flatten("", {k: v for k, v in network.to_dict().items() if k not in skip}, fields)
        for key, value in fields.items():
            if _OPTIMIZER_NAME.fullmatch(key) and isinstance(value, str):
                fields[key] = canonical_optimizer(value)  # older records hold class names
        console.print(key_value_table(fields, title="network"))
        layers = pd.DataFrame(
            [
                {
                    "path": layer.path,
                    "type": layer.type,
                    "canonical": layer.canonical_type,
                    "output_shape": layer.output_shape,
                    "params": layer.trainable_params + layer.non_trainable_params,
                    "trainable": layer.trainable_params,
                }
                for layer in network.layers
                if not layer.is_container
            ]
        )
        if not layers.empty:
            console.print(frame_table(layers, title="layers"))
    metrics = []
    for name, series in stored.training.metrics.items():
        best = best_value(name, series.values)
        metrics.append(
            {"metric": name, "points": len(series.values), "last": series.last, "best": best}
        )
    if metrics:
        console.print(frame_table(pd.DataFrame(metrics), title="training"))
    if stored.gradients:
        last = stored.gradients[-1]
        console.print(
            key_value_table(
                {
                    "captures": len(stored.gradients),
                    "last step": last.step,
                    "last global norm": last.global_norm,
                    **{f"flags.{k}": v for k, v in run.flags.items()},
                },
                title="gradients",
            )
        )
    for split, record in stored.evaluations.items():
        console.print(key_value_table(dict(record.metrics), title=f"evaluation: {split}"))
        if record.per_class:
            length = max(len(v) for v in record.per_class.values())
            names = list(record.class_names or [])
            names += [str(i) for i in range(len(names), length)]
            per_class = pd.DataFrame({"class": names[:length]})
            for metric, values in record.per_class.items():
                per_class[metric] = list(values) + [None] * (length - len(values))
            console.print(frame_table(per_class, title=f"per class: {split}"))
        if record.confusion_matrix is not None:
            labels = record.class_names or [str(i) for i in range(len(record.confusion_matrix))]
            matrix = pd.DataFrame(
                record.confusion_matrix, columns=labels[: len(record.confusion_matrix[0])]
            )
            matrix.insert(0, "true \\ pred", labels[: len(matrix)])
            console.print(frame_table(matrix, title=f"confusion matrix: {split}"))
    if stored.artifacts:
        artifacts = pd.DataFrame(
            [{"path": a.path, "kind": a.kind, "size": a.size} for a in stored.artifacts]
        )
        console.print(frame_table(artifacts, title="artifacts"))
    if run.environment:
        fields = {}
        flatten("", run.environment, fields)
        console.print(key_value_table(fields, title="environment"))


# -- compare ----------------------------------------------------------------------------------
