"""Where artifact files are kept: a local folder, or any fsspec filesystem (``s3://...``).

Every writer and reader of artifact files goes through an ``ArtifactStore``: ``Run.log_artifact``,
the evaluation's plots, ``modelboard show``, ``report``, ``rm`` and ``gc``, and the web ui. The
layout is the same for both kinds: ``<root>/<run id>/<name>``, where the run id is one of ours
(32 hex digits) and the name passes ``check_artifact_name`` (no ``..``, no absolute path, also
not percent-encoded or with backslashes), so a file never lands outside its run's folder or
prefix. ``open_artifact_store(location)`` picks the kind from the store's location.

Options for the fsspec filesystem (an endpoint, a profile) come from
``MODELBOARD_ARTIFACT_OPTIONS`` (a JSON object passed to the filesystem); credentials come the
filesystem's usual way (for s3: ``AWS_ACCESS_KEY_ID``..., ``AWS_ENDPOINT_URL``, ``~/.aws``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelboard.errors import ModelboardError
from modelboard.store.artifact_paths import (
    RUN_ID,
    check_artifact_name,
    check_run_id,
    confined_artifact_path,
    run_folder,
)

if TYPE_CHECKING:
    from modelboard.store.location import StoreLocation

__all__ = [
    "ArtifactStore",
    "LocalArtifactStore",
    "RemoteArtifactStore",
    "ArtifactStoreError",
    "open_artifact_store",
    "artifact_store_for",
    "artifact_filesystem",
]

_CHUNK = 1 << 20


class ArtifactStoreError(ModelboardError):
    """The artifact root cannot be reached or used (a missing package, bad options, an
    object store that refuses)."""


def artifact_filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)`` for an artifact root ``url``, with
    ``MODELBOARD_ARTIFACT_OPTIONS`` applied to a remote URL; a clear error when the
    filesystem's package (``s3fs`` for ``s3://``) is missing."""
    from modelboard import settings
    from modelboard.store.location import is_remote_url

    try:
        import fsspec.core
    except ImportError as exc:  # pragma: no cover - fsspec comes with s3fs
        raise ArtifactStoreError(
            f"artifact root {url!r} needs fsspec: pip install 'modelboard[s3]'"
        ) from exc
    options = settings.artifact_options() if is_remote_url(url) else {}
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise ArtifactStoreError(
            f"artifact root {url!r} needs a package fsspec could not import ({exc}); for s3:// "
            "install it with pip install 'modelboard[s3]'"
        ) from exc
    except (TypeError, ValueError) as exc:
        raise ArtifactStoreError(
            f"cannot open the artifact root {url!r} with MODELBOARD_ARTIFACT_OPTIONS "
            f"{options!r}: {exc}"
        ) from exc
    return fs, str(path).rstrip("/")


class ArtifactStore:
    """The artifact files of every run under one root. Names are relative to the run's folder
    and checked (``ArtifactPathError`` for one that would leave it)."""

    #: The root as a string (a local folder's path or an fsspec URL).
    url: str
    #: True for an object store: there is no local path to a file.
    remote: bool = False

    def put_file(self, run_id: str, name: str, source: Path) -> tuple[str, int]:
        """Copy a local file or folder in as artifact ``name``: ``(checked name, bytes)``."""
        raise NotImplementedError

    def put_bytes(self, run_id: str, name: str, data: bytes) -> tuple[str, int]:
        """Write ``data`` as artifact ``name``: ``(checked name, bytes)``."""
        raise NotImplementedError

    def size(self, run_id: str, name: str) -> int | None:
        """The file's size in bytes, or ``None`` when there is no such file."""
        raise NotImplementedError

    def exists(self, run_id: str, name: str) -> bool:
        """True when artifact ``name`` of the run is a stored file."""
        return self.size(run_id, name) is not None

    def read_bytes(self, run_id: str, name: str) -> bytes:
        """The file's content (``FileNotFoundError`` when there is none)."""
        return b"".join(self.iter_bytes(run_id, name))

    def iter_bytes(self, run_id: str, name: str, chunk: int = _CHUNK) -> Iterator[bytes]:
        """The file's content in chunks (``FileNotFoundError`` when there is none)."""
        raise NotImplementedError

    def list_run(self, run_id: str) -> list[str]:
        """The relative names of every file in the run's folder, sorted."""
        raise NotImplementedError

    def run_size(self, run_id: str) -> int:
        """The bytes of every file in the run's folder."""
        raise NotImplementedError

    def run_ids(self) -> list[str]:
        """The run ids that have a folder under the root (other names are ignored)."""
        raise NotImplementedError

    def has_run(self, run_id: str) -> bool:
        """True while the run's folder holds anything."""
        raise NotImplementedError

    def delete_run(self, run_id: str) -> None:
        """Remove the run's folder and everything in it (nothing when there is none)."""
        raise NotImplementedError

    def local_path(self, run_id: str, name: str) -> Path | None:
        """The file's local path (checked), or ``None`` for an object store."""
        return None

    def describe(self, run_id: str, name: str = "") -> str:
        """Where a run's folder (or one of its files) is, for messages."""
        tail = f"/{check_artifact_name(name)}" if name else "/"
        return f"{self.url.rstrip('/')}/{check_run_id(run_id)}{tail}"


class LocalArtifactStore(ArtifactStore):
    """Artifacts in a local folder (the default); links that lead outside a run's folder are
    refused too."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def folder(self, run_id: str, create: bool = False) -> Path:
        """The run's folder (``ArtifactPathError`` for an id that is not one of ours)."""
        folder = run_folder(self.root, run_id)
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _target(self, run_id: str, name: str, create: bool = False) -> tuple[str, Path]:
        return confined_artifact_path(self.folder(run_id, create), name)

    def put_file(self, run_id: str, name: str, source: Path) -> tuple[str, int]:
        relative, target = self._target(run_id, name, create=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
            return relative, sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        if source.resolve() != target.resolve():
            shutil.copy2(source, target)
        return relative, target.stat().st_size

    def put_bytes(self, run_id: str, name: str, data: bytes) -> tuple[str, int]:
        relative, target = self._target(run_id, name, create=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return relative, len(data)

    def local_path(self, run_id: str, name: str) -> Path | None:
        return self._target(run_id, name)[1]

    def size(self, run_id: str, name: str) -> int | None:
        path = self._target(run_id, name)[1]
        try:
            return path.stat().st_size if path.is_file() else None
        except OSError:
            return None

    def iter_bytes(self, run_id: str, name: str, chunk: int = _CHUNK) -> Iterator[bytes]:
        path = self._target(run_id, name)[1]
        with open(path, "rb") as source:
            while block := source.read(chunk):
                yield block

    def read_bytes(self, run_id: str, name: str) -> bytes:
        return self._target(run_id, name)[1].read_bytes()

    def list_run(self, run_id: str) -> list[str]:
        folder = self.folder(run_id)
        if not folder.is_dir():
            return []
        return sorted(f.relative_to(folder).as_posix() for f in folder.rglob("*") if f.is_file())

    def run_size(self, run_id: str) -> int:
        folder = self.folder(run_id)
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())

    def run_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = (p.name for p in self.root.iterdir() if p.is_dir())
        return sorted(name for name in names if RUN_ID.fullmatch(name))

    def has_run(self, run_id: str) -> bool:
        return self.folder(run_id).exists()

    def delete_run(self, run_id: str) -> None:
        shutil.rmtree(self.folder(run_id), ignore_errors=True)


class RemoteArtifactStore(ArtifactStore):
    """Artifacts in an fsspec filesystem (``s3://bucket/prefix`` through ``s3fs``). Listings
    are read fresh each time (the filesystem's listing cache is dropped first), since other
    processes write the same prefix."""

    remote = True

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = artifact_filesystem(self.url)

    def _key(self, run_id: str, name: str) -> tuple[str, str]:
        relative = check_artifact_name(name)
        return relative, f"{self._run_key(run_id)}/{relative}"

    def _run_key(self, run_id: str) -> str:
        return f"{self.root}/{check_run_id(run_id)}"

    def _fresh(self, path: str) -> None:
        self.fs.invalidate_cache(path)

    def _failed(self, what: str, exc: Exception) -> ArtifactStoreError:
        return ArtifactStoreError(f"artifact store {self.url}: cannot {what}: {exc}")

    def put_file(self, run_id: str, name: str, source: Path) -> tuple[str, int]:
        relative, key = self._key(run_id, name)
        files = (
            [(f, f"{key}/{f.relative_to(source).as_posix()}") for f in sorted(source.rglob("*"))]
            if source.is_dir()
            else [(source, key)]
        )
        total = 0
        try:
            for path, target in files:
                if path.is_file():
                    self.fs.put_file(str(path), target)
                    total += path.stat().st_size
        except Exception as exc:  # s3fs raises OSError, botocore its own errors
            raise self._failed(f"upload {source} as {relative}", exc) from exc
        finally:
            self._fresh(self._run_key(run_id))
        return relative, total

    def put_bytes(self, run_id: str, name: str, data: bytes) -> tuple[str, int]:
        relative, key = self._key(run_id, name)
        try:
            self.fs.pipe_file(key, data)
        except Exception as exc:
            raise self._failed(f"write {relative}", exc) from exc
        finally:
            self._fresh(self._run_key(run_id))
        return relative, len(data)

    def size(self, run_id: str, name: str) -> int | None:
        key = self._key(run_id, name)[1]
        self._fresh(key)
        try:
            info = self.fs.info(key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._failed(f"read {key}", exc) from exc
        if info.get("type") != "file":
            return None
        return int(info.get("size") or 0)

    def iter_bytes(self, run_id: str, name: str, chunk: int = _CHUNK) -> Iterator[bytes]:
        key = self._key(run_id, name)[1]
        try:
            source = self.fs.open(key, "rb")
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise self._failed(f"read {key}", exc) from exc
        with source:
            while block := source.read(chunk):
                yield block

    def _files(self, run_id: str) -> dict[str, int]:
        prefix = self._run_key(run_id)
        self._fresh(prefix)
        try:
            found = self.fs.find(prefix, detail=True)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            raise self._failed(f"list {prefix}", exc) from exc
        out = {}
        for path, info in found.items():
            if info.get("type", "file") == "file" and path.startswith(prefix + "/"):
                out[path[len(prefix) + 1 :]] = int(info.get("size") or 0)
        return out

    def list_run(self, run_id: str) -> list[str]:
        return sorted(self._files(run_id))

    def run_size(self, run_id: str) -> int:
        return sum(self._files(run_id).values())

    def run_ids(self) -> list[str]:
        self._fresh(self.root)
        try:
            entries = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._failed(f"list {self.root}", exc) from exc
        names = {str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries}
        return sorted(n for n in names if RUN_ID.fullmatch(n))

    def has_run(self, run_id: str) -> bool:
        return bool(self._files(run_id))

    def delete_run(self, run_id: str) -> None:
        prefix = self._run_key(run_id)
        keys = [f"{prefix}/{name}" for name in self._files(run_id)]
        try:
            if keys:
                self.fs.rm(keys)
            self._fresh(prefix)
            if self.fs.exists(prefix):  # a filesystem with real folders keeps them empty
                self.fs.rm(prefix, recursive=True)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._failed(f"delete the folder of run {run_id}", exc) from exc
        finally:
            self._fresh(prefix)


def open_artifact_store(location: StoreLocation) -> ArtifactStore:
    """The artifact store of a resolved store location."""
    if location.artifact_remote is not None:
        return RemoteArtifactStore(location.artifact_remote)
    return LocalArtifactStore(location.artifact_root)


def artifact_store_for(root: str) -> ArtifactStore:
    """The artifact store of a root given as a string (``location.artifact_url``, or a
    folder or fsspec URL from the command line)."""
    from modelboard.store.location import _local_root, is_remote_url

    if is_remote_url(root):
        return RemoteArtifactStore(root)
    return LocalArtifactStore(_local_root(root))
