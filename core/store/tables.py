"""The store's tables (SQLAlchemy Core). ``STORE_SCHEMA_VERSION`` is what this code writes.

- ``meta``: key/value facts of the store, ``schema_version`` among them.
- ``runs``: one row per run; the full ``RunRecord`` as JSON plus the columns queries use.
- ``records``: one JSON document per run and kind (``data``, ``network``, ``evaluation:<split>``).
- ``metrics``: one row per logged point.
- ``gradients``: one row per gradient capture, the per-parameter statistics as JSON.
- ``artifacts``: files stored under the run's artifact folder.
- ``run_values`` (since version 2): one scalar per run and (kind, name) for the leaderboard to
  sort and filter in SQL: ``param``, ``tag``, ``metric_last``, ``metric_min``, ``metric_max``,
  ``eval`` and ``run`` values.
- ``search_trials`` (since version 3): one row per trial of a hyperparameter search
  (``modelboard.experiments``): its parameters, its state (``open``, ``running``,
  ``finished``, ``failed``, ``pruned``), the run that holds it, and the claim of the worker
  that runs it (``worker``, ``claimed_at``, ``heartbeat``). Workers claim a trial with one
  conditional ``UPDATE``, so no trial runs twice.
- ``run_summaries`` and ``summary_layouts`` (since version 4): a copy of each run's
  ``run_values`` in one row, so that a whole-store read fetches one row per run
  (``modelboard.store.run_summary``): the numbers as one float64 array in the order a layout
  names, the texts as one JSON list. A layout (the run's (kind, name) pairs holding a number,
  then those holding a text) is stored once, under a hash of itself, and shared by every run
  with the same values. Database triggers delete a run's summary whenever any of its
  ``run_values`` rows is written or deleted, so a summary is either exact or absent.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "STORE_SCHEMA_VERSION",
    "metadata",
    "meta",
    "runs",
    "records",
    "metrics",
    "gradients",
    "artifacts",
    "run_values",
    "search_trials",
    "run_summaries",
    "summary_layouts",
]

STORE_SCHEMA_VERSION = 4

metadata = MetaData()

meta = Table(
    "modelboard_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(255), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("framework", String(64)),
    Column("created", Float, nullable=False, index=True),
    Column("ended", Float),
    Column("heartbeat", Float),
    Column("parent_id", String(32), index=True),
    Column("record", Text, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("kind", String(128), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("updated", Float, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("step", Integer, nullable=False),
    Column("epoch", Integer),
    Column("value", Float),
    Column("wall_time", Float, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

gradients = Table(
    "gradients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False, index=True),
    Column("step", Integer, nullable=False),
    Column("epoch", Integer),
    Column("wall_time", Float, nullable=False),
    Column("global_norm", Float),
    Column("payload", Text, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("created", Float, nullable=False),
)

run_values = Table(
    "run_values",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value_num", Float),
    Column("value_text", Text),
    Index("ix_run_values_kind_name_num", "kind", "name", "value_num"),
    Index("ix_run_values_kind_name_text", "kind", "name", "value_text"),
)

search_trials = Table(
    "search_trials",
    metadata,
    Column("search_id", String(32), primary_key=True),
    Column("trial_index", Integer, primary_key=True),
    Column("params", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("run_id", String(32)),
    Column("worker", String(255)),
    Column("claimed_at", Float),
    Column("heartbeat", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("value", Float),
    Index("ix_search_trials_search_status", "search_id", "status"),
)

run_summaries = Table(
    "run_summaries",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("layout", String(32), nullable=False),
    Column("numbers", LargeBinary, nullable=False),
    Column("texts", Text, nullable=False),
)

summary_layouts = Table(
    "summary_layouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("payload", Text, nullable=False),
)

TABLES_BY_VERSION = {
    1: [meta, runs, records, metrics, gradients, artifacts],
    2: [run_values],
    3: [search_trials],
    4: [run_summaries, summary_layouts],
}
