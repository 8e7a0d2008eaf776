"""The prediction options: ``predict_batch_size`` (``batch_size`` is the training batch size)
and ``output="logits" | "probabilities"``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import modelboard as mb

pytestmark = pytest.mark.torch


def _counting(module: nn.Module) -> list[int]:
    sizes: list[int] = []
    module.register_forward_hook(lambda _m, inputs, _out: sizes.append(len(inputs[0])))
    return sizes


def test_predict_batch_size_is_the_prediction_batch_size(torch_tracker: mb.Tracker) -> None:
    module = nn.Linear(4, 3)
    sizes = _counting(module)
    x = torch.rand(20, 4)
    run = torch_tracker.track(module, batch_size=4, predict_batch_size=8, gradients_every=0)
    run.predict(x)
    assert sizes == [8, 8, 4]  # predict_batch_size, never the training batch_size
    sizes.clear()
    run.predict(x, batch_size=15)  # this call's prediction batch size
    assert sizes == [15, 5]
    run.finish()
    sizes.clear()
    run = torch_tracker.track(module, batch_size=4, gradients_every=0)
    run.predict(x)
    assert sizes == [20]  # the default prediction batch size (256), not batch_size=4
    run.finish()


def test_output_says_what_the_model_returns(torch_tracker: mb.Tracker) -> None:
    torch.manual_seed(0)
    module = nn.Linear(4, 3)
    x = torch.rand(6, 4)
    raw = module(x).detach().numpy()
    run = torch_tracker.track(module, output="probabilities", gradients_every=0)
    np.testing.assert_array_equal(run.predict(x), raw)  # taken as they are
    run.finish()
    run = torch_tracker.track(module, output="logits", gradients_every=0)
    np.testing.assert_allclose(run.predict(x), torch.softmax(module(x), 1).detach(), rtol=1e-5)
    with pytest.raises(ValueError, match="output must be 'logits' or 'probabilities'"):
        run.predict(x, output="scores")
    run.finish()
