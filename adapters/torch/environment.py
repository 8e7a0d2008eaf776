"""Facts about torch for the run's environment record, only when torch is already imported."""

from __future__ import annotations

import sys
from typing import Any

from modelboard.adapters.torch.detect import loaded_torch

__all__ = ["describe_environment"]


def describe_environment() -> dict[str, Any] | None:
    """Torch and torchvision versions, CUDA/cuDNN, devices, the initial seed and determinism."""
    torch = loaded_torch()
    if torch is None:
        return None
    cuda = bool(torch.cuda.is_available())
    info: dict[str, Any] = {
        "version": torch.__version__,
        "cuda_build": getattr(torch.version, "cuda", None),
        "cuda_available": cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "num_threads": torch.get_num_threads(),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "default_dtype": str(torch.get_default_dtype()),
    }
    devices = []
    if cuda:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append(
                {"index": index, "name": props.name, "memory_bytes": int(props.total_memory)}
            )
    info["devices"] = devices
    mps = getattr(torch.backends, "mps", None)
    info["mps_available"] = bool(mps.is_available()) if mps is not None else False
    torchvision = sys.modules.get("torchvision")
    if torchvision is not None:
        info["torchvision"] = getattr(torchvision, "__version__", None)
    return {"torch": info, "seeds": {"torch": int(torch.initial_seed())}}
