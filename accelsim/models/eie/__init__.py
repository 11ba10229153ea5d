"""EIE (Han et al., ISCA 2016): cycle-level model of the sparse matrix x sparse vector engine.

Data path (paper Sec. III-IV; ``../shared/docs/accelerators.md`` Sec. 3)
-----------------------------------------------------------------------
* **Storage.**  Output row i lives in PE ``i mod N`` as local row ``i // N``.  Each PE
  stores its rows column by column (CSC): per entry a 4-bit codebook index (weight
  sharing, 16 codes, code 0 = 0.0) and a 4-bit relative row index (zeros skipped
  before the entry); a zero run longer than 15 inserts a padding entry (code 0, run
  15).  Column pointers ``p_j`` sit in two 16-bit banks (even / odd j) so that
  ``p_j`` and ``p_j+1`` are read in one cycle.  :class:`EIEMatrix` holds that layout,
  built either from any dense/sparse FC matrix (:func:`build_matrix`, with optional
  magnitude pruning and k-means weight sharing, :func:`prune_magnitude`,
  :func:`kmeans_share`) or loaded as-is from the authors' dump
  (:func:`matrix_from_dump`; used when ``layer.meta["eie_dump"]`` names it).
* **Bias.**  An extra column (index C) whose activation is 1.0, as in the authors' files.
* **Passes.**  A PE's destination register file holds ``act_regs_per_pe`` (64) outputs,
  so N x 64 = 4K outputs per pass; longer outputs run in passes, each re-broadcasting
  the input and storing its own per-PE CSC (relative indices restart per pass).

Cycle model (Numba, :func:`kernel.run_jobs` / :func:`kernel.run_jobs_event`)
-----------------------------------------------------------------------------
* **LNZD broadcast.**  At most one *non-zero* activation per cycle is pushed into every
  PE's activation FIFO; zeros are never broadcast.  The push is refused (broadcast
  stall) when any FIFO was full at the start of the cycle.  With
  ``lnzd_row_bubble`` the detector scans one row of N activations (one per PE's
  source register) at a time and loses one cycle at each row change unless the
  row's last activation was just broadcast (the authors' ``src/nzfetch.cpp``);
  row changes proceed during stalls.
* **Per PE** one column register after the FIFO, as in the authors' C++ model
  (``RalphMao/EIE-simulator``; ``src/ptrvec.cpp``, ``src/nzfetch.cpp``): the PtrRead register *is*
  the column being streamed.  It pops the FIFO head only when it is idle, when its column is
  empty, or in the cycle of its column's last entry (``ptrvec.cpp``: ``read_ptr = !valid ||
  patch_complete``; ``nzfetch.cpp``: ``pos_read`` advances when ``!empty && read_ptr``).  The popped
  column's pointers ``p_j, p_j+1`` are read in the next cycle, which also streams its first entry;
  the column occupies the register ``max(1, entries)`` cycles: one entry (codebook decode + 16-bit
  MAC into the destination register) per cycle, one cycle for an empty column (``valid = 0``, the
  register asks for the next column at once).  Back-to-back columns have no bubble, but the next
  activation waits *in the FIFO* (holding its slot) until the current column ends.  All decisions use
  start-of-cycle state (registered, as in the authors' propagate/update model): a slot freed by a
  pop is usable by the broadcast in the next cycle.
* **Queue depth.**  Config ``fifo_depth`` = activations the FIFO holds = the authors'
  ``NZFETCH_buffersize - 1`` (``nzfetch.cpp``: a ring of ``buffer_size`` slots, full when
  ``(pos_write + 1) % buffer_size == pos_read``).  The paper's "depth 8" is read as
  ``NZFETCH_buffersize = 8``, so the preset has ``fifo_depth: 7``; ``validate`` also reports
  ``fifo_depth=8`` (8 entries held).  An earlier version of the authors' code had a separate SpMatRead
  column register behind PtrRead (a pointer stage holding the next column while one streams); the
  model follows the later single-register version (see ``docs/timing-model.md`` 3.3).
* **Breakdown** (mean over PEs, sums to the cycles): ``busy`` (entries streamed,
  padding included), ``empty_column`` (1-cycle pops of columns without entries in
  this PE), ``idle_fifo_empty`` (FIFO empty while the broadcast is not finished:
  starvation from broadcast stalls, LNZD bubbles and pointer-read latency),
  ``idle_tail`` (done with a pass while other PEs still work: load imbalance),
  ``pass_overhead`` (``pass_overhead_cycles`` per pass switch).  ``extra`` has the
  broadcast-stall and LNZD-bubble cycles, per-PE idle, the load efficiency (mean PE
  work / cycles: 1 when no PE ever waits; the quantity the paper's FIFO-depth figure
  trades against queue size) and the PE utilisation (entries / (N x cycles)).
* **Two exact implementations.**  ``timing_loop: cycle`` steps every cycle for every PE
  (:func:`kernel.run_jobs`); ``timing_loop: event`` (default, :func:`kernel.run_jobs_event`) evaluates
  the same rules as recurrences per (PE, broadcast activation): broadcast cycle, pop
  cycle, stream start and end.  Both give identical cycles, breakdowns and action
  counts (property-tested); the event form is several times faster.  Its per-PE loop has no
  division and no inner loop (Spmat line numbers precomputed per column,
  :meth:`EIEMatrix.stream_tables`; the largest FIFO occupancy follows from the per-item maximum
  pop cycle), so Numba vectorises it over the PEs.

Convolutions on EIE (``MAPPING_NOTES``)
---------------------------------------
A conv layer is lowered to one SpMV per *active* output pixel: the weights become a
K x (C R S) matrix (row k = filter k flattened as c*R*S + r*S + s), compressed once
and reused for every pixel; the activation vector of pixel (p, q) is its im2col
column (zero padding included, so padding zeros are never broadcast); the output
mask picks the pixels that run, inactive pixels cost nothing.  Pixels run back to
back, each draining the PEs before the next (outputs of a pixel are written back
from the destination registers).  Grouped and depthwise convs use the block-
diagonal K x (C R S) matrix: every non-zero of the pixel's C R S vector is still
broadcast to all PEs, and PEs whose rows have no weight in that column spend the
1-cycle empty-column pop, so depthwise layers run at the LNZD rate (about one
activation per cycle), which is EIE's real weakness on them.

Energy
------
Per action (``accelsim/models/eie/energy_tables/eie_45nm.yaml``): pointer SRAM 16-bit reads (two
per pop), sparse-matrix SRAM 64-bit line reads (8 entries per line; a line register
keeps the last line, so a column starting in it does not re-read), activation SRAM
and register-file reads/writes (16 bit), codebook RF read, 16-bit MAC, FIFO
writes/reads (32 bit: index + value) and the clock network per PE-cycle (Table II).
``validate`` shows the calibration against Table II (9.157 mW per PE at 800 MHz)
block by block, and the chip power on the fc8 dump beside the published 590 mW with a block-by-block
account of the gap (``power.chip_power_account``).

Package layout
--------------
* ``formats``   :class:`EIEMatrix` (per-PE CSC), its encoders, magnitude pruning, k-means sharing,
  the authors' dump, seeded synthetic matrices;
* ``kernel``    the two timing kernels and the functional kernel (Numba);
* ``mapping``   conv lowering (pixel vectors), broadcast jobs and :func:`run_matrix`;
* ``model``     the :class:`EIE` model class (schema and hooks);
* ``power``     Table II power per block; ``area``  the Table II area formula;
* ``validate``  the validation suite (``accelsim validate eie``).
"""

from __future__ import annotations

from .formats import (
                      ENTRY_BITS,
                      EIEMatrix,
                      build_matrix,
                      kmeans_share,
                      matrix_from_dense,
                      matrix_from_dump,
                      prune_magnitude,
                      synthetic_acts,
                      synthetic_matrix,
                      write_authors_dump,
)
from .mapping import PixelVectors, lowered_weights, run_matrix
from .model import EIE

__all__ = ["EIE", "ENTRY_BITS", "EIEMatrix", "PixelVectors", "build_matrix", "kmeans_share", "lowered_weights",
           "matrix_from_dense", "matrix_from_dump", "prune_magnitude", "run_matrix", "synthetic_acts",
           "synthetic_matrix", "write_authors_dump"]
