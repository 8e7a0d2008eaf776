"""Copying a whole store into another one: ``modelboard migrate SRC DST``.

Every table of ``modelboard.store.tables.metadata`` is copied column for column, except
``modelboard_meta`` (both stores must be at the same schema version: DST's schema is created or
upgraded, a SRC older than this code is refused) and the run summaries, which DST writes from
the values it receives (``modelboard.store.run_summary``). A table with a ``run_id`` column
belongs to runs and is copied with its run; any other table (and rows whose ``run_id`` is NULL)
is copied row by row by primary key.

Order, so that "present" means complete: runs go in batches; for each batch the artifact files
are copied first, then ONE DST transaction inserts every row of the batch's runs (its leftover
rows of runs DST does not have, such as a deleted run's, are removed first). A run is present in
DST only once that transaction committed, so a migrate killed at any point (SIGKILL included)
leaves whole runs, and the next one copies the rest; files of a batch that never committed are
written again.

Autoincrement ids (``metrics.id``, ``gradients.id``) are not kept: DST numbers the rows itself,
in SRC's order, so DST's own sequences stay right and a store can be merged into one that
already holds runs. Hashes leave those ids out.

A run's hash is the sha256 of its canonical content: its ``runs`` row, its rows of every other
run table (columns by name, values by column type, rows in id order or sorted by primary key),
and its artifacts with the sha256 of each file's bytes. A run DST already holds with the same
hash is "present"; with another hash it is a conflict, and nothing is copied.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from sqlalchemy import Boolean, Connection, Float, Integer, Table, delete, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DatabaseError, DBAPIError, InterfaceError, OperationalError

from modelboard.errors import ArtifactPathError, ModelboardError, StoreUnavailableError
from modelboard.store import tables
from modelboard.store.artifact_paths import check_artifact_name, is_run_id
from modelboard.store.artifact_store import ArtifactStoreError, artifact_filesystem
from modelboard.store.engine import READ_ONLY, make_engine
from modelboard.store.location import StoreLocation, is_remote_url, resolve_location
from modelboard.store.migrations import check_schema, ensure_schema, read_schema_version
from modelboard.store.run_summary import build_summaries
from modelboard.store.tables import STORE_SCHEMA_VERSION

__all__ = [
    "MigrationError",
    "MigrationConflictError",
    "MigrationReport",
    "TableCount",
    "migrate",
    "run_digests",
    "DEFAULT_BATCH_RUNS",
]

DEFAULT_BATCH_RUNS = 100
_READ_CHUNK = 500  # run ids per SELECT ... IN (...) when hashing
_COPY_BLOCK = 1 << 20
_PROGRESS_EVERY_S = 1.0
MISSING_FILE = "missing"

Progress = Callable[[str], None]


class MigrationError(ModelboardError):
    """A migrate that cannot start or go on; the message says why and what to do."""


class MigrationConflictError(MigrationError):
    """DST holds runs (or rows) with SRC's ids but other content; nothing was copied."""

    def __init__(self, message: str, run_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.run_ids = list(run_ids)


# -- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """How one table is copied and hashed."""

    table: Table
    key: str | None  # the column naming the run ("id" for runs, "run_id"), None: store-level
    surrogate: str | None  # an autoincrement id column DST numbers itself
    columns: tuple[str, ...]  # the columns copied and hashed (the surrogate left out)
    order: tuple[str, ...]  # sort columns of the rows (in Python: collations differ)
    types: tuple[Any, ...] = ()  # the column types of ``columns``
    order_at: tuple[int, ...] = ()  # the places of ``order`` in ``columns``

    @property
    def name(self) -> str:
        return self.table.name


def _surrogate(table: Table) -> str | None:
    pk = list(table.primary_key.columns)
    if len(pk) == 1 and isinstance(pk[0].type, Integer) and pk[0].autoincrement in (True, "auto"):
        return pk[0].name if table is not tables.runs else None
    return None


#: Tables derived from the others (run summaries): not copied nor hashed; DST writes its own.
_DERIVED = (tables.run_summaries, tables.summary_layouts)


def _specs() -> list[_Spec]:
    """Every table but ``modelboard_meta``, in foreign-key order (a table before the tables
    that refer to it)."""
    out = []
    for table in tables.metadata.sorted_tables:
        if table is tables.meta or table in _DERIVED:
            continue
        surrogate = _surrogate(table)
        columns = tuple(c.name for c in table.columns if c.name != surrogate)
        pk = [c.name for c in table.primary_key.columns if c.name != surrogate]
        key = "id" if table is tables.runs else ("run_id" if "run_id" in table.c else None)
        order = tuple(pk) if pk and surrogate is None else columns
        types = tuple(table.c[c].type for c in columns)
        order_at = tuple(columns.index(c) for c in order)
        out.append(_Spec(table, key, surrogate, columns, order, types, order_at))
    return out


def _run_specs(specs: Sequence[_Spec]) -> list[_Spec]:
    return [s for s in specs if s.key is not None]


def _loose_specs(specs: Sequence[_Spec]) -> list[_Spec]:
    """Tables (or their rows with a NULL ``run_id``) that are copied by primary key."""
    return [s for s in specs if s.key is None or (s.key == "run_id" and s.table.c.run_id.nullable)]


def _canonical(value: Any, column_type: Any) -> Any:
    """A value as the hash sees it: by column type, so SQLite's and PostgreSQL's agree."""
    if value is None:
        return None
    if isinstance(column_type, Boolean):
        return bool(value)
    if isinstance(column_type, Float):
        return float(value)
    if isinstance(column_type, Integer):
        return int(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value if isinstance(value, (int, float, str)) else str(value)


def _encode(spec: _Spec, row: Sequence[Any]) -> str:
    return json.dumps(
        [_canonical(v, t) for v, t in zip(row, spec.types, strict=True)], separators=(",", ":")
    )


def _sort_key(spec: _Spec, row: Sequence[Any]) -> tuple[Any, ...]:
    """Rows sorted in Python by their primary key: SQL ORDER BY on text follows each
    database's collation, and SQLite's and PostgreSQL's differ."""
    return tuple(
        (True, "") if row[i] is None else (False, _canonical(row[i], spec.types[i]))
        for i in spec.order_at
    )


# -- artifact files ---------------------------------------------------------------------------


class _LocalFiles:
    """The few fsspec calls migrate makes, for a local folder when fsspec is not installed."""

    sep = "/"
    protocol = ("file", "local")

    def isdir(self, path: str) -> bool:
        return Path(path).is_dir()

    def isfile(self, path: str) -> bool:
        return Path(path).is_file()

    def find(self, path: str) -> list[str]:
        return sorted(str(p) for p in Path(path).rglob("*") if p.is_file())

    def makedirs(self, path: str, exist_ok: bool = True) -> None:
        Path(path).mkdir(parents=True, exist_ok=exist_ok)

    def open(self, path: str, mode: str = "rb") -> IO[bytes]:
        return open(path, mode)  # noqa: SIM115 - the caller closes it


def _filesystem(root: str) -> tuple[Any, str]:
    """``(filesystem, path)`` for an artifact root: a folder or any fsspec URL."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        if "://" in root:
            raise MigrationError(
                f"artifact root {root} is a URL and needs fsspec: pip install "
                '"modelboard[s3]" (or fsspec with the filesystem for that URL)'
            ) from None
        return _LocalFiles(), str(Path(root).expanduser().resolve())
    if "://" not in root:
        root = str(Path(root).expanduser().resolve())
    try:
        if is_remote_url(root):  # with MODELBOARD_ARTIFACT_OPTIONS, as the store opens it
            fs, path = artifact_filesystem(root)
        else:
            fs, path = url_to_fs(root)
    except (ImportError, ValueError, ArtifactStoreError) as exc:
        raise MigrationError(f"cannot open artifact root {root}: {exc}") from exc
    return fs, str(path).rstrip("/")


def _artifact_name(run_id: str, name: str) -> str:
    """``<run_id>/<name>`` when both stay inside the run's folder; ``MigrationError`` else."""
    try:
        if not is_run_id(run_id):
            raise ArtifactPathError(f"{run_id!r:.40} is not a run id")
        relative = check_artifact_name(name)
    except ArtifactPathError as exc:
        raise MigrationError(
            f"the source store names artifact {name!r:.120} of run {run_id!r:.40}, which would "
            f"leave the run's artifact folder ({exc}); the store may have been edited by hand. "
            "Nothing of that batch was copied; remove the row (modelboard rm) and migrate again"
        ) from None
    return f"{run_id}/{relative}"


@dataclass
class _Files:
    fs: Any
    root: str

    def full(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def members(self, relative: str) -> list[str] | None:
        """The files of an artifact relative to it ('' for a plain file); None if missing."""
        path = self.full(relative)
        if self.fs.isfile(path):
            self._check_confined(relative, [""])
            return [""]
        if self.fs.isdir(path):
            prefix = path.rstrip("/") + "/"
            found = [str(p) for p in self.fs.find(path)]
            members = sorted(p[len(prefix) :] if p.startswith(prefix) else p for p in found)
            self._check_confined(relative, members)
            return members
        return None

    def _check_confined(self, relative: str, members: Sequence[str]) -> None:
        """On a local disk, links must not lead out of the run's folder (a file elsewhere
        would be copied into DST)."""
        if "file" not in _protocols(self.fs):
            return
        base = os.path.realpath(self.full(relative.split("/", 1)[0]))
        for member in members:
            real = os.path.realpath(self.full(_join(relative, member)))
            if real != base and not real.startswith(base + os.sep):
                raise MigrationError(
                    f"artifact {_join(relative, member)} under {self.root} is a link that leads "
                    f"out of its run's folder (to {real}); refusing to copy it. Replace the "
                    "link by the file itself and migrate again"
                )


def _join(relative: str, member: str) -> str:
    return f"{relative}/{member}" if member else relative


def _digest_stream(reader: IO[bytes], writer: IO[bytes] | None = None) -> str:
    h = hashlib.sha256()
    while block := reader.read(_COPY_BLOCK):
        h.update(block)
        if writer is not None:
            writer.write(block)
    return h.hexdigest()


def _artifact_digest(files: _Files, relative: str, copy_to: _Files | None = None) -> str:
    """sha256 of an artifact's bytes (a folder: of its files' names and digests), copying it to
    ``copy_to`` on the way; ``MISSING_FILE`` when SRC has no such file."""
    members = files.members(relative)
    if members is None:
        return MISSING_FILE
    digests = []
    for member in members:
        source = files.full(_join(relative, member))
        with files.fs.open(source, "rb") as reader:
            if copy_to is None:
                digests.append((member, _digest_stream(reader)))
                continue
            target = copy_to.full(_join(relative, member))
            copy_to.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            with copy_to.fs.open(target, "wb") as writer:
                digests.append((member, _digest_stream(reader, writer)))
    if members == [""]:
        return digests[0][1]
    return hashlib.sha256(json.dumps(digests).encode()).hexdigest()


# -- reading and hashing runs -----------------------------------------------------------------

_Content = dict[str, list[tuple[Any, ...]]]  # table name -> rows (spec.columns order)


def _read_runs(conn: Connection, specs: Sequence[_Spec], ids: Sequence[str]) -> dict[str, _Content]:
    """Every row of the runs ``ids``, by run and table, in canonical order."""
    out: dict[str, _Content] = {i: {s.name: [] for s in specs} for i in ids}
    for spec in specs:
        assert spec.key is not None
        t = spec.table
        query = select(*(t.c[c] for c in spec.columns)).where(t.c[spec.key].in_(list(ids)))
        if spec.surrogate is not None:
            query = query.order_by(t.c[spec.surrogate])
        where = spec.columns.index(spec.key)
        for row in conn.execute(query):
            out[row[where]][spec.name].append(tuple(row))
        if spec.surrogate is None:
            for content in out.values():
                content[spec.name].sort(key=lambda r, s=spec: _sort_key(s, r))  # type: ignore[misc]
    return out


def _artifact_paths(content: _Content) -> list[tuple[str, str]]:
    spec_columns = tuple(c.name for c in tables.artifacts.columns)
    run_at, path_at = spec_columns.index("run_id"), spec_columns.index("path")
    return [(row[run_at], row[path_at]) for row in content.get(tables.artifacts.name, [])]


class _Digest(NamedTuple):
    """A run's hash in two parts, so a difference can be told: rows or artifact files."""

    rows: str
    files: str

    @property
    def full(self) -> str:
        return hashlib.sha256(f"{self.rows}:{self.files}".encode()).hexdigest()

    def difference(self, other: _Digest | None) -> str:
        if other is None:
            return "missing"
        return "rows" if self.rows != other.rows else "artifact files"


def _run_digest(specs: Sequence[_Spec], content: _Content, files: dict[str, str]) -> _Digest:
    h = hashlib.sha256()
    for spec in sorted(specs, key=lambda s: s.name):
        h.update(json.dumps([spec.name, spec.columns]).encode())
        for row in content[spec.name]:
            h.update(_encode(spec, row).encode())
            h.update(b"\n")
    listing = json.dumps(sorted(files.items())).encode()
    return _Digest(h.hexdigest(), hashlib.sha256(listing).hexdigest())


def _digests(
    engine: Engine,
    files: _Files,
    specs: Sequence[_Spec],
    ids: Sequence[str],
    counts: dict[str, dict[str, int]],
    say: Progress | None = None,
    what: str = "hashed",
) -> dict[str, _Digest]:
    """Run hashes of ``ids``, read in chunks; ``counts`` gains each run's rows per table;
    ``say`` hears how far it got about every second."""
    out: dict[str, _Digest] = {}
    last_said = time.monotonic()
    for chunk in _chunks(ids, _READ_CHUNK):
        if say is not None and time.monotonic() - last_said >= _PROGRESS_EVERY_S:
            say(f"{what} {len(out)}/{len(ids)} runs")
            last_said = time.monotonic()
        with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            contents = _read_runs(conn, specs, chunk)
        for run_id, content in contents.items():
            counts[run_id] = _count(content)
            digests = {
                path: _artifact_digest(files, _artifact_name(run, path))
                for run, path in _artifact_paths(content)
            }
            out[run_id] = _run_digest(specs, content, digests)
    return out


def run_digests(store: str | os.PathLike[str], artifact_root: str | None = None) -> dict[str, str]:
    """Every run's hash in a store, as ``migrate`` computes it (for checks and tests)."""
    location = resolve_location(store)
    engine = _open_source(location)
    try:
        specs = _run_specs(_specs())
        with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            ids = [r[0] for r in conn.execute(select(tables.runs.c.id))]
        fs, root = _filesystem(artifact_root or location.artifact_url)
        digests = _digests(engine, _Files(fs, root), specs, ids, {})
        return {run_id: digest.full for run_id, digest in digests.items()}
    finally:
        engine.dispose()


def _count(content: _Content) -> dict[str, int]:
    return {name: len(rows) for name, rows in content.items()}


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- rows outside runs --------------------------------------------------------------------------


def _loose_rows(conn: Connection, spec: _Spec) -> dict[str, tuple[Any, ...]]:
    """Rows copied by primary key, by their encoded key (a surrogate-keyed table: by content);
    compare them with ``_encode``."""
    t = spec.table
    query = select(*(t.c[c] for c in spec.columns))
    if spec.key == "run_id":
        query = query.where(t.c.run_id.is_(None))
    key_columns = [c for c in spec.order if spec.surrogate is None] or list(spec.columns)
    at = [spec.columns.index(c) for c in key_columns]
    out = {}
    for row in conn.execute(query):
        key = json.dumps([_canonical(row[i], t.c[spec.columns[i]].type) for i in at])
        out[key] = tuple(row)
    return out


# -- opening the stores -------------------------------------------------------------------------


def _unavailable(location: StoreLocation, exc: Exception) -> StoreUnavailableError:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return StoreUnavailableError(
        f"cannot open the store at {location.describe()}: {reason}. Check that the server is "
        "running and the URL is right"
    )


def _sqlite_file(location: StoreLocation) -> Path | None:
    if not location.is_sqlite:
        return None
    database = make_url(location.url).database
    return Path(database).expanduser().resolve() if database and database != ":memory:" else None


def _open_source(location: StoreLocation) -> Engine:
    """SRC read-only: nothing in it is created, migrated or written."""
    database = _sqlite_file(location)
    if database is not None and not database.exists():
        raise MigrationError(f"no modelboard store at {location.describe()} (the source)")
    engine = make_engine(location.url, create=False)
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            version = read_schema_version(conn)
        if version is not None and version < STORE_SCHEMA_VERSION:
            raise MigrationError(
                f"the source store at {location.describe()} has schema version {version}, "
                f"older than this modelboard's {STORE_SCHEMA_VERSION}, and migrate never writes "
                "to its source: upgrade it by opening it once with this modelboard "
                "(mb.Tracker(SRC)), then migrate again"
            )
        check_schema(engine, location.describe())
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        engine.dispose()
        raise _unavailable(location, exc) from exc
    except ModelboardError:
        engine.dispose()
        raise
    return engine


def _open_destination(location: StoreLocation, create: bool) -> Engine | None:
    """DST with its schema created or upgraded; for a dry run (``create=False``) None where no
    store exists yet, and nothing is written."""
    database = _sqlite_file(location)
    if not create and database is not None and not database.exists():
        return None
    engine = make_engine(location.url, create=create)
    try:
        if create:
            ensure_schema(engine, location.describe())
        else:
            with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
                version = read_schema_version(conn)
            if version is None:
                engine.dispose()
                return None
            check_schema(engine, location.describe())
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        engine.dispose()
        raise _unavailable(location, exc) from exc
    except ModelboardError:
        engine.dispose()
        raise
    return engine


# -- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableCount:
    """Rows of one table that belong to SRC's migrated runs (or rows), in SRC and in DST."""

    table: str
    source: int
    destination: int

    @property
    def equal(self) -> bool:
        return self.source == self.destination


@dataclass
class MigrationReport:
    """What a migrate did (or, dry run, would do) and what its verification found."""

    source: str
    destination: str
    dry_run: bool
    source_runs: int = 0
    to_copy: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, status
    copied: int = 0
    present: int = 0
    skipped_running: list[str] = field(default_factory=list)
    running_copied: list[str] = field(default_factory=list)
    loose_rows_copied: int = 0
    counts: list[TableCount] = field(default_factory=list)
    verified_runs: int = 0
    mismatched: list[str] = field(default_factory=list)
    mismatch_kinds: dict[str, str] = field(default_factory=dict)  # rows, artifact files
    missing_files: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # deleted from SRC during the migrate
    pending_journals: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every count and every run hash agreed (always for a dry run)."""
        return not self.mismatched and all(c.equal for c in self.counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "dry_run": self.dry_run,
            "source_runs": self.source_runs,
            "to_copy": [{"id": i, "name": n, "status": s} for i, n, s in self.to_copy],
            "copied": self.copied,
            "present": self.present,
            "skipped_running": self.skipped_running,
            "running_copied": self.running_copied,
            "loose_rows_copied": self.loose_rows_copied,
            "counts": {c.table: [c.source, c.destination] for c in self.counts},
            "verified_runs": self.verified_runs,
            "mismatched": self.mismatch_kinds,
            "missing_files": self.missing_files,
            "vanished": self.vanished,
            "pending_journals": self.pending_journals,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
        }


# -- migrate ----------------------------------------------------------------------------------


def _same_store(a: StoreLocation, b: StoreLocation) -> bool:
    fa, fb = _sqlite_file(a), _sqlite_file(b)
    if fa is not None or fb is not None:
        return fa == fb
    return make_url(a.url) == make_url(b.url)


def _insert(conn: Connection, specs: Sequence[_Spec], contents: Iterable[_Content]) -> None:
    batches: dict[str, list[dict[str, Any]]] = {s.name: [] for s in specs}
    for content in contents:
        for spec in specs:
            batches[spec.name].extend(
                dict(zip(spec.columns, row, strict=True)) for row in content[spec.name]
            )
    for spec in specs:  # foreign-key order (none yet): one transaction, so order is free
        if batches[spec.name]:
            conn.execute(spec.table.insert(), batches[spec.name])


def _remove_leftovers(conn: Connection, specs: Sequence[_Spec], ids: Sequence[str]) -> None:
    """Rows DST holds for runs it does not have (a deleted run's, what gc removes)."""
    for spec in reversed(specs):
        if spec.key == "run_id":
            conn.execute(delete(spec.table).where(spec.table.c.run_id.in_(list(ids))))


def _conflict_message(
    ids: Sequence[str], files_only: Sequence[str], running: set[str], dst: str, files: _Files
) -> str:
    shown = ", ".join(i[:12] for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
    hint = ""
    if running & set(ids):
        hint = " Some are still running in the source: --skip-running leaves them out."
    if files_only:
        hint += (
            f" For {len(files_only)} of them only the artifact files differ or are missing at "
            f"the destination's artifact root {files.root} (copied before to another "
            "--dst-artifacts?)."
        )
    return (
        f"{len(ids)} run(s) exist in both stores with different content ({shown}); nothing "
        f"was copied.{hint} To replace DST's copy, delete it there (modelboard rm --store "
        f"{dst} RUN) and migrate again"
    )


def migrate(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    source_artifacts: str | None = None,
    destination_artifacts: str | None = None,
    dry_run: bool = False,
    skip_running: bool = False,
    batch_runs: int = DEFAULT_BATCH_RUNS,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copy every run, row and artifact of store ``source`` into ``destination``, then verify.

    Stores are folders or database URLs as ``--store`` takes them; artifact roots default to
    each store's resolved artifact root and may be fsspec URLs (``s3://bucket/prefix``).
    ``MigrationConflictError`` (nothing copied) when DST holds a run with the same id and other
    content; a second migrate copies nothing. ``progress`` receives lines for a person.
    """
    started = time.monotonic()
    say = progress or (lambda _line: None)
    if batch_runs < 1:
        raise MigrationError(f"batch size must be at least 1 run, not {batch_runs}")
    src_loc, dst_loc = resolve_location(source), resolve_location(destination)
    if _same_store(src_loc, dst_loc):
        raise MigrationError(f"source and destination are the same store ({src_loc.describe()})")
    report = MigrationReport(src_loc.describe(), dst_loc.describe(), dry_run)
    report.pending_journals = _pending_journals(src_loc)
    if report.pending_journals:
        say(
            f"warning: the source holds {report.pending_journals} journal file(s): writes its "
            "database refused, not in it yet, so not copied. Open the source with a Tracker "
            "(it replays them) and migrate again to copy them"
        )
    src_engine = _open_source(src_loc)
    dst_engine: Engine | None = None
    try:
        dst_engine = _open_destination(dst_loc, create=not dry_run)
        src_fs, src_root = _filesystem(source_artifacts or src_loc.artifact_url)
        dst_fs, dst_root = _filesystem(destination_artifacts or dst_loc.artifact_url)
        src_files, dst_files = _Files(src_fs, src_root), _Files(dst_fs, dst_root)
        if not dry_run and "file" in _protocols(dst_fs):
            Path(dst_root).mkdir(mode=0o700, parents=True, exist_ok=True)  # as a store makes it
        same_root = src_root == dst_root and set(_protocols(src_fs)) & set(_protocols(dst_fs))
        _run(
            report,
            src_engine,
            dst_engine,
            src_files,
            None if same_root else dst_files,
            dst_files,
            skip_running=skip_running,
            batch_runs=batch_runs,
            say=say,
            dst_name=dst_loc.describe() if "://" in os.fspath(destination) else str(destination),
        )
    finally:
        src_engine.dispose()
        if dst_engine is not None:
            dst_engine.dispose()
    report.seconds = time.monotonic() - started
    return report


def _pending_journals(location: StoreLocation) -> int:
    """Journal files beside SRC (``modelboard.store.journal``: always local)."""
    try:
        folder = location.journal_folder
        return len(list(folder.glob("*.jsonl"))) if folder.is_dir() else 0
    except OSError:
        return 0


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ("file",))
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _run(
    report: MigrationReport,
    src: Engine,
    dst: Engine | None,
    src_files: _Files,
    copy_files: _Files | None,
    dst_files: _Files,
    *,
    skip_running: bool,
    batch_runs: int,
    say: Progress,
    dst_name: str,
) -> None:
    specs = _specs()
    run_specs = _run_specs(specs)
    r = tables.runs
    with src.connect().execution_options(**{READ_ONLY: True}) as conn:
        src_runs = [
            (row.id, row.name, row.status)
            for row in conn.execute(
                select(r.c.id, r.c.name, r.c.status).order_by(r.c.created, r.c.id)
            )
        ]
        src_loose = {s.name: _loose_rows(conn, s) for s in _loose_specs(specs)}
    report.source_runs = len(src_runs)
    by_name = {s.name: s for s in specs}
    running = {i for i, _n, status in src_runs if status == "running"}
    dst_ids: set[str] = set()
    dst_loose: dict[str, dict[str, tuple[Any, ...]]] = {name: {} for name in src_loose}
    if dst is not None:
        with dst.connect().execution_options(**{READ_ONLY: True}) as conn:
            dst_ids = {row[0] for row in conn.execute(select(r.c.id))}
            dst_loose = {s.name: _loose_rows(conn, s) for s in _loose_specs(specs)}

    # 1. runs both stores hold: equal (present) or a conflict, which stops everything
    src_counts: dict[str, dict[str, int]] = {}  # by run, rows per table
    dst_counts: dict[str, dict[str, int]] = {}
    overlap = [i for i, _n, _s in src_runs if i in dst_ids]
    if overlap:
        say(f"comparing {len(overlap)} run(s) the destination already holds")
    src_digests = _digests(src, src_files, run_specs, overlap, src_counts, say, "compared (source)")
    dst_digests = (
        _digests(dst, dst_files, run_specs, overlap, dst_counts, say, "compared (destination)")
        if dst is not None
        else {}
    )
    differing = [i for i in overlap if src_digests[i] != dst_digests[i]]
    if skip_running:
        report.skipped_running = [i for i in differing if i in running]
        differing = [i for i in differing if i not in running]
    loose_conflicts = [
        f"{name}:{key}"
        for name, rows in src_loose.items()
        for key, row in rows.items()
        if key in dst_loose[name]
        and _encode(by_name[name], dst_loose[name][key]) != _encode(by_name[name], row)
    ]
    if differing or loose_conflicts:
        if differing:
            files_only = [i for i in differing if src_digests[i].rows == dst_digests[i].rows]
            raise MigrationConflictError(
                _conflict_message(differing, files_only, running, dst_name, dst_files),
                differing,
            )
        raise MigrationConflictError(
            f"{len(loose_conflicts)} row(s) exist in both stores with different content "
            f"({', '.join(loose_conflicts[:3])}); nothing was copied",
            [],
        )
    report.present = len([i for i in overlap if i not in report.skipped_running])

    # 2. the plan
    to_copy = [
        (i, n, s)
        for i, n, s in src_runs
        if i not in dst_ids and not (skip_running and s == "running")
    ]
    if skip_running:
        report.skipped_running += [
            i for i, _n, s in src_runs if i not in dst_ids and s == "running"
        ]
    report.to_copy = to_copy
    report.running_copied = [i for i, _n, s in to_copy if s == "running"]
    loose_missing = {
        name: [row for key, row in rows.items() if key not in dst_loose[name]]
        for name, rows in src_loose.items()
    }
    if report.dry_run or dst is None:
        return
    if report.running_copied:
        say(
            f"warning: {len(report.running_copied)} run(s) are still running in the source; "
            "they are copied as they stand now (--skip-running leaves them out)"
        )

    # 3. rows outside runs, then the runs batch by batch
    with dst.begin() as conn:
        for name, rows in loose_missing.items():
            if rows:
                spec = by_name[name]
                conn.execute(
                    spec.table.insert(), [dict(zip(spec.columns, row, strict=True)) for row in rows]
                )
                report.loose_rows_copied += len(rows)
    ids = [i for i, _n, _s in to_copy]
    copied_digests: dict[str, _Digest] = {}
    last_said = time.monotonic()
    copied_ids: list[str] = []
    done = 0
    for chunk in _chunks(ids, batch_runs):
        with src.connect().execution_options(**{READ_ONLY: True}) as conn:
            contents = _read_runs(conn, run_specs, chunk)
        done += len(chunk)
        batch = [i for i in chunk if contents[i][tables.runs.name]]  # deleted meanwhile: gone
        report.vanished += [i for i in chunk if not contents[i][tables.runs.name]]
        for run_id in batch:
            content = contents[run_id]
            src_counts[run_id] = _count(content)
            digests = {}
            for run, path in _artifact_paths(content):
                relative = _artifact_name(run, path)
                digests[path] = _artifact_digest(src_files, relative, copy_files)
                if digests[path] == MISSING_FILE:
                    report.missing_files.append(relative)
            copied_digests[run_id] = _run_digest(run_specs, content, digests)
        try:
            with dst.begin() as conn:
                _remove_leftovers(conn, run_specs, batch)
                _insert(conn, run_specs, [contents[i] for i in batch])
                build_summaries(conn, batch)  # from the values just written
        except DBAPIError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
            raise MigrationError(
                f"the destination refused the rows of runs {chunk[0][:12]}..{chunk[-1][:12]} "
                f"({reason}); that batch was not written, {report.copied} run(s) were. Fix the "
                "cause and migrate again: it goes on where it stopped"
            ) from exc
        report.copied += len(batch)
        copied_ids += batch
        if time.monotonic() - last_said >= _PROGRESS_EVERY_S or done == len(ids):
            say(f"copied {report.copied}/{len(ids)} runs")
            last_said = time.monotonic()
    ids = copied_ids
    if report.vanished:
        say(f"{len(report.vanished)} run(s) were deleted from the source while it was copied")
    if report.missing_files:
        say(
            f"warning: {len(report.missing_files)} artifact file(s) named in the source are "
            f"missing there (e.g. {report.missing_files[0]}); their rows were copied"
        )

    # 4. verification: DST read back, against what was read from SRC
    if ids:
        say(f"verifying {len(ids)} copied run(s)")
    dst_digests.update(_digests(dst, dst_files, run_specs, ids, dst_counts, say, "verified"))
    src_digests.update(copied_digests)
    checked = [i for i in overlap if i not in report.skipped_running] + ids
    report.verified_runs = len(checked)
    report.mismatched = [i for i in checked if src_digests[i] != dst_digests.get(i)]
    report.mismatch_kinds = {
        i: src_digests[i].difference(dst_digests.get(i)) for i in report.mismatched
    }
    with dst.connect().execution_options(**{READ_ONLY: True}) as conn:
        dst_loose_after = {s.name: _loose_rows(conn, s) for s in _loose_specs(specs)}
    counts = []
    for spec in specs:
        source_n = sum(src_counts[i].get(spec.name, 0) for i in checked)
        source_n += len(src_loose.get(spec.name, {}))
        dest_n = sum(dst_counts.get(i, {}).get(spec.name, 0) for i in checked) + sum(
            1
            for key, row in src_loose.get(spec.name, {}).items()
            if key in dst_loose_after[spec.name]
            and _encode(spec, dst_loose_after[spec.name][key]) == _encode(spec, row)
        )
        counts.append(TableCount(spec.name, source_n, dest_n))
    report.counts = counts
