"""Predictions for evaluation: class probabilities by the documented rule."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import torch
from torch import nn

import modelboard as mb
from modelboard.probabilities import to_probabilities

pytestmark = pytest.mark.torch


def test_softmax_models_pass_probabilities_unchanged(
    torch_tracker: mb.Tracker, models: ModuleType, digits: tuple[torch.Tensor, torch.Tensor]
) -> None:
    module = models.BasicCNN()
    module.train()
    run = torch_tracker.track(module)
    x, _ = digits
    probabilities = run.predict(x.numpy(), batch_size=10)
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (64, 10)
    module.eval()
    with torch.no_grad():
        expected = module(x).numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)
    assert module.training is False  # we set it; predict restored what it found
    module.train()
    run.predict(x)
    assert module.training is True
    run.finish()


def test_logits_and_log_probabilities_become_probabilities(torch_tracker: mb.Tracker) -> None:
    torch.manual_seed(0)
    logits = nn.Linear(5, 3)
    x = torch.rand(7, 5)
    run = torch_tracker.track(logits)
    expected = torch.softmax(logits(x), dim=1).detach().numpy()
    np.testing.assert_allclose(run.predict(x), expected, rtol=1e-5)
    run.finish()
    log_model = nn.Sequential(logits, nn.LogSoftmax(dim=1))
    run = torch_tracker.track(log_model)
    np.testing.assert_allclose(run.predict(x), expected, rtol=1e-5)
    run.finish()


def test_a_registered_but_unused_softmax_does_not_pass_logits_as_probabilities(
    torch_tracker: mb.Tracker,
) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(5, 3)
            self.act = nn.Softmax(dim=1)  # registered last, never called by forward

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    torch.manual_seed(0)
    net, x = Net(), torch.rand(6, 5)
    run = torch_tracker.track(net)
    expected = torch.softmax(net(x), dim=1).detach().numpy()
    np.testing.assert_allclose(run.predict(x), expected, rtol=1e-5)
    run.finish()


def test_single_column_outputs_follow_the_output_option(torch_tracker: mb.Tracker) -> None:
    module = nn.Linear(4, 1)
    x = torch.rand(6, 4) * 10
    raw = module(x).detach().numpy()
    run = torch_tracker.track(module)
    np.testing.assert_allclose(run.predict(x), raw, rtol=1e-6)  # could be regression: as is
    run.finish()
    run = torch_tracker.track(module, output="logits")
    np.testing.assert_allclose(run.predict(x), 1 / (1 + np.exp(-raw)), rtol=1e-5)
    run.finish()


def test_rule_on_edge_cases() -> None:
    """The core's rule, on what the torch adapter hands it (numpy outputs of tensors)."""
    probs = torch.tensor([[0.2, 0.8], [1.0, 0.0]])
    np.testing.assert_array_equal(to_probabilities(probs.numpy()), probs.numpy())
    not_normalised = torch.tensor([[0.2, 0.3], [0.1, 0.1]])
    expected = torch.softmax(not_normalised, 1).numpy()
    np.testing.assert_allclose(to_probabilities(not_normalised.numpy()), expected, rtol=1e-6)
    raw = to_probabilities(not_normalised.numpy(), mode="raw")
    np.testing.assert_array_equal(raw, not_normalised.numpy())
    # what the adapter sees of the last module decides before the values do
    log_p = torch.log_softmax(not_normalised, 1).numpy()
    np.testing.assert_allclose(
        to_probabilities(log_p, last_activation="log_softmax"), expected, rtol=1e-6
    )
    np.testing.assert_array_equal(
        to_probabilities(not_normalised.numpy(), last_activation="softmax"), not_normalised.numpy()
    )
