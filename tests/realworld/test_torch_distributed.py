"""DistributedDataParallel over 2 CPU processes (gloo): every rank tracks the model, one run.

Each rank is a real process (``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT``, as
torchrun sets them) training the demo's basic_cnn on its shard of scikit-learn's digits. The run
id reaches rank 1 through the process group alone; the store is SQLite or PostgreSQL.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pg_databases import new_pg_database

import modelboard as mb

STEPS = 4
BATCH = 32

RANK = textwrap.dedent(
    """
    import json, math, sys
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    import modelboard as mb
    from modelboard.adapters.torch.demo import basic_cnn, categorical_crossentropy
    from modelboard.demo.data import load_digits_data

    store, artifacts, out, solo_store = sys.argv[1:5]
    steps, batch = int(sys.argv[5]), int(sys.argv[6])
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts them)
    digits = load_digits_data(seed=0)
    x = torch.from_numpy(digits.channels_first(digits.x_train))[rank::world]
    y = torch.from_numpy(digits.y_train)[rank::world]
    model = DistributedDataParallel(basic_cnn())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    tracker = mb.Tracker(store, artifact_root=artifacts, announce=False)
    run = tracker.track(model, name="ddp-digits", gradients_every=1, optimizer=optimizer)
    losses, applied_norms = [], []
    for step in range(steps):
        xb, yb = x[step * batch:(step + 1) * batch], y[step * batch:(step + 1) * batch]
        optimizer.zero_grad()
        loss = categorical_crossentropy(model(xb), yb)
        loss.backward()  # DDP all-reduces (averages) the gradients here
        applied_norms.append(
            math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in model.parameters()))
        )
        optimizer.step()
        losses.append(loss.item())
        run.log(step=step, loss=loss.item(), rank_reduce="mean")
        run.log(step=step, loss_max=loss.item(), rank_reduce="max")
        run.log(step=step, shard_loss=loss.item(), rank_reduce="rank")
        run.log(step=step, rank_zero_only=float(rank + 1))  # the default: rank 0's value
    evaluation = run.evaluate(
        torch.from_numpy(digits.channels_first(digits.x_val)), digits.y_val, split="val"
    )
    run.finish()
    if rank == 0:  # a run of rank 0 alone: rank 1 never calls start_run, and nobody waits
        with mb.Tracker(solo_store, announce=False).start_run("rank0-summary") as solo:
            solo.log(step=0, best_loss=min(losses))
    dist.barrier()
    # the job goes on later (as after a restart): every rank joins the finished run again
    if rank == 0:
        again = tracker.resume(run.id, reopen=True, model=model)
    dist.barrier()
    if rank != 0:
        again = tracker.resume(run.id, model=model)  # running again: no reopen needed
    again.log(step=steps, resumed_loss=float(rank + 1), rank_reduce="mean")
    later_evaluation = again.evaluate(
        torch.from_numpy(digits.channels_first(digits.x_val)), digits.y_val, split="later"
    )
    dist.barrier()
    again.finish()
    dist.barrier()
    with open(out, "w") as f:
        json.dump(
            {
                "rank": rank,
                "world": world,
                "run_id": run.id,
                "role": run.role,
                "losses": losses,
                "applied_norms": applied_norms,
                "evaluated": evaluation is not None,
                "evaluated_later": later_evaluation is not None,
                "joined_role": again.role,
            },
            f,
        )
    dist.destroy_process_group()
    """
)


def _rank(writer: dict) -> int:
    return int(writer["rank"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _train_ddp(store: str, artifacts: Path, folder: Path) -> list[dict]:
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "WORLD_SIZE": "2",
            "OMP_NUM_THREADS": "1",
        }
        env.pop("MODELBOARD_RUN_ID", None)
        out = folder / f"rank{rank}.json"
        cmd = [sys.executable, "-c", RANK, store, str(artifacts), str(out), str(folder / "solo")]
        cmd += [str(STEPS), str(BATCH)]
        procs.append(
            (
                out,
                subprocess.Popen(
                    cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                ),
            )
        )
    results = []
    for out, proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-4000:]
        results.append(json.loads(out.read_text()))
    return results


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield str(tmp_path / "store")
        return
    with new_pg_database() as url:
        yield url


def test_ddp_on_two_ranks_makes_one_run(store: str, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    rank0, rank1 = _train_ddp(store, artifacts, tmp_path)
    assert (rank0["rank"], rank1["rank"]) == (0, 1)
    assert rank0["run_id"] == rank1["run_id"]  # the id came through the process group
    assert (rank0["role"], rank1["role"]) == ("owner", "rank")
    assert rank0["evaluated"] and not rank1["evaluated"]
    assert rank0["evaluated_later"] and not rank1["evaluated_later"]
    assert rank0["joined_role"] == rank1["joined_role"] == "joined"

    with mb.Tracker(store, artifact_root=artifacts, read_only=True) as tracker:
        runs = tracker.runs()
        assert [r.id for r in runs] == [rank0["run_id"]]
        stored = tracker.get(rank0["run_id"])
    record = stored.run
    assert record.status == "finished"
    assert record.distributed["world_size"] == 2
    assert record.distributed["backend"] == "gloo"
    ranks = record.distributed["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]  # each rank added its own facts
    first = [w for w in record.writers if w["role"] != "joined"]
    assert [r["pid"] for r in ranks] == [w["pid"] for w in sorted(first, key=_rank)]
    roles = sorted((w["role"], w["rank"]) for w in record.writers)
    assert roles == [("joined", 0), ("joined", 1), ("owner", 0), ("rank", 1)]
    assert all(w["status"] == "finished" for w in record.writers)
    assert [w["reopened"] for w in record.writers if w["role"] == "joined"] == [True, False]

    # one network, rank 0's, unwrapped from DDP
    assert stored.network is not None
    assert stored.network.architecture == "Sequential"
    assert any(layer.type == "Conv2d" for layer in stored.network.layers)

    # gradients captured once per step (rank 0 only), of the all-reduced gradients it applied
    grads = sorted(stored.gradients, key=lambda g: g.step)
    assert len(grads) == STEPS
    assert len({g.step for g in grads}) == STEPS
    for capture, norm in zip(grads, rank0["applied_norms"], strict=True):
        assert capture.applied_global_norm == pytest.approx(norm, rel=1e-4)
    assert rank0["applied_norms"] == pytest.approx(rank1["applied_norms"], rel=1e-6)

    # metrics: reduced over the ranks, per rank, or rank 0's alone
    metrics = stored.training.metrics
    means = [(a + b) / 2 for a, b in zip(rank0["losses"], rank1["losses"], strict=True)]
    assert metrics["loss"].values == pytest.approx(means, rel=1e-12)
    assert metrics["loss"].steps == list(range(STEPS))
    maxima = [max(a, b) for a, b in zip(rank0["losses"], rank1["losses"], strict=True)]
    assert metrics["loss_max"].values == pytest.approx(maxima, rel=1e-12)
    assert metrics["shard_loss_rank0"].values == pytest.approx(rank0["losses"])
    assert metrics["shard_loss_rank1"].values == pytest.approx(rank1["losses"])
    assert "shard_loss" not in metrics
    assert metrics["rank_zero_only"].values == [1.0] * STEPS
    assert not math.isclose(rank0["losses"][0], rank1["losses"][0])  # the shards differ

    # one evaluation per phase, by rank 0
    assert sorted(stored.evaluations) == ["later", "val"]
    owner = next(w for w in record.writers if w["role"] == "owner")
    assert owner["wrote"]["evaluations"] == ["val"]
    rejoined = {w["rank"]: w for w in record.writers if w["role"] == "joined"}
    assert rejoined[0]["wrote"]["evaluations"] == ["later"]
    assert rejoined[1]["wrote"] == {"metrics": [], "evaluations": [], "artifacts": []}
    # the joined ranks still reduce over the group
    assert metrics["resumed_loss"].values == [1.5]
    assert metrics["resumed_loss"].steps == [STEPS]

    # the run rank 0 made alone, in its own store: one writer, the group still described
    with mb.Tracker(tmp_path / "solo", read_only=True) as tracker:
        (solo,) = tracker.runs()
        assert solo.name == "rank0-summary" and solo.status == "finished"
        assert solo.distributed["world_size"] == 2
        assert [r["rank"] for r in solo.distributed["ranks"]] == [0]
        assert [w["role"] for w in solo.writers] == ["owner"]
        values = tracker.get(solo.id).training.metrics["best_loss"].values
        assert values == [min(rank0["losses"])]


def test_rank_reduce_outside_a_process_group_records_values_as_given(tmp_path: Path) -> None:
    with mb.Tracker(tmp_path / "store", announce=False) as tracker:
        run = tracker.start_run("one process")
        run.log(step=0, loss=0.5, rank_reduce="mean")
        run.log(step=0, shard=0.25, rank_reduce="rank")
        with pytest.raises(ValueError, match=r"rank_reduce must be one of .*'mean'"):
            run.log(step=1, loss=0.4, rank_reduce="median")
        run.finish()
        stored = tracker.get(run.id)
        assert stored.training.metrics["loss"].values == [0.5]
        assert stored.training.metrics["shard"].values == [0.25]
        assert stored.run.distributed == {}
        assert [w["role"] for w in stored.run.writers] == ["owner"]
