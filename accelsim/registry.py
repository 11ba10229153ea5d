"""Where accelerator models, their presets and their energy tables are found.

A model is a class derived from :class:`accelsim.base.AcceleratorModel` and decorated with
``@register_model("name")``.  Nothing else in accelsim lists models by name: the registry
finds them in three places, in this order (first found wins a name; a clash is an error):

1. **built-ins** -- every sub-package of ``accelsim.models`` (``models/scnn/``, ``models/eie/``,
   ...), imported on first use;
2. **entry points** -- installed distributions that declare the group ``accelsim.models``
   (``[project.entry-points."accelsim.models"] toy = "toy_accel"``); the entry point names a
   module (or class) whose import registers the model;
3. **plugins named at run time** -- ``ACCELSIM_PLUGINS=mod1,mod2`` or the CLI's ``--plugin MOD``
   (:func:`load_plugin`).

A model owns its resources: when a class registers, the folders ``presets/`` and
``energy_tables/`` next to its module (or in a parent folder inside the same top-level package)
join the preset and energy-table search path, after accelsim's own ``accelsim/presets`` and
``accelsim/energy_tables`` (shared tables such as Horowitz 45 nm live there).

This module imports nothing of accelsim but its errors: model packages are loaded with
:mod:`importlib`, so the core stays below the models in the import graph.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

from .errors import ConfigError

ENTRY_POINT_GROUP = "accelsim.models"
PLUGIN_ENV = "ACCELSIM_PLUGINS"
BUILTIN_PACKAGE = "accelsim.models"
#: sub-packages of ``accelsim.models`` that hold shared code, not models
NOT_MODELS = ("common",)

_HERE = Path(__file__).resolve().parent
_REGISTRY: dict[str, type] = {}
_PRESET_DIRS: list[Path] = [_HERE / "presets"]
_TABLE_DIRS: list[Path] = [_HERE / "energy_tables"]
_LOADED_PLUGINS: list[str] = []
_state = {"discovered": False}


def register_model(name: str):
    """Class decorator: register an accelerator model under ``name`` (the presets' ``model:``)."""
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"register_model: bad model name {name!r}")

    def deco(cls):
        prev = _REGISTRY.get(name)
        if prev is not None and (prev.__module__, prev.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ConfigError(f"model name {name!r} registered twice: {prev.__module__}.{prev.__qualname__} "
                              f"and {cls.__module__}.{cls.__qualname__}", field="model")
        cls.model_name = name
        _REGISTRY[name] = cls
        _add_resource_dirs(cls)
        return cls
    return deco


def _add_resource_dirs(cls) -> None:
    """Add ``presets/`` and ``energy_tables/`` found beside the class's module (or above it, within
    its top-level package) to the search paths."""
    mod = sys.modules.get(cls.__module__)
    f = getattr(mod, "__file__", None)
    if not f:
        return
    here = Path(f).resolve().parent
    depth = cls.__module__.count(".")  # folders up to the top-level package
    cands = [here] + list(here.parents)[:max(0, depth - 1)]
    for sub, dirs in (("presets", _PRESET_DIRS), ("energy_tables", _TABLE_DIRS)):
        for c in cands:
            d = c / sub
            if d.is_dir() and d not in dirs:
                dirs.append(d)
                break


def _import(module: str, what: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"{what} {module!r} cannot be imported: {e}", field="plugin") from None


def load_plugin(module: str) -> None:
    """Import a third-party model module (``--plugin``); its ``@register_model`` classes register."""
    if module in _LOADED_PLUGINS:
        return
    _import(module, "plugin")
    _LOADED_PLUGINS.append(module)


def discover() -> None:
    """Import built-in model packages, entry points and ``$ACCELSIM_PLUGINS`` (once)."""
    if _state["discovered"]:
        return
    _state["discovered"] = True
    pkg = importlib.import_module(BUILTIN_PACKAGE)
    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not m.name.startswith("_") and m.name not in NOT_MODELS:
            importlib.import_module(f"{BUILTIN_PACKAGE}.{m.name}")
    from importlib.metadata import entry_points
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            ep.load()
        except Exception as e:  # a broken third-party package must not take the built-ins down
            raise ConfigError(f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP!r} failed to "
                              f"load: {type(e).__name__}: {e}", field="plugin") from None
    for mod in filter(None, (s.strip() for s in os.environ.get(PLUGIN_ENV, "").split(","))):
        load_plugin(mod)


def get_model_class(name: str, file: str | None = None) -> type:
    discover()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r} (known: {', '.join(sorted(_REGISTRY)) or 'none'})", file=file,
                          field="model")
    return _REGISTRY[name]


def model_names() -> list[str]:
    discover()
    return sorted(_REGISTRY)


def unregister(name: str) -> None:
    """Remove a model (tests that register throw-away models clean up with this)."""
    _REGISTRY.pop(name, None)


def preset_dirs() -> list[Path]:
    discover()
    return list(_PRESET_DIRS)


def table_dirs() -> list[Path]:
    discover()
    return list(_TABLE_DIRS)


def _find(dirs: list[Path], kind: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for d in dirs:
        for p in sorted(d.glob("*.yaml")):
            if p.stem in out and out[p.stem] != p:
                raise ConfigError(f"{kind} {p.stem!r} defined twice: {out[p.stem]} and {p}", file=str(p))
            out[p.stem] = p
    return out


def preset_files() -> dict[str, Path]:
    """Preset name -> YAML file, over every model's ``presets/`` folder."""
    return _find(preset_dirs(), "preset")


def table_files() -> dict[str, Path]:
    """Energy-table name -> YAML file, over every model's ``energy_tables/`` folder."""
    return _find(table_dirs(), "energy table")


def compare_default_presets() -> list[str]:
    """Presets that ``accelsim compare`` runs when no ``--targets`` is given: those whose YAML says
    ``compare_default: true``, in the order of their ``compare_order`` key (then name)."""
    from .yamlio import load_yaml_file
    picked = []
    for name, path in preset_files().items():
        try:
            data = load_yaml_file(path)
        except ConfigError:
            continue  # a broken preset is reported when it is loaded, not here
        if isinstance(data, dict) and data.get("compare_default") is True:
            order = data.get("compare_order", 1000)
            picked.append((order if isinstance(order, (int, float)) else 1000, name))
    return [n for _, n in sorted(picked)]
