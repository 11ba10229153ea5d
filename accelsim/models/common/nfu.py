"""The NFU memory system and area rows shared by DianNao and Cambricon-X.

Both designs (``accelsim/models/diannao/``, ``accelsim/models/cambricon_x/``) have the same
field names for their Tn x Tm neural functional unit and buffers (``pe.count``,
``pe.multipliers``, ``data.bits``, ``nbin.bytes``, ``nbout.bytes``, ``sb.bytes_per_pe``), the same
DRAM traffic model (:func:`dma_traffic`) and the same generic area rows (:func:`nfu_area_rows`), so
that speedups and area ratios between the two isolate sparsity.
"""

from __future__ import annotations

import numpy as np

from ...area import GENERIC, Builder, add_key, mult_key
from ...config import ArchConfig

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


# ------------------------------------------------------------------ area
def nfu_area_parts(n, tm, bits, nbin, nbout, sb) -> list[tuple[str, str, float, str]]:
    """(component, GENERIC key, count, basis) of an NFU with ``n`` lanes/PEs of ``tm`` multipliers."""
    return [("pe.multipliers", mult_key(bits), n * tm, f"pe.count x pe.multipliers ({bits}-bit)"),
            ("pe.adder_tree", add_key(2 * bits), n * tm, "pe.count x pe.multipliers (Tm-1 tree adders + 1 accumulator)"),
            ("pe.synapse_buffer", "sram_byte", n * sb, "pe.count x sb.bytes_per_pe"),
            ("nbin", "sram_byte", nbin, "nbin.bytes"), ("nbout", "sram_byte", nbout, "nbout.bytes")]


def nfu_area_rows(cfg: ArchConfig, method: str) -> Builder:
    """Cambricon-X / DianNao generic rows from the shared field names (pe.count, pe.multipliers, ...)."""
    b = Builder(cfg, method)
    for name, key, count, basis in nfu_area_parts(int(cfg["pe.count"]), int(cfg["pe.multipliers"]),
                                                  int(cfg["data.bits"]), cfg["nbin.bytes"], cfg["nbout.bytes"],
                                                  cfg["sb.bytes_per_pe"]):
        b.add(name, GENERIC[key], count, basis)
    return b
