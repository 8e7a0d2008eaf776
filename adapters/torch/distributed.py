"""``torch.distributed`` as a ``modelboard.tracking.distributed.ProcessGroup``.

Answered only when torch is already imported and its default process group is initialised
(``torch.distributed.init_process_group``); torch is never imported here. Objects travel with
``broadcast_object_list`` and ``all_gather_object``; metrics are reduced with one
``all_reduce`` of a float64 tensor (on the current CUDA device for NCCL, else on the CPU).
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

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        holder = [value]
        self._dist.broadcast_object_list(holder, src=0)
        return holder[0]

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order."""
        out: list[Any] = [None] * self.world_size
        self._dist.all_gather_object(out, value)
        return out

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
