"""The store: SQLite (WAL) by default, PostgreSQL at scale, artifacts in a folder per run.

Views read runs through ``SQLStore``'s public methods and the query API re-exported here
(``query_runs``, ``select_run_ids``, ``count_runs``, ``value_kinds``; see
``modelboard.store.query``), never through the store's private methods or its SQL.
"""

from modelboard.store.columns import STANDARD_COLUMNS, Column, ColumnResolver, Source
from modelboard.store.filter import FilterError, parse_filter
from modelboard.store.location import (
    ARTIFACT_ROOT_ENV,
    URI_ENV,
    StoreLocation,
    resolve_location,
)
from modelboard.store.query import (
    DEFAULT_RUN_COLUMNS,
    RunPage,
    column_resolver,
    count_runs,
    query_runs,
    select_run_ids,
    sort_names,
    value_kinds,
)
from modelboard.store.sql_store import DEFAULT_HEARTBEAT_TIMEOUT_S, MetricPoint, SQLStore
from modelboard.store.stored_run import StoredRun
from modelboard.store.tables import STORE_SCHEMA_VERSION

__all__ = [
    "ARTIFACT_ROOT_ENV",
    "DEFAULT_HEARTBEAT_TIMEOUT_S",
    "DEFAULT_RUN_COLUMNS",
    "STORE_SCHEMA_VERSION",
    "URI_ENV",
    "MetricPoint",
    "SQLStore",
    "StoreLocation",
    "StoredRun",
    "resolve_location",
    # querying runs (modelboard.store.query)
    "RunPage",
    "query_runs",
    "select_run_ids",
    "count_runs",
    "value_kinds",
    "column_resolver",
    "sort_names",
    "Column",
    "ColumnResolver",
    "Source",
    "STANDARD_COLUMNS",
    "FilterError",
    "parse_filter",
]
