"""Eyeriss v2 (sparse, CSC PEs on a hierarchical mesh) and Eyeriss v1 (dense row stationary): one package,
since v1 is the same row-stationary array engine with dense PEs and other fields.

Layout: :mod:`.model` (``EyerissV2``, its ``FIELDS_V2`` schema and hooks), :mod:`.v1` (``EyerissV1``),
:mod:`.kernel` (Numba array walk), :mod:`.formats` (weight CSC), :mod:`.mapping` (RS+ mapping search),
:mod:`.area` (area formula), :mod:`.validate` (``accelsim validate eyeriss-v2`` / ``eyeriss-v1``).
Presets ``eyeriss-v1``, ``eyeriss-v2``, ``eyeriss-v2-pe`` and energy tables ``eyeriss_v1_45nm``,
``eyeriss_v2_45nm`` live in ``presets/`` and ``energy_tables/`` here.
"""

from __future__ import annotations

from .formats import weight_csc
from .mapping import Mapping
from .model import FIELDS_V2, EyerissV2
from .v1 import FIELDS_V1, EyerissV1
from .validate import (
                       ALEXNET_IACT_DENSITY,
                       PAPER,
                       PAPER_V1,
                       alexnet_conv_v1,
                       chip_numbers,
                       small_layers,
                       thin,
                       validate,
                       validate_v1,
)

__all__ = ["ALEXNET_IACT_DENSITY", "FIELDS_V1", "FIELDS_V2", "PAPER", "PAPER_V1", "EyerissV1", "EyerissV2", "Mapping",
           "alexnet_conv_v1", "chip_numbers", "small_layers", "thin", "validate", "validate_v1", "weight_csc"]
