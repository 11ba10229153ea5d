"""DCNN and DCNN-opt, SCNN's dense baselines (Parashar et al., ISCA 2017, Sec. V).

``model.py`` the :class:`DCNN` model (schema, hooks, closed-form dense timing), ``area.py`` the SCNN
PE-table area without the crossbar.  The planar tiling is SCNN's, from
:mod:`accelsim.models.common.planar`.  Presets ``dcnn``, ``dcnn-opt``; energy table ``scnn_16nm``
(owned by the SCNN package, found through the registry).  No validation suite of its own: SCNN's
suite compares against it.
"""

from __future__ import annotations

from .model import DCNN

__all__ = ["DCNN"]
