"""Every ``MODELBOARD_*`` environment variable modelboard reads, in one list.

Values are read from the environment at each call, so a variable set while the process runs (as
tests do) takes effect. ``docs/configuration.md`` documents the same list; a test keeps the two
in step. To add a setting, add one ``Setting`` to ``SETTINGS``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Setting",
    "SETTINGS",
    "TEST_SETTINGS",
    "get",
    "flag",
    "seconds",
    "names",
    "store_uri",
    "artifact_root",
    "artifact_options",
    "heartbeat_timeout",
    "run_id",
    "plugin_autoload_disabled",
    "blocked_plugins",
]


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, the kind of value, the default and what it does."""

    name: str
    kind: str  # "text", "flag", "seconds" or "list"
    default: str | None
    description: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "MODELBOARD_URI",
        "text",
        None,
        "The store: a folder or an SQLAlchemy URL. Unset means ./.modelboard.",
    ),
    Setting(
        "MODELBOARD_ARTIFACT_ROOT",
        "text",
        None,
        "Where artifacts go: a folder, or an fsspec URL such as s3://bucket/prefix. Unset means "
        "<folder>/artifacts of a folder store, beside the SQLite file, or ./.modelboard/artifacts.",
    ),
    Setting(
        "MODELBOARD_ARTIFACT_OPTIONS",
        "text",
        None,
        "A JSON object of options for the fsspec filesystem of a URL artifact root, such as "
        '{"endpoint_url": "http://127.0.0.1:9000"}.',
    ),
    Setting(
        "MODELBOARD_HEARTBEAT_TIMEOUT",
        "seconds",
        "30",
        "A running run whose heartbeat is older than this reads as crashed.",
    ),
    Setting(
        "MODELBOARD_RUN_ID",
        "text",
        None,
        "The id of an existing run that track() and start_run() join instead of making a run.",
    ),
    Setting(
        "MODELBOARD_SILENT",
        "flag",
        None,
        "Set to 1 to print no start line when track() or start_run() begins a run.",
    ),
    Setting(
        "MODELBOARD_DISABLE_PLUGIN_AUTOLOAD",
        "flag",
        None,
        "Set to 1 to load no plugin from the modelboard entry points.",
    ),
    Setting(
        "MODELBOARD_BLOCK_PLUGINS",
        "list",
        None,
        "Comma-separated entry-point names of plugins not to load, such as torch,keras.",
    ),
)

#: Read only by the test suite, never by the package.
TEST_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "MODELBOARD_TEST_PG",
        "text",
        None,
        "A PostgreSQL URL the tests may create databases on; unset skips those tests (outside CI).",
    ),
    Setting(
        "MODELBOARD_TEST_NO_TMPFS",
        "flag",
        None,
        "Set to 1 to test a full store with SQLite's page limit instead of a real tmpfs.",
    ),
    Setting(
        "MODELBOARD_KERAS_TEST_SUBPROCESS",
        "flag",
        None,
        "Set by the Keras tests for their rerun under the torch backend (no further rerun).",
    ),
    Setting(
        "MODELBOARD_UI_SCREENSHOTS",
        "text",
        None,
        "A folder the browser tests save their PNG screenshots in (default: pytest's tmp folder).",
    ),
    Setting(
        "MODELBOARD_CHROMIUM",
        "text",
        "/usr/bin/chromium",
        "The Chromium the browser tests drive.",
    ),
    Setting(
        "MODELBOARD_PG_PORT",
        "text",
        "55432",
        "The port .ci/postgres.sh starts its throw-away PostgreSQL server on.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
_FALSE = ("", "0", "false", "no", "off")


def names() -> list[str]:
    """The names of every setting the package reads."""
    return [s.name for s in SETTINGS]


def get(name: str) -> str | None:
    """The raw value of setting ``name`` (its default when unset or empty)."""
    setting = _BY_NAME[name]
    value = os.environ.get(name)
    return value if value else setting.default


def flag(name: str) -> bool:
    """A yes/no setting: anything but empty, 0, false, no or off means yes."""
    if _BY_NAME[name].kind != "flag":
        raise KeyError(f"{name} is not a flag")
    return (os.environ.get(name) or "").strip().lower() not in _FALSE


def seconds(name: str) -> float | None:
    """A duration setting in seconds; a clear ``ValueError`` for a value that is not a number."""
    value = get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None


def store_uri() -> str | None:
    """``MODELBOARD_URI``."""
    return get("MODELBOARD_URI")


def artifact_root() -> str | None:
    """``MODELBOARD_ARTIFACT_ROOT``."""
    return get("MODELBOARD_ARTIFACT_ROOT")


def artifact_options() -> dict[str, Any]:
    """``MODELBOARD_ARTIFACT_OPTIONS`` as a dict (empty when unset); a clear ``ValueError`` for
    a value that is not a JSON object."""
    value = get("MODELBOARD_ARTIFACT_OPTIONS")
    if value is None:
        return {}
    try:
        options = json.loads(value)
    except ValueError as exc:
        raise ValueError(
            f"MODELBOARD_ARTIFACT_OPTIONS must be a JSON object, such as "
            f'{{"endpoint_url": "http://127.0.0.1:9000"}}; got {value!r:.200} ({exc})'
        ) from None
    if not isinstance(options, dict):
        raise ValueError(
            f"MODELBOARD_ARTIFACT_OPTIONS must be a JSON object (a dict of fsspec options), "
            f"got {type(options).__name__}: {value!r:.200}"
        )
    return options


def heartbeat_timeout() -> float:
    """``MODELBOARD_HEARTBEAT_TIMEOUT`` in seconds."""
    value = seconds("MODELBOARD_HEARTBEAT_TIMEOUT")
    assert value is not None  # it has a default
    return value


def run_id() -> str | None:
    """``MODELBOARD_RUN_ID``, stripped (``None`` when unset or blank)."""
    value = (get("MODELBOARD_RUN_ID") or "").strip()
    return value or None


def silent() -> bool:
    """``MODELBOARD_SILENT``."""
    return flag("MODELBOARD_SILENT")


def plugin_autoload_disabled() -> bool:
    """``MODELBOARD_DISABLE_PLUGIN_AUTOLOAD``."""
    return flag("MODELBOARD_DISABLE_PLUGIN_AUTOLOAD")


def blocked_plugins() -> list[str]:
    """``MODELBOARD_BLOCK_PLUGINS`` as a list of names."""
    value = get("MODELBOARD_BLOCK_PLUGINS") or ""
    return [name.strip() for name in value.split(",") if name.strip()]
