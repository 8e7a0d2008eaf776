"""TensorFlow and torch in one process, in either order, once modelboard is imported (item 12).

Without modelboard, ``import tensorflow; import torch; torch.optim.Adam(...)`` dies with SIGSEGV
here (tensorflow#124205). Each case runs in a fresh interpreter: the test session itself loads
triton first (tests/conftest.py), which would hide the crash.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.keras, pytest.mark.torch]

_STEP = """
m = torch.nn.Linear(3, 2)
opt = torch.optim.Adam(m.parameters())
m(torch.rand(4, 3)).sum().backward()
opt.step()
print("stepped")
"""


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "imports",
    [
        "import modelboard, tensorflow, torch",
        "import tensorflow, modelboard, torch, torchvision",
    ],
)
def test_an_optimizer_step_after_tensorflow(imports: str, tmp_path: Path) -> None:
    done = _run(imports + "\n" + _STEP, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stepped" in done.stdout


def test_torch_compile_after_tensorflow(tmp_path: Path) -> None:
    code = """
    import tensorflow, modelboard, torch
    compiled = torch.compile(lambda x: torch.sin(x) * 2 + 1)
    x = torch.rand(8)
    assert torch.allclose(compiled(x), torch.sin(x) * 2 + 1)
    print("compiled")
    """
    done = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "compiled" in done.stdout


def test_a_notebook_tracks_and_compares_both_frameworks(tmp_path: Path) -> None:
    code = f"""
    import numpy as np
    import keras
    import modelboard as mb
    import torch, torchvision

    rng = np.random.default_rng(0)
    x = rng.random((32, 4)).astype("float32")
    y = rng.integers(0, 3, 32)
    tracker = mb.Tracker({str(tmp_path / "store")!r})

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with tracker.track(model, name="twin") as k_run:
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        k_run.evaluate(x, y)

    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
    opt = torch.optim.Adam(module.parameters())
    with tracker.track(module, optimizer=opt, name="twin", gradients_every=1) as t_run:
        for start in range(0, 32, 8):
            opt.zero_grad()
            out = module(torch.from_numpy(x[start : start + 8]))
            loss = torch.nn.functional.nll_loss(out.log(), torch.from_numpy(y[start : start + 8]))
            loss.backward()
            opt.step()
        t_run.log(epoch=0, loss=float(loss))
        t_run.evaluate(x, y)

    comparison = tracker.compare(k_run.id, t_run.id)
    layers = comparison.layers
    assert len(layers) == 1, layers
    print("compared", tracker.get(k_run.id).run.framework, tracker.get(t_run.id).run.framework)
    """
    done = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "compared keras torch" in done.stdout
