"""Side-by-side comparison of runs: a summary of what a person compares, and one table per
record with differences first."""

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
from modelboard.optimizer_names import canonical_optimizer

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from modelboard.store import StoredRun

__all__ = ["Comparison", "compare_runs", "flatten", "SECTIONS", "SUMMARY_SECTIONS", "run_label"]

SECTIONS = ("run", "data", "network", "hyperparameters", "training", "evaluation", "environment")
#: The summary's sections: what a person compares (per-class values and the environment are in
#: ``Comparison.sections`` only).
SUMMARY_SECTIONS = ("hyperparameters", "data", "network", "metrics", "evaluation")
_NETWORK_SKIP = {"layers", "hyperparameters", "model_config", "reproduce", "schema_version"}


def run_label(run: StoredRun) -> str:
    """``name@id8``: the column header of a run."""
    return f"{run.name}@{run.id[:8]}"


def flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Nested dicts (and lists of dicts) as ``a.b`` / ``a[0].b`` keys of ``out``."""
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
    out = _summary_evaluation(run)  # the scalars, then per-class values and the matrix
    for split, record in run.evaluations.items():
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


def _scheduler_name(scheduler: dict[str, Any] | None) -> str | None:
    if not scheduler:
        return None
    for key in ("name", "class_name", "type"):
        if isinstance(scheduler.get(key), str):
            return str(scheduler[key])
    return None


def _summary_hyperparameters(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    flatten("params", run.run.params, out)
    if run.network is not None:
        flatten("hparams", run.network.hyperparameters, out)
    return out


def _summary_data(run: StoredRun) -> dict[str, Any]:
    data = run.data
    if data is None:
        return {}
    out: dict[str, Any] = {
        "name": data.name,
        "fingerprint": data.fingerprint,
        "num_classes": data.num_classes,
        "features": len(data.features) if data.features is not None else None,
        "augmentations": [aug.type for aug in data.augmentations] or None,
        "preprocessing": list(data.preprocessing) or None,
    }
    for split, info in data.splits.items():
        out[f"{split}.size"] = info.size
        out[f"{split}.x_shape"] = info.x_shape
        out[f"{split}.fingerprint"] = info.fingerprint
    return out


def _summary_network(run: StoredRun) -> dict[str, Any]:
    network = run.network
    if network is None:
        return {}
    out: dict[str, Any] = {
        "framework": run.run.framework or network.framework,
        "architecture": network.architecture,
        "total_params": network.total_params,
        "trainable_params": network.trainable_params,
        "layers": len(leaf_layers(network)),
    }
    optimizers = network.optimizers or ([network.optimizer] if network.optimizer else [])
    for optimizer in optimizers:
        prefix = "optimizer" if len(optimizers) == 1 else f"optimizer[{optimizer.key}]"
        out[prefix] = canonical_optimizer(optimizer.name)
        out[f"{prefix}.learning_rate"] = optimizer.learning_rate
        out[f"{prefix}.learning_rate_last"] = optimizer.learning_rate_last
        out[f"{prefix}.scheduler"] = _scheduler_name(optimizer.scheduler)
    out["loss"] = network.loss
    out["batch_size"] = network.batch_size
    out["epochs"] = network.epochs_run
    out["epochs_planned"] = network.epochs_planned
    early = network.early_stopping
    out["early_stopping"] = None if early is None else early.get("stopped_epoch", True)
    for name, reason in network.unknown.items():
        out[f"unknown.{name}"] = reason
    return out


def _summary_metrics(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, series in run.training.metrics.items():
        out[f"{name}.final"] = series.last
        point = best_point(series.values, metric_direction(name))
        out[f"{name}.best"] = point[1] if point is not None else None
    return out


def _summary_evaluation(run: StoredRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split, record in run.evaluations.items():
        out[f"{split}.n_samples"] = record.n_samples
        for name, value in record.metrics.items():
            out[f"{split}.{name}"] = value
    return out


_SUMMARY_EXTRACTORS = {
    "hyperparameters": _summary_hyperparameters,
    "data": _summary_data,
    "network": _summary_network,
    "metrics": _summary_metrics,
    "evaluation": _summary_evaluation,
}


_EXTRACTORS = {
    "run": _run_fields,
    "data": _data_fields,
    "network": _network_fields,
    "hyperparameters": _hyperparameter_fields,
    "training": _training_fields,
    "evaluation": _evaluation_fields,
    "environment": _environment_fields,
}


def _same(values: Sequence[Any], loose: bool = False) -> bool:
    """Equal values; ``loose`` compares numbers to float32 precision (7 digits), so a float32
    and a float64 copy of one learning rate are the same value."""
    if loose:
        values = [_seven_digits(v) for v in values]
    texts = {json.dumps(v, sort_keys=True, default=str) for v in values}
    return len(texts) == 1


def _seven_digits(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.7g}")
    if isinstance(value, list):
        return [_seven_digits(v) for v in value]
    return value


def _section_frame(
    per_run: list[dict[str, Any]],
    labels: list[str],
    show_identical: bool,
    summary: bool = False,
) -> pd.DataFrame:
    """Rows of fields, a column per run and ``differs``. Record sections put differences
    first, with JSON text for lists; the summary keeps its own order and the values as they
    are, and leaves out fields no run knows."""
    import pandas as pd

    fields: list[str] = []
    seen: set[str] = set()
    for fields_of_run in per_run:
        for name in fields_of_run:
            if name not in seen:
                seen.add(name)
                fields.append(name)
    differing: list[dict[str, Any]] = []
    identical: list[dict[str, Any]] = []
    ordered: list[dict[str, Any]] = []
    for name in fields:
        values = [f.get(name) if summary else _cell(f.get(name)) for f in per_run]
        if summary and all(v is None for v in values):
            continue  # nothing known in any run
        row = {"field": name, **dict(zip(labels, values, strict=True))}
        row["differs"] = not _same(values, loose=summary)
        (differing if row["differs"] else identical).append(row)
        ordered.append(row)
    if not summary:
        rows = differing + (identical if show_identical else [])
    else:
        rows = [row for row in ordered if show_identical or row["differs"]]
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
    """Runs side by side.

    ``summary`` is what a person compares (``SUMMARY_SECTIONS``: hyperparameters; data names,
    sizes and fingerprints; a network summary with the optimizer's canonical name, initial and
    last learning rate, loss, batch size and epochs; final and best metrics; evaluation
    scalars): every row, in a fixed order, ``differs`` marking the rows that differ.
    ``sections`` maps every record (``SECTIONS``, with per-class values and the environment)
    to its frame (index: field; a column per run; ``differs``), differing rows first, identical
    ones only with ``show_identical``. ``layers`` is the layer alignment, one row per aligned
    layer with ``match`` = ``same``, ``differs`` or ``gap`` and ``difference`` naming what
    differs (``activation: relu / softmax``); ``aligned`` holds the same rows as the runs'
    ``AlignedLayer`` objects (``None`` for a gap). ``modelboard compare`` prints the
    summary and the layers; ``--all`` prints every section with its identical rows.
    """

    runs: list[StoredRun]
    labels: list[str]
    sections: dict[str, pd.DataFrame]
    layers: pd.DataFrame
    show_identical: bool = False
    hidden: dict[str, int] = field(default_factory=dict)
    summary: dict[str, pd.DataFrame] = field(default_factory=dict)
    aligned: list[list[AlignedLayer | None]] = field(default_factory=list)

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
        """Plain JSON types: the runs, the summary, every section and the layer alignment."""
        import pandas as pd

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.reset_index().astype(object)
            clean = clean.where(pd.notna(clean), None)
            return [dict(r) for r in clean.to_dict(orient="records")]

        return {
            "runs": [run.id for run in self.runs],
            "labels": list(self.labels),
            "summary": {name: records(frame) for name, frame in self.summary.items()},
            "sections": {name: records(frame) for name, frame in self.sections.items()},
            "layers": records(self.layers),
        }

    def __repr__(self) -> str:
        """The summary and the layers (every record's fields are in ``sections``)."""
        parts = [f"Comparison of {', '.join(self.labels)}"]
        for name, frame in self.summary.items():
            if len(frame):
                parts.append(f"\n[{name}]\n{frame.to_string()}")
        if len(self.layers):
            parts.append(f"\n[layers]\n{self.layers.to_string(index=False)}")
        return "\n".join(parts)


def _layer_difference(layers: list[AlignedLayer | None]) -> str | None:
    """What differs between aligned layers: ``activation: relu / softmax``, ``params: 40 / 20``
    (``-`` where a layer lacks the setting)."""
    present = [layer for layer in layers if layer is not None]
    if len(present) < len(layers):
        return None
    parts = []
    keys: dict[str, None] = {}
    for layer in present:
        keys.update(dict.fromkeys(layer.config))
    for key in keys:
        values = [layer.config.get(key) for layer in present]
        texts = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(texts)) > 1:
            shown = [
                "-" if v is None else "x".join(map(str, v)) if isinstance(v, list) else str(v)
                for v in values
            ]
            parts.append(f"{key}: {' / '.join(shown)}")
    if len({layer.params for layer in present}) > 1:
        parts.append(f"params: {' / '.join(str(layer.params) for layer in present)}")
    return "; ".join(parts) or None


def _aligned_layers(runs: Sequence[StoredRun]) -> list[list[AlignedLayer | None]]:
    sequences = [leaf_layers(run.network) for run in runs]
    if not any(sequences):
        return []
    return [
        [seq[i] if i is not None else None for seq, i in zip(sequences, indices, strict=True)]
        for indices in align_networks(sequences)
    ]


def _layer_frame(aligned: list[list[AlignedLayer | None]], labels: list[str]) -> pd.DataFrame:
    import pandas as pd

    columns = ["type"]
    for label in labels:
        columns += [label, f"{label} params"]
    columns += ["match", "difference"]
    if not aligned:
        return pd.DataFrame(columns=columns)
    rows = []
    for layers in aligned:
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
        row["difference"] = _layer_difference(layers)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    for label in labels:
        frame[f"{label} params"] = frame[f"{label} params"].astype("Int64")
    return frame


def compare_runs(runs: Sequence[StoredRun], *, show_identical: bool = False) -> Comparison:
    """Compare two or more stored runs (``tracker.compare`` calls this): the summary, every
    record's section (identical rows too with ``show_identical``) and the layer alignment."""
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
    aligned = _aligned_layers(runs)
    summary = {
        name: _section_frame(
            [_SUMMARY_EXTRACTORS[name](run) for run in runs], labels, True, summary=True
        )
        for name in SUMMARY_SECTIONS
    }
    return Comparison(
        runs=list(runs),
        labels=labels,
        sections=sections,
        layers=_layer_frame(aligned, labels),
        show_identical=show_identical,
        hidden=hidden,
        summary=summary,
        aligned=aligned,
    )
