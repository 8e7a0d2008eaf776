"""Secrets stay out of run records, and a new store is readable by its owner alone (item 9)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import modelboard as mb
from modelboard.tracking.secrets import mask_command_line


def test_secret_looking_options_are_masked() -> None:
    argv = [
        "train.py",
        "--api-key",
        "sk-123",
        "--token=abc",
        "password=hunter2",
        "--author",
        "Ada",
        "--lr",
        "0.1",
        "--db",
        "postgresql://bob:s3cret@db/runs",
        "--WANDB_API_KEY=xyz",
    ]
    assert mask_command_line(argv) == [
        "train.py",
        "--api-key",
        "***",
        "--token=***",
        "password=***",
        "--author",
        "Ada",
        "--lr",
        "0.1",
        "--db",
        "postgresql://bob:***@db/runs",
        "--WANDB_API_KEY=***",
    ]


def test_the_environment_record_holds_no_secret_and_the_store_is_private(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import sys, modelboard as mb\n"
        "with mb.Tracker(sys.argv[1]) as t:\n"
        "    run = t.start_run('secret')\n"
        "    run.log(loss=1.0)\n"
        "    run.finish()\n"
        "    print(run.id)\n"
    )
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, str(script), str(store), "--api-key", "sk-live-123", "--token=tok-9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with mb.Tracker(store) as tracker:
        stored = tracker.get(done.stdout.strip())
    command = stored.run.environment["command"]
    assert "sk-live-123" not in " ".join(command) and "tok-9" not in " ".join(command)
    assert command[-3:] == ["--api-key", "***", "--token=***"]
    assert stat.S_IMODE((store / "modelboard.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert stat.S_IMODE((store / "artifacts").stat().st_mode) == 0o700
