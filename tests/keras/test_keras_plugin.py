"""The adapter as a plugin: no framework import on load, dispatch, and the torch backend run."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import modelboard as mb

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SUBPROCESS_ENV = "MODELBOARD_KERAS_TEST_SUBPROCESS"


def test_loading_plugins_imports_no_framework() -> None:
    code = (
        "import sys, modelboard; pm = modelboard.get_plugin_manager();"
        "assert pm.get_plugin('keras') is not None, pm.list_name_plugin();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'torch', 'keras', 'jax')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_keras_hooks_answer_none_for_other_objects() -> None:
    from modelboard.adapters.keras import plugin

    assert plugin.modelboard_detect_framework(obj=np.zeros(3)) is None
    assert plugin.modelboard_describe_network(obj=object(), options={}) is None
    assert plugin.modelboard_predict(obj=[1, 2], x=None, options={}) is None
    assert plugin.modelboard_describe_split(name="train", x=np.zeros((2, 2)), y=None) is None
    assert plugin.modelboard_describe_augmentations(obj={"rotation": 3}) is None
    network = mb.records.NetworkRecord(framework="torch", architecture="x")
    assert plugin.modelboard_reproduce(network=network) is None


def test_keras_model_is_claimed_by_the_keras_adapter(tracker: Any, basic_cnn: Any) -> None:
    info = tracker.plugins.hook.modelboard_detect_framework(obj=basic_cnn())
    assert info.name == "keras" and info.version == keras.__version__


@pytest.mark.skipif(
    bool(os.environ.get(SUBPROCESS_ENV)), reason="already the subprocess run of this folder"
)
def test_this_folder_passes_under_the_torch_backend() -> None:
    other = "torch" if keras.backend.backend() == "tensorflow" else "tensorflow"
    if importlib.util.find_spec(other) is None:
        message = f"{other} is not installed: the other Keras backend cannot be tested"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI, issue 3 requires both backends
        pytest.skip(message)
    env = {**os.environ, "KERAS_BACKEND": other, SUBPROCESS_ENV: "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and "failed" not in summary, tail


def test_the_torch_adapter_leaves_keras_models_alone(basic_cnn: Any) -> None:
    # On the torch backend a Keras model is also a torch.nn.Module; only Keras may claim it.
    from modelboard.adapters.torch import plugin as torch_plugin

    model = basic_cnn()
    assert torch_plugin.modelboard_detect_framework(obj=model) is None
    info = mb.create_plugin_manager().hook.modelboard_detect_framework(obj=model)
    assert info is not None and info.name == "keras"
