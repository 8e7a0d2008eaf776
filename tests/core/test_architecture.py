"""Packages meet through public names: no module imports another package's ``_private`` name.

A ``_``-prefixed module or name is private to the package that holds it. ``core/store`` is
one unit (its modules may share private helpers); everything else goes through ``__all__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root)
    parts = list(relative.with_suffix("").parts)
    # core/x is modelboard.x; adapters/x is modelboard.adapters.x
    parts = ["modelboard", *parts[1:]] if parts[0] == "core" else ["modelboard", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _private_part(dotted: str) -> int | None:
    """Index of the first ``_x`` part of a dotted name (dunder names are public)."""
    for index, part in enumerate(dotted.split(".")):
        if part.startswith("_") and not part.startswith("__"):
            return index
    return None


def _owner(dotted: str) -> str | None:
    """The package that owns a dotted name's first private part."""
    index = _private_part(dotted)
    return None if index is None else ".".join(dotted.split(".")[:index])


def _allowed(importer_package: str, owner: str) -> bool:
    if importer_package == owner or importer_package.startswith(owner + "."):
        return True
    store = "modelboard.store"
    return owner.startswith(store) and importer_package.startswith(store)


def private_imports(root: Path = ROOT) -> list[str]:
    """Every ``file:line: imported name`` that reaches into another package's private name."""
    found = []
    for folder in ("core", "adapters"):
        for path in sorted((root / folder).rglob("*.py")):
            module = _module_name(path, root)
            package = _package_of(module, path.name == "__init__.py")
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names: list[str] = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                for name in names:
                    if not name.startswith("modelboard."):
                        continue
                    owner = _owner(name)
                    if owner is not None and not _allowed(package, owner):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    return found


def test_no_module_uses_another_packages_private_names() -> None:
    assert private_imports() == []


def test_the_check_finds_a_planted_violation(tmp_path: Path) -> None:
    (tmp_path / "core" / "cli").mkdir(parents=True)
    (tmp_path / "core" / "store").mkdir(parents=True)
    (tmp_path / "adapters").mkdir()
    (tmp_path / "core" / "cli" / "commands.py").write_text(
        "from modelboard.store._internal import helper\nfrom modelboard.store import query\n"
    )
    (tmp_path / "core" / "store" / "query.py").write_text(
        "from modelboard.store._internal import helper\n"  # the store's own: allowed
    )
    assert private_imports(tmp_path) == [
        "core/cli/commands.py:1: modelboard.store._internal.helper"
    ]
