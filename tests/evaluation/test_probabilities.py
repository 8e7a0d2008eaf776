"""The one rule that turns model outputs into probabilities, in the core, on numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from modelboard.plugins import ModelOutputs
from modelboard.probabilities import outputs_to_probabilities, to_probabilities

LOGITS = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])


def test_what_the_adapter_knows_decides() -> None:
    np.testing.assert_allclose(to_probabilities(LOGITS, from_logits=True), softmax(LOGITS, 1))
    np.testing.assert_array_equal(to_probabilities(LOGITS, from_logits=False), LOGITS)
    log_p = np.log(softmax(LOGITS, 1))
    np.testing.assert_allclose(
        to_probabilities(log_p, last_activation="log_softmax"), softmax(LOGITS, 1)
    )
    one_column = np.array([[-3.0], [0.0], [4.0]])
    np.testing.assert_allclose(to_probabilities(one_column, from_logits=True), expit(one_column))
    np.testing.assert_array_equal(to_probabilities(one_column), one_column)  # maybe regression


def test_unknown_outputs_are_read_by_their_values() -> None:
    probabilities = softmax(LOGITS, 1)
    np.testing.assert_array_equal(to_probabilities(probabilities), probabilities)
    np.testing.assert_allclose(to_probabilities(np.log(probabilities)), probabilities)
    np.testing.assert_allclose(to_probabilities(LOGITS), probabilities)


def test_hook_answers_plain_arrays_lists_and_dicts() -> None:
    plain = outputs_to_probabilities(softmax(LOGITS, 1))  # a third-party predict_proba
    np.testing.assert_allclose(plain, softmax(LOGITS, 1))
    several = outputs_to_probabilities(ModelOutputs([LOGITS, LOGITS], from_logits=True))
    assert len(several) == 2 and np.allclose(several[1], softmax(LOGITS, 1))
    named = outputs_to_probabilities(ModelOutputs({"a": LOGITS}, from_logits=True))
    np.testing.assert_array_equal(named["a"], LOGITS)
    raw = outputs_to_probabilities(ModelOutputs(LOGITS, from_logits=True), mode="raw")
    np.testing.assert_array_equal(raw, LOGITS)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'auto', 'logits' or 'raw'"):
        to_probabilities(LOGITS, mode="probits")
