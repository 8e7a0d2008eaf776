"""The wheel holds only the modelboard package, mapped from core/ and adapters/."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


#: What a build needs from the checkout; copying only these keeps build/ out of the checkout.
_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "core", "adapters")


def _source_copy(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in _SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    return source


def test_wheel_contains_only_modelboard(tmp_path: Path) -> None:
    had_build = (ROOT / "build").exists()
    source = _source_copy(tmp_path)
    out = tmp_path / "wheel"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "deprecat" not in (done.stdout + done.stderr).lower(), done.stderr
    assert had_build or not (ROOT / "build").exists(), "the build wrote build/ into the checkout"
    (wheel,) = out.glob("modelboard-*.whl")
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
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA")))
    assert "License-Expression: MIT" in metadata.decode()
