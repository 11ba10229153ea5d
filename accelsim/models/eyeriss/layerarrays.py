"""Per-layer arrays of one Eyeriss simulation, computed once and shared by the mapping search and by
every mapping simulated on the real data.

Everything here depends on the layer's data and on the PE tile (``M0`` output channels, ``C0`` input
channels) only, never on the spatial factors of a mapping: the stored iacts, the per-row fed /
non-zero iact counts (:func:`~.tiles.iact_rows`), the largest iact window per channel block (spad
fit), the weight column counts, the layer totals of the per-iact counters
(:func:`~.tiles.action_counts`) and the per-tile PE stage times (:func:`~.tiles.tile_work`).

Timing paths.  When the PE skips nothing (no zero-iact and no zero-weight skipping, the halo streamed
as zeros: Eyeriss v1, and v2's depthwise layers under ``pe.depthwise_rule: dense``), a tile's stage
times do not depend on the data, and :func:`~.tiles.tile_work_dense` gives them in closed form
(``path = "closed_form"``; the action counts still come from the data).  Otherwise they are walked
from the data (``path = "cycle_loop"``).  Both feed the same pass-level walk of the array; the
property tests (``tests/accelsim/test_fast_paths.py``) prove the closed form equal to the data
walk, and the tiled data walk equal to the per-iact reference :func:`~.walk.array_timing_walk`.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .formats import block_sums, blocksum, ceil_div
from .tiles import (
    action_counts,
    block_max,
    iact_rows,
    prefix_rows,
    row_counts,
    tile_times,
    tile_work,
    tile_work_dense,
    weight_blocks,
    weight_counts,
    window_block_max,
)

CLOSED_FORM, CYCLE_LOOP = "closed_form", "cycle_loop"


class LayerArrays:
    """The layer's iact codes and weight mask with every mapping-independent array, cached."""

    def __init__(self, cfg, L, dw, code, wmask, skip_i, skip_w, fast_paths: bool = True):
        self.cfg, self.L, self.dw, self.code, self.wmask = cfg, L, dw, code, wmask
        self.skip_i, self.skip_w = bool(skip_i), bool(skip_w)
        self.lanes = int(cfg["pe.simd_lanes"])
        self.compressed = bool(cfg["pe.compressed_spads"])
        # timing independent of the data: every code is fed (padding streamed as a zero) at a fixed cost
        self.path = CLOSED_FORM if (fast_paths and not self.skip_i and not self.skip_w
                                    and int(code.min(initial=1)) >= 1) else CYCLE_LOOP
        self._stats: dict = {}
        self._win: dict = {}
        self._wcnt: dict = {}
        self._counts: dict = {}
        self._tiles: dict = {}
        self._ttime: dict = {}
        self._wt: dict = {}
        self._rcum: dict = {}

    # ---- iacts
    @cached_property
    def nz(self) -> np.ndarray:
        """Iacts a compressed spad stores (and a skipping PE feeds): uint8 (C, rows, cols)."""
        nz = (self.code == 2) if (self.skip_i and self.compressed) else (self.code >= 1)
        return nz.view(np.uint8)

    @cached_property
    def d_act(self) -> float:
        """Density of non-zero iacts among the fed positions (1.0 for a PE that does not skip them)."""
        if not self.skip_i:
            return 1.0
        fed, nz2 = self.row_counts
        return float(nz2.sum()) / max(1, int(fed.sum()))

    @cached_property
    def row_counts(self):
        """(streamed positions, non-zero iacts) per (channel, padded row) (:func:`~.tiles.row_counts`)."""
        return row_counts(self.code)

    @cached_property
    def rows(self):
        """(F, F2, NC) of :func:`~.tiles.iact_rows` on the real codes."""
        L = self.L
        return iact_rows(self.code, L.Q, L.S, L.stride, L.dilation, self.skip_i)

    @cached_property
    def ncols(self) -> np.ndarray:
        """Stored window columns per (channel, row): the iact-address stage of a PE tile."""
        if self.path == CLOSED_FORM:
            C, Hp, _ = self.code.shape
            return np.full((C, Hp), self.L.Q * self.L.S, dtype=np.int64)
        return self.rows[2]

    @cached_property
    def row_valid(self) -> np.ndarray:
        """Positions of each padded row a PE streams (codes >= 1; every channel has the same halo)."""
        return (self.code[0] >= 1).sum(axis=1)

    @cached_property
    def row_stored(self) -> np.ndarray:
        """Stored iacts per (channel, padded row): the rows of :attr:`nz` counted."""
        fed, nz2 = self.row_counts
        return nz2 if (self.skip_i and self.compressed) else fed

    def win_max(self, blk: int) -> int:
        """Largest ``blk`` x S iact window of the real data (compressed spad fit)."""
        return self.win_maxes((blk,))[blk]

    def win_maxes(self, blks) -> dict:
        """:meth:`win_max` of every block size of ``blks``: the ones not cached yet in one pass over the
        iacts (:func:`~.tiles.window_block_max`); the cache (blk -> int)."""
        todo = sorted({int(b) for b in blks} - self._win.keys())
        if todo:
            L = self.L
            C, Hp, _ = self.code.shape
            if int(self.row_stored.sum()) == self.code.size:
                # every position stored (a PE that skips nothing, halo streamed): each channel's window
                # holds S iacts, the largest block is the first, min(blk, C) channels
                best = [min(b, C) * L.S if L.Q > 0 and Hp > 0 else 0 for b in todo]
            else:
                best = window_block_max(self.nz, L.Q, L.S, L.stride, L.dilation, np.array(todo, dtype=np.int64))
            self._win.update(zip(todo, (int(b) for b in best)))
        return self._win

    # ---- weights, per M0
    @cached_property
    def wcum(self) -> np.ndarray:
        """Running non-zero weight counts over the output channels (:func:`~.formats.prefix_sum` on axis 0)."""
        K = self.wmask.shape[0]
        return prefix_rows(np.ascontiguousarray(self.wmask).reshape(K, -1)).reshape((K + 1,) + self.wmask.shape[1:])

    def stats(self, M0: int):
        """(col, colr, tiles_dw, wcyc_mean) of :func:`~.mapping.tile_stats` for this M0 (the mapping search
        of a regular conv layer reads :meth:`wcyc_mean` and :meth:`wt_max_mean` instead, without the
        per-column arrays)."""
        if M0 not in self._stats:
            from .mapping import tile_stats
            self._stats[M0] = tile_stats(self.dw, self.wmask, M0, self.lanes, self.skip_w, self.compressed,
                                         col_nnz=None if self.dw else self.wcnt(M0))
        return self._stats[M0]

    @property
    def _data_weights(self) -> bool:
        """Weight tiles and MAC-stage cycles depend on the weight data (a regular conv layer, a PE that
        skips zero weights, compressed spads); otherwise only on the m-block heights."""
        return not self.dw and self.skip_w and self.compressed

    def _wblocks(self, M0: int):
        """(MAC-stage cycles summed over the CSC columns, running sums over input channels of the stored
        weight entries per (m-block, c, r), (nMb, Cg + 1, R)) of a regular conv layer for this M0: the
        ``cyc`` total and ``colr.sum(axis=3)`` prefix of :func:`~.mapping.tile_stats`, in one pass over the
        columns (:func:`~.tiles.weight_blocks`) or, when they depend on the block heights only, from those."""
        if M0 not in self._rcum:
            K, Cg, R, S = self.wmask.shape
            if self._data_weights:
                cycles, rcum = weight_blocks(self.wcum, M0, self.lanes)
            else:  # every column holds its m-block's height of weights (dense PE or uncompressed spad)
                hs = np.minimum(M0, K - np.arange(0, K, M0))
                cyc = ceil_div(hs, self.lanes)
                colr = hs if self.lanes == 1 else self.lanes * cyc
                cycles = int(cyc.sum()) * Cg * R * S
                rcum = np.ascontiguousarray(np.broadcast_to(
                    (np.arange(Cg + 1, dtype=np.int64)[None, :] * (S * colr.astype(np.int64))[:, None])[:, :, None],
                    (hs.size, Cg + 1, R)))
            self._rcum[M0] = (int(cycles), rcum)
        return self._rcum[M0]

    def wcyc_mean(self, M0: int) -> float:
        """Mean MAC-stage cycles per fed iact (the ``wcyc_mean`` of :meth:`stats`; the estimate)."""
        if self.dw:
            return self.stats(M0)[3]
        cycles, rcum = self._wblocks(M0)
        K, Cg, R, S = self.wmask.shape
        # cyc.mean() of tile_stats: an exact integer total (float64 sums of integers below 2**53) over the count
        return float(cycles) / (rcum.shape[0] * Cg * R * S)

    def wcnt(self, M0: int) -> np.ndarray:
        """Non-zero weights per CSC column (:func:`~.tiles.weight_counts`)."""
        if M0 not in self._wcnt:
            self._wcnt[M0] = weight_counts(self.wmask, M0, self.dw, None if self.dw else self.wcum)
        return self._wcnt[M0]

    def wt_max_mean(self, M0: int, C0: int) -> tuple[int, float]:
        """Largest and mean :meth:`wt_data` entry (the spad fit and the estimate), without forming the tiles
        for a regular conv layer.  The mean is the total over the tile count (exact integer total)."""
        if self.dw:
            wt = self.wt_data(M0, C0)
            return int(wt.max()), float(wt.mean())
        cs = self._rsum_cum(M0)
        nMb, _, R = cs.shape
        n = nMb * ceil_div(cs.shape[1] - 1, C0) * R
        return int(block_max(cs, C0)), float(int(cs[:, -1, :].sum())) / n

    def _rsum_cum(self, M0: int) -> np.ndarray:
        """Running sums over input channels of the stored weight entries per (m-block, c, r)."""
        return self._wblocks(M0)[1]

    def wt_data(self, M0: int, C0: int) -> np.ndarray:
        """Stored weight entries (SIMD words) of every (m-block, c-block, r) tile: (nMb, nCb, R)."""
        key = (M0, C0)
        if key not in self._wt:
            self._wt[key] = self.stats(M0)[2] if self.dw else block_sums(self._rsum_cum(M0), C0, 1)
        return self._wt[key]

    def counts(self, M0: int) -> np.ndarray:
        """Layer totals of the per-iact counters (:func:`~.tiles.action_counts`) for this M0."""
        if M0 not in self._counts:
            L = self.L
            K, Cg, R, S = self.wmask.shape
            F, F2, _ = self.rows
            self._counts[M0] = action_counts(F, F2, self.wcnt(M0), self.dw, K, Cg, R, S, L.P, L.stride,
                                             L.dilation, M0, self.skip_w, self.lanes)
        return self._counts[M0]

    def tiles(self, M0: int, C0: int):
        """(work, feed): MAC-stage cycles and fed iacts per PE tile (m-block, c-block, r, p)."""
        key = (M0, C0)
        if key not in self._tiles:
            L = self.L
            K, Cg, R, S = self.wmask.shape
            if self.path == CLOSED_FORM:
                self._tiles[key] = tile_work_dense(K, Cg, R, S, L.P, L.Q, M0, C0, self.dw, self.lanes)
            else:
                self._tiles[key] = tile_work(self.rows[0], self.wcnt(M0), self.dw, K, Cg, R, S, L.P, L.stride,
                                             L.dilation, M0, C0, self.skip_w, self.lanes)
        return self._tiles[key]

    def tile_time(self, M0: int, C0: int) -> np.ndarray:
        """A PE's pass time per tile (m-block, c-block, r, p): the MAC stage, bounded by the address stages
        when they are modelled (:func:`~.tiles.tile_times`), shared by every mapping with this tile."""
        key = (M0, C0)
        if key not in self._ttime:
            work, feed = self.tiles(M0, C0)
            L = self.L
            self._ttime[key] = (tile_times(work, feed, self.ncols, self.dw, M0, C0, L.stride, L.dilation)
                                if self.cfg["pe.address_stages"] else work)
        return self._ttime[key]

    # ---- per-mapping delivery tables
    def rowent(self, blk: int) -> np.ndarray:
        """Entries of one iact row of a channel block as delivered (data + one address per column when
        compressed): (blocks, rows) int64."""
        if self.compressed:
            rowent = blocksum(self.row_stored, blk, 0) + self.row_valid[None, :]
        else:
            C = self.code.shape[0]
            sizes = np.minimum(blk, C - np.arange(0, C, blk))
            rowent = sizes[:, None] * self.row_valid[None, :]
        return np.ascontiguousarray(rowent, dtype=np.int64)

    @cached_property
    def iacts_stored(self) -> float:
        """Iact entries of the whole layer input as stored (GLB / DRAM)."""
        if self.compressed:
            return float(int(self.row_stored.sum()) + int(self.row_valid.sum()))
        return float(self.row_counts[0].sum())

    def wtile(self, M0: int, C0: int) -> np.ndarray:
        """Weight spad entries of every (m-block, c-block, r) tile (data + addresses)."""
        S = self.wmask.shape[3]
        if self.dw:
            wtile = self.wt_data(M0, C0) + M0 * S
        else:
            Cg = self.wmask.shape[1]
            wtile = self.wt_data(M0, C0) + (np.minimum(C0, Cg - np.arange(0, Cg, C0))[None, :, None] * S)
        return np.ascontiguousarray(wtile, dtype=np.int64)

    def n_blocks(self, M0: int, C0: int) -> tuple[int, int]:
        K, Cg = self.wmask.shape[:2]
        return ceil_div(K, M0), (1 if self.dw else ceil_div(Cg, C0))
