"""The peers the harness measures modelboard against: MLflow, Weights & Biases, TensorBoard.

They are the optional ``bench`` extra (``pip install modelboard[bench]``). A peer that is not
installed is reported as skipped with the reason, never measured by a stand-in. Every peer runs
without the network: W&B offline into a temporary folder, MLflow on a local SQLite file,
TensorBoard into a local log folder. Each peer module imports its package inside functions.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

__all__ = [
    "PEERS",
    "NO_PEERS_ENV",
    "missing",
    "version",
    "offline_environment",
    "apply_offline_environment",
]

#: peer name -> the module it is imported as
PEERS = {"mlflow": "mlflow", "wandb": "wandb", "tensorboard": "tensorboard"}


#: set (to 1) by ``benchmarks/run.py --no-peers``: every peer is skipped, in every worker
NO_PEERS_ENV = "MODELBOARD_BENCH_NO_PEERS"


def missing(peer: str) -> str | None:
    """Why ``peer`` cannot be measured here, or ``None`` when it is installed."""
    if os.environ.get(NO_PEERS_ENV):
        return f"skipped: {peer} turned off (--no-peers)"
    if importlib.util.find_spec(PEERS[peer]) is None:
        return f"skipped: {peer} is not installed (pip install 'modelboard[bench]')"
    return None


def version(peer: str) -> str | None:
    """The installed version of ``peer``, ``None`` when it is not installed."""
    try:
        return importlib.metadata.version(peer)
    except importlib.metadata.PackageNotFoundError:
        return None


def offline_environment(folder: Path) -> dict[str, str]:
    """Environment variables that keep every peer off the network, writing under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(folder / "wandb"),
        "WANDB_CACHE_DIR": str(folder / "wandb-cache"),
        "WANDB_CONFIG_DIR": str(folder / "wandb-config"),
        "WANDB_DATA_DIR": str(folder / "wandb-data"),
        "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_ERROR_REPORTING": "false",
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }


def apply_offline_environment(folder: Path) -> None:
    """Set :func:`offline_environment` in this process (before any peer is imported)."""
    for name, value in offline_environment(folder).items():
        os.environ[name] = value
    for sub in ("wandb", "wandb-cache", "wandb-config", "wandb-data"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
