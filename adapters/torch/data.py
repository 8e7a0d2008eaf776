"""Data splits (tensors, Dataset, DataLoader) and torchvision transform pipelines.

Tensors are described exactly as the same numpy arrays would be (same shapes, dtypes, class
counts and fingerprint), so a split given as tensors matches its numpy twin. A ``TensorDataset``
is its tensors; a ``Subset`` is its dataset's fingerprint plus the indices; a dataset with array
``data`` and ``targets`` attributes (torchvision's) is fingerprinted from those; any other
dataset has no fingerprint (``details["fingerprint"]`` says why) and its shapes come from its
first item. A ``DataLoader`` adds batch size, shuffle, drop_last, sampler and workers, and fills
``batch_size`` and ``steps_per_epoch`` (``len(loader)``, which counts ``drop_last`` and the
sampler) where the loader knows them; ``unknown`` says why where it does not (an
``IterableDataset`` without ``__len__``, a batch sampler without ``batch_size``...).
"""

from __future__ import annotations

from typing import Any

from modelboard.adapters.torch.detect import loaded_torch, plain_value
from modelboard.fingerprint import combine_fingerprints, fingerprint_array
from modelboard.records import AugmentationRecord, SplitRecord

__all__ = ["describe_split", "describe_augmentations", "is_torchvision_transform"]


def _numpy(value: Any) -> Any:
    import numpy as np

    torch = loaded_torch()
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if torch is not None and isinstance(value, list) and value and torch.is_tensor(value[0]):
        return np.stack([v.detach().cpu().numpy() for v in value])
    return np.asarray(value)


def _describe_arrays(name: str, x: Any, y: Any, source: str) -> SplitRecord:
    from modelboard.data import describe_arrays

    record = describe_arrays(name, _numpy(x), None if y is None else _numpy(y), source)
    assert record is not None  # numpy arrays are always described
    return record


def _dataset_record(name: str, dataset: Any, source: str) -> SplitRecord:
    torch = loaded_torch()
    assert torch is not None
    data = torch.utils.data
    if isinstance(dataset, data.TensorDataset):
        tensors = dataset.tensors
        record = _describe_arrays(
            name, tensors[0], tensors[1] if len(tensors) > 1 else None, source
        )
        record.details["dataset"] = "TensorDataset"
        return record
    if isinstance(dataset, data.Subset):
        inner = _dataset_record(name, dataset.dataset, source)
        indices = [int(i) for i in dataset.indices]
        count = len(indices)
        fingerprint = None
        if inner.fingerprint is not None:
            fingerprint = combine_fingerprints([inner.fingerprint, fingerprint_array(indices)])
        inner.size = count
        if inner.x_shape:
            inner.x_shape = [count, *inner.x_shape[1:]]
        if inner.y_shape:
            inner.y_shape = [count, *inner.y_shape[1:]]
        inner.class_counts = None
        inner.fingerprint = fingerprint
        inner.details = {**inner.details, "dataset": "Subset", "of": inner.details.get("dataset")}
        return inner
    data_attr = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    details: dict[str, Any] = {"dataset": type(dataset).__qualname__}
    if data_attr is not None and targets is not None:
        try:
            described: SplitRecord | None = _describe_arrays(name, data_attr, targets, source)
        except (TypeError, ValueError):
            described = None
        if described is not None:
            described.details.update(details)
            described.details["fingerprint_of"] = "data and targets attributes"
            _add_transform(described, dataset)
            return described
    size: int | None = len(dataset) if hasattr(dataset, "__len__") else None
    unknown: dict[str, str] = {}
    if size is None:
        unknown["size"] = f"the {type(dataset).__qualname__} has no __len__"
    x_shape: list[int | None] | None = None
    y_shape: list[int | None] | None = None
    x_dtype = y_dtype = None
    if isinstance(dataset, data.IterableDataset):
        details["shapes"] = "unavailable: an IterableDataset is not read ahead of training"
    elif size:
        first = dataset[0]
        x0, y0 = (
            (first[0], first[1])
            if isinstance(first, (tuple, list)) and len(first) >= 2
            else (
                first,
                None,
            )
        )
        x0_arr = _numpy(x0)
        x_shape, x_dtype = [size, *x0_arr.shape], str(x0_arr.dtype)
        if y0 is not None:
            y0_arr = _numpy(y0)
            y_shape, y_dtype = [size, *y0_arr.shape], str(y0_arr.dtype)
    details["fingerprint"] = "unavailable: the dataset's items are computed, not stored"
    record = SplitRecord(
        name=name,
        source=source,
        size=size,
        x_shape=x_shape,
        y_shape=y_shape,
        x_dtype=x_dtype,
        y_dtype=y_dtype,
        details=details,
        unknown=unknown,
    )
    _add_transform(record, dataset)
    return record


def _add_transform(record: SplitRecord, dataset: Any) -> None:
    transform = getattr(dataset, "transform", None)
    if transform is not None:
        record.details["transform"] = repr(transform)


def _loader_batch_size(loader: Any) -> tuple[int | None, str | None]:
    """The loader's batch size, or ``None`` with the reason."""
    if loader.batch_size is not None:
        return int(loader.batch_size), None
    batch_sampler = loader.batch_sampler
    if batch_sampler is None:
        return None, (
            "automatic batching is off (batch_size=None): each item of the dataset is a batch"
        )
    size = getattr(batch_sampler, "batch_size", None)
    if isinstance(size, int) and not isinstance(size, bool):
        return size, None
    return None, f"the batch sampler {type(batch_sampler).__qualname__} has no batch_size"


def _loader_steps(loader: Any) -> tuple[int | None, str | None]:
    """Batches in one pass over the loader (``len(loader)``), or ``None`` with the reason."""
    torch = loaded_torch()
    assert torch is not None
    dataset = loader.dataset
    if isinstance(dataset, torch.utils.data.IterableDataset):
        if not hasattr(dataset, "__len__"):
            return None, (
                "an IterableDataset without __len__: its batches are counted only by reading it"
            )
        if int(loader.num_workers) > 1:
            return None, (
                f"an IterableDataset read by {loader.num_workers} workers: how each worker "
                "shares it decides the count, and len(loader) is only torch's estimate"
            )
    try:
        return len(loader), None
    except TypeError as exc:  # a sampler or batch sampler without __len__
        return None, f"len(loader) is not defined: {exc}"


def _loader_details(loader: Any) -> dict[str, Any]:
    torch = loaded_torch()
    assert torch is not None
    sampler = loader.sampler
    batch_sampler = loader.batch_sampler
    return {
        "batch_size": _loader_batch_size(loader)[0],
        "shuffle": isinstance(sampler, torch.utils.data.RandomSampler),
        "drop_last": bool(loader.drop_last),
        "sampler": type(sampler).__name__,
        "batch_sampler": type(batch_sampler).__name__ if batch_sampler is not None else None,
        "num_workers": int(loader.num_workers),
        "pin_memory": bool(loader.pin_memory),
        "batches": _loader_steps(loader)[0],
    }


def _add_loader_facts(record: SplitRecord, loader: Any) -> None:
    record.details.update(_loader_details(loader))
    for field, (value, reason) in (
        ("batch_size", _loader_batch_size(loader)),
        ("steps_per_epoch", _loader_steps(loader)),
    ):
        setattr(record, field, value)
        if reason is not None:
            record.unknown[field] = reason


def describe_split(name: str, x: Any, y: Any) -> SplitRecord | None:
    """A ``SplitRecord`` for torch tensors, a Dataset or a DataLoader; ``None`` for others."""
    torch = loaded_torch()
    if torch is None:
        return None
    data = torch.utils.data
    if isinstance(x, torch.Tensor):
        return _describe_arrays(name, x, y, "tensor")
    if isinstance(x, data.DataLoader):
        record = _dataset_record(name, x.dataset, "dataloader")
        _add_loader_facts(record, x)
        return record
    if isinstance(x, data.Dataset):
        return _dataset_record(name, x, "dataset")
    return None


def is_torchvision_transform(obj: Any) -> bool:
    """True for an object of ``torchvision.transforms`` (v1 or v2); never imports torchvision."""
    return type(obj).__module__.startswith("torchvision.transforms")


_SKIP = frozenset({"training", "transforms"})


def _transform_params(transform: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in vars(transform).items():
        if key.startswith("_") or key in _SKIP:
            continue
        if is_torchvision_transform(value):
            params[key] = {"type": type(value).__name__, "params": _transform_params(value)}
        elif callable(value) and not isinstance(value, type):
            params[key] = getattr(value, "__qualname__", None) or repr(value)
        else:
            params[key] = plain_value(value)
    return params


def _source(transform: Any) -> str:
    module = type(transform).__module__
    return "torchvision.transforms.v2" if ".v2" in module else "torchvision.transforms"


def describe_augmentations(obj: Any) -> list[AugmentationRecord]:
    """One record per transform of a ``Compose`` (nested ones flattened) with its parameters."""
    if type(obj).__name__ == "Compose" and hasattr(obj, "transforms"):
        out: list[AugmentationRecord] = []
        for inner in obj.transforms:
            out.extend(describe_augmentations(inner))
        return out
    params = _transform_params(obj)
    inner = getattr(obj, "transforms", None)
    if isinstance(inner, (list, tuple)):  # RandomApply, RandomChoice, RandomOrder
        params["transforms"] = [
            {"type": r.type, "params": r.params} for t in inner for r in describe_augmentations(t)
        ]
    return [AugmentationRecord(source=_source(obj), type=type(obj).__name__, params=params)]
