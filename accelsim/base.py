"""The contract every accelerator model implements: :class:`AcceleratorModel` and its result type.

A model is one package (``accelsim/models/<name>/`` or a third-party distribution, see
:mod:`accelsim.registry` and ``docs/adding-a-model.md``) that owns everything about itself through
this base class; nothing elsewhere in accelsim lists models by name:

=====================================  ===============================================================
hook                                   what it gives (default)
=====================================  ===============================================================
``FIELDS``                             config schema: type, unit, bounds, source per field
``simulate_layer`` (abstract)          one layer of one image -> :class:`LayerResult` (cycles, actions)
``peak_macs_per_cycle`` (abstract)     multipliers that can fire per cycle
``ACTIONS``                            every action name the model may emit (each needs an energy row)
``unsupported_reason(layer)``          why the model cannot run a layer (None: it can)
``area()``                             :class:`accelsim.area.AreaReport` with sources (generic estimate)
``ISO_FIELDS`` / ``iso_overrides``     PE-count fields scaled for iso-throughput (none)
``DRAM_BANDWIDTH`` / ``dram_bytes_per_s``  off-chip bandwidth for the roofline (none)
``validation_suite()``                 the paper / reference-data checks (none)
``DATAPATH_FIELD`` / ``datapath_bits``  operand width in bits (fixed ``DATAPATH_BITS`` = 16)
``datapath_overrides(bits)``            overrides giving a ``bits``-wide variant (from ``DATAPATH_FIELD``)
``onchip_sram_bytes()``                 on-chip storage (the byte-counted components of ``area()``)
``technology()``                        node, supply, datapath, clock, SRAM, area, energy table
preset key ``compare_default: true``   ``accelsim compare`` runs the preset by default
=====================================  ===============================================================

Compute counts (per layer instance, in MACs):

* ``macs_dense``      algorithmic: the dense count implied by the shape;
* ``macs_effectual``  non-zero weight x non-zero activation x active output;
* ``macs_actual``     what the hardware's multipliers really performed (includes
                      ineffectual work the design cannot skip, e.g. zero activations
                      on Cambricon-X, masked-off outputs on baseline SCNN);
* ``macs_skipped``    ineffectual MACs eliminated with their cycles;
* ``macs_gated``      ineffectual MACs that kept their slot but not their energy.

All four are MACs of the algorithmic count, so ``macs_dense == macs_actual + macs_skipped +
macs_gated``.  Multiplier products that are no MAC of that count (an input-stationary Cartesian
product's out-of-plane products, SCNN's products of run-length padding entries) are in no
``macs_*`` field: a model that performs them reports them in ``extra["products_outside_dense"]``
and charges their energy in its multiply action.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from workloads import Layer, LayerInstance

from .area import AreaReport, Builder, Component, generic_area
from .config import ArchConfig, Field
from .energy import EnergyTable, table_for


def largest_remainder(parts: dict[str, float], total: int) -> dict[str, int]:
    """Round non-negative float parts to integers that sum exactly to ``total`` (cycles)."""
    keys = list(parts)
    vals = np.array([max(0.0, parts[k]) for k in keys], dtype=np.float64)
    s = vals.sum()
    if s > 0:
        vals = vals * (total / s)
    fl = np.floor(vals).astype(np.int64)
    rem = int(total - fl.sum())
    order = np.argsort(-(vals - fl), kind="stable")
    for i in order[:rem]:
        fl[i] += 1
    return {k: int(v) for k, v in zip(keys, fl)}


@dataclass
class LayerResult:
    """Result of one layer on one image.  Cycles at the config's clock."""

    name: str
    image: int
    cycles: int
    breakdown: dict[str, int]
    actions: dict[str, float]
    macs_dense: int
    macs_effectual: int
    macs_actual: int
    macs_skipped: int = 0
    macs_gated: int = 0
    utilization: float | None = None
    output: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    energy_pJ: dict[str, float] = field(default_factory=dict)  # filled by the engine
    latency_s: float = 0.0  # filled by the engine

    @property
    def energy_j(self) -> float:
        return sum(self.energy_pJ.values()) * 1e-12

    def to_dict(self, with_output: bool = False) -> dict:
        d = {"name": self.name, "image": self.image, "cycles": int(self.cycles), "latency_s": self.latency_s,
             "energy_j": self.energy_j, "macs_dense": int(self.macs_dense),
             "macs_effectual": int(self.macs_effectual), "macs_actual": int(self.macs_actual),
             "macs_skipped": int(self.macs_skipped), "macs_gated": int(self.macs_gated),
             "utilization": self.utilization,
             "breakdown": {k: int(v) for k, v in self.breakdown.items()},
             "actions": {k: float(v) for k, v in self.actions.items()},
             "energy_pJ": dict(self.energy_pJ), "extra": self.extra}
        if with_output and self.output is not None:
            d["output"] = np.asarray(self.output).tolist()
        return d


class AcceleratorModel(abc.ABC):
    """Base class of every accelerator model.  Subclasses set ``FIELDS`` and implement
    :meth:`simulate_layer` and :meth:`peak_macs_per_cycle`; every other hook has a default."""

    model_name: ClassVar[str] = "base"
    FIELDS: ClassVar[dict[str, Field]] = {}
    #: one-line description of how each layer kind maps onto the design (shown in reports)
    MAPPING_NOTES: ClassVar[dict[str, str]] = {}
    #: every action name ``simulate_layer`` may put in ``LayerResult.actions``; the contract test checks
    #: that each has a row in the preset's energy table (empty: not declared, checked on emitted actions only)
    ACTIONS: ClassVar[tuple[str, ...]] = ()
    #: PE-count fields scaled for iso-throughput: ``"lin"`` multiplies by the factor, ``"sqrt"`` (the two
    #: fields of a 2-D grid) by its square root; buffers, NoC and DRAM bandwidth stay as configured
    ISO_FIELDS: ClassVar[dict[str, str]] = {}
    #: the config field that gives the off-chip bandwidth and whether it is per cycle (x clock) rather
    #: than per second; None: the model has no off-chip bandwidth limit (EIE keeps the model on chip)
    DRAM_BANDWIDTH: ClassVar[tuple[str, bool] | None] = None
    #: the config field holding the datapath (operand) width and its unit in bits, e.g. ``("data.bits", 1)``
    #: or ``("word_bytes", 8)``; None: the design's width is fixed at :attr:`DATAPATH_BITS`
    DATAPATH_FIELD: ClassVar[tuple[str, int] | None] = None
    DATAPATH_BITS: ClassVar[int] = 16

    #: set True (``simulate --chrome-trace F --pe-tracks``) to have models that support it put a
    #: per-PE, per-barrier-round timeline in ``LayerResult.extra["pe_timeline"]`` (see
    #: :func:`accelsim.engine.pe_timeline`); off by default because it grows with rounds x PEs
    record_pe_timeline: bool = False
    #: the :class:`accelsim.sampling.SampleSpec` of ``--sample`` (None: exhaustive); set by
    #: :func:`accelsim.engine.with_sampling` on a copy of the model
    sampling: Any = None

    def __init__(self, cfg: ArchConfig):
        self.cfg = cfg
        self.energy: EnergyTable = table_for(cfg, self.datapath_bits())

    # ---------------------------------------------------------------- required
    @abc.abstractmethod
    def simulate_layer(self, inst: LayerInstance, functional: bool = False) -> LayerResult:
        """Cycles (at ``cfg.clock_hz``), cycle breakdown, action counts and MAC counts of one layer of
        one image; in functional mode also the layer's output computed from the compressed data."""

    @abc.abstractmethod
    def peak_macs_per_cycle(self) -> int:
        """Multipliers that can fire in one cycle (MACs/cycle)."""

    # ---------------------------------------------------------------- hooks with defaults
    @classmethod
    def check_config(cls, cfg: ArchConfig) -> None:
        """Cross-field checks (raise ConfigError); the schema already checked each field."""
        return None  # a hook with a default: most models need no cross-field check

    def unsupported_reason(self, layer: Layer) -> str | None:
        """Why this design cannot run ``layer`` (one line), or None when it can."""
        return None

    def sampling_units(self, inst: LayerInstance):
        """The layer's independent work units as an :class:`accelsim.sampling.UnitSpace`, for ``--sample``;
        None (the default) when the model has none: its layers then always run exhaustively (dense
        models, whose exact fast paths need no sampling).  Contract: the model's exhaustive result equals
        the space's fixed part plus the sum over all its units (:func:`accelsim.sampling.check_decomposition`)."""
        return None

    def reuse_key(self, inst: LayerInstance) -> str | None:
        """A key under which this model's result on ``inst`` may stand for another model's: two models whose
        keys for an instance are equal give the same LayerResult on it, field for field (an exact fast path
        across targets, :func:`accelsim.engine.simulate`'s ``reuse``).  None (the default): never shared.  A
        model that returns a key owns the proof (a test that the results are equal)."""
        return None

    def dram_bytes_per_s(self) -> float | None:
        """Off-chip bandwidth in bytes/s as configured (from :attr:`DRAM_BANDWIDTH`), or None where the
        model has none.  Used for the roofline's bandwidth ceiling."""
        if self.DRAM_BANDWIDTH is None:
            return None
        key, per_cycle = self.DRAM_BANDWIDTH
        return float(self.cfg[key]) * (self.cfg.clock_hz if per_cycle else 1.0)

    def iso_overrides(self, factor: float) -> dict[str, int]:
        """Overrides that scale this config's PE count by about ``factor`` (each field rounded, >= 1),
        from :attr:`ISO_FIELDS`; empty when the model declares none (no ``@iso`` row)."""
        out = {}
        for k, rule in self.ISO_FIELDS.items():
            f = factor ** 0.5 if rule == "sqrt" else factor
            out[k] = max(1, int(round(self.cfg[k] * f)))
        return out

    def area_mm2(self) -> dict[str, float]:
        """Area per component (mm^2) at the config's node, as a plain dict; models with a component model
        may override this or :meth:`area` (which carries sources)."""
        return {}

    def area(self) -> AreaReport:
        """Chip area per component with provenance (mm^2, at the config's node).  Default: the model's
        :meth:`area_mm2` when it has one, else the generic estimate of :func:`accelsim.area.generic_area`."""
        comps = self.area_mm2() or {}
        if comps:
            b = Builder(self.cfg, "model")
            for k, v in comps.items():
                b.rep.components.append(Component(k, float(v), 1, "component", f"{type(self).__name__}.area_mm2()",
                                                  f"model {self.cfg.model} (see its docstring)", None))
            return b.rep
        return generic_area(self.cfg, self)

    def datapath_bits(self) -> int:
        """Operand width of the datapath in bits (:attr:`DATAPATH_FIELD` of the config, else
        :attr:`DATAPATH_BITS`).  An energy table that declares its own ``datapath_bits`` has its rows
        carried to this width (:data:`accelsim.energy.WIDTH_RULE`)."""
        if self.DATAPATH_FIELD is None:
            return int(self.DATAPATH_BITS)
        key, unit = self.DATAPATH_FIELD
        return int(self.cfg[key]) * int(unit)

    def datapath_overrides(self, bits: int) -> dict | None:
        """Config overrides giving this design a ``bits``-wide datapath: {} when it has one, None when the
        model cannot change its width (no :attr:`DATAPATH_FIELD`)."""
        if self.datapath_bits() == bits:
            return {}
        if self.DATAPATH_FIELD is None or bits % self.DATAPATH_FIELD[1]:
            return None
        key, unit = self.DATAPATH_FIELD
        return {key: bits // unit}

    def onchip_sram_bytes(self) -> float:
        """On-chip storage in bytes (SRAMs, register files, FIFOs, scratchpads): the byte-counted
        components of :meth:`area`, so both count the same buffers."""
        return float(sum(c.count for c in self.area().components if c.unit in ("byte", "sram_byte")))

    def technology(self) -> dict:
        """The design point as configured: node (nm), supply (V), datapath (bits), clock (Hz), on-chip SRAM
        (bytes), area (mm^2 at the node, :meth:`area`), the energy table and its off-chip energy."""
        rep = self.area()
        return {"node_nm": float(self.energy.node_nm), "voltage_v": float(self.energy.voltage_v),
                "datapath_bits": self.datapath_bits(), "clock_hz": float(self.cfg.clock_hz),
                "onchip_sram_bytes": self.onchip_sram_bytes(), "area_mm2": rep.total_mm2, "area_method": rep.method,
                "energy_table": self.energy.name, "table_node_nm": float(self.energy.table_node_nm),
                "dram_pJ_per_byte": self.energy.dram_pJ_per_byte()}

    @classmethod
    def validation_suite(cls) -> Callable[..., dict] | None:
        """``fn(shared: Path | None, full: bool = False) -> {"checks": [...], ...}`` comparing the model with
        its paper and reference data (rows built with :func:`accelsim.checks.check`), or None."""
        return None

    # ---------------------------------------------------------------- helpers for subclasses
    def utilization(self, macs_actual: int, cycles: int) -> float:
        peak = self.peak_macs_per_cycle()
        return float(macs_actual) / float(max(1, cycles) * peak) if peak else 0.0
