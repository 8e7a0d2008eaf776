"""Where a store lives: a folder path or an SQLAlchemy URL, resolved to a database URL and an
artifact root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StoreLocation", "resolve_location", "URI_ENV", "ARTIFACT_ROOT_ENV", "DEFAULT_FOLDER"]

URI_ENV = "MODELBOARD_URI"
ARTIFACT_ROOT_ENV = "MODELBOARD_ARTIFACT_ROOT"
DEFAULT_FOLDER = ".modelboard"
DATABASE_FILE = "modelboard.db"


@dataclass(frozen=True)
class StoreLocation:
    """A resolved store: the SQLAlchemy URL and the folder that holds per-run artifacts."""

    url: str
    artifact_root: Path

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite store."""
        return self.url.startswith("sqlite")

    def describe(self) -> str:
        """The URL with any password hidden, for messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)


def resolve_location(
    store: str | os.PathLike[str] | None = None, artifact_root: str | os.PathLike[str] | None = None
) -> StoreLocation:
    """Resolve ``store`` (argument, then ``MODELBOARD_URI``, then ``./.modelboard``).

    A folder becomes ``sqlite:///<folder>/modelboard.db`` with artifacts in
    ``<folder>/artifacts``. For a database URL the artifacts go to ``artifact_root``, then
    ``MODELBOARD_ARTIFACT_ROOT``, then the SQLite file's folder, then ``./.modelboard/artifacts``.
    """
    from modelboard import settings

    target = os.fspath(store) if store is not None else settings.store_uri() or DEFAULT_FOLDER
    chosen_root = artifact_root if artifact_root is not None else settings.artifact_root()
    if "://" not in target:
        folder = Path(target).expanduser().resolve()
        root = Path(chosen_root).expanduser().resolve() if chosen_root else folder / "artifacts"
        return StoreLocation(url=f"sqlite:///{folder / DATABASE_FILE}", artifact_root=root)
    if chosen_root:
        return StoreLocation(url=target, artifact_root=Path(chosen_root).expanduser().resolve())
    if target.startswith("sqlite") and target not in ("sqlite://", "sqlite:///:memory:"):
        from sqlalchemy.engine import make_url

        database = make_url(target).database
        if database:
            db_path = Path(database).expanduser().resolve()
            return StoreLocation(url=target, artifact_root=db_path.parent / "artifacts")
    return StoreLocation(url=target, artifact_root=(Path(DEFAULT_FOLDER) / "artifacts").resolve())
