"""DianNao (Chen et al., ASPLOS 2014): the dense baseline Cambricon-X is compared against.

The NFU has Tn = 16 output lanes of Tm = 16 multipliers each plus an adder
tree (Cambricon-X paper, Sec. 2/6: DianNao configured with the same Tn = Tm = 16
and the same 1 GHz clock).  Every cycle the NFU takes Tm input neurons from
NBin (broadcast to all lanes) and Tn x Tm synapses from SB, so one group of
Tn output neurons (Tn output maps at one output position) costs
ceil(L / Tm) cycles, L = C/groups x R x S, whatever the weight values are:
zero weights and zero activations are both multiplied.

Loop order (same as the Cambricon-X model so speedups isolate sparsity):
for each block of Tn output maps, for each active output position in raster
order, the Tn lanes compute the Tn output neurons of that position.  Output
positions masked off by the dynamic head's spatial gate are skipped when
``skip_masked_outputs`` is true (a position-level gate fits an output-parallel
design: all Tn lanes skip together).

Memory: the layer's DMA traffic (:func:`dma_traffic`) overlaps compute
(double-buffered, assumed); ``memory_stall`` = max(0, DMA cycles - compute
cycles).  The helper is shared with :mod:`accelsim.models.cambricon_x`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from accelsim.config import Field
from accelsim.engine import AcceleratorModel, LayerResult, largest_remainder
from accelsim.models import register_model

BUFFER_NOTE = ("buffer sizes of Cambricon-X are not established (accelerators.md §4.1: 8 KB NBin/NBout and "
               "2 KB SB per PE 'sometimes quoted', low confidence)")


def dma_traffic(*, C: int, H: int, W: int, K: int, n_active: int, map_bytes: np.ndarray, n_pe: int,
                nbin_bytes: int, nbout_bytes: int, sb_bytes_per_pe: int, data_bytes: int) -> dict:
    """DRAM traffic of one layer (bytes), for DianNao and Cambricon-X alike (assumed model).

    * weights: every map's (compressed) filter is fetched once; a filter larger than
      one PE's SB is split into ``ceil(bytes / SB)`` reduction tiles.
    * inputs: fetched once if the (C, H, W) input fits NBin; otherwise once per
      reduction tile of every block of ``n_pe`` maps (the block's tiles are swept
      over all positions one after the other).
    * partial sums: with more than one tile, if the block's partial sums
      (n_pe x n_active values) exceed NBout they spill to DRAM (write + read per
      extra tile).
    * outputs: K x n_active values written once.
    """
    K = int(K)
    nb = -(-K // n_pe)
    tiles = np.maximum(1, -(-map_bytes.astype(np.int64) // int(sb_bytes_per_pe)))
    pad = nb * n_pe - K
    tiles_blk = np.concatenate([tiles, np.ones(pad, np.int64)]).reshape(nb, n_pe).max(axis=1)
    in_bytes = int(C) * int(H) * int(W) * data_bytes
    in_passes = 1 if in_bytes <= nbin_bytes else int(tiles_blk.sum())
    psum_blk = n_pe * int(n_active) * data_bytes
    spill = 0
    if psum_blk > nbout_bytes:
        spill = int(((tiles_blk - 1) * 2 * psum_blk).sum())
    w_bytes = int(map_bytes.sum())
    out_bytes = K * int(n_active) * data_bytes
    return {"weights": w_bytes, "inputs": in_bytes * in_passes, "input_passes": in_passes,
            "psum_spill": spill, "outputs": out_bytes,
            "total": w_bytes + in_bytes * in_passes + spill + out_bytes,
            "max_reduction_tiles": int(tiles_blk.max()) if nb else 0}


@njit(cache=True)
def _dense_timeline(K, L, active, n_pe, tm):
    """Walk the (block, position) steps of the NFU; returns (cycles, lane-slots used, lane-slots offered).

    Every group of n_pe output neurons costs ceil(L / tm) cycles; lanes without a
    map in the last block and multiplier slots past L (L mod tm != 0) idle.
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


@register_model("diannao")
class DianNao(AcceleratorModel):
    """Dense Tn x Tm NFU (DianNao, ASPLOS 2014) with the same clock and buffers as the Cambricon-X preset."""

    FIELDS = {
        "pe.count": Field(int, "output lanes", default=16, source="Cambricon-X paper Sec. 6 (DianNao with Tn=16)",
                          doc="Tn: output neurons computed in parallel"),
        "pe.multipliers": Field(int, "multipliers/lane", default=16, source="Cambricon-X paper Sec. 6 (Tm=16)",
                                doc="Tm: input neurons consumed per cycle"),
        "data.bits": Field(int, "bits", default=16, source="DianNao / Cambricon-X: 16-bit fixed point"),
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

    def peak_macs_per_cycle(self) -> int:
        return int(self.cfg["pe.count"]) * int(self.cfg["pe.multipliers"])

    def simulate_layer(self, inst, functional: bool = False) -> LayerResult:
        cfg = self.cfg
        Ly = inst.layer
        n_pe, tm = int(cfg["pe.count"]), int(cfg["pe.multipliers"])
        K, L = Ly.K, (Ly.C // Ly.groups) * Ly.R * Ly.S
        om = inst.out_mask_or_ones().ravel()
        active = om if cfg["skip_masked_outputs"] else np.ones_like(om)
        n_active = int(active.sum())
        comp, used = _dense_timeline(K, L, active.astype(np.bool_), n_pe, tm)
        db = int(cfg["data.bits"]) // 8 or 1
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
        from .cambricon_x import effectual_and_output  # shared compressed-walk kernel
        eff, out = effectual_and_output(inst, active, functional)
        nnz_w = int(inst.weight_mask().sum())
        actions = {"mult_16b": macs_actual, "add_16b": macs_actual, "sb_read_16b": macs_actual,
                   "nbin_read_16b": nb * n_active * L, "nbout_write_16b": K * n_active,
                   "dram_byte": dma["total"] if cfg["dma.enabled"] else 0}
        extra = {"dma_bytes": dma, "dma_cycles": dma_cyc, "compute_cycles": comp, "weight_nnz": nnz_w,
                 "n_active_positions": n_active, "reduction_length": L}
        return LayerResult(inst.name, inst.image, cycles, bd, actions, Ly.macs_dense, eff, macs_actual,
                           macs_skipped=Ly.macs_dense - macs_actual, macs_gated=0, output=out, extra=extra)
