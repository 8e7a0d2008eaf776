"""Comparing runs: sections with differences first, layer alignment across frameworks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sample_runs import keras_basic_cnn, torch_basic_cnn

from modelboard.compare import SECTIONS, align_pair, leaf_layers


def test_keras_and_torch_basic_cnn_align_layer_by_layer(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    comparison = tracker.compare(ids["keras"], ids["torch"])
    keras_label, torch_label = comparison.labels
    layers = comparison.layers
    assert len(layers) == 8  # 2 conv, 2 pool, flatten, 2 dense, dropout: one row per pair
    assert (layers["match"] != "gap").all()
    assert list(layers[f"{keras_label} params"]) == list(layers[f"{torch_label} params"])
    assert list(layers["type"][:2]) == ["conv2d", "maxpool2d"]
    assert layers[keras_label].iloc[0].startswith("Conv2D conv2d")
    assert layers[torch_label].iloc[0].startswith("Conv2d features.0")
    # the last Dense has softmax in Keras, none in torch: same row, marked as differing
    assert list(layers["match"]) == ["same"] * 7 + ["differs"]


def test_one_extra_dense_layer_is_exactly_one_gap(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    comparison = tracker.compare(ids["torch"], ids["wide"])
    gaps = comparison.layers[comparison.layers["match"] == "gap"]
    assert len(gaps) == 1
    gap = gaps.iloc[0]
    torch_label, wide_label = comparison.labels
    assert gap["type"] == "dense" and pd.isna(gap[torch_label])
    assert gap[f"{wide_label} params"] == 2080


def test_alignment_prefers_gaps_to_mismatched_types() -> None:
    keras = leaf_layers(keras_basic_cnn())
    torch = leaf_layers(torch_basic_cnn())
    assert [(a, b) for a, b in align_pair(keras, torch)] == [(i, i) for i in range(8)]
    pairs = align_pair(keras[:5], keras[5:])  # conv/pool/flatten vs dense/dropout/dense
    assert all(a is None or b is None for a, b in pairs)


def test_sections_put_differences_first_and_hide_identical(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    comparison = tracker.compare(ids["keras"], ids["torch"])
    assert list(comparison.sections) == list(SECTIONS)
    hyper = comparison.sections["hyperparameters"]
    a, b = comparison.labels
    assert hyper.loc["params.batch_size", a] == 32 and hyper.loc["params.batch_size", b] == 64
    assert hyper["differs"].all()
    data = comparison.sections["data"]
    assert "name" not in data.index and comparison.hidden["data"] > 0  # both "digits"
    full = tracker.compare(ids["keras"], ids["torch"], show_identical=True)
    rows = full.sections["data"]
    assert rows.loc["name", a] == "digits" and not rows.loc["name", "differs"]
    flags = list(full.sections["network"]["differs"])
    assert flags == sorted(flags, reverse=True)  # differences first
    evaluation = comparison.sections["evaluation"]
    assert evaluation.loc["val.accuracy", a] == 0.86 and evaluation.loc["val.accuracy", b] == 0.91
    assert evaluation.loc["val.precision[0]", b] == 0.91


def test_three_runs_and_json(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    comparison = tracker.compare(ids["keras"][:8], ids["torch"], ids["wide"])
    assert len(comparison.labels) == 3
    assert (comparison.layers["match"] == "gap").sum() == 1
    out = comparison.to_dict()
    assert out["runs"] == [ids["keras"], ids["torch"], ids["wide"]]
    assert len(out["layers"]) == 9


def test_curves_png(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    comparison = tracker.compare(ids["keras"], ids["torch"])
    assert comparison.metric_names()[:2] == ["loss", "val_loss"]
    path = comparison.plot_curves(tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = comparison.plot_curves(metrics=["val_loss"])
    lines = figure.axes[0].get_lines()
    assert len(lines) == 2 and list(lines[1].get_ydata()) == [0.8, 0.3, 0.5]


def test_compare_needs_two_runs(sample) -> None:  # type: ignore[no-untyped-def]
    tracker, ids = sample
    with pytest.raises(ValueError, match="at least two"):
        tracker.compare(ids["keras"])
