"""Dense systolic array (TPU-like) that counts compute cycles exactly as SCALE-Sim v3 does.

The array is ``array.height x array.width`` MAC PEs.  A layer is lowered to the GEMM
the array performs (im2col; SCALE-Sim's operand matrices):

* ifmap operand  ``(M, Kw)`` with ``M = N*P*Q`` output pixels and ``Kw = R*S*C/groups``;
* filter operand ``(Kw, Kf)`` with ``Kf = K/groups`` filters;
* groups run one after another (SCALE-Sim runs a depthwise layer as C single-channel layers).

SCALE-Sim maps the GEMM per dataflow onto ``(Sr, Sc, T)`` = (dimension spread over the
array rows, over the array columns, dimension streamed in time):

====  ================  ================  =================
 df    Sr (rows)          Sc (cols)         T (time)
====  ================  ================  =================
 os    M  (ofmap px)      Kf (filters)      Kw (window)
 ws    Kw (window)        Kf (filters)      M  (ofmap px)
 is    Kw (window)        M  (ofmap px)     Kf (filters)
====  ================  ================  =================

and walks ``ceil(Sc/W)`` column folds (outer) x ``ceil(Sr/H)`` row folds (inner).  Every
fold is padded to the full array (partial folds cost as much as full ones) and costs
(SCALE-Sim ``scalesim/compute/systolic_compute_{os,ws,is}.py``, the number of rows of each
fold's skewed demand matrix):

* os: ``T + H + W - 2``   (stream T operands, skew fill H-1 / W-1 while outputs drain);
* ws, is: ``2H + W + T - 2`` (H cycles to load the stationary operand, H-1 skew fill,
  T streamed, W-1 drain).

SCALE-Sim's memory system then reports ``Total Cycles`` = the 0-based cycle index of the
last demand row, i.e. ``folds * per_fold - 1`` when nothing stalls (CALC bandwidth mode,
where stalls are zero).  We report that count as the compute cycles so the two agree
exactly; the "-1" (per group) sits in the ``fill_drain`` cause.

N:M sparsity (SCALE-Sim v3 ``[sparsity]`` with ``OptimizedMapping: false``, ws only): the
reduction rows of every filter column are condensed to N slots per block of M
(``sparsity.N``/``sparsity.M``), trailing all-padding rows dropped, so the row folds become
``ceil(Kc/H)``.  Here Kc is computed from the *real* weights (blocks along the im2col
reduction order ``c*R*S + r*S + s``); weights with more than N non-zeros in a block are
rejected, as SCALE-Sim asserts.

Memory (``memory.model``): ``ideal`` = SCALE-Sim's CALC mode (no stalls).
``double_buffered`` is this project's first-order model, not SCALE-Sim's: per fold the
operand tiles not resident in the active half of their SRAM come from DRAM at
``dram.bandwidth_bytes_per_cycle`` while the previous fold computes; the excess is a
stall, the first fold's fetch is exposed (``prefetch``), the last fold's output write-back
too (``writeback``).  Energy: one multiply + one 32-bit accumulate per mapped MAC and
64-bit SRAM/DRAM accesses from the ``horowitz_45nm`` rows (see ``model._sram_row``).

Package layout: ``kernel`` (the Numba fold walk), ``mapping`` (dataflow -> (Sr, Sc, T), fold counts,
N:M condensed rows), ``model`` (the :class:`Systolic` class), ``area`` (generic area),
``validate`` (cycles against recorded SCALE-Sim runs, ``accelsim validate systolic``).
"""

from __future__ import annotations

from .mapping import DATAFLOWS, condensed_rows, fold_counts, gemm_dims
from .model import Systolic
from .validate import validate

__all__ = ["DATAFLOWS", "Systolic", "condensed_rows", "fold_counts", "gemm_dims", "validate"]
