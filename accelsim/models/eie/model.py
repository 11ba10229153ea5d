"""The EIE model class: schema, hooks and :meth:`EIE.simulate_layer` (see the package docstring)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workloads import LayerInstance

from ...area import AreaReport
from ...config import Field
from ...engine import AcceleratorModel, LayerResult
from ...errors import ConfigError
from ...registry import register_model
from .area import eie_area
from .formats import ENTRY_BITS, EIEMatrix, matrix_from_dense, matrix_from_dump
from .mapping import MAPPING_NOTES, PixelVectors, lowered_weights, run_matrix


@register_model("eie")
class EIE(AcceleratorModel):
    """EIE, cycle level on the real compressed data (see the package docstring)."""

    #: ``spmat_sram_read_<spmat_line_bits>b``: the line widths the eie_45nm table has rows for
    ACTIONS = ("ptr_sram_read_16b", "spmat_sram_read_32b", "spmat_sram_read_64b", "spmat_sram_read_128b",
               "codebook_read_16b", "mac_16b", "act_rf_read_16b", "act_rf_write_16b", "act_sram_read_16b",
               "act_sram_write_16b", "fifo_write_32b", "fifo_read_32b", "pe_clock_cycle")
    ISO_FIELDS = {"n_pe": "lin"}
    DRAM_BANDWIDTH = None  # the compressed model stays in the PEs' Spmat SRAM: no off-chip traffic

    FIELDS = {
        "n_pe": Field(int, "PEs", default=64, doc="processing elements (rows interleaved i mod N)",
                      source="EIE paper Sec. VI; authors' layer_dump2.py bank-num=64"),
        "fifo_depth": Field(int, "entries", default=7, min=1,
                            doc="activations one PE's FIFO holds = the authors' NZFETCH_buffersize - 1 (their ring "
                                "buffer); the column being streamed sits in the PtrRead register, not in the FIFO",
                            source="authors' src/nzfetch.cpp ring buffer; paper depth 8 read as NZFETCH_buffersize=8"),
        "act_regs_per_pe": Field(int, "outputs", default=64, doc="destination registers per PE (outputs per pass / N)",
                                 source="EIE paper Sec. V: 64 x 16-bit act registers per PE"),
        "index_bits": Field(int, "bits", default=4, min=1, max=8, doc="relative row index width",
                            source="EIE paper Sec. IV"),
        "spmat_line_bits": Field(int, "bits", default=64, doc="Spmat SRAM line width", source="EIE paper Sec. VI"),
        "lnzd_row_bubble": Field(bool, "", default=True,
                                 doc="one LNZD cycle lost per N-activation row change (authors' nzfetch.cpp)",
                                 source="authors' src/nzfetch.cpp"),
        "pass_overhead_cycles": Field(int, "cycles", default=0, min=0,
                                      doc="cycles between passes / conv pixels besides the drain",
                                      source="assumed (paper gives none; write-back overlaps)"),
        "timing_loop": Field(str, "", default="event", choices=("event", "cycle"),
                             doc="event: exact per-(PE, broadcast) recurrences; cycle: explicit per-cycle stepper "
                                 "(same results, tested equal; slower)"),
        "compress.prune_density": Field(float, "", default=1.0, min=0.0, max=1.0,
                                        doc="magnitude-prune dense weights to this density (1 = keep all)"),
        "compress.codebook_size": Field(int, "codes", default=0, min=0, max=256,
                                        doc="k-means weight sharing to this many codes (0 = keep exact weights)",
                                        source="EIE paper: 16 (4-bit)"),
        "compress.seed": Field(int, "", default=0, min=0, doc="k-means seed"),
    }
    MAPPING_NOTES = MAPPING_NOTES  # mapping.MAPPING_NOTES

    def __init__(self, cfg):
        super().__init__(cfg)
        self._cache: dict = {}
        self._vectors: tuple | None = None       # vectors_for's last instance

    def __getstate__(self):
        """Pickled / copied without :meth:`vectors_for`'s instance (a cache of one layer's input)."""
        return {**self.__dict__, "_vectors": None}

    @classmethod
    def check_config(cls, cfg):
        if cfg["spmat_line_bits"] % ENTRY_BITS:
            raise ConfigError(f"must be a multiple of {ENTRY_BITS} (one entry = 4-bit code + 4-bit index)",
                              file=cfg.file, field="spmat_line_bits")

    def peak_macs_per_cycle(self) -> int:
        return int(self.cfg["n_pe"])

    def area(self) -> AreaReport:
        """EIE Table II per-PE blocks scaled per unit (:func:`accelsim.models.eie.area.eie_area`)."""
        return eie_area(self.cfg)

    @classmethod
    def validation_suite(cls):
        from .validate import validate
        return validate

    # ------------------------------------------------------------------ data
    def matrix_for(self, inst: LayerInstance) -> EIEMatrix:
        """The layer's compressed matrix (cached per layer): the stored dump when the layer names one."""
        L = inst.layer
        N, R = self.cfg["n_pe"], self.cfg["act_regs_per_pe"]
        dump = L.meta.get("eie_dump") if L.meta else None
        key = (L.name, id(L.weights), N, R, self.cfg["index_bits"], self.cfg["compress.prune_density"],
               self.cfg["compress.codebook_size"], bool(dump))
        if key in self._cache:
            return self._cache[key]
        as_stored = (N == int(L.meta.get("eie_n_pe", N)) and self.cfg["index_bits"] == 4 and -(-L.K // N) <= R
                     and self.cfg["compress.prune_density"] >= 1.0 and not self.cfg["compress.codebook_size"])
        # the authors' CSC as-is; otherwise (other config, or a saved workload whose dump folder is gone)
        # re-compress the decoded weights, which gives the same CSC for the preset (tested)
        if dump and L.kind == "fc" and as_stored and Path(dump).is_dir():
            m = matrix_from_dump(dump, L.K, L.C, N, R)
        else:
            W = lowered_weights(inst)
            pd = self.cfg["compress.prune_density"]
            m = matrix_from_dense(W, N, L.bias, R, self.cfg["index_bits"], None if pd >= 1.0 else pd,
                                  self.cfg["compress.codebook_size"] or None, self.cfg["compress.seed"])
        self._cache = {key: m}  # one layer at a time keeps memory bounded
        return m

    def vectors_for(self, inst: LayerInstance) -> PixelVectors:
        """The instance's :class:`PixelVectors` (its padded dense input), kept for the last instance: the sampled
        path builds them for its work units and again when a layer then runs exhaustively
        (:meth:`simulate_layer`) on the same instance.  Held with the instance and its arrays, so the identity
        test cannot match a later object at a recycled address."""
        key = (inst, inst.acts, inst.out_mask, inst.layer)
        last = self._vectors
        if last is None or any(a is not b for a, b in zip(last[0], key)):
            self._vectors = (key, PixelVectors(inst))
        return self._vectors[1]

    # ------------------------------------------------------------------ simulate
    def simulate_layer(self, inst: LayerInstance, functional: bool = False) -> LayerResult:
        L = inst.layer
        m = self.matrix_for(inst)
        vecs = self.vectors_for(inst)                    # active pixels only, built in chunks
        pix = vecs.pix
        res = run_matrix(m, vecs, self.cfg, functional=functional)
        out = None
        if functional:
            P, Q = L.P, L.Q
            out = np.zeros((L.K, P * Q))
            out[:, pix] = res["output"].T
            if L.kind == "fc":
                out = out[:, 0]
            else:
                out = out.reshape(L.K, P, Q)
        return self.layer_result(inst, m, res, int(len(pix)), out)

    def layer_result(self, inst: LayerInstance, m: EIEMatrix, res: dict, active_pixels: int,
                     out: np.ndarray | None = None) -> LayerResult:
        """The LayerResult of :func:`run_matrix`'s (or :func:`mapping.summarize`'s) ``res``; shared by
        :meth:`simulate_layer` and the sampled path (:mod:`accelsim.models.eie.sampling`)."""
        L = inst.layer
        cyc = res["cycles"]
        # compute counts (bias entries are not layer MACs)
        macs_actual = res["entries_nonbias"]
        eff = res["effectual"]
        extra = {k: v for k, v in res.items() if k not in ("output", "cycles", "breakdown", "actions")}
        extra.update(matrix_source=m.source, stored_entries=m.n_entries, padding_entries=m.n_padding,
                     passes=m.n_pass, active_pixels=active_pixels, mapping=self.MAPPING_NOTES[L.kind],
                     weights_quantized=bool(self.cfg["compress.codebook_size"]) and m.source == "built")
        return LayerResult(L.name, inst.image, cyc, res["breakdown"], res["actions"], L.macs_dense, eff,
                           macs_actual, max(0, L.macs_dense - macs_actual), 0,
                           utilization=macs_actual / max(1, cyc * m.n_pe), output=out, extra=extra)

    def sampling_units(self, inst: LayerInstance):
        """One unit per active output pixel (its SpMV jobs, every pass; an fc layer is one unit): the kernels
        carry no state from one job to the next (:mod:`accelsim.models.eie.sampling`)."""
        from .sampling import EIEPixels
        return EIEPixels(self, inst)
