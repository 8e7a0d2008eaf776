"""mb.reproduce on real user patterns: it returns the recorded model or refuses.

An LSTM classifier with non-default constructor arguments, torchvision's mobilenet_v3_small,
pytorch/examples' mnist ``Net`` defined in the training script (``__main__``), and stores
edited to name ``subprocess:run`` or ``os:system``. Stores are real SQLite files, edited with
SQL the way anyone with write access could.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import modelboard as mb  # noqa: E402

pytestmark = pytest.mark.torch


class LSTMClassifier(nn.Module):
    """A text classifier as people write it: the arguments go into layers, none is stored."""

    def __init__(
        self, vocab_size: int = 1000, embed_dim: int = 32, hidden: int = 64, num_classes: int = 2
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embedding(tokens))
        return self.fc(out[:, -1])


@mb.record_init
class RecordedLSTMClassifier(LSTMClassifier):
    """The same classifier with ``@mb.record_init``."""


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _train_a_little(model: nn.Module) -> None:
    tokens = torch.randint(0, 500, (16, 7), generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 2, (16,), generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(tokens), labels).backward()
        optimizer.step()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def tracker(store: Path) -> Iterator[mb.Tracker]:
    with mb.Tracker(store, plugin_manager=mb.create_plugin_manager()) as t:
        yield t


def _fresh(store: Path) -> mb.Tracker:
    return mb.Tracker(store, plugin_manager=mb.create_plugin_manager())


def _edit_reproduce(store: Path, run_id: str, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change the stored network record's ``reproduce`` entry with SQL on the SQLite file."""
    with sqlite3.connect(store / "modelboard.db") as db:
        (payload,) = db.execute(
            "SELECT payload FROM records WHERE run_id = ? AND kind = 'network'", (run_id,)
        ).fetchone()
        record = json.loads(payload)
        edit(record["reproduce"])
        db.execute(
            "UPDATE records SET payload = ? WHERE run_id = ? AND kind = 'network'",
            (json.dumps(record), run_id),
        )


def _rebuilt_matches(tracker: mb.Tracker, run: mb.Run, rebuilt: nn.Module) -> None:
    again = tracker.track(rebuilt, name="rebuilt")
    assert again.network.signature == run.network.signature
    assert again.network.total_params == run.network.total_params
    again.finish()


# -- constructor arguments ------------------------------------------------------------------


def test_an_lstm_with_record_init_reproduces_exactly(tracker: mb.Tracker) -> None:
    model = RecordedLSTMClassifier(vocab_size=500, embed_dim=16, hidden=24)
    _train_a_little(model)
    run = tracker.track(model, name="lstm")
    assert run.network.total_params == _count(model) == 12_082
    info = run.network.reproduce
    assert info["rebuildable"] is True and info["init_args_from"] == "record_init"
    assert info["spec"]["args"] == {
        "vocab_size": 500,
        "embed_dim": 16,
        "hidden": 24,
        "num_classes": 2,
    }
    run.finish()
    rebuilt = mb.reproduce(run.id, tracker)
    assert type(rebuilt) is RecordedLSTMClassifier and _count(rebuilt) == _count(model)
    assert rebuilt.lstm.hidden_size == 24 and rebuilt.embedding.num_embeddings == 500
    _rebuilt_matches(tracker, run, rebuilt)


def test_an_lstm_with_init_args_reproduces_exactly(tracker: mb.Tracker) -> None:
    model = LSTMClassifier(vocab_size=500, embed_dim=16, hidden=24)
    run = tracker.track(
        model, init_args={"vocab_size": 500, "embed_dim": 16, "hidden": 24}, name="lstm"
    )
    assert run.network.reproduce["rebuildable"] is True
    run.finish()
    rebuilt = mb.reproduce(run.id, tracker)
    assert _count(rebuilt) == _count(model)
    _rebuilt_matches(tracker, run, rebuilt)


def test_an_lstm_without_its_arguments_is_recorded_as_not_rebuildable(
    tracker: mb.Tracker,
) -> None:
    model = LSTMClassifier(vocab_size=500, embed_dim=16, hidden=24)
    run = tracker.track(model, name="lstm")
    defaults = _count(LSTMClassifier())
    info = run.network.reproduce
    assert info["rebuildable"] is False and info["checked_at_track"] is True
    for words in (f"{defaults:,} parameters", f"{_count(model):,}", "vocab_size", "hidden"):
        assert words in info["not_rebuildable"]
    run.finish()
    with pytest.raises(mb.ReproduceError, match="not rebuildable.*vocab_size"):
        mb.reproduce(run.id, tracker)


def test_a_record_claiming_too_much_is_caught_after_rebuilding(
    store: Path, tracker: mb.Tracker
) -> None:
    """A record that says "rebuildable" (an older modelboard wrote such) is still checked:
    the rebuilt model's parameter count differs and reproduce refuses, naming both counts."""
    model = LSTMClassifier(vocab_size=500, embed_dim=16, hidden=24)
    run = tracker.track(model, name="lstm")
    run.finish()
    _edit_reproduce(store, run.id, lambda r: r.update(rebuildable=True, not_rebuildable=None))
    with _fresh(store) as reader, pytest.raises(mb.ReproduceError) as refused:
        mb.reproduce(run.id, reader)
    message = str(refused.value)
    assert f"has {_count(LSTMClassifier()):,} parameters" in message
    assert f"the record says {_count(model):,}" in message
    assert "vocab_size" in message and "record_init" in message


def test_a_rebuilt_model_with_another_architecture_is_refused(
    store: Path, tracker: mb.Tracker
) -> None:
    """Same parameter count, another layer: the signature check names the layer."""
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    run = tracker.track(model)
    run.finish()
    _edit_reproduce(
        store,
        run.id,
        lambda r: r["spec"]["children"]["1"].update(
            {"class": "torch.nn.modules.activation:Tanh", "args": {}}
        ),
    )
    with _fresh(store) as reader, pytest.raises(mb.ReproduceError) as refused:
        mb.reproduce(run.id, reader)
    message = str(refused.value)
    assert "another architecture" in message  # the ReLU is folded into the Linear before it
    assert "is dense(activation=tanh" in message and "record has dense(activation=relu" in message


def test_arguments_that_are_not_json_make_the_record_not_rebuildable(
    tracker: mb.Tracker,
) -> None:
    @mb.record_init
    class Wrapped(nn.Module):
        def __init__(self, body: nn.Module) -> None:
            super().__init__()
            self.body = body

    run = tracker.track(Wrapped(nn.Linear(3, 2)), name="wrapped")
    info = run.network.reproduce
    assert info["rebuildable"] is False
    assert "argument body is a torch.nn.modules.linear.Linear" in info["not_rebuildable"]
    other = tracker.track(LSTMClassifier(), init_args={"vocab_size": nn.Linear(2, 2)})
    assert other.network.reproduce["rebuildable"] is False
    assert "init_args['vocab_size']" in other.network.reproduce["not_rebuildable"]
    run.finish()
    other.finish()


# -- torchvision ----------------------------------------------------------------------------


def test_mobilenet_v3_small_is_matched_to_its_builder(tracker: mb.Tracker) -> None:
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.mobilenet_v3_small(num_classes=5, weights=None)
    run = tracker.track(model, name="mobilenet")
    info = run.network.reproduce
    assert info["registered_name"] == "mobilenet_v3_small"
    assert info["factory"] == "torchvision.models.mobilenetv3:mobilenet_v3_small"
    assert info["spec"]["args"] == {"weights": None, "num_classes": 5}
    run.finish()
    rebuilt = mb.reproduce(run.id, tracker)
    assert type(rebuilt) is type(model) and _count(rebuilt) == _count(model)
    assert rebuilt.classifier[-1].out_features == 5


def test_a_factory_named_by_its_path_is_checked(tracker: mb.Tracker) -> None:
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.mobilenet_v3_small(num_classes=5, weights=None)
    run = tracker.track(model, factory="torchvision.models:mobilenet_v3_small")
    assert run.network.reproduce["rebuildable"] is True
    wrong = tracker.track(
        model, factory="torchvision.models:mobilenet_v3_large", init_args={"num_classes": 5}
    )
    assert wrong.network.reproduce["rebuildable"] is False
    assert "does not rebuild this model" in wrong.network.reproduce["not_rebuildable"]
    run.finish()
    wrong.finish()
    assert _count(mb.reproduce(run.id, tracker)) == _count(model)


def make_lstm(num_classes: int = 2) -> LSTMClassifier:
    """A project's own builder, as in many training scripts."""
    return LSTMClassifier(vocab_size=500, embed_dim=16, hidden=24, num_classes=num_classes)


def test_a_project_factory_gets_the_arguments_it_can_be_checked_with(tracker: mb.Tracker) -> None:
    model = make_lstm(num_classes=3)
    run = tracker.track(model, factory=make_lstm)
    info = run.network.reproduce
    assert info["rebuildable"] is True and info["spec"]["args"] == {"num_classes": 3}
    assert info["factory"] == f"{__name__}:make_lstm"
    run.finish()
    rebuilt = mb.reproduce(run.id, tracker)
    assert rebuilt.fc.out_features == 3 and _count(rebuilt) == _count(model)


# -- edited stores ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            lambda r, marker: r.update(
                factory="subprocess:run",
                spec={"args": {"args": ["touch", marker]}},
            ),
            id="subprocess-run-factory",
        ),
        pytest.param(
            lambda r, marker: r.update(
                factory=None,
                spec={"class": "subprocess:run", "args": {"args": ["touch", marker]}},
            ),
            id="subprocess-run-class",
        ),
        pytest.param(
            lambda r, marker: r.update(
                factory="os:system", spec={"args": {"command": f"touch {marker}"}}
            ),
            id="os-system",
        ),
        pytest.param(
            lambda r, marker: r["spec"]["children"]["1"].update(
                {"class": "builtins:eval", "args": {"source": f"open({marker!r}, 'w')"}}
            ),
            id="builtins-eval-nested",
        ),
    ],
)
def test_an_edited_store_cannot_run_a_command(
    store: Path, tracker: mb.Tracker, tmp_path: Path, edit: Callable[..., None]
) -> None:
    marker = tmp_path / "marker"
    run = tracker.track(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))
    run.finish()
    _edit_reproduce(store, run.id, lambda r: edit(r, str(marker)))
    with (
        _fresh(store) as reader,
        pytest.raises(mb.ReproduceError, match="refusing to import") as refused,
    ):
        mb.reproduce(run.id, reader)
    assert "allow_modules=" in str(refused.value)
    assert not marker.exists()


def test_a_refused_module_is_not_even_imported(
    store: Path, tracker: mb.Tracker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed-looking module outside the project, that would act when imported."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    marker = tmp_path / "imported"
    (outside / "sneaky_models.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nimport torch\nNet = torch.nn.Linear\n"
    )
    monkeypatch.syspath_prepend(str(outside))
    run = tracker.track(nn.Linear(4, 2))
    run.finish()
    _edit_reproduce(store, run.id, lambda r: r["spec"].update({"class": "sneaky_models:Net"}))
    with _fresh(store) as reader:
        with pytest.raises(mb.ReproduceError, match="sneaky_models"):  # noqa: SIM117
            mb.reproduce(run.id, reader)
        assert not marker.exists() and "sneaky_models" not in sys.modules
        rebuilt = mb.reproduce(run.id, reader, allow_modules=["sneaky_models"])
    assert marker.exists() and isinstance(rebuilt, nn.Linear)
    sys.modules.pop("sneaky_models", None)


def test_a_framework_function_that_is_no_model_builder_is_refused(
    store: Path, tracker: mb.Tracker, tmp_path: Path
) -> None:
    pytest.importorskip("torchvision")
    run = tracker.track(nn.Linear(4, 2))
    run.finish()
    _edit_reproduce(
        store,
        run.id,
        lambda r: r.update(factory="torch:load", spec={"args": {"f": str(tmp_path / "x.pt")}}),
    )
    with (
        _fresh(store) as reader,
        pytest.raises(mb.ReproduceError, match="not a registered torchvision model builder"),
    ):
        mb.reproduce(run.id, reader)


# -- a class of the training script ----------------------------------------------------------

_SCRIPT = '''
"""pytorch/examples mnist/main.py, made small: Net is defined in the script."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

import modelboard as mb

HIDDEN = 16


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.fc1 = nn.Linear(8 * 5 * 5, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


def main():
    open("TRAINING_RAN", "a").close()
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    tracker = mb.Tracker("store")
    run = tracker.track(model, optimizer=optimizer, name="mnist")
    x = torch.rand(8, 1, 14, 14)
    y = torch.randint(0, 10, (8,))
    optimizer.zero_grad()
    F.nll_loss(model(x), y).backward()
    optimizer.step()
    run.finish()
    print("RUN", run.id, sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
'''

_REPRODUCE = """
import sys
import modelboard as mb

tracker = mb.Tracker("store")
try:
    mb.reproduce(sys.argv[1], tracker)
except mb.ReproduceError as exc:
    print("REFUSED", exc)
model = mb.reproduce(sys.argv[1], tracker, trust_source=True)
print("REBUILT", type(model).__name__, sum(p.numel() for p in model.parameters()))
"""


def _python(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        env={**os.environ, "MODELBOARD_SILENT": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_class_of_the_training_script_needs_trust_source_in_a_new_process(
    tmp_path: Path,
) -> None:
    (tmp_path / "main.py").write_text(_SCRIPT)
    (tmp_path / "again.py").write_text(_REPRODUCE)
    trained = _python(tmp_path, "main.py").split()
    run_id, params = trained[trained.index("RUN") + 1], int(trained[trained.index("RUN") + 2])
    (tmp_path / "TRAINING_RAN").unlink()
    with mb.Tracker(tmp_path / "store") as reader:
        info = reader.get(run_id).network.reproduce
    assert info["class"] == "__main__:Net" and info["source_kind"] == "script"
    assert "class Net(nn.Module)" in info["source"] and "HIDDEN = 16" in info["source"]
    assert "main()" not in info["source"].replace("def main()", "")
    out = _python(tmp_path, "again.py", run_id)
    refused = next(line for line in out.splitlines() if line.startswith("REFUSED"))
    assert "__main__:Net" in refused and "trust_source=True" in refused
    assert f"REBUILT Net {params}" in out
    assert not (tmp_path / "TRAINING_RAN").exists()  # the script's training did not run again


# -- Keras -----------------------------------------------------------------------------------


@pytest.mark.keras
def test_a_keras_record_naming_other_modules_is_refused(
    store: Path, tracker: mb.Tracker, tmp_path: Path
) -> None:
    """keras-io's mnist_convnet, tracked; then its config is edited to name ``os:system`` as a
    layer, and its class entry to name ``subprocess:run``. Unedited, it reproduces."""
    keras = pytest.importorskip("keras")
    model = keras.Sequential(
        [
            keras.Input(shape=(12, 12, 1)),
            keras.layers.Conv2D(4, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    run = tracker.track(model, name="mnist_convnet")
    run.finish()
    rebuilt = mb.reproduce(run.id, tracker)
    assert rebuilt.count_params() == model.count_params() == run.network.total_params

    with sqlite3.connect(store / "modelboard.db") as db:
        (payload,) = db.execute(
            "SELECT payload FROM records WHERE run_id = ? AND kind = 'network'", (run.id,)
        ).fetchone()
        record = json.loads(payload)
        layer = record["model_config"]["config"]["layers"][1]
        layer.update(module="os", class_name="system", registered_name=None)
        db.execute(
            "UPDATE records SET payload = ? WHERE run_id = ? AND kind = 'network'",
            (json.dumps(record), run.id),
        )
    with _fresh(store) as reader, pytest.raises(mb.ReproduceError, match="refusing to import 'os'"):
        mb.reproduce(run.id, reader)
    _edit_reproduce(store, run.id, lambda r: r.update({"class": "subprocess:run"}))
    with (
        _fresh(store) as reader,
        pytest.raises(mb.ReproduceError, match="refusing to import 'subprocess'"),
    ):
        mb.reproduce(run.id, reader)
