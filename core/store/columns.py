"""Query columns (the leaderboard's): what a name in ``sort``, ``where`` or ``columns`` refers to.

- Run columns: ``id``, ``name``, ``project``, ``framework``, ``status``, ``created``, ``ended``,
  ``duration`` (seconds), ``parent_id``.
- Standard columns of the seed paper's leaderboard row: ``data_name``, ``data_fingerprint``,
  ``features``, ``augmentations``, ``fingerprints``, ``num_classes``, ``width``, ``height``,
  ``channels``, ``model_name``, ``signature``, ``total_params``, ``optimizer`` (the canonical
  lower-case name, ``modelboard.optimizer_names``), ``learning_rate`` (the configured initial
  value), ``learning_rate_last`` (the last one applied), ``loss_function``, ``batch_size``,
  ``epochs`` (the epochs that ran), ``epochs_planned`` (the epochs asked for), ``early_stop``,
  ``gradient_health`` (``ok``, ``vanishing``, ``exploding`` or ``nonfinite``).
- Hyperparameters the user gave come first: ``learning_rate`` is ``params.learning_rate`` (or
  ``params.lr``, ``hparams.learning_rate``) when the run has one, else the optimizer's;
  ``optimizer``, ``batch_size`` and ``epochs_planned`` likewise. ``epochs`` and
  ``learning_rate_last`` are only ever what the network record measured.
- Enum-like columns (``ENUM_COLUMNS``: framework, status, optimizer, loss_function, model_name,
  gradient_health and the network values behind them) compare without case in filters;
  ``optimizer`` also compares by canonical name, so ``optimizer = 'Adam'`` matches ``adam``.
- Qualified names: ``params.x``, ``hparams.x`` (the network record's extra hyperparameters),
  ``tags.x``, ``data.x``, ``network.x``, ``eval.x``, ``last.x``, ``min.x``, ``max.x``,
  ``best.x``, ``flags.x``.
- Plain names: an evaluation value (``val_accuracy`` from ``run.evaluate``) if the run has one,
  else the last logged value of the training metric; failing those a hyperparameter, a data
  value, a tag or a network value of that name. ``best_<metric>`` is the best logged value:
  the lowest for names with loss, error, mse, mae... in them, the highest otherwise
  (``directions={"metric": "min"}`` overrides).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelboard.metric_direction import metric_direction
from modelboard.optimizer_names import canonical_optimizer
from modelboard.store.filter import FilterError

__all__ = [
    "Source",
    "Column",
    "ColumnResolver",
    "RUN_COLUMNS",
    "IDENTITY_COLUMNS",
    "STANDARD_COLUMNS",
    "ENUM_COLUMNS",
    "Probe",
    "source_value",
    "plain",
    "parse_json_text",
]

IDENTITY_COLUMNS = (
    "id",
    "name",
    "framework",
    "status",
    "created",
    "duration",
    "data_name",
    "model_name",
    "total_params",
)
"""What says which run a row is, first in ``modelboard ls`` and the dashboard's leaderboard."""

RUN_COLUMNS = (
    "id",
    "name",
    "project",
    "framework",
    "status",
    "created",
    "ended",
    "duration",
    "parent_id",
)
_TIME_COLUMNS = frozenset({"created", "ended"})
_ENUM_RUN_COLUMNS = frozenset({"framework", "status"})
#: ``run_values`` entries that hold names from a small vocabulary (compared without case).
_ENUM_SOURCES = frozenset(
    {
        ("network", "framework"),
        ("network", "optimizer"),
        ("network", "optimizer_class"),
        ("network", "loss"),
        ("network", "architecture"),
    }
)
#: Entries that hold an optimizer name (read through ``canonical_optimizer``).
_OPTIMIZER_SOURCES = frozenset({("network", "optimizer")})
_NUMERIC_RUN_COLUMNS = frozenset({"created", "ended", "duration"})

PREFIXES = {
    "params": "param",
    "param": "param",
    "hparams": "hparam",
    "hparam": "hparam",
    "tags": "tag",
    "tag": "tag",
    "data": "data",
    "network": "network",
    "eval": "eval",
    "metrics": "metric_last",
    "last": "metric_last",
    "final": "metric_last",
    "min": "metric_min",
    "max": "metric_max",
    "flags": "run",
    "best": "best",
    "comparability": "comparability",
}
BARE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("eval", "metric_last"),
    ("param", "hparam"),
    ("data",),
    ("tag",),
    ("run",),
    ("network",),
)
_LIST_KINDS = {("data", "features"): "feature", ("data", "augmentations"): "augmentation"}
GRADIENT_FLAGS = ("gradients_nonfinite", "gradients_exploding", "gradients_vanishing")


@dataclass(frozen=True)
class Source:
    """One ``run_values`` entry: (kind, name)."""

    kind: str
    name: str


@dataclass(frozen=True)
class Column:
    """A resolved column: the first non-missing of ``sources``, a run field, or computed.

    ``direction`` is ``"max"``/``"min"`` for metrics (the default sort puts the best first).
    ``list_kind`` names the ``run_values`` kind that ``contains`` tests membership in.
    ``hidden`` columns answer filters but stay out of the default frame.
    ``fold_case`` columns compare without case in filters (enum-like names); ``canonical``
    names the vocabulary their text is read through (``"optimizer"``: canonical optimizer
    names, in Python and in SQL alike).
    """

    label: str
    sources: tuple[Source, ...] = ()
    run_field: str | None = None
    computed: str | None = None
    list_kind: str | None = None
    direction: str | None = None
    hidden: bool = False
    fold_case: bool = False
    canonical: str | None = None

    @property
    def is_time(self) -> bool:
        """True for ``created`` and ``ended`` (text literals are read as dates)."""
        return self.run_field in _TIME_COLUMNS

    @property
    def is_numeric_run_field(self) -> bool:
        """True for run fields that hold numbers."""
        return self.run_field in _NUMERIC_RUN_COLUMNS

    @property
    def needs_sources(self) -> tuple[Source, ...]:
        """Every ``run_values`` entry the column reads."""
        if self.computed == "gradient_health":
            return tuple(Source("run", f) for f in GRADIENT_FLAGS)
        return self.sources

    def value(self, run: Mapping[str, Any], values: Mapping[Source, tuple[Any, Any]]) -> Any:
        """The column's value for one run, from its runs-table fields and ``run_values``."""
        if self.run_field is not None:
            return run.get(self.run_field)
        if self.computed == "gradient_health":
            flags = [values.get(Source("run", f)) for f in GRADIENT_FLAGS]
            for flag, name in zip(flags, ("nonfinite", "exploding", "vanishing"), strict=True):
                if flag is not None and flag[0] == 1.0:
                    return name
            return "ok" if any(f is not None for f in flags) else None
        for source in self.sources:
            pair = values.get(source)
            if pair is not None:
                value = source_value(*pair)
                if value is not None:
                    if self.canonical == "optimizer" and isinstance(value, str):
                        return canonical_optimizer(value)
                    return value
        return None


def source_value(num: float | None, text: str | None) -> Any:
    """A ``run_values`` entry as a Python value (booleans and non-finite numbers restored)."""
    if num is not None:
        if text in ("true", "false"):
            return text == "true"
        return num
    if text in ("nan", "inf", "-inf"):
        return float(text)
    return text


def _col(label: str, *sources: tuple[str, str], **kw: Any) -> Column:
    return Column(label, tuple(Source(k, n) for k, n in sources), **kw)


STANDARD_COLUMNS: dict[str, Column] = {
    c.label: c
    for c in (
        _col("data_name", ("data", "name")),
        _col("data_fingerprint", ("data", "fingerprint")),
        _col("features", ("data", "features"), list_kind="feature"),
        _col("augmentations", ("data", "augmentations"), list_kind="augmentation"),
        _col("fingerprints", ("data", "fingerprint"), list_kind="fingerprint", hidden=True),
        _col("num_classes", ("data", "num_classes")),
        _col("width", ("data", "width")),
        _col("height", ("data", "height")),
        _col("channels", ("data", "channels")),
        _col("train_x_shape", ("data", "train_x_shape")),
        _col("train_y_shape", ("data", "train_y_shape")),
        _col("val_x_shape", ("data", "val_x_shape")),
        _col("val_y_shape", ("data", "val_y_shape")),
        _col("model_name", ("network", "architecture"), fold_case=True),
        _col("signature", ("network", "signature")),
        _col("total_params", ("network", "total_params")),
        _col(
            "optimizer",
            ("param", "optimizer"),
            ("hparam", "optimizer"),
            ("network", "optimizer"),
            fold_case=True,
            canonical="optimizer",
        ),
        _col(
            "learning_rate",
            ("param", "learning_rate"),
            ("param", "lr"),
            ("hparam", "learning_rate"),
            ("network", "learning_rate"),
        ),
        _col("learning_rate_last", ("network", "learning_rate_last")),
        _col("loss_function", ("param", "loss_function"), ("network", "loss"), fold_case=True),
        _col(
            "batch_size",
            ("param", "batch_size"),
            ("hparam", "batch_size"),
            ("network", "batch_size"),
        ),
        _col("epochs", ("network", "epochs_run")),
        _col(
            "epochs_planned",
            ("param", "epochs"),
            ("hparam", "epochs"),
            ("network", "epochs_planned"),
        ),
        _col("early_stop", ("network", "early_stopping")),
        _col("stopped_epoch", ("network", "stopped_epoch")),
        Column("gradient_health", computed="gradient_health", fold_case=True),
    )
}
#: Columns whose values come from a small vocabulary: filters compare them without case.
ENUM_COLUMNS = tuple(
    sorted([*_ENUM_RUN_COLUMNS, *(c.label for c in STANDARD_COLUMNS.values() if c.fold_case)])
)
_ALIASES = {
    "dataset": "data_name",
    "fingerprint": "data_fingerprint",
    "architecture": "model_name",
    "architecture_signature": "signature",
    "param_count": "total_params",
    "lr": "learning_rate",
    "loss_fn": "loss_function",
    "parent": "parent_id",
}

Probe = Callable[[str, Sequence[str]], set[str]]


class ColumnResolver:
    """Resolves names to columns; ``probe(name, kinds)`` says which kinds hold ``name``."""

    def __init__(self, probe: Probe, directions: Mapping[str, str] | None = None) -> None:
        self._probe = probe
        self.directions = dict(directions or {})
        self._cache: dict[str, Column | None] = {}

    def direction(self, name: str) -> str:
        """The direction of a metric (see :func:`modelboard.metric_direction.metric_direction`)."""
        return metric_direction(name, self.directions)

    def resolve(self, name: str, text: str | None = None, position: int = 0) -> Column:
        """The column ``name`` refers to; ``FilterError`` (at ``position`` of ``text``) if none."""
        if name not in self._cache:
            self._cache[name] = self._resolve(name)
        column = self._cache[name]
        if column is None:
            message = (
                f"unknown column {name!r}: no run has a metric, evaluation value, parameter, "
                "tag, data or network value of that name (try params.<name>, tags.<name>, "
                "best_<metric>, or see `modelboard ls --json` for the columns)"
            )
            if text is None:
                raise FilterError(message, name, 0, in_filter=False)
            raise FilterError(message, text, position)
        return column

    def _resolve(self, name: str) -> Column | None:
        name = _ALIASES.get(name, name)
        if name in RUN_COLUMNS:
            direction = "min" if name == "duration" else None
            return Column(
                name, run_field=name, direction=direction, fold_case=name in _ENUM_RUN_COLUMNS
            )
        if name in STANDARD_COLUMNS:
            return STANDARD_COLUMNS[name]
        prefix, dot, rest = name.partition(".")
        if dot and rest and prefix in PREFIXES:
            kind = PREFIXES[prefix]
            if kind == "best":
                return self._best(name, rest)
            direction = None
            if kind in ("eval", "metric_last", "metric_min", "metric_max"):
                direction = self.direction(rest)
            return Column(
                name,
                (Source(kind, rest),),
                list_kind=_LIST_KINDS.get((kind, rest)),
                direction=direction,
                fold_case=(kind, rest) in _ENUM_SOURCES or (kind, rest) in _OPTIMIZER_SOURCES,
                canonical="optimizer" if (kind, rest) in _OPTIMIZER_SOURCES else None,
            )
        every = [kind for group in BARE_GROUPS for kind in group]
        present = self._probe(name, every)
        for group in BARE_GROUPS:
            kinds = [k for k in group if k in present]
            if kinds:
                metric = group[0] == "eval"
                return Column(
                    name,
                    tuple(Source(k, name) for k in kinds),
                    list_kind=_LIST_KINDS.get((kinds[0], name)),
                    direction=self.direction(name) if metric else None,
                )
        if name.startswith("best_") and len(name) > 5:
            base = name[5:]
            if self._probe(base, ("metric_min", "metric_max")):
                return self._best(name, base)
        return None

    def _best(self, label: str, metric: str) -> Column:
        direction = self.direction(metric)
        kind = "metric_min" if direction == "min" else "metric_max"
        return Column(label, (Source(kind, metric),), direction=direction)

    def metric_columns(self, present: set[Source]) -> list[Column]:
        """Final (plain name) and ``best_`` columns for the metrics and evaluation values seen."""
        names: dict[str, list[str]] = {}
        for source in sorted(present, key=lambda s: (s.kind, s.name)):
            if source.kind in ("eval", "metric_last"):
                names.setdefault(source.name, []).append(source.kind)
        out = []
        for name, kinds in names.items():
            ordered = [k for k in ("eval", "metric_last") if k in kinds]
            out.append(
                Column(
                    name, tuple(Source(k, name) for k in ordered), direction=self.direction(name)
                )
            )
        for name in sorted({s.name for s in present if s.kind in ("metric_min", "metric_max")}):
            out.append(self._best(f"best_{name}", name))
        return out


def plain(value: Any) -> Any:
    """A frame cell for a value read from the store (integral parameters become ints)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def parse_json_text(value: Any) -> Any:
    """Decode JSON list/dict text, leave everything else alone."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
