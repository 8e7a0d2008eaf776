"""Many processes writing one store at once, crashes and interpreter exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import modelboard as mb

WRITER = textwrap.dedent(
    """
    import sys, time
    import modelboard as mb

    store, index, start_at, points = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(
        sys.argv[4]
    )
    while time.time() < start_at:
        time.sleep(0.005)
    tracker = mb.Tracker(store, artifact_root=sys.argv[5])
    with tracker.start_run(f"writer-{index}") as run:
        for step in range(points):
            run.log(step=step, value=float(index * 10000 + step))
    print("ok", run.id)
    """
)


def _write_concurrently(store: str, artifacts: Path, processes: int, points: int) -> None:
    """Start ``processes`` writers at the same instant on a store none of them has opened."""
    start_at = time.time() + 3.0
    args = [store, "", str(start_at), str(points), str(artifacts)]
    procs = []
    for i in range(processes):
        args[1] = str(i)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.startswith("ok"), out
        assert "Traceback" not in err and "locked" not in err, err

    with mb.Tracker(store, artifact_root=artifacts) as tracker:
        runs = tracker.runs()
        assert len(runs) == processes and {r.status for r in runs} == {"finished"}
        total = 0
        for record in runs:
            series = tracker.get(record.id).training.metrics["value"]
            index = int(record.name.split("-")[1])
            assert series.steps == list(range(points))
            assert series.values == [float(index * 10000 + s) for s in range(points)]
            total += len(series.values)
        assert total == processes * points


def test_eight_processes_log_to_one_new_sqlite_store(tmp_path: Path) -> None:
    # the store folder does not exist yet: all eight processes create it together
    _write_concurrently(str(tmp_path / "shared-store"), tmp_path / "artifacts", 8, 5000)


def test_processes_log_to_one_new_postgresql_store(pg_url: str, tmp_path: Path) -> None:
    _write_concurrently(pg_url, tmp_path / "artifacts", 6, 2000)


VICTIM = textwrap.dedent(
    """
    import sys, time
    import modelboard as mb

    tracker = mb.Tracker(sys.argv[1])
    run = tracker.start_run("victim")
    print(run.id, flush=True)
    step = 0
    while True:
        run.log(step=step, t=time.time())
        step += 1
        time.sleep(0.002)
    """
)


def test_sigkill_loses_at_most_the_last_second_and_reads_as_crashed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = {**os.environ, "MODELBOARD_HEARTBEAT_TIMEOUT": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(store)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    time.sleep(2.5)
    killed_at = time.time()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    with mb.Tracker(store, heartbeat_timeout=3) as tracker:
        series = tracker.get(run_id).training.metrics["t"]
        stored_times = series.values
        assert len(stored_times) > 100
        # the stored points are an unbroken prefix of what was logged, reaching to within one
        # second of the kill: every point logged more than 1 s before it is stored
        assert series.steps == list(range(len(series.steps)))
        assert max(stored_times) >= killed_at - 1.0
        assert tracker.get(run_id).status == "running"  # heartbeat still fresh
        time.sleep(3.5)
        assert tracker.get(run_id).status == "crashed"
        assert [r.id for r in tracker.runs(status="crashed")] == [run_id]


EXITER = textwrap.dedent(
    """
    import sys
    import modelboard as mb

    tracker = mb.Tracker(sys.argv[1])
    run = tracker.start_run(sys.argv[2])
    run.log(loss=1.0)
    print(run.id, flush=True)
    if sys.argv[2] == "raises":
        raise ValueError("training diverged")
    """
)


def test_open_runs_are_finished_at_exit_or_failed_on_an_uncaught_error(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ids = {}
    for mode in ("exits", "raises"):
        done = subprocess.run(
            [sys.executable, "-c", EXITER, str(store), mode],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == (0 if mode == "exits" else 1), done.stderr
        ids[mode] = done.stdout.strip()
    with mb.Tracker(store) as tracker:
        exited = tracker.get(ids["exits"])
        assert exited.status == "finished"
        assert exited.training.metrics["loss"].values == [1.0]
        failed = tracker.get(ids["raises"])
        assert failed.status == "failed"
        assert failed.run.error["type"] == "ValueError"
        assert failed.run.error["message"] == "training diverged"


FORKER = textwrap.dedent(
    """
    import os, sys
    import modelboard as mb

    tracker = mb.Tracker(sys.argv[1])
    run = tracker.start_run("parent")
    run.log(loss=1.0)
    child = os.fork()
    if child == 0:
        sys.exit(0)  # a worker process ending normally runs the atexit handlers it inherited
    os.waitpid(child, 0)
    print(run.id, tracker.get(run.id).status, flush=True)
    run.log(loss=0.5)
    """
)


def test_a_forked_child_exiting_does_not_finish_the_parents_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORKER, str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    run_id, status_after_child = done.stdout.split()
    assert status_after_child == "running"
    with mb.Tracker(tmp_path / "store") as tracker:
        stored = tracker.get(run_id)
        assert stored.status == "finished"
        assert stored.training.metrics["loss"].values == [1.0, 0.5]


TERMINATED = textwrap.dedent(
    """
    import signal, sys, time
    import modelboard as mb

    if sys.argv[2] == "chained":
        def handler(signum, frame):
            print("user handler ran", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, handler)
    tracker = mb.Tracker(sys.argv[1])
    run = tracker.start_run("terminated")
    for step in range(20000):
        run.log(step=step, t=float(step))
    print(run.id, flush=True)
    while True:
        time.sleep(0.01)
    """
)


def test_sigterm_flushes_and_ends_the_run_as_killed_chaining_any_handler(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for mode, code in (("default", -signal.SIGTERM), ("chained", 3)):
        proc = subprocess.Popen(
            [sys.executable, "-c", TERMINATED, str(store), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err  # the process still ends as it would have
        assert ("user handler ran" in out) == (mode == "chained")
        with mb.Tracker(store) as tracker:
            stored = tracker.get(run_id)
            assert stored.status == "killed"
            assert stored.training.metrics["t"].steps == list(range(20000))
            assert [r.id for r in tracker.runs(status="killed")][0] == run_id


PACED = textwrap.dedent(
    """
    import sys, time
    import modelboard as mb

    rate = float(sys.argv[2])
    tracker = mb.Tracker(sys.argv[1])
    run = tracker.start_run("paced")
    print(run.id, flush=True)
    start = time.time()
    step = 0
    next_report = start
    while True:
        due = int((time.time() - start) * rate)
        while step < due:
            run.log(step=step, x=1.0)
            step += 1
        now = time.time()
        if now >= next_report:  # progress: every point up to this step was logged by now
            print(step, now, flush=True)
            next_report = now + 0.05
        time.sleep(0.0005)
    """
)


def sigkill_loss(store: Path, rate: float, run_for: float) -> dict[str, float]:
    """Log at ``rate`` points/s in a subprocess, SIGKILL it after ``run_for`` s; count the
    points logged more than 1 s before the kill that the store lacks."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PACED, str(store), str(rate)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    progress: list[tuple[int, float]] = []
    started = time.time()
    while time.time() - started < run_for:
        line = proc.stdout.readline()
        step, when = line.split()
        progress.append((int(step), float(when)))
    killed_at = time.time()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with mb.Tracker(store) as tracker:
        steps = tracker.get(run_id).training.metrics["x"].steps
    logged_before = max((s for s, t in progress if t <= killed_at - 1.0), default=0)
    logged_total = progress[-1][0]
    span = progress[-1][1] - progress[0][1]
    return {
        "stored": len(steps),
        "prefix": float(steps == list(range(len(steps)))),
        "logged_1s_before_kill": logged_before,
        "lost_of_those": max(0, logged_before - len(steps)),
        "logged_rate": (logged_total - progress[0][0]) / span if span > 0 else 0.0,
        "logged_total": logged_total,
    }


def test_sigkill_at_100k_points_per_second_loses_at_most_the_last_second(tmp_path: Path) -> None:
    result = sigkill_loss(tmp_path / "store", 100_000, 4.0)
    assert result["prefix"] == 1.0  # what is stored is an unbroken prefix of what was logged
    assert result["logged_1s_before_kill"] > 0
    # every point logged more than a second before the kill is stored: the loss is at most
    # the points of the last second, at the rate the process actually logged
    assert result["lost_of_those"] == 0, result
    assert result["logged_total"] - result["stored"] <= max(result["logged_rate"], 1.0) * 1.0 + 1
