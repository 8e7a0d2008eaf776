"""DataLoader facts: batch_size and steps_per_epoch equal what the loader really gives, or stay
empty with the reason (samplers, batch samplers, IterableDatasets, automatic batching off)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    TensorDataset,
)

import modelboard as mb
from modelboard.data import training_facts, training_unknowns

pytestmark = pytest.mark.torch


def _dataset(n: int = 30) -> TensorDataset:
    return TensorDataset(torch.rand(n, 4), torch.arange(n) % 3)


def _split(loader: DataLoader, plugin_manager: object) -> mb.records.SplitRecord:
    return mb.Data("d", train=loader, plugin_manager=plugin_manager).record.splits["train"]


def _batches_read(loader: DataLoader) -> int:
    return sum(1 for _ in loader)


@pytest.mark.parametrize(
    "loader",
    [
        DataLoader(_dataset(), batch_size=8),
        DataLoader(_dataset(), batch_size=8, drop_last=True),
        DataLoader(_dataset(), batch_size=7, shuffle=True),
        DataLoader(_dataset(), batch_size=4, sampler=RandomSampler(range(30), num_samples=10)),
        DataLoader(_dataset(), batch_sampler=BatchSampler(SequentialSampler(range(30)), 9, False)),
        DataLoader(_dataset(), batch_sampler=BatchSampler(SequentialSampler(range(30)), 9, True)),
    ],
    ids=["plain", "drop_last", "shuffle", "sampler", "batch_sampler", "batch_sampler_drop"],
)
def test_batch_size_and_steps_are_the_loaders(loader: DataLoader, plugin_manager: object) -> None:
    split = _split(loader, plugin_manager)
    first_x, _ = next(iter(loader))
    assert split.batch_size == len(first_x)
    assert split.steps_per_epoch == len(loader) == _batches_read(loader)
    assert split.unknown == {} and split.size == 30
    assert training_facts(mb.Data("d", train=loader, plugin_manager=plugin_manager)) == {
        "batch_size": split.batch_size,
        "steps_per_epoch": split.steps_per_epoch,
    }


class _Stream(IterableDataset):
    """Yields ``n`` samples; has ``__len__`` only when ``sized``."""

    def __init__(self, n: int, sized: bool) -> None:
        self.n = n
        if sized:
            self.__class__ = _SizedStream

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        for i in range(self.n):
            yield torch.full((3,), float(i)), i % 2


class _SizedStream(_Stream):
    def __len__(self) -> int:
        return self.n


def test_iterable_datasets_with_and_without_len(plugin_manager: object) -> None:
    sized = DataLoader(_Stream(20, sized=True), batch_size=6)
    split = _split(sized, plugin_manager)
    assert split.size == 20 and split.batch_size == 6
    assert split.steps_per_epoch == len(sized) == _batches_read(sized) == 4
    endless = DataLoader(_Stream(20, sized=False), batch_size=6)
    split = _split(endless, plugin_manager)
    assert split.size is None and split.batch_size == 6 and split.steps_per_epoch is None
    assert "IterableDataset without __len__" in split.unknown["steps_per_epoch"]
    assert "has no __len__" in split.unknown["size"]
    data = mb.Data("d", train=endless, plugin_manager=plugin_manager)
    assert training_facts(data) == {"batch_size": 6}
    assert "without __len__" in training_unknowns(data)["steps_per_epoch"]


def test_several_workers_over_an_iterable_dataset_give_no_count(plugin_manager: object) -> None:
    loader = DataLoader(_Stream(20, sized=True), batch_size=5, num_workers=2)
    split = _split(loader, plugin_manager)
    assert split.steps_per_epoch is None and "2 workers" in split.unknown["steps_per_epoch"]


class _Pairs(Sampler[list[int]]):
    """A batch sampler without ``batch_size`` or ``__len__``: pairs of indices."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self) -> Iterator[list[int]]:
        for start in range(0, self.n, 2):
            yield [start, start + 1]


def test_custom_batch_sampler_and_batching_off_say_why(plugin_manager: object) -> None:
    split = _split(DataLoader(_dataset(10), batch_sampler=_Pairs(10)), plugin_manager)
    assert split.batch_size is None and "_Pairs has no batch_size" in split.unknown["batch_size"]
    assert split.steps_per_epoch is None and "len(loader)" in split.unknown["steps_per_epoch"]
    unbatched = DataLoader(_dataset(10), batch_size=None)
    split = _split(unbatched, plugin_manager)
    assert split.batch_size is None and "automatic batching is off" in split.unknown["batch_size"]
    assert split.steps_per_epoch == len(unbatched) == 10
