"""The leaderboard: every run as one row, sorted and filtered in the database.

>>> tracker.leaderboard(sort="val_accuracy", where="framework = 'torch'")  # doctest: +SKIP

Columns (see ``modelboard.store.columns``): run columns (``id``, ``name``, ``framework``,
``status``, ``created``, ``duration``...), the seed paper's row (``data_name``, ``model_name``,
``optimizer`` (canonical: ``adam`` in Keras and PyTorch), ``learning_rate`` (initial),
``learning_rate_last``, ``batch_size``, ``epochs`` (run), ``epochs_planned``...), every metric
by its plain name (the evaluation
value if there is one, else the last logged value), ``best_<metric>``, ``params.<name>``,
``hparams.<name>``, ``tags.<name>``, and ``data.<x>``, ``network.<x>``, ``eval.<x>``,
``last.<x>``, ``min.<x>``, ``max.<x>`` for any stored value.

Filters: comparisons (``= != < <= > >=``), ``and``, ``or``, ``not``, parentheses, ``in (...)``,
``like '%pattern%'``, ``contains`` and ``is [not] null``::

    framework = 'torch' and val_accuracy > 0.9 or tags.baseline = 'yes'
    features contains 'pixel_3'            -- which runs used this feature?
    fingerprints contains '9c1f...'        -- ... or this data (any split)
    optimizer in ('adam', 'sgd') and not (batch_size < 16)
    created > '2024-05-01' and model_name like '%cnn%'

Text goes in single quotes. A comparison with a missing value is false, so ``!=`` and ``not``
include the runs that lack the column. ``like`` ignores case (on SQLite and PostgreSQL), and so
do all comparisons on enum-like columns (framework, status, optimizer, loss_function,
model_name, gradient_health): ``optimizer = 'Adam'`` selects ``adam`` runs.

The SQL lives in the store (``modelboard.store.query``): this package turns its pages into
DataFrames and files. ``FilterError``, ``parse_filter``, ``ColumnResolver`` and
``metric_direction`` are re-exported from where they live.

``comparable_leaderboard`` (``tracker.leaderboard(comparable=True)``) ranks only comparable
runs, seeds aggregated and ties marked: see ``modelboard.leaderboard.ranking``.
"""

from modelboard.leaderboard._export import EXPORT_FORMATS, export_frame, show
from modelboard.leaderboard._frame import leaderboard, leaderboard_ids, leaderboard_table
from modelboard.leaderboard.ranking import comparable_leaderboard
from modelboard.metric_direction import metric_direction
from modelboard.store import (
    STANDARD_COLUMNS,
    ColumnResolver,
    FilterError,
    column_resolver,
    parse_filter,
)

__all__ = [
    "leaderboard",
    "leaderboard_ids",
    "leaderboard_table",
    "comparable_leaderboard",
    "export_frame",
    "show",
    "EXPORT_FORMATS",
    "FilterError",
    "parse_filter",
    "metric_direction",
    "ColumnResolver",
    "column_resolver",
    "STANDARD_COLUMNS",
]
