"""The environment of a run: interpreter, packages, host, devices, git state, command line."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from typing import Any

import pluggy

from modelboard.tracking.secrets import mask_command_line

__all__ = ["capture_environment", "git_state"]


def git_state(folder: str | None = None) -> dict[str, Any] | None:
    """Commit, branch and dirty flag of the git checkout around ``folder``; ``None`` outside one."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=folder or os.getcwd(),
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "root": git("rev-parse", "--show-toplevel"),
    }


def capture_environment(hooks: pluggy.HookRelay) -> dict[str, Any]:
    """Everything needed to say where and how a run ran; adapters add framework facts."""
    env: dict[str, Any] = {
        "host": socket.gethostname(),
        "os": platform.system(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "executable": sys.executable,
        "command": mask_command_line(sys.argv),
        "git": git_state(),
        "seeds": {"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED")},
    }
    for answer in reversed(hooks.modelboard_environment()):
        if not answer:
            continue
        for key, value in answer.items():
            if isinstance(value, dict) and isinstance(env.get(key), dict):
                env[key] = {**env[key], **value}
            else:
                env[key] = value
    return env
