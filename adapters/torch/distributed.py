"""``torch.distributed`` as a ``modelboard.tracking.distributed.ProcessGroup``.

Answered only when torch is already imported and its default process group is initialised
(``torch.distributed.init_process_group``); torch is never imported here. The run id travels
through the group's c10d key-value store (the TCPStore that ``init_process_group`` set up:
rank 0 sets a key, the others wait for it, so rank 0 never waits on them); metrics are
reduced with one ``all_reduce`` of a float64 tensor (on the current CUDA device for NCCL, else
on the CPU).
"""

from __future__ import annotations

from typing import Any

from modelboard.adapters.torch.detect import loaded_torch

__all__ = ["TorchProcessGroup", "torch_process_group"]


class TorchProcessGroup:
    """The default process group of ``torch.distributed``."""

    def __init__(self, dist: Any) -> None:
        self._dist = dist
        self.backend = str(dist.get_backend())
        self.world_size = int(dist.get_world_size())
        self.rank = int(dist.get_rank())

    def __repr__(self) -> str:
        return (
            f"TorchProcessGroup(backend={self.backend!r}, rank={self.rank}, "
            f"world_size={self.world_size})"
        )

    def _key_store(self) -> Any | None:
        getter = getattr(self._dist.distributed_c10d, "_get_default_store", None)
        return getter() if callable(getter) else None

    def publish(self, key: str, value: str) -> None:
        """Set ``key`` in the group's c10d store (a broadcast where torch has no such store)."""
        store = self._key_store()
        if store is None:
            self._dist.broadcast_object_list([value], src=0)
            return
        store.set(key, value)

    def fetch(self, key: str) -> str:
        """``key`` from the group's c10d store, waiting (up to the group's timeout) for it."""
        store = self._key_store()
        if store is None:
            holder: list[Any] = [None]
            self._dist.broadcast_object_list(holder, src=0)
            return str(holder[0])
        value = store.get(key)
        return value.decode() if isinstance(value, bytes) else str(value)

    def all_reduce(self, values: list[float], op: str) -> list[float]:
        """``values`` reduced over the ranks: ``mean``, ``sum``, ``min`` or ``max``."""
        import torch

        ops = {
            "mean": self._dist.ReduceOp.SUM,
            "sum": self._dist.ReduceOp.SUM,
            "min": self._dist.ReduceOp.MIN,
            "max": self._dist.ReduceOp.MAX,
        }
        if op not in ops:
            raise ValueError(f"op must be one of {', '.join(ops)}; got {op!r}")
        device = torch.device("cpu")
        if self.backend == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        self._dist.all_reduce(tensor, op=ops[op])
        if op == "mean":
            tensor /= self.world_size
        return [float(v) for v in tensor.cpu().tolist()]


def torch_process_group() -> TorchProcessGroup | None:
    """The initialised default process group, or ``None`` (torch not imported, no group)."""
    torch = loaded_torch()
    if torch is None:
        return None
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return TorchProcessGroup(dist)
