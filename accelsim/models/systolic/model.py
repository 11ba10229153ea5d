"""The systolic model class: schema, hooks, per-layer simulation and functional GEMM (see the package docstring)."""

from __future__ import annotations

import math

import numpy as np

from workloads import LayerInstance
from workloads.effectual import effectual_macs, im2col
from workloads.ir import nonzero_mask

from ...area import AreaReport
from ...config import ArchConfig, Field
from ...engine import AcceleratorModel, LayerResult
from ...errors import AccelsimError, ConfigError
from ...registry import register_model
from .area import systolic_area
from .kernel import fold_walk
from .mapping import DATAFLOWS, condensed_rows, gemm_dims

_SCALESIM = "SCALE-Sim v3 configs/scale.cfg"


def _touched(P: int, R: int, stride: int, dilation: int) -> int:
    """Distinct (padded) input rows read by P output rows of an R-tap filter."""
    return int(np.unique(np.arange(P)[:, None] * stride + np.arange(R)[None, :] * dilation).size)


def _sram_row(kb: float) -> str:
    """Horowitz 45 nm SRAM row whose size class is nearest (in log2) to a buffer of kb KiB."""
    classes = {"sram_8kb_64b": 8.0, "sram_32kb_64b": 32.0, "sram_1mb_64b": 1024.0}
    return min(classes, key=lambda r: abs(math.log2(classes[r]) - math.log2(kb)))


@register_model("systolic")
class Systolic(AcceleratorModel):
    """TPU-like dense systolic array with SCALE-Sim's os/ws/is folding (SCALE-Sim v3, ISPASS 2019 Sec. III)."""

    #: word_bytes 1 / 2 / 4 -> 8 / 16 / 32-bit multiplies; the SRAM rows are those :func:`_sram_row` picks
    ACTIONS = ("int_mult_8b", "int_mult_16b", "int_mult_32b", "int_add_32b", "sram_8kb_64b", "sram_32kb_64b",
               "sram_1mb_64b", "dram_64b")
    ISO_FIELDS = {"array.height": "sqrt", "array.width": "sqrt"}
    DRAM_BANDWIDTH = ("dram.bandwidth_bytes_per_cycle", True)
    DATAPATH_FIELD = ("word_bytes", 8)

    FIELDS = {
        "array.height": Field(int, "PEs", default=32, doc="PE rows (SCALE-Sim ArrayHeight)", source=_SCALESIM),
        "array.width": Field(int, "PEs", default=32, doc="PE columns (SCALE-Sim ArrayWidth)", source=_SCALESIM),
        "dataflow": Field(str, "", default="os", choices=DATAFLOWS,
                          doc="os / ws / is (SCALE-Sim Dataflow)", source=_SCALESIM),
        "word_bytes": Field(int, "bytes", default=1, choices=(1, 2, 4),
                            doc="operand word size (SCALE-Sim uses 1 byte)", source="SCALE-Sim single_layer_sim.py"),
        "sram.ifmap_kb": Field(float, "KiB", default=64.0, doc="ifmap SRAM (double-buffered)", source=_SCALESIM),
        "sram.filter_kb": Field(float, "KiB", default=64.0, doc="filter SRAM (double-buffered)", source=_SCALESIM),
        "sram.ofmap_kb": Field(float, "KiB", default=64.0, doc="ofmap SRAM (double-buffered)", source=_SCALESIM),
        "dram.bandwidth_bytes_per_cycle": Field(float, "bytes/cycle", default=10.0,
                                                doc="DRAM bandwidth (SCALE-Sim Bandwidth, words/cycle x word_bytes)",
                                                source=_SCALESIM),
        "memory.model": Field(str, "", default="ideal", choices=("ideal", "double_buffered"),
                              doc="ideal = SCALE-Sim CALC mode (no stalls); double_buffered = first-order DRAM "
                                  "stall model (this project's)", source="assumed"),
        "sparsity.enabled": Field(bool, "", default=False, doc="N:M weight row skipping (SCALE-Sim v3, ws only)",
                                  source="SCALE-Sim v3 [sparsity] SparsitySupport"),
        "sparsity.N": Field(int, "values", default=2, doc="non-zeros kept per block", source="SCALE-Sim v3 topology N:M"),
        "sparsity.M": Field(int, "values", default=4, doc="block length along the reduction", source="SCALE-Sim v3 topology N:M"),
    }
    MAPPING_NOTES = {
        "conv": "im2col GEMM (N*P*Q x R*S*C) @ (R*S*C x K), SCALE-Sim folding",
        "depthwise": "one GEMM per channel (P*Q x R*S) @ (R*S x 1), run one after another (as SCALE-Sim 'DP' layers)",
        "fc": "GEMM (N x C) @ (C x K)",
    }

    @classmethod
    def check_config(cls, cfg: ArchConfig) -> None:
        if cfg["sparsity.enabled"] and cfg["dataflow"] != "ws":
            raise ConfigError(f"N:M row skipping exists only for the ws dataflow in SCALE-Sim v3, "
                              f"dataflow is {cfg['dataflow']!r}", file=cfg.file, field="sparsity.enabled")
        if cfg["sparsity.N"] > cfg["sparsity.M"]:
            raise ConfigError(f"N ({cfg['sparsity.N']}) must be <= M ({cfg['sparsity.M']})", file=cfg.file,
                              field="sparsity.N")

    def peak_macs_per_cycle(self) -> int:
        return self.cfg["array.height"] * self.cfg["array.width"]

    def area(self) -> AreaReport:
        """Generic multipliers + accumulators + SRAM (:func:`accelsim.models.systolic.area.systolic_area`)."""
        return systolic_area(self.cfg)

    @classmethod
    def validation_suite(cls):
        from .validate import validate
        return validate

    # ----------------------------------------------------------------
    def gemm(self, inst_or_layer) -> tuple[int, int, int, int]:
        """(M, Kw, Kf, groups) of the GEMM the array runs for a layer."""
        L = getattr(inst_or_layer, "layer", inst_or_layer)
        return L.N * L.P * L.Q, (L.C // L.groups) * L.R * L.S, L.K // L.groups, L.groups

    def simulate_layer(self, inst: LayerInstance, functional: bool = False) -> LayerResult:
        c = self.cfg
        L = inst.layer
        H, W, df, wb = c["array.height"], c["array.width"], c["dataflow"], c["word_bytes"]
        M, Kw, Kf, g = self.gemm(inst)
        Kr = Kw  # reduction rows the array really walks
        if c["sparsity.enabled"]:
            n, m = c["sparsity.N"], c["sparsity.M"]
            w = nonzero_mask(inst.weights).reshape(L.K, -1)  # (K, Kw) rows c*R*S + r*S + s
            try:
                Kr = max(condensed_rows(w[gi * Kf:(gi + 1) * Kf].T, n, m, L.name) for gi in range(g))
            except AccelsimError as e:
                if "weights" in inst.synthetic:
                    raise AccelsimError(f"{e}; this layer has no weights, and the synthetic ones drawn for its "
                                        f"density are uniformly random, not {n}:{m}") from None
                raise
        Sr, Sc, T = gemm_dims(df, M, Kr, Kf)
        # unique operand bytes of one group: input rows/cols some window touches (im2col
        # duplicates are not refetched; a 1x1 stride-2 conv reads a quarter of its input)
        if_bytes = L.N * (L.C // g) * _touched(L.P, L.R, L.stride, L.dilation) * \
            _touched(L.Q, L.S, L.stride, L.dilation) * wb
        f_bytes = Kr * Kf * wb
        of_bytes = M * Kf * wb
        halves = [c[k] * 1024 / 2 for k in ("sram.ifmap_kb", "sram.filter_kb", "sram.ofmap_kb")]
        v = fold_walk(DATAFLOWS.index(df), Sr, Sc, T, H, W, wb, float(if_bytes), float(f_bytes), float(of_bytes),
                       halves[0], halves[1], halves[2], c["dram.bandwidth_bytes_per_cycle"],
                       c["memory.model"] == "ideal")
        folds, per_fold = int(v[0]), int(v[1])
        # SCALE-Sim's Total Cycles is the 0-based index of the last demand row; groups are separate
        # SCALE-Sim layers (its 'DP' depthwise rows), each reporting its own count
        compute = g * (folds * per_fold - 1)
        stream = g * folds * T
        stall, prefetch, writeback = g * int(v[9]), g * int(v[10]), g * int(v[11])
        cycles = compute + stall + prefetch + writeback
        mapped = g * int(v[2])
        breakdown = {"stream": stream, "fill_drain": compute - stream, "dram_stall": stall, "prefetch": prefetch,
                     "writeback": writeback}
        bits = 8 * wb
        to64 = wb / 8.0  # words -> 64-bit accesses
        actions: dict[str, float] = {f"int_mult_{bits}b": mapped, "int_add_32b": mapped}
        for kb_key, words in (("sram.ifmap_kb", v[3]), ("sram.filter_kb", v[4]), ("sram.ofmap_kb", v[5] + v[6])):
            row = _sram_row(c[kb_key])
            actions[row] = actions.get(row, 0.0) + g * float(words) * to64
        actions["dram_64b"] = g * float(v[7] + v[8]) / 8.0
        dense = L.macs_dense
        eff = effectual_macs(inst)
        out = self._functional(inst, Kw, Kf, g) if functional else None
        return LayerResult(
            inst.name, inst.image, int(cycles), breakdown, actions, macs_dense=dense, macs_effectual=eff,
            macs_actual=mapped, macs_skipped=max(0, dense - mapped), macs_gated=0, output=out,
            extra={"gemm_MxKxN": [M, Kw, Kf], "groups": g, "Sr_Sc_T": [Sr, Sc, T], "folds": g * folds,
                   "cycles_per_fold": per_fold, "compute_cycles": compute,
                   "mapping_efficiency": float(v[12]) / (folds * H * W),
                   "reduction_rows": Kr, "sram_words": {"ifmap_rd": g * int(v[3]), "filter_rd": g * int(v[4]),
                                                        "ofmap_wr": g * int(v[5]), "ofmap_rd": g * int(v[6])},
                   "dram_bytes": {"rd": g * int(v[7]), "wr": g * int(v[8])}})

    def _functional(self, inst: LayerInstance, Kw: int, Kf: int, g: int) -> np.ndarray:
        """The layer output computed by the array's GEMM, fold by fold in SCALE-Sim's order
        (float64).  Skipped N:M rows hold zero weights, so the dense tile product is exact."""
        L = inst.layer
        H, W, df = self.cfg["array.height"], self.cfg["array.width"], self.cfg["dataflow"]
        acts, wts = inst.acts_dense(), inst.weights_dense()
        outs = []
        for gi in range(g):
            A = im2col(acts[gi * (L.C // g):(gi + 1) * (L.C // g)], L.R, L.S, L.stride, L.padding, L.dilation).T
            B = wts[gi * Kf:(gi + 1) * Kf].reshape(Kf, Kw).T
            O = np.zeros((A.shape[0], Kf))
            Sr, Sc, _ = gemm_dims(df, A.shape[0], Kw, Kf)
            for fc in range(-(-Sc // W)):
                cs = slice(fc * W, (fc + 1) * W)
                for fr in range(-(-Sr // H)):
                    rs = slice(fr * H, (fr + 1) * H)
                    if df == "os":    # rows = output pixels, cols = filters, full reduction in time
                        O[rs, cs] = A[rs] @ B[:, cs]
                    elif df == "ws":  # rows = reduction slice, cols = filters, all pixels stream
                        O[:, cs] += A[:, rs] @ B[rs, cs]
                    else:             # rows = reduction slice, cols = pixels, all filters stream
                        O[cs, :] += A[cs, rs] @ B[rs, :]
            outs.append(O.T)
        out = np.concatenate(outs, axis=0).reshape(L.K, L.P, L.Q)
        if L.bias is not None:
            out = out + np.asarray(L.bias, dtype=np.float64)[:, None, None]
        return out
