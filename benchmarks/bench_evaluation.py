"""Time evaluating 50,000 samples of 10 classes (issue 5 asks for under 2 s).

Run: ``.venv/bin/python benchmarks/bench_evaluation.py``. Prints the best of a few repeats for
``compute_evaluation`` alone and for ``run.evaluate`` with storing and all plots. The first
(cold) call, which imports scikit-learn and matplotlib, is printed separately.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import modelboard as mb
from modelboard.evaluation import compute_evaluation


def make_predictions(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and softmax probabilities from noisy logits that favour the true class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return y, probs / probs.sum(axis=1, keepdims=True)


def best_of(repeats: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    y, probs = make_predictions(args.samples, args.classes)
    names = [f"class_{i}" for i in range(args.classes)]
    label = f"{args.samples:,} samples x {args.classes} classes"

    start = time.perf_counter()
    compute_evaluation(y, y_score=probs, class_names=names)
    print(f"compute_evaluation, first call (imports sklearn): {time.perf_counter() - start:.3f} s")
    seconds = best_of(args.repeats, lambda: compute_evaluation(y, y_score=probs, class_names=names))
    print(f"compute_evaluation, {label}: {seconds:.3f} s (best of {args.repeats})")

    with tempfile.TemporaryDirectory() as folder, mb.Tracker(Path(folder) / "store") as tracker:
        run = tracker.start_run("bench")
        for epoch in range(20):
            run.log(epoch=epoch, loss=1.0 / (epoch + 1), accuracy=1 - 0.5 / (epoch + 1))

        def evaluate(plots: bool) -> None:
            run.evaluate(y_true=y, y_score=probs, class_names=names, split="bench", plots=plots)

        start = time.perf_counter()
        evaluate(True)
        print(f"run.evaluate with plots, first call (imports matplotlib): "
              f"{time.perf_counter() - start:.3f} s")  # fmt: skip
        seconds = best_of(args.repeats, lambda: evaluate(False))
        print(f"run.evaluate, stored, no plots, {label}: {seconds:.3f} s (best of {args.repeats})")
        seconds = best_of(args.repeats, lambda: evaluate(True))
        print(f"run.evaluate, stored, 5 plots, {label}: {seconds:.3f} s (best of {args.repeats})")
        run.finish()


if __name__ == "__main__":
    main()
