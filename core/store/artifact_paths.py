"""Where artifacts may live: every path is confined to its run's folder under the artifact root.

Run ids are the 32 lower-case hex digits modelboard writes; an id read from a store that is not
one (a crafted ``../../victim`` in a shared database) never becomes a path. Artifact names are
relative paths inside the run's folder: absolute paths, ``..`` (also percent-encoded, also with
backslashes) and links that lead outside are refused. The rule is the same for a local folder and
an object store (``check_artifact_name`` gives the key inside the run's prefix); the web ui
serves artifacts through it too.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import unquote

from modelboard.errors import ArtifactPathError

__all__ = [
    "RUN_ID",
    "is_run_id",
    "check_run_id",
    "run_folder",
    "check_artifact_name",
    "requested_artifact_name",
    "confined_artifact_path",
    "requested_artifact_path",
]

RUN_ID = re.compile(r"[0-9a-f]{32}")


def is_run_id(value: object) -> bool:
    """True for an id modelboard writes: 32 lower-case hex digits."""
    return isinstance(value, str) and RUN_ID.fullmatch(value) is not None


def check_run_id(run_id: str) -> str:
    """``run_id`` when it is one of our ids; ``ArtifactPathError`` for anything else."""
    if not is_run_id(run_id):
        raise ArtifactPathError(
            f"run id {run_id!r:.80} is not a modelboard id (32 hex digits): refusing to use it "
            "as a path; the store may have been edited by hand"
        )
    return run_id


def run_folder(artifact_root: Path, run_id: str) -> Path:
    """The artifact folder of run ``run_id`` (not created)."""
    return Path(artifact_root) / check_run_id(run_id)


def _decoded(name: str) -> str:
    """``name`` with percent-encoding undone, repeatedly (``%252e`` -> ``%2e`` -> ``.``)."""
    decoded = name
    for _ in range(5):
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
    return decoded


def _checked_parts(text: str, shown: str) -> list[str]:
    if not text or "\x00" in text:
        raise ArtifactPathError(f"artifact name {shown!r} is empty or holds a NUL character")
    posix, windows = PurePosixPath(text.replace("\\", "/")), PureWindowsPath(text)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or windows.root:
        raise ArtifactPathError(
            f"artifact name {shown!r} is an absolute path; give a name relative to the run's "
            "artifact folder, such as 'plots/loss.png'"
        )
    parts = [p for p in posix.parts if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ArtifactPathError(
            f"artifact name {shown!r} leaves the run's artifact folder ('..'); give a name "
            "inside it, such as 'plots/loss.png'"
        )
    return parts


def check_artifact_name(name: str) -> str:
    """The normalised relative name (``/``-separated) of artifact ``name`` inside its run's
    folder or prefix.

    Refused with ``ArtifactPathError``: an empty name, NUL, an absolute path or drive, any
    ``..`` part, also when it is percent-encoded (``%2e%2e``) or written with backslashes.
    """
    text = str(name)
    decoded = _decoded(text)
    if decoded != text:
        _checked_parts(decoded, text)  # a name that decodes to a traversal is one
    return "/".join(_checked_parts(text, text))


def confined_artifact_path(folder: Path, name: str) -> tuple[str, Path]:
    """``(relative name, full path)`` of artifact ``name`` inside a run's local ``folder``.

    Refused with ``ArtifactPathError``: what ``check_artifact_name`` refuses, and a path that
    resolves (through links) outside ``folder``.
    """
    relative = check_artifact_name(name)
    base = Path(folder).resolve()
    target = (base / Path(*relative.split("/"))).resolve()
    if target != base and base not in target.parents:
        raise ArtifactPathError(
            f"artifact name {str(name)!r} resolves outside the run's artifact folder (a link?)"
        )
    return relative, base / Path(*relative.split("/"))


def requested_artifact_name(run_id: str, name: str) -> str:
    """The artifact a request for ``<run_id>/<name>`` may read, as a checked relative name,
    with percent-encoding undone (repeatedly, so ``%252e%252e`` is caught too);
    ``ArtifactPathError`` otherwise."""
    check_run_id(run_id)
    return check_artifact_name(_decoded(name))


def requested_artifact_path(artifact_root: Path, run_id: str, name: str) -> Path:
    """The file a request for ``<run_id>/<name>`` may read, with percent-encoding undone
    (repeatedly, so ``%252e%252e`` is caught too); ``ArtifactPathError`` otherwise."""
    return confined_artifact_path(run_folder(artifact_root, run_id), _decoded(name))[1]
