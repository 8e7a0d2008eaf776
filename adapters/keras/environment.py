"""Facts about Keras and its backend for a run's environment; never imports a framework."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["describe_environment"]


def _tensorflow_devices(tf: Any) -> list[str]:
    return [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]


def _torch_devices(torch: Any) -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        devices += [f"cuda:{i}:{torch.cuda.get_device_name(i)}" for i in range(count)]
    return devices


def describe_environment() -> dict[str, Any] | None:
    """Keras version, backend, float type and devices; None when Keras is not imported."""
    keras = sys.modules.get("keras")
    if keras is None or not hasattr(keras, "backend"):
        return None
    backend = keras.backend.backend()
    packages = {"keras": keras.__version__}
    facts: dict[str, Any] = {
        "backend": backend,
        "floatx": keras.backend.floatx(),
        "image_data_format": keras.backend.image_data_format(),
    }
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "__version__"):
        packages["tensorflow"] = tf.__version__
    torch = sys.modules.get("torch")
    if backend == "tensorflow" and tf is not None:
        facts["devices"] = _tensorflow_devices(tf)
    elif backend == "torch" and torch is not None:
        facts["devices"] = _torch_devices(torch)
    return {"packages": packages, "keras": facts}
