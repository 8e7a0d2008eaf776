"""Acceptance 2: processes that join one search never run the same trial, and a worker killed
mid-trial (SIGKILL) has its trial taken again once its heartbeat is stale.

Each worker is a real ``modelboard search`` process: the first starts the search, the second
joins it with ``--join ID``. Every trial waits for a go-file, so the test knows both workers hold
a trial at once before any trial ends; each trial appends its index to a log file, which shows
what ran and how often."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import modelboard as mb
from modelboard.experiments.claims import trial_rows

STALE = 2.0
CLI = "from modelboard.cli import main; raise SystemExit(main())"


def _job(tmp_path: Path, trials: int) -> tuple[Path, Path, Path]:
    go, ran = tmp_path / "go", tmp_path / "ran.log"
    job = tmp_path / "job.py"
    job.write_text(
        textwrap.dedent(
            f"""
            import os, time
            from pathlib import Path

            space = {{"i": list(range({trials}))}}
            strategy = "grid"
            metric = "score"

            def train_fn(params, run):
                with open({str(ran)!r}, "a") as log:
                    log.write(f"{{params['i']}} {{os.getpid()}}\\n")
                deadline = time.time() + 120
                while not Path({str(go)!r}).exists() and time.time() < deadline:
                    time.sleep(0.05)
                run.log(epoch=0, score=float(params["i"]))
                time.sleep(0.1)
                return float(params["i"])
            """
        )
    )
    return job, go, ran


def _worker(store: str, job: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MODELBOARD_SILENT": "1"}
    command = [sys.executable, "-c", CLI, "search", str(job), "--store", store]
    command += ["--stale-after", str(STALE), *extra]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(what: str, check, procs, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        for proc in procs:
            if proc.poll() is not None and proc.returncode != 0:
                raise AssertionError(f"a worker ended early: {proc.communicate()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _started_pids(ran: Path) -> set[int]:
    """The processes whose train_fn has begun a trial (its run exists by then)."""
    if not ran.exists():
        return set()
    return {int(line.split()[1]) for line in ran.read_text().splitlines() if line.strip()}


def _start_two(tracker: mb.Tracker, store: str, job: Path, ran: Path):  # type: ignore[no-untyped-def]
    first = _worker(store, job)
    procs = [first]
    search_id = _wait_for(
        "the search run",
        lambda: next(
            (r.id for r in tracker.store.list_runs() if r.tags.get("search") == "true"), None
        ),
        procs,
    )
    second = _worker(store, job, "--join", search_id)
    procs.append(second)

    def two_running() -> dict[int, str] | None:
        if _started_pids(ran) != {first.pid, second.pid}:
            return None  # both train_fn calls must have begun: mid-trial, run created
        running = {
            t.index: t.worker or ""
            for t in trial_rows(tracker.store.engine, search_id)
            if t.status == "running" and t.run_id is not None
        }
        return running if len(set(running.values())) == 2 else None

    running = _wait_for("both workers to be inside a trial", two_running, procs)
    return search_id, first, second, running


def _pid(worker: str) -> int:
    return int(worker.split(":")[1])


def test_two_joined_workers_never_run_the_same_trial(any_store: str, tmp_path: Path) -> None:
    job, go, ran = _job(tmp_path, trials=6)
    with mb.Tracker(any_store, announce=False) as tracker:
        search_id, first, second, running = _start_two(tracker, any_store, job, ran)
        assert {_pid(w) for w in running.values()} == {first.pid, second.pid}
        go.touch()
        for proc in (first, second):
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        trials = trial_rows(tracker.store.engine, search_id)
        children = tracker.store.list_runs(parent_id=search_id)
    lines = [line.split() for line in ran.read_text().splitlines()]
    assert Counter(int(i) for i, _ in lines) == Counter(range(6))  # each trial ran once
    assert {int(pid) for _, pid in lines} == {first.pid, second.pid}
    assert [t.status for t in trials] == ["finished"] * 6
    assert [t.attempts for t in trials] == [1] * 6
    assert sorted(c.id for c in children) == sorted(t.run_id for t in trials)
    assert sorted(int(c.tags["trial"]) for c in children) == list(range(6))
    assert {c.status for c in children} == {"finished"}


def test_a_killed_worker_has_its_trial_taken_again(any_store: str, tmp_path: Path) -> None:
    job, go, ran = _job(tmp_path, trials=4)
    # reads a run as crashed 1 s after its last heartbeat: the killed attempt's run stopped
    # beating when it was killed, and the retake came at least STALE - 0.5 s after that
    with mb.Tracker(any_store, announce=False, heartbeat_timeout=1.0) as tracker:
        search_id, first, second, running = _start_two(tracker, any_store, job, ran)
        (killed_index,) = [i for i, w in running.items() if _pid(w) == second.pid]
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=30)
        assert second.returncode == -signal.SIGKILL
        go.touch()
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
        trials = trial_rows(tracker.store.engine, search_id)
        children = tracker.store.list_runs(parent_id=search_id)
        parent = tracker.get(search_id).run
    retaken = trials[killed_index]
    assert retaken.status == "finished" and retaken.attempts == 2
    assert _pid(retaken.worker or "") == first.pid
    assert [t.status for t in trials] == ["finished"] * 4
    runs_of_killed = [c for c in children if c.tags["trial"] == str(killed_index)]
    assert sorted(c.status for c in runs_of_killed) == ["crashed", "finished"]
    (finished_run,) = [c for c in runs_of_killed if c.status == "finished"]
    assert finished_run.id == retaken.run_id and finished_run.tags["attempt"] == "2"
    lines = [line.split() for line in ran.read_text().splitlines()]
    counts = Counter(int(i) for i, _ in lines)
    assert counts == Counter({**dict.fromkeys(range(4), 1), killed_index: 2})
    assert parent.status == "finished" and parent.flags["trials_finished"] == 4
    assert parent.flags["best_trial_index"] == 3
