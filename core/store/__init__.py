"""The store: SQLite (WAL) by default, PostgreSQL at scale, artifacts in a folder per run."""

from modelboard.store.location import (
    ARTIFACT_ROOT_ENV,
    URI_ENV,
    StoreLocation,
    resolve_location,
)
from modelboard.store.sql_store import DEFAULT_HEARTBEAT_TIMEOUT_S, MetricPoint, SQLStore
from modelboard.store.tables import STORE_SCHEMA_VERSION

__all__ = [
    "ARTIFACT_ROOT_ENV",
    "DEFAULT_HEARTBEAT_TIMEOUT_S",
    "STORE_SCHEMA_VERSION",
    "URI_ENV",
    "MetricPoint",
    "SQLStore",
    "StoreLocation",
    "resolve_location",
]
