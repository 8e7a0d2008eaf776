"""Joining a run from other processes: ``MODELBOARD_RUN_ID`` and ``tracker.resume``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from pg_databases import new_pg_database

import modelboard as mb
from modelboard.errors import RunFinishedError

OWNER = textwrap.dedent(
    """
    import sys
    import modelboard as mb

    tracker = mb.Tracker(sys.argv[1], artifact_root=sys.argv[2], announce=False)
    run = tracker.start_run("owner", hparams={"lr": 0.1})
    for step in range(3):
        run.log(step=step, loss=1.0 / (step + 1))
    run.flush()
    print(run.id, flush=True)
    sys.stdin.readline()  # the test lets the owner go on once the joiner has ended
    run.log(step=3, loss=0.2)
    run.set_tags(stage="done")
    run.finish()
    print("owner done", flush=True)
    """
)

JOINER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    import modelboard as mb

    tracker = mb.Tracker(sys.argv[1], artifact_root=sys.argv[2], announce=False)
    run = tracker.start_run("ignored: MODELBOARD_RUN_ID names the run")
    run.log(step=0, test_loss=0.25)
    y_true = np.array([0, 1, 1, 0, 1, 0])
    y_score = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3], [0.6, 0.4], [0.8, 0.2]])
    run.evaluate(y_true=y_true, y_score=y_score, split="test", plots=False)
    note = Path(sys.argv[3])
    note.write_text("evaluated elsewhere")
    run.log_artifact(note)
    run.set_tags(evaluated_by="joiner")
    print(run.id, run.role, run.writer_id, flush=True)
    # no run.finish(): the interpreter's exit ends this writer (and only this writer)
    """
)


def _python(code: str, *args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    full_env = {**os.environ, **(env or {})}
    if env is None or "MODELBOARD_RUN_ID" not in env:
        full_env.pop("MODELBOARD_RUN_ID", None)
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=full_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield str(tmp_path / "store")
        return
    with new_pg_database() as url:
        yield url


def test_a_process_joins_a_running_run_and_its_exit_does_not_end_it(
    store: str, tmp_path: Path
) -> None:
    artifacts = tmp_path / "artifacts"
    owner = _python(OWNER, store, str(artifacts))
    try:
        assert owner.stdout is not None and owner.stdin is not None
        run_id = owner.stdout.readline().strip()
        assert len(run_id) == 32, owner.stderr.read() if owner.stderr else ""

        joiner = _python(
            JOINER,
            store,
            str(artifacts),
            str(tmp_path / "notes.txt"),
            env={"MODELBOARD_RUN_ID": run_id[:10]},  # a unique prefix does
        )
        out, err = joiner.communicate(timeout=120)
        assert joiner.returncode == 0, err
        joined_id, role, writer_id = out.split()
        assert (joined_id, role) == (run_id, "joined")

        with mb.Tracker(store, artifact_root=artifacts, read_only=True) as tracker:
            assert len(tracker.runs()) == 1
            middle = tracker.get(run_id)
        # the joiner has ended; the owner still runs, and so does the run
        assert middle.run.status == "running"
        writers = {w["role"]: w for w in middle.run.writers}
        assert set(writers) == {"owner", "joined"}
        assert writers["owner"]["status"] == "running" and writers["owner"]["ended"] is None
        joined = writers["joined"]
        assert joined["id"] == writer_id
        assert joined["status"] == "finished" and joined["ended"] is not None
        assert joined["pid"] == joiner.pid and joined["pid"] != owner.pid
        assert joined["wrote"] == {
            "metrics": ["test_loss"],
            "evaluations": ["test"],
            "artifacts": ["notes.txt"],
        }
        assert middle.evaluations["test"].metrics["accuracy"] == pytest.approx(5 / 6)
        assert [a.path for a in middle.artifacts] == ["notes.txt"]
        assert middle.training.metrics["test_loss"].values == [0.25]
        assert middle.run.tags == {"evaluated_by": "joiner"}

        owner.stdin.write("go\n")
        owner.stdin.flush()
        out, err = owner.communicate(timeout=120)
        assert owner.returncode == 0 and "owner done" in out, err
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()

    with mb.Tracker(store, artifact_root=artifacts, read_only=True) as tracker:
        final = tracker.get(run_id)
    assert final.run.status == "finished"
    assert final.training.metrics["loss"].values == [1.0, 0.5, 1.0 / 3, 0.2]
    assert final.training.metrics["test_loss"].values == [0.25]
    # the owner wrote its record whole: the joiner's entry and tag are still there
    assert final.run.tags == {"evaluated_by": "joiner", "stage": "done"}
    assert final.run.params == {"lr": 0.1}
    roles = sorted((w["role"], w["status"]) for w in final.run.writers)
    assert roles == [("joined", "finished"), ("owner", "finished")]
    owner_entry = next(w for w in final.run.writers if w["role"] == "owner")
    assert owner_entry["wrote"]["metrics"] == ["loss"]
    assert owner_entry["wrote"]["evaluations"] == []


def test_a_finished_run_is_joined_only_when_reopened(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    with mb.Tracker(store, announce=False) as tracker:
        with tracker.start_run("done") as run:
            run.log(step=0, loss=0.5)
        run_id = run.id

    joiner = _python(
        "import modelboard as mb; mb.Tracker(__import__('sys').argv[1]).start_run()",
        store,
        env={"MODELBOARD_RUN_ID": run_id},
    )
    _, err = joiner.communicate(timeout=120)
    assert joiner.returncode != 0
    assert "RunFinishedError" in err and "already finished" in err
    assert "reopen=True" in err and "unset MODELBOARD_RUN_ID" in err

    with mb.Tracker(store, announce=False) as tracker:
        with pytest.raises(RunFinishedError, match=r"reopen=True"):
            tracker.resume(run_id)
        assert tracker.get(run_id).run.writers[0]["role"] == "owner"
        assert len(tracker.get(run_id).run.writers) == 1  # the refused joins left no trace

        reopened = tracker.resume(run_id[:8], reopen=True)
        assert tracker.get(run_id).run.status == "running"
        reopened.log(step=1, loss=0.25)
        reopened.finish()
        record = tracker.get(run_id).run
        assert record.status == "finished"
        entry = next(w for w in record.writers if w["role"] == "joined")
        assert entry["reopened"] is True
        assert entry["previous"]["status"] == "finished"
        assert tracker.get(run_id).training.metrics["loss"].values == [0.5, 0.25]


def test_a_reopened_failed_run_takes_the_status_its_reopener_ends_with(tmp_path: Path) -> None:
    with mb.Tracker(tmp_path / "store", announce=False) as tracker:
        run = tracker.start_run("fails")
        run.finish("failed", error=RuntimeError("out of memory"))
        again = tracker.resume(run.id, reopen=True)
        again.evaluate(y_true=np.array([0, 1]), y_score=np.array([0.2, 0.9]), plots=False)
        again.finish()
        record = tracker.get(run.id).run
        assert record.status == "finished"
        entry = record.writers[-1]
        assert entry["previous"] == {
            "status": "failed",
            "ended": pytest.approx(run.record.ended),
            "error": "RuntimeError",
        }
        assert entry["wrote"]["evaluations"] == ["val"]


@pytest.mark.filterwarnings("ignore:modelboard. run .* (has no optimizer|could not record)")
def test_a_joiner_with_a_model_keeps_the_owners_network(tmp_path: Path) -> None:
    import torch

    with mb.Tracker(tmp_path / "store", announce=False) as tracker:
        owner_model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
        owner = tracker.track(owner_model, name="owner")
        joiner_model = torch.nn.Linear(4, 2)
        joiner = tracker.resume(owner.id, model=joiner_model)
        assert joiner.role == "joined"
        probabilities = joiner.predict(torch.ones(2, 4))
        assert probabilities.shape == (2, 2)  # the joiner's own model predicts
        joiner.finish()
        owner.finish()
        network = tracker.get(owner.id).network
        assert network is not None and network.architecture == "Sequential"

        # a run with no network takes the joiner's
        bare = tracker.start_run("no model")
        late = tracker.resume(bare.id, model=joiner_model)
        late.finish()
        bare.finish()
        network = tracker.get(bare.id).network
        assert network is not None and network.architecture == "Linear"


def test_an_unknown_run_id_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    with mb.Tracker(tmp_path / "store", announce=False) as tracker:
        monkeypatch.setenv("MODELBOARD_RUN_ID", "0123456789abcdef")
        with pytest.raises(mb.errors.RunNotFoundError, match="0123456789abcdef"):
            tracker.start_run()
        monkeypatch.delenv("MODELBOARD_RUN_ID")
        assert tracker.runs() == []


MANY = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import modelboard as mb

    store, artifacts, index, start_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    while time.time() < start_at:
        time.sleep(0.005)
    tracker = mb.Tracker(store, artifact_root=artifacts, announce=False)
    run = tracker.start_run()  # MODELBOARD_RUN_ID: join
    run.set_tags(**{f"joiner_{index}": index})
    note = Path(sys.argv[5])
    note.write_text(index)
    run.log_artifact(note, name=f"joiner-{index}.txt")
    run.finish()
    """
)


def test_joiners_at_once_all_keep_their_entries(store: str, tmp_path: Path) -> None:
    import time

    artifacts = tmp_path / "artifacts"
    with mb.Tracker(store, artifact_root=artifacts, announce=False) as tracker:
        owner = tracker.start_run("owner")
        start_at = time.time() + 2.0
        procs = [
            _python(
                MANY,
                store,
                str(artifacts),
                str(i),
                str(start_at),
                str(tmp_path / f"note{i}.txt"),
                env={"MODELBOARD_RUN_ID": owner.id},
            )
            for i in range(4)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        owner.set_tags(owner_tag="set after the joiners")
        owner.finish()
        record = tracker.get(owner.id).run
        artifacts_stored = sorted(a.path for a in tracker.get(owner.id).artifacts)
    joined = [w for w in record.writers if w["role"] == "joined"]
    assert sorted(w["pid"] for w in joined) == sorted(p.pid for p in procs)
    assert sorted(a for w in joined for a in w["wrote"]["artifacts"]) == artifacts_stored
    assert artifacts_stored == [f"joiner-{i}.txt" for i in range(4)]
    assert record.tags == {
        **{f"joiner_{i}": str(i) for i in range(4)},
        "owner_tag": "set after the joiners",
    }
    assert record.status == "finished"


def test_a_joiner_killed_by_sigterm_ends_only_its_entry(tmp_path: Path) -> None:
    import signal

    store = str(tmp_path / "store")
    with mb.Tracker(store, announce=False) as tracker:
        owner = tracker.start_run("owner")
        joiner = _python(
            "import sys, time, modelboard as mb\n"
            "run = mb.Tracker(sys.argv[1], announce=False).start_run()\n"
            "run.log(step=0, seen=1.0)\n"
            "print('joined', flush=True)\n"
            "time.sleep(120)\n",
            store,
            env={"MODELBOARD_RUN_ID": owner.id},
        )
        assert joiner.stdout is not None
        assert joiner.stdout.readline().strip() == "joined"
        joiner.send_signal(signal.SIGTERM)
        joiner.communicate(timeout=60)
        assert joiner.returncode == -signal.SIGTERM
        middle = tracker.get(owner.id)
        assert middle.run.status == "running"
        (entry,) = [w for w in middle.run.writers if w["role"] == "joined"]
        assert entry["status"] == "killed"
        assert middle.training.metrics["seen"].values == [1.0]  # flushed before it ended
        owner.finish()
        assert tracker.get(owner.id).run.status == "finished"
