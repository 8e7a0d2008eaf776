"""The wheel holds only the modelboard package, mapped from core/ and adapters/."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_only_modelboard(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("modelboard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"modelboard", next(t for t in tops if t.endswith(".dist-info"))}
    for module in (
        "modelboard/__init__.py",
        "modelboard/py.typed",
        "modelboard/store/sql_store.py",
        "modelboard/adapters/keras/__init__.py",
        "modelboard/adapters/torch/__init__.py",
    ):
        assert module in names
    assert not any("/tests/" in n or n.startswith("core/") for n in names)
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith("entry_points.txt")))
        .decode()
    )
    assert "keras = modelboard.adapters.keras" in entry_points
    assert "torch = modelboard.adapters.torch" in entry_points
