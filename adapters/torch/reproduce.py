"""Reproduction: what is needed to rebuild a module (class paths, constructor arguments, source)
and the rebuild itself, under the import policy of ``modelboard.reproduce_policy``.

Constructor arguments come, in this order, from ``track(..., init_args={...})``, from
``@mb.record_init`` on the module's class, or from the attributes of the module that carry the
names of its ``__init__`` parameters (``nn.Conv2d`` keeps ``in_channels``, ``kernel_size``...).
A bool parameter whose attribute is a tensor or ``None`` (``bias``) is read as "present".
Containers (``Sequential``, ``ModuleList``, ``ModuleDict``) are rebuilt from their children.
``track(..., factory=fn)`` (a function or its ``"pkg.mod:fn"`` path, e.g.
``"torchvision.models:mobilenet_v3_small"``) names a builder that is called with ``init_args``.
A torchvision model tracked without a factory is matched to its registered builder.

Nothing read back or matched is recorded as fact unless it was checked: where arguments were
not all captured (a parameter with a default that no attribute carries) or a builder was
matched, the module is rebuilt at ``track()`` time on the ``meta`` device (no memory, no
weights) and its modules and parameter shapes are compared with the tracked one. A mismatch
makes the record say ``rebuildable: false`` with the reason (``not_rebuildable``).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelboard.adapters.torch.detect import plain_value
from modelboard.errors import ReproduceError
from modelboard.init_args import json_problem, recorded_init
from modelboard.reproduce_policy import (
    FRAMEWORK_PACKAGES,
    MAIN_MODULE,
    ImportPolicy,
    active_policy,
    split_path,
)

if TYPE_CHECKING:
    import torch

    from modelboard.records import NetworkRecord

__all__ = ["captured_init_args", "module_spec", "reproduce_info", "rebuild"]

_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
_MAX_SOURCE_CHARS = 200_000
_SIMPLE = (bool, int, float, str, type(None))
_HINT = "track(model, init_args={...}) or decorate the class with @mb.record_init"


def _is_simple(value: Any) -> bool:
    if isinstance(value, _SIMPLE):
        return True
    if isinstance(value, (tuple, list)):
        return all(_is_simple(v) for v in value)
    return False


def _init_parameters(cls: type[Any]) -> list[inspect.Parameter]:
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return []
    return [
        p
        for p in list(params.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in ("device", "dtype")
    ]


def _read_args(module: torch.nn.Module) -> tuple[dict[str, Any], list[str], list[str]]:
    """Arguments read from attributes, required ones not found, defaulted ones not found."""
    import torch

    args: dict[str, Any] = {}
    missing: list[str] = []
    defaulted: list[str] = []
    for param in _init_parameters(type(module)):
        name = param.name
        found = False
        for attr in (name, f"_{name}"):
            try:
                value = getattr(module, attr)
            except AttributeError:
                continue
            if isinstance(param.default, bool) and (
                value is None or isinstance(value, torch.Tensor)
            ):
                args[name] = value is not None
                found = True
                break
            if _is_simple(value):
                args[name] = plain_value(value)
                found = True
                break
        if not found:
            (missing if param.default is param.empty else defaulted).append(name)
    return args, missing, defaulted


def captured_init_args(module: torch.nn.Module) -> tuple[dict[str, Any], list[str]]:
    """Constructor arguments (from ``@mb.record_init`` or read back from attributes), and the
    required ones not found."""
    kept = recorded_init(module)
    if kept is not None and kept.problem is None:
        return dict(kept.args), []
    args, missing, _ = _read_args(module)
    return args, missing


def _class_path(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def module_spec(module: torch.nn.Module, depth: int = 0) -> dict[str, Any]:
    """A rebuildable description: class path and arguments, children for containers.

    ``missing`` lists required arguments not captured, ``defaulted`` the arguments with a
    default that nothing captured, ``problem`` why the arguments cannot be recorded."""
    cls = type(module)
    spec: dict[str, Any] = {"class": _class_path(cls)}
    if cls.__name__ in _CONTAINERS and depth < 8:
        children = {name: module_spec(child, depth + 1) for name, child in module.named_children()}
        spec["children"] = children
        for key in ("missing", "defaulted"):
            spec[key] = sorted({m for c in children.values() for m in c.get(key, [])})
        problems = [c["problem"] for c in children.values() if c.get("problem")]
        if problems:
            spec["problem"] = problems[0]
        return spec
    kept = recorded_init(module)
    if kept is not None:
        spec.update(args=kept.args, missing=[], defaulted=[], args_from="record_init")
        if kept.problem:
            spec["problem"] = f"{cls.__qualname__}: {kept.problem}"
        return spec
    args, missing, defaulted = _read_args(module)
    spec.update(args=args, missing=missing, defaulted=defaulted, args_from="attributes")
    return spec


# -- source of classes defined in the training script -------------------------------------


def _definition_lines(node: ast.stmt) -> tuple[int, int]:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return start, node.end_lineno or node.lineno


def _keeps(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef)):
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return True
    value = getattr(node, "value", None)
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and value is not None:
        try:
            ast.literal_eval(value)
        except ValueError:
            return False
        return True
    return False


def script_source(path: str) -> str:
    """The definitions of a script: its imports, classes, functions and constants assigned
    literal values, in order; every other statement (the training itself) is left out."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    parts = []
    for node in ast.parse(text, filename=path).body:
        if _keeps(node):
            start, end = _definition_lines(node)
            parts.append("\n".join(lines[start - 1 : end]))
    return "\n\n".join(parts) + "\n"


def _main_source(cls: type) -> tuple[str | None, str | None, str | None]:
    """(source, file, reason it is missing) for a class of ``__main__``."""
    main = sys.modules.get(MAIN_MODULE)
    file = getattr(main, "__file__", None)
    if file:
        try:
            return script_source(file)[:_MAX_SOURCE_CHARS], file, None
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            return None, file, f"the script {file} could not be read ({exc})"
    try:
        return inspect.getsource(cls)[:_MAX_SOURCE_CHARS], None, None
    except (OSError, TypeError):
        return None, None, f"{cls.__qualname__} was defined in __main__ without a source file"


def _source(cls: type) -> str | None:
    try:
        return inspect.getsource(cls)[:_MAX_SOURCE_CHARS]
    except (OSError, TypeError):
        return None


# -- checking a spec against the tracked module -------------------------------------------


def _structure(module: torch.nn.Module) -> tuple[Any, ...]:
    """Module classes by name and parameter/buffer shapes: equal for equal architectures."""
    return (
        tuple((n, type(m).__name__) for n, m in module.named_modules()),
        tuple((n, tuple(p.shape)) for n, p in module.named_parameters()),
        tuple((n, tuple(b.shape)) for n, b in module.named_buffers()),
    )


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _on_meta(build: Callable[[], Any]) -> Any:
    import torch

    with torch.device("meta"):
        return build()


def _difference(candidate: torch.nn.Module, module: torch.nn.Module) -> str | None:
    """How ``candidate`` differs from ``module``, or ``None`` when it has the same structure."""
    if _structure(candidate) == _structure(module):
        return None
    built, tracked = _count(candidate), _count(module)
    if built != tracked:
        return f"rebuilding gives {built:,} parameters, the model has {tracked:,}"
    return "rebuilding gives other modules or parameter shapes"


def _build_live(spec: dict[str, Any], classes: dict[str, type]) -> Any:
    cls = classes[spec["class"]]
    if "children" in spec:
        return _assemble(cls, {n: _build_live(c, classes) for n, c in spec["children"].items()})
    return cls(**spec.get("args", {}))


def _classes(module: torch.nn.Module) -> dict[str, type]:
    return {_class_path(type(m)): type(m) for m in module.modules()}


def _torchvision_builders(cls: type) -> list[tuple[str, Callable[..., Any]]]:
    """The registered torchvision builders whose return type is ``cls``."""
    try:
        import torchvision.models as tvm
    except ImportError:
        return []
    found = []
    for name in tvm.list_models():
        builder = tvm.get_model_builder(name)
        if inspect.signature(builder).return_annotation is cls:
            found.append((name, builder))
    return found


def _readable_builder_args(module: torch.nn.Module) -> list[dict[str, Any]]:
    """Builder arguments read from the module (never guessed): ``num_classes`` from the last
    linear layer's ``out_features``; tried with and without it."""
    import torch

    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    candidates: list[dict[str, Any]] = [{"weights": None}]
    if linears:
        candidates.append({"weights": None, "num_classes": int(linears[-1].out_features)})
    return candidates


def _match_builder(
    module: torch.nn.Module,
    builders: list[tuple[str, Callable[..., Any]]],
    args: list[dict[str, Any]],
) -> tuple[str, Callable[..., Any], dict[str, Any]] | None:
    for name, builder in builders:
        for candidate_args in args:
            try:
                candidate = _on_meta(functools.partial(builder, **candidate_args))
            except Exception:  # a builder refusing these arguments is no match
                continue
            if _difference(candidate, module) is None:
                return name, builder, candidate_args
    return None


# -- the record entry -----------------------------------------------------------------------


def _resolve_factory(factory: Any) -> tuple[str, Callable[..., Any] | None]:
    if isinstance(factory, str):
        try:
            module_name, qualname = split_path(factory)
            found: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError, ReproduceError):
            return factory, None
        return f"{found.__module__}:{found.__qualname__}", found
    return _class_path(factory), factory


def _walk(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield spec
    for child in spec.get("children", {}).values():
        yield from _walk(child)


def reproduce_info(module: torch.nn.Module, options: dict[str, Any]) -> dict[str, Any]:
    """The ``NetworkRecord.reproduce`` entry for ``module`` (see the module docstring)."""
    cls = type(module)
    spec = module_spec(module)
    user_args = options.get("init_args")
    factory_path: str | None = None
    factory_fn: Callable[..., Any] | None = None
    registered: str | None = None
    if options.get("factory") is not None:
        factory_path, factory_fn = _resolve_factory(options["factory"])
    problem: str | None = None
    if user_args is not None:
        if not isinstance(user_args, dict):
            problem = f"init_args must be a dict of constructor arguments, not {user_args!r}"
        else:
            problem = json_problem(dict(user_args), "init_args")
        args_from = "user"
        if problem is None:
            spec.update(args=plain_value(dict(user_args)), missing=[], defaulted=[])
    else:
        args_from = spec.get("args_from", "attributes")
        problem = spec.get("problem")
    checked = False
    guess_builder = factory_fn is None and factory_path is None and user_args is None
    if problem is None and guess_builder and cls.__module__.startswith("torchvision.models"):
        match = _match_builder(module, _torchvision_builders(cls), _readable_builder_args(module))
        if match is not None:
            registered, factory_fn, found_args = match
            factory_path = _class_path(factory_fn)
            spec.update(args=found_args, missing=[], defaulted=[])
            args_from, checked = "torchvision", True
    if problem is None and factory_fn is not None and not checked:
        if user_args is not None:
            tries = [spec.get("args", {})]
        else:  # read from the module, without torchvision's weights=None for other builders
            tries = [
                {k: v for k, v in a.items() if k != "weights"}
                for a in _readable_builder_args(module)
            ]
        match = _match_builder(module, [(factory_path or "", factory_fn)], tries)
        if match is None:
            problem = (
                f"the factory {factory_path} with the arguments "
                f"{tries if user_args is None else user_args} does not rebuild this model"
            )
        else:
            spec.update(args=match[2], missing=[], defaulted=[])
        checked = True
    if problem is None and factory_path is None:
        missing = sorted({m for s in _walk(spec) for m in s.get("missing", [])})
        defaulted = sorted({m for s in _walk(spec) for m in s.get("defaulted", [])})
        if missing:
            problem = f"constructor arguments {', '.join(missing)} were not captured; {_HINT}"
        elif defaulted and user_args is None:
            try:
                again = _on_meta(lambda: _build_live(spec, _classes(module)))
                difference = _difference(again, module)
                checked = True
            except Exception as exc:  # the class cannot be built again here: say so
                difference = f"building {cls.__qualname__} again failed ({type(exc).__name__})"
            if difference:
                problem = (
                    f"{difference}: constructor arguments {', '.join(defaulted)} were not "
                    f"captured; {_HINT}"
                )
    local = next((s["class"] for s in _walk(spec) if "<locals>" in s["class"]), None)
    if problem is None and factory_path is None and local is not None:
        problem = f"{local} is defined inside a function; define the class at module level"
    main_classes = sorted(s["class"] for s in _walk(spec) if s["class"].startswith(MAIN_MODULE))
    info: dict[str, Any] = {
        "framework": "torch",
        "class": _class_path(cls),
        "factory": factory_path,
        "registered_name": registered,
        "init_args_from": args_from,
        "spec": spec,
        "checked_at_track": checked,
        "rebuildable": problem is None,
        "not_rebuildable": problem,
        "source_file": None,
        "source": None,
        "source_kind": "class",
    }
    if main_classes:
        source, file, reason = _main_source(cls)
        info.update(source=source, source_file=file, source_kind="script")
        if source is None and problem is None:
            info.update(rebuildable=False, not_rebuildable=reason)
    else:
        with contextlib.suppress(TypeError):
            info["source_file"] = inspect.getsourcefile(cls)
        info["source"] = _source(cls)
    return info


# -- rebuilding -----------------------------------------------------------------------------


def _spec_paths(info: dict[str, Any]) -> list[str]:
    """Every path the record names (the factory and every class of the spec, used or not)."""
    paths = [info["factory"]] if info.get("factory") else []
    paths += [s["class"] for s in _walk(info.get("spec") or {}) if "class" in s]
    return paths


def _main_namespace(info: dict[str, Any]) -> types.ModuleType:
    """The recorded script source, run in a module of its own (trust_source=True only)."""
    source = info.get("source")
    if not source or info.get("source_kind") != "script":
        raise ReproduceError(
            "the record names a class of the training script (__main__) but holds no source "
            "of the script to rebuild it from; track it again from a script file"
        )
    name = "modelboard_reproduced_main"
    namespace = types.ModuleType(name)
    namespace.__file__ = info.get("source_file") or "<recorded source>"
    sys.modules[name] = namespace
    try:
        exec(compile(source, namespace.__file__, "exec"), namespace.__dict__)  # noqa: S102
    except Exception as exc:
        raise ReproduceError(
            f"running the recorded source of the training script failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return namespace


def _lookup(path: str, main: types.ModuleType | None) -> Any:
    module_name, qualname = split_path(path)
    if "<locals>" in qualname:
        raise ReproduceError(
            f"cannot rebuild {path}: the class is defined inside a function; define it at "
            "module level"
        )
    found: Any
    if module_name == MAIN_MODULE:
        assert main is not None
        found = main
    else:
        try:
            found = importlib.import_module(module_name)
        except ImportError as exc:
            raise ReproduceError(f"cannot import {module_name} to rebuild {path}: {exc}") from exc
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError as exc:
            raise ReproduceError(f"{module_name} has no {qualname} (named as {path})") from exc
    return found


def _module_class(path: str, main: types.ModuleType | None) -> type:
    import torch

    found = _lookup(path, main)
    if not (isinstance(found, type) and issubclass(found, torch.nn.Module)):
        raise ReproduceError(
            f"the record names {path}, which is not a torch.nn.Module class; refusing to call it"
        )
    return found


def _factory(path: str, policy: ImportPolicy, main: types.ModuleType | None) -> Any:
    found = _lookup(path, main)
    module_name, _ = split_path(path)
    framework = any(
        module_name == p or module_name.startswith(p + ".") for p in FRAMEWORK_PACKAGES
    ) and not any(module_name == p or module_name.startswith(p + ".") for p in policy.allow_modules)
    if framework:
        import torchvision.models as tvm

        builders = {id(tvm.get_model_builder(n)) for n in tvm.list_models()}
        if id(found) not in builders:
            raise ReproduceError(
                f"the record names the factory {path}, which is not a registered torchvision "
                "model builder; refusing to call it (allow_modules=[...] names a package whose "
                "functions you trust)"
            )
    if not callable(found):
        raise ReproduceError(f"the record names the factory {path}, which is not callable")
    return found


def _assemble(cls: type, children: dict[str, Any]) -> Any:
    if cls.__name__ == "ModuleDict":
        return cls(children)
    if cls.__name__ == "ModuleList":
        return cls(list(children.values()))
    return cls(*children.values())


def _build(spec: dict[str, Any], main: types.ModuleType | None) -> Any:
    if spec.get("missing") and "children" not in spec:
        raise ReproduceError(
            f"cannot rebuild {spec['class']}: constructor arguments {spec['missing']} were not "
            f"captured; {_HINT}"
        )
    cls = _module_class(spec["class"], main)
    if "children" in spec:
        return _assemble(cls, {name: _build(c, main) for name, c in spec["children"].items()})
    args = spec.get("args", {})
    if not isinstance(args, dict):
        raise ReproduceError(f"the recorded arguments of {spec['class']} are not a dict")
    return cls(**args)


def rebuild(network: NetworkRecord, policy: ImportPolicy | None = None) -> torch.nn.Module:
    """A new, untrained module from the record's ``reproduce`` entry; every module it names is
    checked against ``policy`` (default: the one of the running ``mb.reproduce`` call) before
    anything is imported."""
    info = network.reproduce
    if not info:
        raise ReproduceError(
            "this run's network record holds no rebuild information (reproduce is empty): "
            "track the module with init_args= or factory= to make it reproducible"
        )
    policy = policy or active_policy()
    paths = _spec_paths(info)
    policy.check(paths)
    main = None
    if any(split_path(p)[0] == MAIN_MODULE for p in paths):
        main = _main_namespace(info)
    if info.get("factory"):
        factory = _factory(info["factory"], policy, main)
        args = (info.get("spec") or {}).get("args", {})
        return factory(**args)
    return _build(info["spec"], main)
