"""Accelerator models, one file per accelerator; discovered on first use.

A model module defines a subclass of :class:`accelsim.engine.AcceleratorModel`
decorated with ``@register_model("name")`` and, optionally, a module-level
``validate(shared, full=False) -> dict`` used by ``accelsim validate name``.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError

_REGISTRY: dict[str, type] = {}
_MODULES: dict[str, object] = {}
_DISCOVERED = False


def register_model(name: str):
    def deco(cls):
        cls.model_name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def _discover():
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for m in pkgutil.iter_modules(__path__):
        if m.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{m.name}")
        for name, cls in list(_REGISTRY.items()):
            if cls.__module__ == mod.__name__:
                _MODULES[name] = mod


def get_model_class(name: str, file: str | None = None) -> type:
    _discover()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r} (known: {', '.join(sorted(_REGISTRY)) or 'none'})", file=file,
                          field="model")
    return _REGISTRY[name]


def get_model_module(name: str):
    _discover()
    get_model_class(name)
    return _MODULES[name]


def model_names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)
