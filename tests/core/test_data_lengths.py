"""Lengths and training facts in the core: x and y of different lengths are refused wherever
they come in, and ``training_facts`` gives only what the train split knows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelboard as mb
from modelboard.data import rows, training_facts, training_unknowns
from modelboard.loaders import is_loader
from modelboard.records import DataRecord, SplitRecord


def test_mismatched_lengths_name_the_split_and_both_lengths() -> None:
    frame = pd.DataFrame({"a": range(4), "b": range(4)})
    with pytest.raises(ValueError, match=r"split 'test': x has 4 rows but y has 6"):
        mb.Data("d", test=(frame, pd.Series(range(6))))
    with pytest.raises(ValueError, match=r"split 'holdout': x has 2 rows but y has 1"):
        mb.Data("d", splits={"holdout": ([[1, 2], [3, 4]], [0])})
    assert mb.Data("d", train=(frame, pd.Series(range(4)))).record.splits["train"].size == 4


def test_rows_of_inputs() -> None:
    assert rows(np.zeros((7, 2))) == 7 and rows([1, 2, 3]) == 3
    assert rows({"image": np.zeros((5, 2)), "meta": np.zeros((5,))}) == 5
    assert rows({"image": np.zeros((5, 2)), "meta": np.zeros((4,))}) is None
    assert rows(np.float32(1.0)) is None and rows(object()) is None


def test_training_facts_hold_only_known_values() -> None:
    split = SplitRecord(
        name="train",
        batch_size=16,
        steps_per_epoch=None,
        unknown={"steps_per_epoch": "infinite"},
    )
    record = DataRecord(name="d", splits={"train": split})
    assert training_facts(record) == {"batch_size": 16}
    assert training_unknowns(record) == {"steps_per_epoch": "train split: infinite"}
    arrays = mb.Data("d", train=(np.zeros((3, 2)), np.arange(3)))
    assert training_facts(arrays) == {} and training_unknowns(arrays) == {}
    assert training_facts(DataRecord(name="d", splits={"val": split})) == {}
    with pytest.raises(TypeError, match="expected mb.Data or a DataRecord"):
        training_facts({"train": split})


def test_arrays_are_not_loaders() -> None:
    assert not is_loader(np.zeros(3)) and not is_loader([1, 2]) and not is_loader({"a": 1})
    assert not is_loader(pd.DataFrame({"a": [1]})) and not is_loader("text")
    assert is_loader(iter([(np.zeros((2, 1)), np.zeros(2))]))
