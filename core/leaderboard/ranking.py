"""The honest leaderboard: ranks only what is comparable, seeds aggregated, ties marked.

``comparable_leaderboard(store, sort="val_accuracy")`` (``tracker.leaderboard(...,
comparable=True)``, the table of ``modelboard ls``) works on the flat leaderboard's rows:

1. **Comparability groups.** Each run's value of the ranking metric carries the key of the
   evaluation it comes from (``EvaluationRecord.comparability_key``, kept in SQL as the
   ``comparability.<split>`` value, ``comparability_text``): the evaluated split's
   data fingerprint, the metric and the task (classes or regression). Runs are ranked only
   within a group of equal keys. A value whose data is not known (an evaluation without a
   fingerprint, a logged training metric, a ``best_`` value) has the fingerprint ``unknown``:
   such runs form groups of their own, sorted by value but **not ranked**.
2. **Entries.** Runs of one group that differ only in their seed form one entry: the same
   ``framework``, ``signature``, ``optimizer``, ``learning_rate``, ``batch_size``,
   ``epochs_planned`` and ``loss_function`` columns, and the same ``params.*`` apart from
   ``seed`` (``SEED_NAMES``), all read in the one leaderboard query. ``group_by=`` names the columns
   whose equal values make an entry instead. An entry shows the mean, std, min and max of its
   runs' values and ``n``; a single run is ``n=1``.
3. **Intervals and ties.** An entry's 95% interval is a t interval of its runs' values when it
   has several (``t_interval``), else the percentile bootstrap of the per-example correctness
   that ``run.evaluate`` stored (for accuracy; 2,000 resamples with a fixed seed, so it is
   deterministic: ``bootstrap_interval``). Sorted best first, an entry whose interval overlaps
   the one above it is tied with it: it takes its rank, and both show ``=`` (``=2``, ``=2``,
   ``4``). ``tied_with`` names the neighbours. An entry without an interval (one run, a metric
   with no per-example values) is ranked by its value alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelboard.records import EvaluationRecord
from modelboard.records.evaluation import UNKNOWN_FINGERPRINT
from modelboard.store import FilterError, column_resolver, query_runs, sort_names, value_kinds
from modelboard.store.query import query_run_table

#: The store's record kind of one split's evaluation is this prefix and the split's name.
EVALUATION_KIND_PREFIX = "evaluation:"

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelboard.store import Column, RunPage, SQLStore

__all__ = [
    "SEED_NAMES",
    "HEADLINE_METRICS",
    "RANKING_COLUMNS",
    "CONFIDENCE",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "RankedBoard",
    "comparable_board",
    "comparable_leaderboard",
    "ranking_metric",
    "value_source",
    "source_label",
    "bootstrap_interval",
    "t_interval",
    "tie_ranks",
]

#: Hyperparameters that name a seed: runs differing only in these form one entry.
SEED_NAMES = frozenset({"seed"})
#: The metric ranked when ``sort`` names none: the first of these that the store holds.
HEADLINE_METRICS = ("val_accuracy", "test_accuracy", "accuracy", "val_loss", "loss")
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
#: The columns of the ranked frame, in order (``group_by`` columns and ``columns`` follow).
RANKING_COLUMNS = (
    "group",
    "data_name",
    "data_fingerprint",
    "task",
    "rank",
    "name",
    "n",
    "mean",
    "std",
    "min",
    "max",
    "ci_low",
    "ci_high",
    "interval",
    "tied_with",
    "value_source",
    "runs",
    "seeds",
)
#: The network record's settings that an entry's runs share (with the hyperparameters).
_NETWORK_SETTINGS = ("signature", "loss", "batch_size", "epochs_planned")


def value_source(column: Column) -> str:
    """What a metric column shows: ``evaluation``, ``last logged``, ``evaluation, else last``
    (a plain name that some runs evaluated and some logged: each run's evaluation value, else
    its last logged value), ``best logged``, ``lowest logged`` or ``highest logged``."""
    kinds = [source.kind for source in column.sources]
    if column.label.startswith("best"):
        return "best logged"
    if kinds == ["eval"]:
        return "evaluation"
    if kinds == ["metric_last"]:
        return "last logged"
    if kinds == ["eval", "metric_last"]:
        return "evaluation, else last"
    if kinds == ["metric_min"]:
        return "lowest logged"
    if kinds == ["metric_max"]:
        return "highest logged"
    return ""


def source_label(label: str, column: Column | None) -> str:
    """A column header that says where a metric's value comes from: ``val_accuracy
    (evaluation)``, ``best_loss (best logged)``; other columns keep their label."""
    if column is None or column.direction is None or column.run_field is not None:
        return label
    source = value_source(column)
    return f"{label} ({source})" if source else label


def ranking_metric(store: SQLStore, sort: str | Sequence[str] | None) -> str | None:
    """The metric a comparable leaderboard ranks: the first sort column when it is a metric,
    else the first of ``HEADLINE_METRICS`` the store holds (``None`` when there is none)."""
    resolver = column_resolver(store)
    names = sort_names(sort)
    if names:
        column = resolver.resolve(names[0])  # an unknown sort column is an error, as in ls
        if column.direction is not None and column.run_field is None:
            return names[0]
    for name in HEADLINE_METRICS:
        try:
            column = resolver.resolve(name)
        except FilterError:
            continue
        if column.direction is not None:
            return name
    return None


@dataclass
class _RunFacts:
    """What the ranking needs of one run beyond its leaderboard row."""

    run_id: str
    name: str | None
    value: float
    key: tuple[str, str, str]
    source: str
    data_name: str | None
    split: str | None
    labels: str | None
    accuracy: bool  # the metric is the split's accuracy: per-example flags exist
    entry_key: str
    seed: Any


@dataclass
class _Entry:
    """Runs of one comparability group that make one entry, with their leaderboard rows."""

    key: Any
    runs: list[_RunFacts] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def values(self) -> list[float]:
        return [run.value for run in self.runs]

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)


def bootstrap_interval(
    flags: np.ndarray,
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of per-example 0/1 flags (fixed seed)."""
    import numpy as np

    values = np.asarray(flags, dtype=np.float64)
    n = len(values)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, min(resamples, 4_000_000 // max(n, 1)))  # bound the index matrix's memory
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        picks = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t interval of the mean of several seeds' values (at least two)."""
    import numpy as np
    from scipy.special import stdtrit  # the t quantile, without importing all of scipy.stats

    array = np.asarray(values, dtype=np.float64)
    mean, sem = float(array.mean()), float(array.std(ddof=1) / math.sqrt(len(array)))
    half = float(stdtrit(len(array) - 1, 1 - (1 - confidence) / 2)) * sem
    return mean - half, mean + half


def tie_ranks(
    intervals: Sequence[tuple[float, float] | None],
) -> tuple[list[str], list[list[int]]]:
    """Ranks of entries sorted best first, and each entry's tied neighbours (indices).

    An entry whose interval overlaps the one above it takes that one's rank; entries sharing a
    rank show it as ``=k``. An entry without an interval is tied with nothing.
    """
    positions: list[int] = []
    tied: list[list[int]] = [[] for _ in intervals]
    for index, interval in enumerate(intervals):
        above = intervals[index - 1] if index else None
        if interval is not None and above is not None and _overlap(interval, above):
            positions.append(positions[-1])
            tied[index].append(index - 1)
            tied[index - 1].append(index)
        else:
            positions.append(index + 1)
    shared = {p for p in positions if positions.count(p) > 1}
    return [f"={p}" if p in shared else str(p) for p in positions], tied


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _canonical(values: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in values.items() if str(k) not in SEED_NAMES}


#: The leaderboard columns whose equal values (with the parameters) make runs one entry.
_SETTING_COLUMNS = (
    "signature",
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs_planned",
    "loss_function",
)
#: At most this many parameters are read in the leaderboard query; past it, run records.
_MAX_PARAM_COLUMNS = 25


@dataclass
class _Query:
    """The columns the ranking reads in one leaderboard query, and what they mean."""

    metric: str
    name: str  # the metric without an ``eval.`` prefix: ``<split>_<metric>``
    source: str
    splits: list[str]  # the splits ``name`` may belong to, longest first
    params: list[str] | None  # parameter names read as columns; ``None``: from run records
    extra: list[str]
    keys: dict[tuple[Any, ...], str] = field(default_factory=dict)  # entry keys made so far
    seed_labels: list[str] = field(init=False)
    key_labels: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.seed_labels = [f"params.{s}" for s in sorted(SEED_NAMES)]
        # the parameters, then the settings: what an entry's runs share
        params = [f"params.{p}" for p in self.params or []]
        self.key_labels = [*params, "framework", *_SETTING_COLUMNS]

    @property
    def columns(self) -> list[str]:
        columns = ["id", "name", "framework", "data_name", self.metric]
        if self.source == "evaluation, else last":
            columns.append(f"eval.{self.name}")
        columns += [f"comparability.{split}" for split in self.splits]
        columns += list(_SETTING_COLUMNS)
        for param in [*(self.params or []), *sorted(SEED_NAMES)]:
            columns.append(f"params.{param}")
        return [*columns, *[c for c in self.extra if c not in columns]]


def _split_candidates(name: str) -> list[str]:
    """The splits an evaluation column ``<split>_<metric>`` may name, longest first."""
    parts = name.split("_")
    return ["_".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def _param_names(store: SQLStore) -> list[str] | None:
    names = sorted(n for n in value_kinds(store, kinds=("param",)) if n not in SEED_NAMES)
    return names if len(names) <= _MAX_PARAM_COLUMNS else None


def _run_source(query: _Query, evaluated: bool) -> str:
    if evaluated:
        return "evaluation"
    return "last logged" if query.source.startswith("evaluation") else query.source


def _facts(store: SQLStore, row: Mapping[str, Any], query: _Query) -> _RunFacts | None:
    """One run's value, comparability key and entry key from its leaderboard row (``None``
    when it has no finite value of the metric): one SQL query serves every run."""
    value = row.get(query.metric)
    if value is None or isinstance(value, (str, bool)) or not math.isfinite(float(value)):
        return None
    evaluated = query.source == "evaluation" or (
        query.source == "evaluation, else last" and row.get(f"eval.{query.name}") is not None
    )
    key: tuple[str, str, str] = (UNKNOWN_FINGERPRINT, query.name, "unknown")
    split: str | None = None
    labels = ""
    for candidate in query.splits if evaluated else []:
        text = row.get(f"comparability.{candidate}")
        if isinstance(text, str) and text.count("|") >= 2:
            fingerprint, task, labels = text.split("|", 2)
            key, split = (fingerprint, query.name, task), candidate
            break
    if query.params is None:  # too many parameter names for one query: the run's record
        entry_key = _record_entry_key(store.get_run(row["id"]).params, row)
    else:
        entry_key = _entry_key(query, row)
    seeds = [row.get(label) for label in query.seed_labels]
    return _RunFacts(
        run_id=row["id"],
        name=row.get("name"),
        value=float(value),
        key=key,
        source=_run_source(query, evaluated),
        data_name=row.get("data_name"),
        split=split,
        labels=labels or None,
        accuracy=split is not None and query.name == f"{split}_accuracy",
        entry_key=entry_key,
        seed=next((s for s in seeds if s is not None), None),
    )


def _record_entry_key(params: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """What runs of one entry share, as JSON: their settings and parameters, seeds apart."""
    settings = {c: row.get(c) for c in ("framework", *_SETTING_COLUMNS)}
    return json.dumps({"params": _canonical(params), **settings}, sort_keys=True, default=str)


def _entry_key(query: _Query, row: Mapping[str, Any]) -> str:
    """``_record_entry_key`` of a row that holds the parameters as columns, made once for
    each distinct set of values (1, 1.0 and True are equal in Python, their JSON is not)."""
    values = tuple(map(row.get, query.key_labels))
    typed = (*map(type, values), *values)
    key = query.keys.get(typed)
    if key is None:
        params = dict(zip(query.params or [], values, strict=False))
        key = query.keys[typed] = _record_entry_key(params, row)
    return key


def _correct_flags(store: SQLStore, run: _RunFacts) -> np.ndarray | None:
    """The per-example correctness of the run's evaluation, for accuracy only (one read)."""
    if not run.accuracy or run.split is None:
        return None
    record = store.get_records(run.run_id).get(EVALUATION_KIND_PREFIX + run.split)
    return record.correct_flags() if isinstance(record, EvaluationRecord) else None


def _interval(store: SQLStore, entry: _Entry) -> tuple[tuple[float, float] | None, str]:
    values = entry.values
    if len(values) >= 2:
        return t_interval(values), f"t over {len(values)} runs"
    flags = _correct_flags(store, entry.runs[0])
    if flags is not None and len(flags):
        return bootstrap_interval(flags), f"bootstrap of {len(flags)} examples"
    return None, "none: one run and no per-example values for this metric"


def _summary(values: Sequence[Any]) -> Any:
    distinct = []
    for value in values:
        if value not in distinct:
            distinct.append(value)
    return distinct[0] if len(distinct) == 1 else distinct


def _link_same_labels(groups: list[dict[str, Any]], labels: list[set[str]]) -> None:
    """Note in ``same_labels_as`` the other groups evaluated on the same labels in the same
    order: likely the same examples, given as other inputs (a layout, a preprocessing)."""
    for i, group in enumerate(groups):
        group["same_labels_as"] = [
            other["group"] for j, other in enumerate(groups) if j != i and labels[i] & labels[j]
        ]


@dataclass
class RankedBoard:
    """A comparable leaderboard as plain values: ``entries`` (one dict per entry, keys
    ``columns``), ``groups`` (one dict per comparability group), the ranked ``metric``, what its
    values are (``value_source``) and how many matching runs had no value (``missing``)."""

    metric: str
    value_source: str
    columns: list[str]
    entries: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    missing: int


def comparable_board(
    store: SQLStore,
    *,
    sort: str | Sequence[str] | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    columns: Sequence[str] | str | None = None,
    project: str | None = None,
    limit: int | None = None,
    directions: Mapping[str, str] | None = None,
    group_by: Sequence[str] | str | None = None,
) -> RankedBoard:
    """The leaderboard ranked within comparability groups, one entry per row (see the module);
    plain values, no pandas (``comparable_leaderboard`` makes the DataFrame).

    Columns: ``RANKING_COLUMNS``, then the ``group_by`` columns, then ``columns`` (a run
    column's value when the entry's runs agree, else the list of their values). ``limit`` is
    the most entries shown in all (the first groups' first). ``groups`` say, for each group,
    its number, data name, evaluated ``split``, ``framework``, fingerprint prefix, task,
    metric, whether it is ``ranked``, its ``runs`` and ``entries``, how many are ``shown``,
    its ``value_source`` and ``same_labels_as`` (the groups whose evaluations had the same
    labels in the same order: likely the same examples given as other inputs, never ranked
    together all the same).
    """
    metric = ranking_metric(store, sort)
    if metric is None:
        raise ValueError(
            "comparable=True ranks a metric, and this store holds none of "
            f"{', '.join(HEADLINE_METRICS)}: pass sort='<metric>' (such as val_f1_macro)"
        )
    column = column_resolver(store, directions).resolve(metric)
    source = value_source(column)
    by, shown = _names(group_by), _names(columns)
    name = metric.partition(".")[2] if metric.startswith("eval.") else metric
    query = _Query(
        metric=metric,
        name=name,
        source=source,
        splits=_split_candidates(name) if source.startswith("evaluation") else [],
        params=_param_names(store),
        extra=[*by, *shown],
    )
    page = _run_table(store, query, ascending, where, project, directions)
    groups: dict[tuple[str, str, str], dict[Any, _Entry]] = {}
    missing = 0
    for values in page.rows:
        row = dict(zip(page.labels, values, strict=True))
        fact = _facts(store, row, query)
        if fact is None:
            missing += 1
            continue
        entry_key = json.dumps([row.get(c) for c in by], default=str) if by else fact.entry_key
        entry = groups.setdefault(fact.key, {}).setdefault(entry_key, _Entry(entry_key))
        entry.runs.append(fact)
        entry.rows.append(row)

    descending = column.direction == "max" if ascending is None else not ascending
    extra = [c for c in dict.fromkeys([*by, *shown]) if c not in (*RANKING_COLUMNS, "id", metric)]
    entries_out: list[dict[str, Any]] = []
    groups_out: list[dict[str, Any]] = []
    ordered_groups = sorted(
        groups.items(), key=lambda item: (item[0][0] == UNKNOWN_FINGERPRINT, -_run_count(item[1]))
    )
    for number, (key, members) in enumerate(ordered_groups, start=1):
        ordered = sorted(members.values(), key=lambda e: e.mean, reverse=descending)
        room = len(ordered) if limit is None else max(0, limit - len(entries_out))
        shown_entries = ordered[:room]  # the first `limit` entries, group after group
        group = _group_info(number, key, metric, ordered, shown=len(shown_entries))
        groups_out.append(group)
        entries_out.extend(_entry_rows(store, group, shown_entries, by, extra))
    _link_same_labels(groups_out, [_labels(members.values()) for _, members in ordered_groups])
    return RankedBoard(
        metric=metric,
        value_source=source,
        columns=[*RANKING_COLUMNS, *extra],
        entries=entries_out,
        groups=groups_out,
        missing=missing,
    )


def _run_table(
    store: SQLStore,
    query: _Query,
    ascending: bool | None,
    where: str | None,
    project: str | None,
    directions: Mapping[str, str] | None,
) -> RunPage:
    """The query's columns of every matching run, best first: one SQL query
    (``query_run_table``), else (parameters read from run records, too many columns for one
    query) the leaderboard page."""
    options: dict[str, Any] = {
        "sort": query.metric,
        "ascending": ascending,
        "where": where,
        "project": project,
        "directions": directions,
    }
    if query.params is not None:
        page = query_run_table(store, query.columns, **options)
        if page is not None:
            return page
    return query_runs(store, columns=query.columns, **options)


def _names(value: Sequence[str] | str | None) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value or [])


def _run_count(entries: Mapping[Any, _Entry]) -> int:
    return sum(len(e.runs) for e in entries.values())


def _labels(entries: Iterable[_Entry]) -> set[str]:
    return {r.labels for e in entries for r in e.runs if r.labels}


def _distinct(values: Iterable[Any]) -> Any:
    """The one value, the sorted list of several, or ``None`` for none."""
    found = sorted({str(v) for v in values if v is not None})
    return found[0] if len(found) == 1 else (found or None)


def _group_info(
    number: int, key: tuple[str, str, str], metric: str, entries: list[_Entry], *, shown: int
) -> dict[str, Any]:
    runs = [r for e in entries for r in e.runs]
    fingerprint = key[0] if key[0] == UNKNOWN_FINGERPRINT else key[0][:12]
    return {
        "group": number,
        "data_name": ", ".join(sorted({r.data_name for r in runs if r.data_name})) or None,
        "split": _distinct(r.split for r in runs),
        "framework": _distinct(row.get("framework") for e in entries for row in e.rows),
        "data_fingerprint": fingerprint,
        "task": key[2],
        "metric": metric,
        "ranked": key[0] != UNKNOWN_FINGERPRINT,
        "runs": len(runs),
        "entries": len(entries),
        "shown": shown,
        "value_source": _distinct(r.source for r in runs),
        "same_labels_as": [],
    }


def _entry_rows(
    store: SQLStore, group: dict[str, Any], entries: list[_Entry], by: list[str], extra: list[str]
) -> list[dict[str, Any]]:
    """One row per entry of a group, best first, ranked (or ``-``) and ties marked. Only the
    entries shown need intervals: a rank depends on the entries above it alone."""
    intervals = [_interval(store, e) for e in entries]
    if group["ranked"]:
        ranks, tied = tie_ranks([interval for interval, _ in intervals])
    else:
        ranks, tied = ["-"] * len(entries), [[] for _ in entries]
    labels = [_entry_label(e, by) for e in entries]
    out = []
    for index, entry in enumerate(entries):
        values, (interval, how) = entry.values, intervals[index]
        n, mean = len(values), entry.mean
        row: dict[str, Any] = {
            "group": group["group"],
            "data_name": group["data_name"],
            "data_fingerprint": group["data_fingerprint"],
            "task": group["task"],
            "rank": ranks[index],
            "name": labels[index],
            "n": n,
            "mean": mean,
            "std": math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None,
            "min": min(values),
            "max": max(values),
            "ci_low": interval[0] if interval else None,
            "ci_high": interval[1] if interval else None,
            "interval": how,
            "tied_with": [labels[i] for i in tied[index]],
            "value_source": _summary([r.source for r in entry.runs]),
            "runs": [r.run_id for r in entry.runs],
            "seeds": [r.seed for r in entry.runs],
        }
        for label in extra:
            row[label] = _summary([r.get(label) for r in entry.rows])
        out.append(row)
    return out


def _entry_label(entry: _Entry, by: list[str]) -> str:
    """``col=value, ...`` of the ``group_by`` columns, else the runs' name (or ``n runs``)."""
    if by:
        values = json.loads(entry.key)
        return ", ".join(f"{c}={v}" for c, v in zip(by, values, strict=True))
    names = _summary([r.name for r in entry.runs])
    return names if isinstance(names, str) else f"{len(entry.runs)} runs"


def comparable_leaderboard(
    store: SQLStore,
    *,
    sort: str | Sequence[str] | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    columns: Sequence[str] | str | None = None,
    project: str | None = None,
    limit: int | None = None,
    directions: Mapping[str, str] | None = None,
    group_by: Sequence[str] | str | None = None,
) -> pd.DataFrame:
    """``comparable_board`` as a DataFrame, one row per entry; ``frame.attrs`` holds
    ``modelboard_metric``, ``modelboard_value_source`` (what the metric's values are),
    ``modelboard_groups`` (one dict per group: ``group``, ``data_name``, ``data_fingerprint``,
    ``task``, ``metric``, ``ranked``, ``runs``, ``entries``, ``shown``, ``value_source``) and
    ``modelboard_missing``."""
    import pandas as pd

    board = comparable_board(
        store,
        sort=sort,
        ascending=ascending,
        where=where,
        columns=columns,
        project=project,
        limit=limit,
        directions=directions,
        group_by=group_by,
    )
    frame = pd.DataFrame(board.entries, columns=board.columns)
    frame.attrs["modelboard_metric"] = board.metric
    frame.attrs["modelboard_value_source"] = board.value_source
    frame.attrs["modelboard_groups"] = board.groups
    frame.attrs["modelboard_missing"] = board.missing
    return frame
