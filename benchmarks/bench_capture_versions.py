"""Training overhead of two versions of modelboard, measured in the same run: a git ref (the
baseline) against the working tree, on a PyTorch loop and a Keras ``fit`` of basic_cnn on the
digits with gradients captured every 10 steps.

    python benchmarks/bench_capture_versions.py --baseline REF [--rounds 15] [--pairs 2]
        [--frameworks torch keras] [--epochs 2]

Every round runs one fresh process per version, in an order that alternates from round to
round. Each process trains ``--pairs`` times untracked and tracked, alternating, after one
warm-up, and reports the ratio of its median tracked to its median untracked time (only the
training is timed). The baseline's code is ``git archive REF`` of ``core/`` and ``adapters/``,
imported through a link tree on ``PYTHONPATH``, so both versions run against the same installed
packages. Per round the two ratios are paired: the figure is the median of current / baseline
(1.0: no change; below 1: the working tree costs less), with the spread over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# -- the workers (run in a child process with one version on PYTHONPATH) ---------------------


def _digits() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype("float32"), data.target


def _torch_worker(pairs: int, epochs: int, every: int) -> dict[str, Any]:
    import torch
    from torch import nn

    import modelboard as mb

    torch.set_num_threads(1)
    images, labels = _digits()
    x = torch.tensor(images).unsqueeze(1)
    y = torch.tensor(labels)

    def fresh() -> tuple[Any, Any]:
        torch.manual_seed(0)
        layers: list[nn.Module] = []
        channels = 1
        for filters in (32, 64, 128):
            layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels = filters
        layers += [nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)]
        module = nn.Sequential(*layers)
        return module, torch.optim.Adam(module.parameters(), 1e-3)

    def train(module: Any, optimizer: Any, run: Any = None) -> float:
        generator = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        for epoch in range(epochs):
            order = torch.randperm(len(x), generator=generator)
            for begin in range(0, len(x), 32):
                index = order[begin : begin + 32]
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(module(x[index]), y[index])
                loss.backward()
                optimizer.step()
            if run is not None:
                run.log(epoch=epoch, loss=loss)
        return time.perf_counter() - start

    times: dict[str, list[float]] = {"untracked": [], "tracked": []}
    captures = 0
    with tempfile.TemporaryDirectory() as folder, mb.Tracker(Path(folder) / "s") as tracker:
        train(*fresh())  # warm-up
        for _ in range(pairs):
            times["untracked"].append(train(*fresh()))
            module, optimizer = fresh()
            run = tracker.track(module, optimizer=optimizer, gradients_every=every)
            times["tracked"].append(train(module, optimizer, run))
            run.finish()
            captures = len(tracker.get(run.id).gradients)
    return {**times, "captures": captures}


def _keras_worker(pairs: int, epochs: int, every: int) -> dict[str, Any]:
    import keras
    import numpy as np

    import modelboard as mb

    images, labels = _digits()
    x, y = images[..., None], np.eye(10, dtype="float32")[labels]

    def model() -> Any:
        keras.utils.set_random_seed(0)
        layers = keras.layers
        built = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                layers.Conv2D(32, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.Conv2D(64, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.Conv2D(128, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dense(64, activation="relu"),
                layers.Dense(10, activation="softmax"),
            ]
        )
        built.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        return built

    def fit(m: Any) -> float:
        start = time.perf_counter()
        m.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
        return time.perf_counter() - start

    times: dict[str, list[float]] = {"untracked": [], "tracked": []}
    with tempfile.TemporaryDirectory() as folder, mb.Tracker(Path(folder) / "s") as tracker:
        plain, tracked = model(), model()
        run = tracker.track(tracked, gradients_every=every)
        fit(plain), fit(tracked)  # warm-up: graph tracing
        for _ in range(pairs):
            times["untracked"].append(fit(plain))
            times["tracked"].append(fit(tracked))
        run.finish()
        captures = len(tracker.get(run.id).gradients)
    return {**times, "captures": captures}


WORKERS = {"torch": _torch_worker, "keras": _keras_worker}


# -- the driver --------------------------------------------------------------------------------


def _link_tree(code: Path, into: Path) -> Path:
    """A folder for PYTHONPATH in which ``modelboard`` is ``code``'s core/ plus adapters/."""
    package = into / "modelboard"
    package.mkdir(parents=True)
    for entry in (code / "core").iterdir():
        (package / entry.name).symlink_to(entry)
    (package / "adapters").symlink_to(code / "adapters")
    return into


def _export(ref: str, into: Path) -> Path:
    """``core/`` and ``adapters/`` of git ref ``ref``, unpacked under ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "code.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "core", "adapters"], stdout=out, check=True
        )
    code = into / "code"
    with tarfile.open(archive) as tar:
        tar.extractall(code, filter="data")
    return code


def _run_worker(path: Path, framework: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(path), "MODELBOARD_SILENT": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            framework,
            "--pairs",
            str(args.pairs),
            "--epochs",
            str(args.epochs),
            "--every",
            str(args.every),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    if done.returncode != 0:
        raise SystemExit(f"{framework} worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ratio(result: dict[str, Any]) -> float:
    return statistics.median(result["tracked"]) / statistics.median(result["untracked"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the comparison and print it; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="git ref of the version to beat")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--every", type=int, default=10, help="gradients_every")
    parser.add_argument("--frameworks", nargs="+", default=["torch", "keras"], choices=WORKERS)
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = WORKERS[args.worker](args.pairs, args.epochs, args.every)
        print(json.dumps(result))
        return result

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        versions = {
            "baseline": _link_tree(_export(args.baseline, base / "old"), base / "old-path"),
            "current": _link_tree(ROOT, base / "new-path"),
        }
        for framework in args.frameworks:
            ratios: dict[str, list[float]] = {"baseline": [], "current": []}
            captures: dict[str, int] = {}
            for round_index in range(args.rounds):
                order = list(versions) if round_index % 2 == 0 else list(reversed(versions))
                for name in order:
                    result = _run_worker(versions[name], framework, args)
                    ratios[name].append(_ratio(result))
                    captures[name] = int(result["captures"])
            paired = [c / b for b, c in zip(ratios["baseline"], ratios["current"], strict=True)]
            figures[framework] = {
                "baseline_overhead": statistics.median(ratios["baseline"]),
                "current_overhead": statistics.median(ratios["current"]),
                "paired_current_over_baseline": statistics.median(paired),
                "paired_min": min(paired),
                "paired_max": max(paired),
                "captures": captures,
            }
            f = figures[framework]
            print(
                f"{framework}: {args.rounds} rounds x {args.pairs} pairs, {args.epochs} epochs, "
                f"gradients every {args.every} steps (captures per run: {captures})"
            )
            print(
                f"  tracked/untracked median: baseline {f['baseline_overhead']:.3f}, "
                f"current {f['current_overhead']:.3f}"
            )
            print(
                f"  paired current/baseline: median {f['paired_current_over_baseline']:.3f} "
                f"(spread {f['paired_min']:.3f}-{f['paired_max']:.3f})"
            )
    return figures


if __name__ == "__main__":
    main()
