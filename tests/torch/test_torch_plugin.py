"""Detection, dispatch and the environment: torch is never imported by modelboard itself."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import modelboard as mb
from modelboard.adapters.torch import plugin

pytestmark = pytest.mark.torch


def test_loading_plugins_imports_neither_torch_nor_tensorflow() -> None:
    code = (
        "import sys, modelboard; modelboard.get_plugin_manager(); "
        "import numpy as np; d = modelboard.Data('x', train=(np.zeros((2, 3)), np.array([0, 1]))); "
        "names = ('torch', 'tensorflow', 'keras', 'torchvision'); "
        "print(sorted(m for m in names if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_hooks_answer_none_for_other_objects() -> None:
    assert plugin.modelboard_detect_framework(obj=object()) is None
    assert plugin.modelboard_describe_network(obj=np.zeros(3), options={}) is None
    assert plugin.modelboard_predict(obj="model", x=np.zeros(3), options={}) is None
    assert plugin.modelboard_describe_split(name="train", x=np.zeros(3), y=None) is None
    assert plugin.modelboard_describe_augmentations(obj={"rotation": 5}) is None
    network = mb.records.NetworkRecord(framework="keras", architecture="x")
    assert plugin.modelboard_reproduce(network=network) is None


def test_a_module_is_claimed_as_torch(torch_tracker: mb.Tracker) -> None:
    info = plugin.modelboard_detect_framework(obj=torch.nn.Linear(2, 2))
    assert info is not None and (info.name, info.version) == ("torch", torch.__version__)
    run = torch_tracker.track(torch.nn.Linear(2, 2), name="lin")
    assert run.record.framework == "torch" and run.record.framework_version == torch.__version__
    run.finish()


def test_environment_reports_torch_and_its_seed(torch_tracker: mb.Tracker) -> None:
    torch.manual_seed(1234)
    run = torch_tracker.track(torch.nn.Linear(2, 2))
    env = torch_tracker.get(run.id).run.environment
    assert env["torch"]["version"] == torch.__version__
    assert env["torch"]["cuda_available"] == torch.cuda.is_available()
    assert env["seeds"]["torch"] == 1234
    assert "PYTHONHASHSEED" in env["seeds"]  # merged with the core's seeds, not replacing them
    run.finish()
