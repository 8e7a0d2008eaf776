"""The benchmark harness: modelboard side by side with MLflow, W&B and TensorBoard.

    python benchmarks/run.py [--smoke] [--only NAME ...] [--rounds N] [--no-peers] [--out DIR]
        [--pg URL]

Five figures (``--only`` picks some): ``overhead`` (training overhead, PyTorch loop and Keras
``fit``), ``throughput`` (logging points/s), ``scale`` (top 50 and whole-store read at 1k, 10k,
100k runs), ``startup`` and ``memory``. Every figure is measured within this one run, its
variants interleaved in a rotated order and, where it is a ratio, paired per round. It writes
``benchmarks/results.json`` and the results table of ``docs/benchmarks.md`` (between its
``results`` markers); ``--smoke`` (1-2 rounds of tiny work, for CI) writes into a temporary
folder unless ``--out`` is given. The peers are the optional ``bench`` extra: a missing one is
reported as skipped, with why. Nothing reaches the network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.figures import environment, report  # noqa: E402
from benchmarks.figures.common import failed, progress, run_worker  # noqa: E402

FIGURES = ["overhead", "throughput", "scale", "startup", "memory"]


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The sizes of everything, full or smoke."""
    if args.smoke:
        return {
            "rounds": args.rounds or 1,
            "epochs": 1,
            "limit": 128,  # digits images a loop
            "points": 20_000,
            "throughput_rounds": 1,
            "sizes": [300],
            "scale_repeats": 2,
            "memory_points": 20_000,
        }
    rounds = args.rounds or 15
    return {
        "rounds": rounds,
        "epochs": 3,
        "limit": None,
        "points": 1_000_000,
        "throughput_rounds": 3,
        "sizes": [1_000, 10_000, 100_000],
        "scale_repeats": 5,
        "memory_points": 1_000_000,
    }


def _overhead(settings: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.figures.overhead import KERAS_VARIANTS, TORCH_VARIANTS

    out: dict[str, Any] = {}
    for framework, variants, module in (
        ("torch", TORCH_VARIANTS, "torch"),
        ("keras", KERAS_VARIANTS, "keras"),
    ):
        import importlib.util

        if importlib.util.find_spec(module) is None:
            out[framework] = {"status": "skipped", "reason": f"skipped: {module} is not installed"}
            continue
        progress(f"overhead: {framework}, {settings['rounds']} rounds")
        try:
            result = run_worker(
                "overhead",
                {
                    "framework": framework,
                    "rounds": settings["rounds"],
                    "epochs": settings["epochs"],
                    "limit": settings["limit"],
                    "variants": variants,
                },
                show_stderr=True,
            )
            out[framework] = {"status": "ok", **result}
        except Exception as exc:
            out[framework] = failed(str(exc))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the harness; return what it wrote to results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1-2 rounds of tiny work (CI)")
    parser.add_argument("--only", nargs="+", choices=FIGURES, help="run only these figures")
    parser.add_argument("--rounds", type=int, help="rounds of the paired figures (default 15)")
    parser.add_argument("--no-peers", action="store_true", help="skip MLflow, W&B, TensorBoard")
    parser.add_argument("--out", type=Path, help="write results.json and benchmarks.md here")
    parser.add_argument(
        "--pg",
        default=os.environ.get("MODELBOARD_TEST_PG"),
        help="a PostgreSQL server URL for the scale figure (default: MODELBOARD_TEST_PG); "
        "the harness creates and drops its own databases there",
    )
    args = parser.parse_args(argv)
    settings = _settings(args)
    if args.no_peers:
        from benchmarks.peers import NO_PEERS_ENV

        os.environ[NO_PEERS_ENV] = "1"  # the workers inherit it
    chosen = args.only or FIGURES
    started = time.time()
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = environment.describe(command.strip(), smoke=args.smoke, settings=settings)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mb-bench-stores-") as stores_name:
        stores = Path(stores_name)
        if "overhead" in chosen:
            figures["overhead"] = _overhead(settings)
        if "throughput" in chosen:
            progress(f"throughput: {settings['points']:,} points")
            from benchmarks.figures import throughput

            figures["throughput"] = _guard(
                lambda: throughput.measure(settings["points"], settings["throughput_rounds"])
            )
        if "scale" in chosen:
            from benchmarks.figures import scale

            figures["scale"] = _guard(
                lambda: scale.measure(settings["sizes"], stores, settings["scale_repeats"], args.pg)
            )
        if "startup" in chosen:
            progress(f"start-up: {settings['rounds']} rounds")
            from benchmarks.figures import startup

            figures["startup"] = _guard(
                lambda: startup.measure(
                    _store(stores, 1_000 if not args.smoke else 300), settings["rounds"]
                )
            )
        if "memory" in chosen:
            progress("memory")
            from benchmarks.figures import memory

            biggest = max(settings["sizes"])
            figures["memory"] = _guard(
                lambda: memory.measure(settings["memory_points"], _store(stores, biggest), biggest)
            )
    meta["seconds"] = time.time() - started
    meta["load_average_end"] = end = environment.load_average()
    meta["under_load"] = meta["under_load"] or bool(
        end and end[0] > meta["machine"]["cpu_count"] / 3
    )
    results = _merged({"meta": meta, "figures": figures}, args)
    _write(results, args)
    progress(f"done in {meta['seconds']:.0f} s")
    return results


def _store(stores: Path, runs: int) -> str:
    """The SQLite store of ``runs`` runs the scale figure built, building it if needed."""
    from benchmarks.figures.scale import sqlite_store

    with sqlite_store(stores, runs) as (location, _):
        return location


def _guard(work: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = work()
        return result
    except Exception as exc:  # one figure failing must not lose the others
        import traceback

        traceback.print_exc()
        return failed(f"{type(exc).__name__}: {exc}")


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    if args.out is not None:
        return args.out / "results.json", args.out / "benchmarks.md"
    if args.smoke:
        folder = Path(tempfile.mkdtemp(prefix="mb-bench-smoke-"))
        return folder / "results.json", folder / "benchmarks.md"
    return ROOT / "benchmarks" / "results.json", ROOT / "docs" / "benchmarks.md"


def _merged(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """With ``--only``, the other figures of the results file already there are kept (the file
    says which figures came from which run)."""
    json_path = args.out / "results.json" if args.out is not None else _paths(args)[0]
    if not args.only or args.smoke or not json_path.exists():
        return results
    previous = json.loads(json_path.read_text())
    kept = {k: v for k, v in previous.get("figures", {}).items() if k not in results["figures"]}
    if not kept:
        return results
    meta = previous["meta"]
    meta.setdefault("partial_runs", []).append(
        {key: results["meta"][key] for key in ("date", "command", "seconds", "under_load")}
        | {"figures": sorted(results["figures"])}
    )
    return {"meta": meta, "figures": {**previous["figures"], **results["figures"]}}


def _write(results: dict[str, Any], args: argparse.Namespace) -> None:
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    json_path, doc_path = _paths(args)
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    report.write_table(doc_path, results)
    progress(f"wrote {json_path} and {doc_path}")


if __name__ == "__main__":
    main()
