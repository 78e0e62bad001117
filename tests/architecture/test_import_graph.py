"""The package's import graph: one direction between layers, no cycles, one error hierarchy.

Every ``import`` counts, at module level or inside a function (only ``if TYPE_CHECKING:`` blocks are
left out: they never run). A failure names the offending import so it can be moved or injected.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "stockvision"

#: Layers, lowest first: a module may import its own layer and the layers below it only.
LAYERS: list[set[str]] = [
    {
        "stockvision",
        "stockvision.errors",
        "stockvision.jsonutil",
        "stockvision.config",
        "stockvision.faults",
        "stockvision.engine",
    },
    {"stockvision.market"},
    {"stockvision.data"},
    {"stockvision.features", "stockvision.news"},
    {"stockvision.models"},
    {"stockvision.evaluation"},
    {"stockvision.predict"},
    {"stockvision.registry"},
    {"stockvision.monitoring"},
    {"stockvision.pipeline"},
    {"stockvision.chat", "stockvision.stream"},
    {"stockvision.serving"},
    {"stockvision.app", "stockvision.cli"},
]
#: Deliberate exceptions, each with its reason.
ALLOWED = {
    # the default universe when SV_UNIVERSE is empty is the VN30 basket, a constant table
    ("stockvision.config", "stockvision.market.vn30"),
}
LOWER_LAYERS = ("data", "features", "models", "evaluation", "market")
UPPER = ("serving", "pipeline", "chat", "cli")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The longest known module that ``name`` designates (``a.b.func`` -> ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if (target := _resolve(alias.name)) is not None:
                        found.add(target)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    target = _resolve(f"{base}.{alias.name}") or _resolve(base)
                    if target is not None:
                        found.add(target)
            visit(child)

    visit(tree)
    found.discard(module)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if module == prefix or (prefix != "stockvision" and module.startswith(prefix + ".")):
                return i
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    import sys

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_scanner_sees_function_level_imports():
    # a known function-level import: the features refresh reads the store through the data layer
    assert "stockvision.data.ingest" in GRAPH["stockvision.features.refresh"]
    assert len(MODULES) > 80


def test_no_import_cycle_among_modules():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_layers_import_downwards_only():
    bad = [
        f"{src} (layer {_layer(src)}) imports {dst} (layer {_layer(dst)})"
        for src, targets in GRAPH.items()
        for dst in targets
        if _layer(dst) > _layer(src) and (src, dst) not in ALLOWED
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("lower", LOWER_LAYERS)
def test_lower_layers_never_import_serving_pipeline_chat_or_cli(lower):
    bad = [
        f"{src} imports {dst}"
        for src, targets in GRAPH.items()
        if src.startswith(f"stockvision.{lower}")
        for dst in targets
        if any(dst.startswith(f"stockvision.{up}") for up in UPPER)
    ]
    assert not bad, "\n".join(bad)


def test_no_process_wide_settings_below_the_application_layers():
    offenders = []
    for name, path in MODULES.items():
        low = _layer(name) < _layer("stockvision.pipeline") and name != "stockvision.config"
        if low and re.search(r"\bget_settings\b", path.read_text(encoding="utf-8")):
            offenders.append(name)
    assert not offenders, f"get_settings() used in {offenders}: pass the values as parameters"


def test_one_class_per_error_name():
    names: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Exception")):
                names.setdefault(node.name, []).append(name)
    twice = {k: v for k, v in names.items() if len(v) > 1}
    assert not twice, twice
    assert names["UnknownSymbolError"] == ["stockvision.errors"]


def test_every_error_belongs_to_the_one_hierarchy():
    import importlib
    import inspect

    from stockvision.errors import StockVisionError

    strays = []
    for name in MODULES:
        if name.startswith(("stockvision.models.sequence", "stockvision.models.cnn")):
            continue  # torch models: imported lazily, they define no errors
        mod = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(mod, inspect.isclass):
            own = cls.__module__ == name and issubclass(cls, Exception)
            if own and not issubclass(cls, StockVisionError):
                strays.append(f"{name}.{cls_name}")
    assert not strays, f"errors outside StockVisionError: {strays}"


def test_grep_finds_no_get_settings_in_the_issue_layers():
    """The issue's own check, as a user would run it."""
    dirs = [str(PACKAGE / d) for d in ("market", "features", "models", "evaluation")]
    found = subprocess.run(
        ["grep", "-rn", "get_settings", *dirs], capture_output=True, text=True, check=False
    )
    assert found.stdout == "", found.stdout
