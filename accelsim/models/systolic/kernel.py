"""Numba kernel of the systolic model: SCALE-Sim's fold walk of one GEMM (cycles, SRAM and DRAM traffic)."""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def fold_walk(df, Sr, Sc, T, H, W, wb, if_bytes, f_bytes, of_bytes, if_half, f_half, of_half, bw, ideal):
    """Walk SCALE-Sim's folds (column folds outer, row folds inner) of one GEMM.

    df 0/1/2 = os/ws/is; Sr, Sc, T as in the module docstring; H, W array rows/cols (PEs);
    wb bytes per word; *_bytes unique operand sizes (bytes); *_half active SRAM halves (bytes);
    bw DRAM bytes/cycle.  Returns an int64 vector:
    [folds, per_fold_cycles, mapped_pe_cycles, sram_if_words, sram_f_words, sram_of_wr_words,
     sram_of_rd_words, dram_rd_bytes, dram_wr_bytes, stall_cycles, prefetch_cycles,
     writeback_cycles, mapped_pe_slots_sum]
    """
    nfr = (Sr + H - 1) // H
    nfc = (Sc + W - 1) // W
    if df == 0:
        per_fold = T + H + W - 2
    else:
        per_fold = 2 * H + W + T - 2
    out = np.zeros(13, np.int64)
    sif = 0
    sf = 0
    sofw = 0
    sofr = 0
    mapped = 0
    slots = 0
    rd_tot = 0.0
    wr_tot = 0.0
    stall = 0
    prefetch = 0
    prev_wr = 0.0
    first = True
    psum_bytes_col = T * wb  # per output column of a ws/is psum tile (T px or T filters)
    for fc in range(nfc):
        cols = min(W, Sc - fc * W)
        for fr in range(nfr):
            rows = min(H, Sr - fr * H)
            mapped += rows * cols * T
            slots += rows * cols
            rd = 0.0
            wr = 0.0
            if df == 0:  # os: ifmap tile = px rows x window, filter tile = window x filter cols
                sif += rows * T
                sf += cols * T
                sofw += rows * cols
                if fc == 0 or if_bytes > if_half:
                    rd += if_bytes * rows / Sr
                if fr == 0 or f_bytes * cols / Sc > f_half:
                    rd += f_bytes * cols / Sc
                wr += rows * cols * wb
            else:
                # ws: stationary filter tile, streamed ifmap window slice over all px;
                # is: stationary ifmap tile, streamed filter window slice over all filters
                sif += rows * T if df == 1 else rows * cols
                sf += rows * cols if df == 1 else rows * T
                sofw += T * cols
                if fr > 0:
                    sofr += T * cols
                stat_bytes = f_bytes if df == 1 else if_bytes
                strm_bytes = if_bytes if df == 1 else f_bytes
                strm_half = if_half if df == 1 else f_half
                rd += stat_bytes * rows * cols / (Sr * Sc)
                if fc == 0 or strm_bytes > strm_half:
                    rd += strm_bytes * rows / Sr
                tile = psum_bytes_col * cols
                if tile > of_half:  # partial sums spill to DRAM between row folds
                    wr += tile
                    if fr > 0:
                        rd += tile
                elif fr == nfr - 1:
                    wr += tile
            rd_tot += rd
            wr_tot += wr
            if not ideal:
                if first:
                    prefetch = int(math.ceil(rd / bw))
                    first = False
                else:
                    need = int(math.ceil((rd + prev_wr) / bw))
                    if need > per_fold:
                        stall += need - per_fold
            prev_wr = wr
    out[0] = nfr * nfc
    out[1] = per_fold
    out[2] = mapped
    out[3] = sif
    out[4] = sf
    out[5] = sofw
    out[6] = sofr
    out[7] = int(math.ceil(rd_tot))
    out[8] = int(math.ceil(wr_tot))
    out[9] = stall
    out[10] = prefetch
    out[11] = 0 if ideal else int(math.ceil(prev_wr / bw))
    out[12] = slots
    return out
