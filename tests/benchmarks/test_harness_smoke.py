"""The benchmark harness (``benchmarks/run.py --smoke``) runs every figure on tiny sizes and
writes results.json and the docs table; a peer that is not installed is skipped with why.

Nothing here is timed: the figures are checked for shape and for being measured, not for size.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.figures.common import paired_ratios, rotated  # noqa: E402
from benchmarks.figures.report import END, START  # noqa: E402

PEER_MODULES = {"mlflow": "mlflow", "wandb": "wandb", "tensorboard": "tensorboard"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=out,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    return results, (out / "benchmarks.md").read_text()


def _installed(peer: str) -> bool:
    return importlib.util.find_spec(PEER_MODULES[peer]) is not None


def _check_peer_entry(name: str, entry: dict[str, Any]) -> None:
    """A peer's entry is measured where it is installed, and says why where it is not."""
    if _installed(name):
        assert entry["status"] == "ok", entry
    else:
        assert entry["status"] == "skipped"
        assert entry["reason"].startswith("skipped: ") and name in entry["reason"]


def test_results_name_the_machine_versions_and_every_figure(smoke: Any) -> None:
    results, _ = smoke
    meta = results["meta"]
    assert meta["smoke"] is True
    assert meta["machine"]["cpu_count"] >= 1 and meta["machine"]["cpu_model"]
    assert meta["python"] == ".".join(map(str, sys.version_info[:3]))
    for peer in PEER_MODULES:
        assert (meta["versions"][peer] is not None) == _installed(peer)
    assert sorted(results["figures"]) == ["memory", "overhead", "scale", "startup", "throughput"]
    for name, figure in results["figures"].items():
        assert figure.get("status") != "failed", (name, figure)


def test_overhead_is_paired_per_round_against_untracked(smoke: Any) -> None:
    overhead = smoke[0]["figures"]["overhead"]
    for framework in ("torch", "keras"):
        result = overhead[framework]
        assert result["status"] == "ok", result
        variants = result["variants"]
        rounds = result["rounds"]
        assert variants["untracked"]["ratios"] == [1.0] * rounds
        for name in ("modelboard", "modelboard_nograd"):
            entry = variants[name]
            assert entry["status"] == "ok" and len(entry["ratios"]) == rounds
            assert entry["min"] <= entry["median"] <= entry["max"]
            assert entry["seconds"]["median"] > 0
        captured = variants["modelboard"].get("captures_per_run") or variants["modelboard"].get(
            "captures_in_all_fits"
        )
        assert captured and captured > 0
        assert not (
            variants["modelboard_nograd"].get("captures_per_run")
            or variants["modelboard_nograd"].get("captures_in_all_fits")
        )
        for peer in PEER_MODULES:
            _check_peer_entry(peer, variants[peer])
    assert overhead["torch"]["variants"]["floor"]["status"] == "ok"
    # the PyTorch figures use tensorboard's TF-free stub, as a PyTorch-only user has it
    assert overhead["torch"]["tensorflow_imported"] is False


def test_throughput_counts_stored_points_against_raw_sqlite(smoke: Any) -> None:
    figure = smoke[0]["figures"]["throughput"]
    variants = figure["variants"]
    for name in ("modelboard", "sqlite_raw"):
        assert variants[name]["status"] == "ok"
        assert variants[name]["points"] == figure["points"]
        assert variants[name]["points_per_s"]["median"] > 0
    assert variants["sqlite_raw"]["ratio_to_sqlite_raw"]["median"] == 1.0
    for peer in PEER_MODULES:
        _check_peer_entry(peer, variants[peer])


def test_scale_startup_and_memory_are_measured(smoke: Any) -> None:
    figures = smoke[0]["figures"]
    sqlite = figures["scale"]["backends"]["sqlite"]
    for row in sqlite["sizes"].values():
        assert row["top50"]["status"] == "ok" and row["top50"]["median_s"] > 0
        whole = row["whole_store"]
        assert whole["status"] == "ok" or whole["reason"].startswith("skipped: ")
    startup = figures["startup"]["variants"]
    for name in ("import_modelboard", "plugins", "ls_1k", "tracker_new"):
        assert startup[name]["status"] == "ok", startup[name]
        assert startup[name]["seconds"]["median"] > 0
    for name, peer in (("import_mlflow", "mlflow"), ("import_wandb", "wandb")):
        _check_peer_entry(peer, startup[name])
    memory = figures["memory"]
    assert memory["run"]["peak_mib"] >= memory["run"]["after_import_mib"] > 0
    assert memory["leaderboard"]["peak_mib"] > 0


def test_the_docs_table_holds_every_figure_between_the_markers(smoke: Any) -> None:
    _, page = smoke
    assert page.count(START) == 1 and page.count(END) == 1
    table = page.split(START, 1)[1].split(END, 1)[0]
    for title in ("Training overhead", "Logging throughput", "Scale", "Start-up", "Peak memory"):
        assert title in table
    assert "python benchmarks/run.py --smoke" in table
    for peer in PEER_MODULES:
        if not _installed(peer):
            assert f"skipped: {peer} is not installed" in table


def test_rotation_puts_every_variant_in_every_position() -> None:
    names = ["a", "b", "c", "d"]
    orders = [rotated(names, r) for r in range(8)]
    assert all(sorted(order) == names for order in orders)
    for name in names:
        assert {order.index(name) for order in orders} == set(range(len(names)))


def test_paired_ratios_divide_within_each_round() -> None:
    ratios = paired_ratios({"base": [1.0, 2.0, 4.0], "other": [1.5, 2.0, 2.0]}, "base")
    assert ratios["other"]["ratios"] == [1.5, 1.0, 0.5]
    assert ratios["other"]["median"] == 1.0
    assert (ratios["other"]["min"], ratios["other"]["max"]) == (0.5, 1.5)
    assert ratios["base"]["ratios"] == [1.0, 1.0, 1.0]
