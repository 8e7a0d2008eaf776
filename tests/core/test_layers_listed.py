"""Every core module is under the import-linter contracts, so no new module escapes them."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
UNLISTED = {"_version", "_triton_guard", "__init__", "__main__"}


def _core_modules() -> set[str]:
    names = set()
    for entry in (ROOT / "core").iterdir():
        if entry.is_dir() and (entry / "__init__.py").exists():
            names.add(entry.name)
        elif entry.suffix == ".py" and entry.stem not in UNLISTED:
            names.add(entry.stem)
    return {f"modelboard.{name}" for name in names}


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_every_core_module_is_forbidden_to_import_frameworks() -> None:
    (contract,) = [c for c in _contracts() if c["name"].startswith("The core imports no adapter")]
    listed = set(contract["source_modules"])
    missing = sorted(_core_modules() - listed)
    assert not missing, f"add these to the contract's source_modules in pyproject.toml: {missing}"
    stale = sorted(listed - _core_modules())
    assert not stale, f"the contract lists modules that no longer exist: {stale}"
