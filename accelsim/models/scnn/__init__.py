"""SCNN (Parashar et al., ISCA 2017): cycle-level, data-driven model of the PT-IS-CP-sparse dataflow.

``model.py`` the :class:`SCNN` model (schema, hooks, simulate; its docstring reads the paper top-down),
``formats.py`` the RLE activation / weight streams, ``kernel.py`` the Numba cycle loop and the
accumulator bank hash, ``area.py`` the PE-table area, ``validate.py`` ``accelsim validate scnn``.
The planar tiling shared with DCNN is :mod:`accelsim.models.common.planar`.
Presets ``scnn``, ``scnn-4x256``, ``scnn-maskskip``; energy table ``scnn_16nm`` (also used by DCNN).
"""

from __future__ import annotations

from .formats import ActStreams, WeightStreams, build_act_streams, build_weight_streams, rle_streams
from .kernel import bank_terms
from .model import SCNN

__all__ = ["SCNN", "ActStreams", "WeightStreams", "bank_terms", "build_act_streams", "build_weight_streams",
           "rle_streams"]
