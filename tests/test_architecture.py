"""The import graph of the project's packages follows the layers of the developers' guide.

    core (errors, paths, config, energy, area, base, registry, checks, engine, report)
      <- formats <- models (one package each, plus models/common)
      <- report plots / analysis / measurement <- compare / sweep <- cli

Checked over every import statement (module level and inside functions, since a lazy import is
still a dependency): no import from a higher layer, no model package importing another, nothing
importing the CLI, no cycles, no ``from X import _private`` across modules, and ``workloads/ir.py``
importing nothing else of the project.  Model packages are loaded by the registry with importlib,
which is how the core reaches them without importing them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accelsim", "workloads", "dynhead")

CORE = {"accelsim", "accelsim.errors", "accelsim.paths", "accelsim.config", "accelsim.energy", "accelsim.area",
        "accelsim.base", "accelsim.registry", "accelsim.checks", "accelsim.engine", "accelsim.report",
        "accelsim.jsonio", "accelsim.yamlio", "accelsim.limits", "accelsim.outset",
        "accelsim.sampling"}
#: the analysis / measurement layer: modules above the models and below compare and sweep
ANALYSIS = {"accelsim.report_plots", "accelsim.plotting", "accelsim.gpu", "accelsim.pareto",
            "accelsim.simulate_api", "accelsim.measure", "accelsim.distributed", "accelsim.forkpool"}
CLI = {"accelsim.cli", "accelsim.__main__"}
LAYER_NAMES = ["core", "formats", "models", "analysis", "compare/sweep", "cli"]


def layer(mod: str) -> int | None:
    """Layer index of an accelsim module (None: not in accelsim)."""
    if mod == "accelsim" or not mod.startswith("accelsim."):
        return 0 if mod == "accelsim" else None
    if mod in CORE:
        return 0
    if mod.startswith("accelsim.formats"):
        return 1
    if mod.startswith("accelsim.models"):
        return 2
    if mod in ANALYSIS:
        return 3
    if mod.startswith(("accelsim.compare", "accelsim.sweep")):
        return 4
    if mod in CLI or mod.startswith("accelsim.cli"):
        return 5
    raise AssertionError(f"{mod}: no layer assigned; add it to tests/test_architecture.py")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


MODULES = _modules()


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(mod: str, path: Path):
    """(imported module, imported name or None, line) for every import of a project module."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PACKAGES:
                    yield a.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(mod, is_pkg, node)
            if target.split(".")[0] not in PACKAGES:
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in MODULES:  # `from pkg import submodule`
                    yield sub, None, node.lineno
                else:
                    yield target, a.name, node.lineno


def _edges():
    for mod, path in MODULES.items():
        for target, name, line in _imports(mod, path):
            yield mod, target, name, f"{path.relative_to(ROOT)}:{line}"


EDGES = list(_edges())


def _model_package(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["accelsim", "models"] else None


def test_every_accelsim_module_has_a_layer():
    for mod in MODULES:
        layer(mod)


def test_no_upward_imports():
    bad = []
    for src, dst, _, where in EDGES:
        ls, ld = layer(src), layer(dst)
        if ls is None or ld is None:
            continue
        if src == "accelsim":  # the package root re-exports the public API lazily (module __getattr__)
            continue
        if ld > ls:
            bad.append(f"{where}: {src} ({LAYER_NAMES[ls]}) imports {dst} ({LAYER_NAMES[ld]})")
    assert not bad, "\n".join(bad)


def test_model_packages_do_not_import_each_other():
    bad = []
    for src, dst, _, where in EDGES:
        a, b = _model_package(src), _model_package(dst)
        if a and b and a != b and b != "common":
            bad.append(f"{where}: model package {a} imports model package {b}")
        if a == "common" and b and b != "common":
            bad.append(f"{where}: models/common imports model package {b}")
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_cli():
    bad = [f"{where}: {src} imports {dst}" for src, dst, _, where in EDGES
           if layer(dst) == 5 and src not in CLI and not src.startswith("accelsim.cli")]
    assert not bad, "\n".join(bad)


def test_workloads_and_dynhead_do_not_import_accelsim():
    bad = [f"{where}: {src} imports {dst}" for src, dst, _, where in EDGES
           if not src.startswith("accelsim") and dst.startswith("accelsim")]
    assert not bad, "\n".join(bad)


def test_ir_imports_nothing_of_the_project():
    bad = [f"{where}: imports {dst}" for src, dst, _, where in EDGES if src == "workloads.ir"]
    assert not bad, "\n".join(bad)


def test_no_private_names_across_modules():
    bad = []
    for src, dst, name, where in EDGES:
        if name and name.startswith("_") and not name.startswith("__") and dst != src:
            bad.append(f"{where}: {src} imports {dst}.{name}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    g = nx.DiGraph()
    for src, dst, _, _ in EDGES:
        if dst in MODULES and dst != src and not src.startswith(dst + "."):
            # importing a package's own __init__ from inside it is how Python loads it, not a cycle
            g.add_edge(src, dst)
    cycles = list(nx.simple_cycles(g, length_bound=6))
    assert not cycles, "\n".join(" -> ".join(c + [c[0]]) for c in cycles[:20])


@pytest.mark.parametrize("name", ["run_compare", "CompareSettings", "simulate", "run_sweep"])
def test_public_api_names(name):
    import accelsim
    assert name in accelsim.__all__
    assert getattr(accelsim, name) is not None
