"""The one line that says a run started and where it went (``MODELBOARD_SILENT=1`` hides it).

``modelboard: run 77cb12ab basic_cnn -> ./.modelboard (modelboard show 77cb12ab)``, on stderr,
so that it never mixes with a script's own output. For a store other than the default folder the
command names it with ``--store``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from modelboard.records import RunRecord
from modelboard.store.location import DATABASE_FILE, DEFAULT_FOLDER, StoreLocation

__all__ = ["start_line", "announce_start"]


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _store_name(location: StoreLocation) -> tuple[str, bool]:
    """What to call the store in the line, and whether it is the default ``./.modelboard``."""
    from sqlalchemy.engine import make_url

    url = make_url(location.url)
    if not location.is_sqlite or not url.database:
        return location.describe(), False
    database = Path(url.database).resolve()
    folder = database.parent if database.name == DATABASE_FILE else database
    try:
        relative = folder.relative_to(Path.cwd().resolve())
    except ValueError:
        return str(folder), False
    text = "./" + relative.as_posix() if str(relative) != "." else "."
    from modelboard import settings

    return text, relative == Path(DEFAULT_FOLDER) and not settings.store_uri()


def start_line(record: RunRecord, location: StoreLocation) -> str:
    """The start line of run ``record`` in the store at ``location``."""
    where, is_default = _store_name(location)
    short = record.id[:8]
    command = f"modelboard show {short}"
    if not is_default:
        command = f"modelboard show --store {_shell_word(where)} {short}"
    return f"modelboard: run {short} {record.name} -> {where} ({command})"


def announce_start(record: RunRecord, location: StoreLocation) -> None:
    """Print the start line on stderr unless ``MODELBOARD_SILENT`` is set."""
    from modelboard import settings

    if settings.silent():
        return
    with contextlib.suppress(OSError, ValueError):  # a broken stderr must not stop a run
        print(start_line(record, location), file=sys.stderr, flush=True)
