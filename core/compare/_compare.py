"""Side-by-side comparison of runs: one table per record, differences first."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelboard.compare._align import AlignedLayer, align_networks, leaf_layers
from modelboard.metric_direction import best_point, metric_direction

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from modelboard.store import StoredRun

__all__ = ["Comparison", "compare_runs", "flatten", "SECTIONS", "run_label"]

SECTIONS = ("run", "data", "network", "hyperparameters", "training", "evaluation", "environment")
_NETWORK_SKIP = {"layers", "hyperparameters", "model_config", "reproduce", "schema_version"}


def run_label(run: StoredRun) -> str:
    """``name@id8``: the column header of a run."""
    return f"{run.name}@{run.id[:8]}"


def flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "schema_version":
                continue
            flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            flatten(f"{prefix}[{index}]", item, out)
    else:
        out[prefix] = value


def _time(value: float | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value).isoformat(timespec="seconds")


def _run_fields(run: StoredRun) -> dict[str, Any]:
    record = run.run
    end = record.ended if record.ended is not None else record.heartbeat
    out: dict[str, Any] = {
        "name": record.name,
        "project": record.project,
        "framework": record.framework,
        "framework_version": record.framework_version,
        "status": record.status,
        "created": _time(record.created),
        "ended": _time(record.ended),
        "duration_s": None if end is None else round(end - record.created, 3),
        "parent_id": record.parent_id,
        "notes": record.notes or None,
    }
    flatten("tags", record.tags, out)
    if record.error:
        out["error"] = f"{record.error.get('type')}: {record.error.get('message')}"
    return out


def _data_fields(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if run.data is not None:
        flatten("", run.data.to_dict(), out)
    return out


def _network_fields(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    network = run.network
    if network is not None:
        summary = {k: v for k, v in network.to_dict().items() if k not in _NETWORK_SKIP}
        flatten("", summary, out)
        out["leaf_layers"] = len(leaf_layers(network))
    return out


def _hyperparameter_fields(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    flatten("params", run.run.params, out)
    network = run.network
    if network is not None:
        flatten("hparams", network.hyperparameters, out)
        if network.optimizer is not None:
            out["optimizer"] = network.optimizer.name
            out["learning_rate"] = network.optimizer.learning_rate
            flatten("optimizer_config", network.optimizer.config, out)
        out["loss"] = network.loss
        out["batch_size"] = network.batch_size
        out["epochs_planned"] = network.epochs_planned
        out["epochs_run"] = network.epochs_run
        out["early_stopping"] = network.early_stopping
    return out


def _training_fields(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, series in run.training.metrics.items():
        out[f"{name}.last"] = series.last
        point = best_point(series.values, metric_direction(name))
        if point is not None:
            where, out[f"{name}.best"] = point
            out[f"{name}.best_at"] = (
                series.epochs[where] if series.epochs[where] is not None else series.steps[where]
            )
        out[f"{name}.points"] = len(series.values)
    if run.gradients:
        out["gradients.captures"] = len(run.gradients)
        out["gradients.last_global_norm"] = run.gradients[-1].global_norm
    for flag, value in run.run.flags.items():
        out[f"flags.{flag}"] = value
    return out


def _evaluation_fields(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split, record in run.evaluations.items():
        out[f"{split}.n_samples"] = record.n_samples
        for name, value in record.metrics.items():
            out[f"{split}.{name}"] = value
        names = record.class_names or []
        for name, values in record.per_class.items():
            for index, value in enumerate(values):
                label = names[index] if index < len(names) else str(index)
                out[f"{split}.{name}[{label}]"] = value
        if record.confusion_matrix is not None:
            out[f"{split}.confusion_matrix"] = record.confusion_matrix
    return out


def _environment_fields(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    flatten("", run.run.environment, out)
    return out


_EXTRACTORS = {
    "run": _run_fields,
    "data": _data_fields,
    "network": _network_fields,
    "hyperparameters": _hyperparameter_fields,
    "training": _training_fields,
    "evaluation": _evaluation_fields,
    "environment": _environment_fields,
}


def _same(values: Sequence[Any]) -> bool:
    texts = {json.dumps(v, sort_keys=True, default=str) for v in values}
    return len(texts) == 1


def _section_frame(
    per_run: list[dict[str, Any]], labels: list[str], show_identical: bool
) -> pd.DataFrame:
    import pandas as pd

    fields: list[str] = []
    seen: set[str] = set()
    for fields_of_run in per_run:
        for name in fields_of_run:
            if name not in seen:
                seen.add(name)
                fields.append(name)
    differing, identical = [], []
    for name in fields:
        values = [_cell(f.get(name)) for f in per_run]
        row = {"field": name, **dict(zip(labels, values, strict=True))}
        if _same(values):
            row["differs"] = False
            identical.append(row)
        else:
            row["differs"] = True
            differing.append(row)
    rows = differing + (identical if show_identical else [])
    frame = pd.DataFrame(rows, columns=["field", *labels, "differs"])
    return frame.set_index("field")


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return value


def _describe(layer: AlignedLayer) -> str:
    parts = []
    for key, value in layer.config.items():
        if isinstance(value, list):
            value = "x".join(str(v) for v in value)
        parts.append(str(value) if key == "activation" else f"{key}={value}")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{layer.type} {layer.path}{detail}"


@dataclass
class Comparison:
    """Runs side by side. ``sections`` maps record names to frames (index: field; a column per
    run; ``differs``), differing rows first; ``layers`` is the layer alignment, one row per
    aligned layer with ``match`` = ``same``, ``differs`` or ``gap``."""

    runs: list[StoredRun]
    labels: list[str]
    sections: dict[str, pd.DataFrame]
    layers: pd.DataFrame
    show_identical: bool = False
    hidden: dict[str, int] = field(default_factory=dict)

    def metric_names(self) -> list[str]:
        """Training metrics logged by any of the runs, in first-seen order."""
        names: dict[str, None] = {}
        for run in self.runs:
            names.update(dict.fromkeys(run.training.metrics))
        return list(names)

    def plot_curves(
        self, path: str | os.PathLike[str] | None = None, metrics: Sequence[str] | None = None
    ) -> Figure | Path:
        """The runs' metric curves overlaid, one panel per metric; a PNG when ``path`` is given.

        Returns the matplotlib Figure, or the PNG's path.
        """
        from matplotlib.figure import Figure

        names = list(metrics) if metrics is not None else self.metric_names()
        columns = min(3, max(1, len(names)))
        rows = max(1, math.ceil(len(names) / columns))
        figure = Figure(figsize=(4.5 * columns, 3.2 * rows), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False)
        for index, name in enumerate(names):
            ax = axes[index // columns][index % columns]
            for run, label in zip(self.runs, self.labels, strict=True):
                series = run.training.metrics.get(name)
                if series is None or not series.values:
                    continue
                by_epoch = all(e is not None for e in series.epochs)
                xs = series.epochs if by_epoch else series.steps
                ax.plot(xs, series.values, marker="o", markersize=3, label=label)
                ax.set_xlabel("epoch" if by_epoch else "step")
            ax.set_title(name)
            # float32 and float64 copies of one learning rate must not read as a 1e-11 offset
            ax.ticklabel_format(axis="y", useOffset=False)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        for index in range(len(names), rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        if path is None:
            return figure
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(target, format="png", dpi=100)
        return target

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: the runs, every section and the layer alignment."""
        import pandas as pd

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.reset_index().astype(object)
            clean = clean.where(pd.notna(clean), None)
            return [dict(r) for r in clean.to_dict(orient="records")]

        return {
            "runs": [run.id for run in self.runs],
            "labels": list(self.labels),
            "sections": {name: records(frame) for name, frame in self.sections.items()},
            "layers": records(self.layers),
        }

    def __repr__(self) -> str:
        parts = [f"Comparison of {', '.join(self.labels)}"]
        for name, frame in self.sections.items():
            if len(frame):
                parts.append(f"\n[{name}]\n{frame.to_string()}")
        if len(self.layers):
            parts.append(f"\n[layers]\n{self.layers.to_string(index=False)}")
        return "\n".join(parts)


def _layer_frame(runs: Sequence[StoredRun], labels: list[str]) -> pd.DataFrame:
    import pandas as pd

    sequences = [leaf_layers(run.network) for run in runs]
    columns = ["type"]
    for label in labels:
        columns += [label, f"{label} params"]
    columns.append("match")
    if not any(sequences):
        return pd.DataFrame(columns=columns)
    rows = []
    for indices in align_networks(sequences):
        layers = [
            seq[i] if i is not None else None for seq, i in zip(sequences, indices, strict=True)
        ]
        present = [layer for layer in layers if layer is not None]
        row: dict[str, Any] = {"type": present[0].canonical_type}
        for label, layer in zip(labels, layers, strict=True):
            row[label] = _describe(layer) if layer is not None else None
            row[f"{label} params"] = layer.params if layer is not None else None
        if len(present) < len(layers):
            row["match"] = "gap"
        elif len({layer.key() for layer in present}) == 1 and len({x.params for x in present}) == 1:
            row["match"] = "same"
        else:
            row["match"] = "differs"
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    for label in labels:
        frame[f"{label} params"] = frame[f"{label} params"].astype("Int64")
    return frame


def compare_runs(runs: Sequence[StoredRun], *, show_identical: bool = False) -> Comparison:
    """Compare two or more stored runs (``tracker.compare`` calls this)."""
    if len(runs) < 2:
        raise ValueError("compare needs at least two runs")
    labels = [run_label(run) for run in runs]
    if len(set(labels)) < len(labels):
        labels = [f"{label}#{i}" for i, label in enumerate(labels)]
    sections = {}
    hidden = {}
    for name in SECTIONS:
        per_run = [_EXTRACTORS[name](run) for run in runs]
        full = _section_frame(per_run, labels, show_identical=True)
        hidden[name] = int((~full["differs"].astype(bool)).sum()) if not show_identical else 0
        sections[name] = full if show_identical else full[full["differs"].astype(bool)]
    return Comparison(
        runs=list(runs),
        labels=labels,
        sections=sections,
        layers=_layer_frame(runs, labels),
        show_identical=show_identical,
        hidden=hidden,
    )
