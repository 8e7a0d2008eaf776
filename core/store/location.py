"""Where a store lives: a folder path or an SQLAlchemy URL, resolved to a database URL and an
artifact root (a local folder, or an fsspec URL such as ``s3://bucket/prefix``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from urllib.parse import unquote, urlparse

__all__ = [
    "StoreLocation",
    "resolve_location",
    "is_remote_url",
    "URI_ENV",
    "ARTIFACT_ROOT_ENV",
    "DEFAULT_FOLDER",
    "STAGING_FOLDER",
]

URI_ENV = "MODELBOARD_URI"
ARTIFACT_ROOT_ENV = "MODELBOARD_ARTIFACT_ROOT"
DEFAULT_FOLDER = ".modelboard"
DATABASE_FILE = "modelboard.db"
#: With a remote artifact root, ``Run.artifact_dir`` is a folder under this one, beside the store.
STAGING_FOLDER = "artifact-staging"


def is_remote_url(root: str | os.PathLike[str]) -> bool:
    """True for an fsspec URL other than ``file://`` (``s3://bucket/prefix``, ``gs://...``)."""
    text = os.fspath(root)
    return "://" in text and not text.startswith("file://")


def _check_not_a_mangled_url(root: str | os.PathLike[str]) -> None:
    """Refuse ``Path("s3://b/p")``: pathlib collapsed the URL's ``//`` into a local folder."""
    if isinstance(root, PurePath) and re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/[^/]", str(root)):
        raise ValueError(
            f"artifact root {str(root)!r} looks like a URL that pathlib.Path cut short ('//' "
            "became '/'); pass an object-store root as a string, such as 's3://bucket/prefix'"
        )


def _local_root(root: str | os.PathLike[str]) -> Path:
    """The local folder of a path or ``file://`` URL."""
    text = os.fspath(root)
    if text.startswith("file://"):
        text = unquote(urlparse(text).path)
    return Path(text).expanduser().resolve()


@dataclass(frozen=True)
class StoreLocation:
    """A resolved store: the SQLAlchemy URL and where per-run artifacts live.

    ``artifact_root`` is always a local folder: the artifact folder itself for a local root, or,
    when ``artifact_remote`` holds an fsspec URL (``s3://bucket/prefix``), the local staging
    folder that ``Run.artifact_dir`` points into (files there reach the object store only through
    ``log_artifact``). ``artifact_url`` names the real root either way, as a string.
    """

    url: str
    artifact_root: Path
    artifact_remote: str | None = None

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite store."""
        return self.url.startswith("sqlite")

    @property
    def artifacts_remote(self) -> bool:
        """True when artifacts live in an object store (an fsspec URL), not a local folder."""
        return self.artifact_remote is not None

    @property
    def artifact_url(self) -> str:
        """The artifact root as a string: the fsspec URL, or the local folder's path (which
        ``fsspec.core.url_to_fs`` takes too)."""
        return self.artifact_remote if self.artifact_remote is not None else str(self.artifact_root)

    @property
    def local_folder(self) -> Path:
        """The local folder beside the store that holds the journal (and the staging folder of
        a remote artifact root): the folder above ``artifact_root``."""
        return self.artifact_root.parent

    @property
    def journal_folder(self) -> Path:
        """Where runs spill what the store refused: always on local disk."""
        return self.local_folder / "journal"

    def describe(self) -> str:
        """The URL with any password hidden, for messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)


def _with_root(url: str, chosen: str | os.PathLike[str] | None, local: Path) -> StoreLocation:
    """The location of ``url`` with artifacts at ``chosen`` (or ``local/artifacts``)."""
    if not chosen:
        return StoreLocation(url=url, artifact_root=local / "artifacts")
    if is_remote_url(chosen):
        remote = os.fspath(chosen).rstrip("/")
        return StoreLocation(url=url, artifact_root=local / STAGING_FOLDER, artifact_remote=remote)
    return StoreLocation(url=url, artifact_root=_local_root(chosen))


def resolve_location(
    store: str | os.PathLike[str] | None = None, artifact_root: str | os.PathLike[str] | None = None
) -> StoreLocation:
    """Resolve ``store`` (argument, then ``MODELBOARD_URI``, then ``./.modelboard``).

    A folder becomes ``sqlite:///<folder>/modelboard.db`` with artifacts in
    ``<folder>/artifacts``. For a database URL the artifacts go to ``artifact_root``, then
    ``MODELBOARD_ARTIFACT_ROOT``, then the SQLite file's folder, then ``./.modelboard/artifacts``.
    An artifact root may be an fsspec URL (``s3://bucket/prefix``): artifacts then live there,
    and the journal and staging folder stay local, in the store's folder (the SQLite file's
    folder, else ``./.modelboard``).
    """
    from modelboard import settings

    target = os.fspath(store) if store is not None else settings.store_uri() or DEFAULT_FOLDER
    chosen_root = artifact_root if artifact_root is not None else settings.artifact_root()
    if chosen_root is not None:
        _check_not_a_mangled_url(chosen_root)
    if "://" not in target:
        folder = Path(target).expanduser().resolve()
        return _with_root(f"sqlite:///{folder / DATABASE_FILE}", chosen_root, folder)
    local = Path(DEFAULT_FOLDER).resolve()
    if target.startswith("sqlite") and target not in ("sqlite://", "sqlite:///:memory:"):
        from sqlalchemy.engine import make_url

        database = make_url(target).database
        if database:
            local = Path(database).expanduser().resolve().parent
    if chosen_root and not is_remote_url(chosen_root):
        return StoreLocation(url=target, artifact_root=_local_root(chosen_root))
    return _with_root(target, chosen_root, local)
