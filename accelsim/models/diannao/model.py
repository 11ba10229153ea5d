"""The DianNao model class: schema, hooks, the dense NFU timeline (see the package docstring)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ...area import AreaReport
from ...config import Field
from ...engine import AcceleratorModel, LayerResult, largest_remainder
from ...registry import register_model
from ..common.nfu import LEAKAGE_ACTIONS, data_bits_field, dma_traffic, leakage_actions, width_actions
from ..common.weight_walk import effectual_and_output
from .area import diannao_area


@njit(cache=True)
def _dense_timeline(K, L, active, n_pe, tm):
    """Walk the (block, position) steps of the NFU; returns (cycles, multiplier slots used).

    Every group of n_pe output neurons costs ceil(L / tm) cycles; lanes without a
    map in the last block and multiplier slots past L (L mod tm != 0) idle.  Slots used:
    lanes with a map x L per active position (the slots offered are cycles x n_pe x tm).
    """
    nb = (K + n_pe - 1) // n_pe
    per = (L + tm - 1) // tm
    cyc = 0
    used = 0
    for kb in range(nb):
        lanes = min(n_pe, K - kb * n_pe)
        for pq in range(active.shape[0]):
            if active[pq]:
                cyc += per
                used += lanes * L
    return cyc, used


def dense_timeline_closed(K: int, L: int, n_active: int, n_pe: int, tm: int) -> tuple[int, int]:
    """Closed form of :func:`_dense_timeline` (exact: the NFU's timing depends on the data only through
    the number of active output positions).  Each of the ceil(K / n_pe) blocks spends ceil(L / tm)
    cycles on every active position; the lanes with a map add up to K over the blocks, so the slots
    used are K x L per active position."""
    return -(-K // n_pe) * -(-L // tm) * n_active, K * L * n_active


@register_model("diannao")
class DianNao(AcceleratorModel):
    """Dense Tn x Tm NFU (DianNao, ASPLOS 2014) with the same clock and buffers as the Cambricon-X preset."""

    ACTIONS = (*width_actions("mult", "add", "sb_read", "nbin_read", "nbout_write"), *LEAKAGE_ACTIONS, "dram_byte")
    ISO_FIELDS = {"pe.count": "lin"}
    DRAM_BANDWIDTH = ("dma.bytes_per_cycle", True)
    DATAPATH_FIELD = ("data.bits", 1)

    FIELDS = {
        "pe.count": Field(int, "output lanes", default=16, source="Cambricon-X paper Sec. 6 (DianNao with Tn=16)",
                          doc="Tn: output neurons computed in parallel"),
        "pe.multipliers": Field(int, "multipliers/lane", default=16, source="Cambricon-X paper Sec. 6 (Tm=16)",
                                doc="Tm: input neurons consumed per cycle"),
        "data.bits": data_bits_field("DianNao / Cambricon-X: 16-bit fixed point"),
        "nbin.bytes": Field(int, "bytes", default=8192, source="assumed: same as the Cambricon-X preset"),
        "nbout.bytes": Field(int, "bytes", default=8192, source="assumed: same as the Cambricon-X preset"),
        "sb.bytes_per_pe": Field(int, "bytes", default=2048, source="assumed: same as the Cambricon-X preset"),
        "dma.bytes_per_cycle": Field(float, "bytes/cycle", default=256.0, source="assumed (not established)"),
        "dma.enabled": Field(bool, "", default=True, doc="false: ideal memory (no DMA stalls)"),
        "pipeline.fill_cycles": Field(int, "cycles", default=5, min=0,
                                      source="assumed: multiply 1 + adder tree log2(16)=4 stages, once per layer"),
        "skip_masked_outputs": Field(bool, "", default=True,
                                     doc="skip output positions the dynamic head's mask turns off"),
    }
    MAPPING_NOTES = {
        "conv": "Tn output maps x 1 position per group; ceil(C*R*S/Tm) cycles per group",
        "fc": "Tn output neurons per group; ceil(C/Tm) cycles per group",
        "depthwise": "Tn channels per group, each a dot product over R*S of its own channel (groups=C)",
    }

    #: False: walk the (block, position) steps (:func:`_dense_timeline`) instead of the closed form (tests)
    fast_paths: bool = True

    def peak_macs_per_cycle(self) -> int:
        return int(self.cfg["pe.count"]) * int(self.cfg["pe.multipliers"])

    def area(self) -> AreaReport:
        """Generic NFU rows (:func:`accelsim.models.diannao.area.diannao_area`): a lower bound."""
        return diannao_area(self.cfg)

    @classmethod
    def validation_suite(cls):
        from .validate import validate
        return validate

    def simulate_layer(self, inst, functional: bool = False) -> LayerResult:
        cfg = self.cfg
        Ly = inst.layer
        n_pe, tm = int(cfg["pe.count"]), int(cfg["pe.multipliers"])
        K, L = Ly.K, (Ly.C // Ly.groups) * Ly.R * Ly.S
        om = inst.out_mask_or_ones().ravel()
        active = om if cfg["skip_masked_outputs"] else np.ones_like(om)
        n_active = int(active.sum())
        if self.fast_paths:
            comp, used = dense_timeline_closed(K, L, n_active, n_pe, tm)
        else:
            comp, used = _dense_timeline(K, L, active.astype(np.bool_), n_pe, tm)
        vb = int(cfg["data.bits"])
        db = vb // 8
        dma = dma_traffic(C=Ly.C, H=Ly.H, W=Ly.W, K=K, n_active=n_active,
                          map_bytes=np.full(K, L * db, np.int64), n_pe=n_pe, nbin_bytes=cfg["nbin.bytes"],
                          nbout_bytes=cfg["nbout.bytes"], sb_bytes_per_pe=cfg["sb.bytes_per_pe"], data_bytes=db)
        dma_cyc = int(np.ceil(dma["total"] / cfg["dma.bytes_per_cycle"])) if cfg["dma.enabled"] else 0
        fill = int(cfg["pipeline.fill_cycles"]) if comp else 0
        stall = max(0, dma_cyc - comp)
        cycles = comp + stall + fill
        slots = comp * n_pe * tm
        nb = -(-K // n_pe)
        idle_lanes = (nb * n_pe - K) * n_active * (-(-L // tm)) * tm
        parts = {"busy": used, "fragmentation": slots - used - idle_lanes, "load_imbalance": idle_lanes}
        bd = largest_remainder({k: v / (n_pe * tm) for k, v in parts.items()}, comp)
        bd.update(memory_stall=stall, pipeline_fill=fill)
        macs_actual = K * L * n_active
        eff, out = effectual_and_output(inst, active, functional)
        nnz_w = int(inst.weight_mask().sum())
        actions = {f"mult_{vb}b": macs_actual, f"add_{vb}b": macs_actual, f"sb_read_{vb}b": macs_actual,
                   f"nbin_read_{vb}b": nb * n_active * L, f"nbout_write_{vb}b": K * n_active,
                   **leakage_actions(cfg, cycles), "dram_byte": dma["total"] if cfg["dma.enabled"] else 0}
        extra = {"dma_bytes": dma, "dma_cycles": dma_cyc, "compute_cycles": comp, "weight_nnz": nnz_w,
                 "n_active_positions": n_active, "reduction_length": L,
                 "path": "closed_form" if self.fast_paths else "cycle_loop"}
        return LayerResult(inst.name, inst.image, cycles, bd, actions, Ly.macs_dense, eff, macs_actual,
                           macs_skipped=Ly.macs_dense - macs_actual, macs_gated=0, output=out, extra=extra)
