"""Overhead of tracking a PyTorch training loop: basic_cnn on the digits, tracked vs untracked.

The tracked loop is the same loop with ``tracker.track(module, optimizer=opt,
gradients_every=50)`` and one ``run.log(epoch=..., loss=...)`` per epoch. Rounds alternate
untracked and tracked runs of the same epochs from the same seed; the ratio of the median
loop times is printed (goal: 1.03 or less). Only the loops are timed, not ``track()``'s set-up.

    .venv/bin/python benchmarks/bench_torch_loop.py [--rounds 15] [--epochs 1] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def basic_cnn() -> Any:
    """The seed's basic_cnn for 8x8x1 inputs (the twin of the Keras network)."""
    from torch import nn

    layers: list[nn.Module] = []
    channels = 1
    for filters in (32, 64, 128):
        layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        channels = filters
    layers += [nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 10)]
    return nn.Sequential(*layers, nn.Softmax(dim=1))


def digits() -> tuple[Any, Any]:
    """scikit-learn's 1,797 8x8 digits as (N, 1, 8, 8) float tensors in [0, 1] and labels."""
    import torch
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.tensor(data.target)


def train(
    module: Any, optimizer: Any, x: Any, y: Any, epochs: int, run: Any = None
) -> tuple[float, float]:
    """Train ``epochs`` epochs in batches of 32 on ``x.device``; (wall, CPU) seconds taken.

    CPU time is the whole process's (the run's writer thread included): on a loaded machine it
    is the steadier measure of the work done; wall time is what the user waits.
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    synchronize = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for begin in range(0, len(x), 32):
            index = order[begin : begin + 32]
            optimizer.zero_grad()
            out = module(x[index])
            loss = torch.nn.functional.nll_loss(torch.log(out.clamp_min(1e-7)), y[index])
            loss.backward()
            optimizer.step()
        if run is not None:
            run.log(epoch=epoch, loss=loss)
    synchronize()
    return time.perf_counter() - start, time.process_time() - cpu_start


def _summary(label: str, values: list[float]) -> str:
    return f"{label}: median {statistics.median(values):.3f} s, min {min(values):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every", type=int, default=50, help="gradients_every")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    import modelboard as mb

    torch.set_num_threads(args.threads)
    x, y = (t.to(args.device) for t in digits())
    times: dict[str, list[tuple[float, float]]] = {"untracked": [], "tracked": []}
    captures = 0

    def fresh() -> tuple[Any, Any]:
        torch.manual_seed(0)
        module = basic_cnn().to(args.device)
        return module, torch.optim.Adam(module.parameters(), 1e-3)

    with tempfile.TemporaryDirectory() as folder:
        tracker = mb.Tracker(Path(folder) / "store")
        train(*fresh(), x, y, 1)  # warm-up
        for _ in range(args.rounds):
            times["untracked"].append(train(*fresh(), x, y, args.epochs))
            module, optimizer = fresh()
            run = tracker.track(module, optimizer=optimizer, gradients_every=args.every)
            times["tracked"].append(train(module, optimizer, x, y, args.epochs, run))
            run.finish()
            captures = len(tracker.get(run.id).gradients)
        tracker.close()
    steps = args.epochs * ((len(x) + 31) // 32)
    print(f"device {args.device}, threads {args.threads}, {args.rounds} rounds of {steps} steps")
    print(f"gradient captures per tracked loop: {captures} (every {args.every} steps)")
    for index, kind in enumerate(("wall", "cpu")):
        base = [t[index] for t in times["untracked"]]
        tracked = [t[index] for t in times["tracked"]]
        print(_summary(f"{kind:4} untracked", base))
        print(_summary(f"{kind:4} tracked  ", tracked))
        ratio = statistics.median(tracked) / statistics.median(base)
        best = min(tracked) / min(base)
        print(f"{kind:4} ratio tracked/untracked: medians {ratio:.3f}, minima {best:.3f}")
    print("goal: 1.03 or less; on a loaded machine trust CPU time and the minima")


if __name__ == "__main__":
    main()
