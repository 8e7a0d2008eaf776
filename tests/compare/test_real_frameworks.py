"""The real Keras and PyTorch adapters: their basic_cnn twins line up layer by layer.

Each framework tracks its model in a process of its own (TensorFlow and torch in one process
can crash), both into one store; the comparison runs here without either framework.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import modelboard as mb

pytestmark = [pytest.mark.keras, pytest.mark.torch]

KERAS_SCRIPT = """
import sys, keras, modelboard as mb
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
    keras.layers.Dropout(0.3), keras.layers.Dense(10),
])
with mb.Tracker(sys.argv[1]).track(model, name="basic_cnn") as run:
    print(run.id)
"""
TORCH_SCRIPT = """
import sys, torch, modelboard as mb
nn = torch.nn
model = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 5 * 5, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 10),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
with mb.Tracker(sys.argv[1]).track(model, name="basic_cnn", optimizer=optimizer) as run:
    print(run.id)
"""


def _track(script: str, store: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, str(store)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_tracked_keras_and_torch_basic_cnn_align(tmp_path: Path) -> None:
    for module in ("keras", "torch"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    keras_id = _track(KERAS_SCRIPT, tmp_path)
    torch_id = _track(TORCH_SCRIPT, tmp_path)
    with mb.Tracker(tmp_path) as tracker:
        comparison = tracker.compare(keras_id, torch_id)
        layers = comparison.layers
        k_label, t_label = comparison.labels
        assert len(layers) == 8, layers.to_string()
        assert (layers["match"] != "gap").all(), layers.to_string()
        k_params = list(layers[f"{k_label} params"])
        assert k_params == list(layers[f"{t_label} params"])
        assert k_params == [320, 0, 18496, 0, 0, 102464, 0, 650]
        frame = tracker.leaderboard(columns=["framework", "total_params"])
        assert sorted(frame["framework"]) == ["keras", "torch"]
        assert set(frame["total_params"]) == {121930}
