"""The journal: what a run's writer could not store, kept as JSON lines beside the store.

A full disk or a lost database server must not lose a run. When the store keeps refusing, the
writer appends what it holds to ``<store>/journal/<run id>.jsonl`` (``location.journal_folder``:
for a folder store, ``<store>`` is the folder; otherwise the folder above a local artifact root,
or, for a remote one such as ``s3://...``, the SQLite file's folder or ``./.modelboard``). The
journal is always on local disk, never in an object store. The journal is
replayed, oldest first, once the store takes writes again: by the same writer, at ``finish()``,
or when a later run starts on the store.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelboard.records import GradientRecord, Record, RunRecord
from modelboard.store.run_values import parse_document

if TYPE_CHECKING:
    from modelboard.store.sql_store import MetricPoint, SQLStore

__all__ = ["journal_dir", "journal_path", "append_journal", "replay_journal", "replay_journals"]

log = logging.getLogger("modelboard")
_LINE_POINTS = 2_000


def journal_dir(store: SQLStore) -> Path:
    """The folder of the store's journals."""
    return store.location.journal_folder


def journal_path(store: SQLStore, run_id: str) -> Path:
    """The journal file of one run."""
    return journal_dir(store) / f"{run_id}.jsonl"


def append_journal(
    store: SQLStore,
    run_id: str,
    points: Sequence[MetricPoint],
    gradients: Sequence[GradientRecord],
    records: dict[str, Record],
    run: RunRecord | None,
) -> Path:
    """Append a batch to the run's journal, flushed to disk; raises ``OSError`` when the
    journal cannot be written either."""
    path = journal_path(store, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for start in range(0, len(points), _LINE_POINTS):  # one line, one transaction at replay
        lines.append(
            json.dumps({"points": [list(p) for p in points[start : start + _LINE_POINTS]]})
        )
    if gradients:
        lines.append(json.dumps({"gradients": [g.to_json() for g in gradients]}))
    for kind, record in records.items():
        lines.append(json.dumps({"record": kind, "payload": record.to_json()}))
    if run is not None:
        lines.append(json.dumps({"run": run.to_json()}))
    with open(path, "a", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))
        out.flush()
        os.fsync(out.fileno())
    return path


def _replay_line(store: SQLStore, run_id: str, entry: dict[str, Any]) -> None:
    if "points" in entry:
        points = [(k, s, e, float(v), w) for k, s, e, v, w in entry["points"]]
        store.append_points(run_id, points)
    elif "gradients" in entry:
        grads = [GradientRecord.from_json(text) for text in entry["gradients"]]
        store.write_documents(run_id, gradient_records=grads)
    elif "record" in entry:
        record = parse_document(entry["record"], entry["payload"])
        if record is not None:
            store.write_documents(run_id, records={entry["record"]: record})
    elif "run" in entry:
        store.write_documents(run_id, run_record=RunRecord.from_json(entry["run"]))


def replay_journal(store: SQLStore, run_id: str) -> bool:
    """Write a run's journal into the store and delete it. True when there was one and it is
    now stored; raises (keeping the lines not yet stored) when the store refuses."""
    path = journal_path(store, run_id)
    claimed = path.with_suffix(f".replaying-{os.getpid()}")
    try:
        os.rename(path, claimed)  # atomic: two processes never replay one journal
    except FileNotFoundError:
        return False
    lines = claimed.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut short by a crash while it was written
            log.warning("modelboard: skipped a damaged line of the journal %s", path)
            continue
        try:
            _replay_line(store, run_id, entry)
        except BaseException:
            rest = "".join(f"{rest_line}\n" for rest_line in lines[index:])
            with open(path, "a", encoding="utf-8") as out:
                out.write(rest)
            claimed.unlink()
            raise
    claimed.unlink()
    return True


def replay_journals(store: SQLStore) -> list[str]:
    """Replay every journal of the store that the store now takes; the ids replayed."""
    folder = journal_dir(store)
    if not folder.is_dir():
        return []
    done = []
    for path in sorted(folder.glob("*.jsonl")):
        try:
            if replay_journal(store, path.stem):
                done.append(path.stem)
        except Exception as exc:
            log.warning("modelboard: journal %s not replayed yet: %s", path.name, exc)
            break
    return done
