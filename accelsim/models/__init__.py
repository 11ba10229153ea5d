"""Built-in accelerator models, one package per accelerator (``scnn/``, ``eie/``, ...).

Each package registers its :class:`accelsim.base.AcceleratorModel` subclass with
``@register_model("name")`` and owns its schema, presets, energy tables, area, iso-throughput
fields and validation suite; :mod:`accelsim.registry` finds them (and third-party models) on first
use.  Shared pieces live in ``models/common/``, which is not a model.

The names below are re-exported from :mod:`accelsim.registry` for convenience.
"""

from __future__ import annotations

from ..registry import get_model_class, model_names, register_model

__all__ = ["get_model_class", "model_names", "register_model"]
