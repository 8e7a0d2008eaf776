"""Packages meet through public names: no module uses another package's ``_private`` name.

A ``_``-prefixed module, name or class member is private to the package that holds it.
``core/store`` is one unit (its modules may share private helpers); everything else goes through
``__all__`` and public methods. Checked: imports (``from modelboard.x._y import z``), dotted
use (``modelboard.x._y``, also through an imported alias) and members of another package's
classes (``store._read``).
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


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _sources(root: Path) -> list[tuple[Path, str, ast.Module]]:
    out = []
    for folder in ("core", "adapters"):
        for path in sorted((root / folder).rglob("*.py")):
            module = _module_name(path, root)
            package = _package_of(module, path.name == "__init__.py")
            out.append((path, package, ast.parse(path.read_text(), str(path))))
    return out


def _private_members(sources: list[tuple[Path, str, ast.Module]]) -> dict[str, set[str]]:
    """Private class members (methods, class attributes, ``self._x``) and the packages that
    define them."""
    members: dict[str, set[str]] = {}
    for _, package, tree in sources:
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            names = []
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.append(item.name)
                elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    names += [t.id for t in targets if isinstance(t, ast.Name)]
            for item in ast.walk(node):
                if (
                    isinstance(item, ast.Attribute)
                    and isinstance(item.ctx, ast.Store)
                    and isinstance(item.value, ast.Name)
                    and item.value.id in ("self", "cls")
                ):
                    names.append(item.attr)
            for name in names:
                if _is_private(name):
                    members.setdefault(name, set()).add(package)
    return members


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """``a.b.c`` for an attribute chain whose root name is bound to a modelboard name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def private_imports(root: Path = ROOT) -> list[str]:
    """Every ``file:line: name`` that reaches into another package's private name."""
    sources = _sources(root)
    members = _private_members(sources)
    found = []
    for path, package, tree in sources:
        where = path.relative_to(root)
        aliases = {"modelboard": "modelboard"}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Attribute) and _is_private(node.attr):
                dotted = _dotted(node, aliases)
                if dotted is not None:
                    names = [dotted]
                elif not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    owners = members.get(node.attr, set())
                    foreign = {o for o in owners if not _allowed(package, o)}
                    if foreign and package not in owners:
                        found.append(f"{where}:{node.lineno}: .{node.attr} of {min(foreign)}")
            for name in names:
                if not name.startswith("modelboard."):
                    continue
                owner = _owner(name)
                if owner is not None and not _allowed(package, owner):
                    found.append(f"{where}:{node.lineno}: {name}")
    return sorted(set(found))


def test_no_module_uses_another_packages_private_names() -> None:
    assert private_imports() == []


def test_the_check_finds_a_planted_violation(tmp_path: Path) -> None:
    (tmp_path / "core" / "cli").mkdir(parents=True)
    (tmp_path / "core" / "store").mkdir(parents=True)
    (tmp_path / "adapters").mkdir()
    (tmp_path / "core" / "cli" / "commands.py").write_text(
        "import modelboard.store\n"
        "import modelboard.leaderboard as board\n"
        "from modelboard.store._internal import helper\n"
        "from modelboard.store import query\n"
        "rows = store._read(work)\n"
        "window = board._frame.WINDOW\n"
        "public = store.read(work), self._read\n"
    )
    (tmp_path / "core" / "store" / "query.py").write_text(
        "from modelboard.store._internal import helper\n"  # the store's own: allowed
        "rows = store._read(work)\n"
    )
    (tmp_path / "core" / "store" / "sql_store.py").write_text(
        "class SQLStore:\n    def _read(self, work):\n        return work\n"
    )
    assert private_imports(tmp_path) == [
        "core/cli/commands.py:3: modelboard.store._internal.helper",
        "core/cli/commands.py:5: ._read of modelboard.store",
        "core/cli/commands.py:6: modelboard.leaderboard._frame",
    ]
