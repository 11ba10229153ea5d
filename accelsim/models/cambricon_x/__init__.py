"""Cambricon-X (Zhang et al., MICRO 2016): cycle-level model, the first open one.

Architecture [paper Sec. 3-5; accelerators.md §4]: Tn = 16 PEs, each with a
private synapse buffer (SB) of compressed non-zero weights and a PE functional
unit of Tm = 16 multipliers + adder tree that accumulates across cycles.  A
central indexing module (IM) in the buffer controller decodes each PE's
weight indices and selects the matching input neurons out of NBin.  PEs run
asynchronously.  Activations are dense: zero input neurons are multiplied.

What the model walks (all in Numba, from the layer's real pruned weights):

1. **Compression** (:func:`formats.compress`): every output map's filter, flattened to
   the reduction index ``c*R*S + r*S + s`` (length L = C/groups*R*S), is stored
   as non-zero values plus either
   * *direct indexing*: an L-bit mask per map [paper: 1 bit per synapse], or
   * *step indexing*: a ``step_bits`` distance to the previous non-zero
     [paper]; a gap larger than 2^step_bits - 1 zeros inserts an explicit zero
     entry (padding, as in :func:`accelsim.formats.rle_encode`) that occupies a
     multiplier slot like a real synapse.
   Storage of both formats and their decoding work (mask bits scanned vs
   prefix-sum additions) are reported in ``extra["index_formats"]``.
2. **IM selection** (:func:`kernel.map_cycles`): per cycle a PE takes up to Tm of its
   entries whose input neurons lie inside the IM's selection window of
   ``im.window_neurons`` consecutive neurons of NBin, starting at the first
   entry not yet taken (greedy, which is optimal for a fixed entry list, so
   removing non-zeros never adds chunks; the hypothesis tests also cover step
   padding).  A dense filter gives exactly ceil(L/Tm)
   cycles per output neuron, DianNao's count.  Cycles lost to the window are
   ``im_window`` in the breakdown.
3. **PE schedule** (:func:`kernel.timeline`): output neuron order as in DianNao's
   loop nest, which Cambricon-X keeps [accelerators.md §4.2: each PE owns
   different output neurons; for CONV, different output maps at the same
   position]: for each
   block of Tn output maps, for each active output position in raster order,
   PE i computes map ``block*Tn + i``.  ``pe.sync = async`` (paper) lets each PE
   run ahead: layer compute time = max over PEs of their summed work;
   ``lockstep`` waits for the slowest PE of each group (for comparison).
4. **Memory** (shared with DianNao, :func:`accelsim.models.common.nfu.dma_traffic`):
   compressed weights once, inputs once or per reduction tile when they do not
   fit NBin, partial-sum spills; DMA overlaps compute (assumed double
   buffering): ``memory_stall`` = max(0, DMA cycles - compute cycles - NBin stall).
5. **NBin bandwidth**: the buffer controller streams each (block, position)
   receptive field (L neurons) out of NBin once at ``nbin.neurons_per_cycle``
   and broadcasts it to the 16 selectors; when that takes longer than the PEs'
   work the difference is ``nbin_bandwidth`` (binding only at densities below
   ~Tm / nbin.neurons_per_cycle, e.g. VGG16 fc6/fc7 at 4 %).

Breakdown (sums to ``cycles``): ``busy`` (multiplier slots with a real
synapse), ``fragmentation`` (empty slots of an output neuron's last chunk,
nnz mod 16 != 0), ``step_padding`` (slots of step-index padding entries),
``im_window`` (extra chunks forced by the IM window), ``load_imbalance``
(PE idle while the slowest PE works, incl. PEs without a map in the last
block), ``nbin_bandwidth``, ``memory_stall``, ``pipeline_fill``.  The dynamic
head's output mask skips inactive output neurons entirely; ``extra["savings"]`` separates the
cycles saved by weight sparsity (dense weights, no mask -> sparse weights, no
mask) from those saved by the mask (sparse, no mask -> sparse, mask).

Depthwise layers (choice, documented): groups = C, so each output map is a dot
product over R x S of its own input channel; maps are assigned to PEs like any
conv (k mod Tn).  With 3x3 filters only <= 9 of 16 multipliers work per
cycle (fragmentation); the design has no way to pack several channels into
one PE since each PE accumulates one output neuron.

Peak throughput: 16 PEs x 16 multipliers x 2 ops (multiply + add) x 1 GHz =
512 GOP/s of useful work.  The paper's 544 GOP/s headline is 16 x 34 ops per
cycle; counting the adder tree (15 adds) plus the accumulator (1) with the
16 multiplies gives the 32 ops of the 512 figure, so the other 2 ops per PE
per cycle would come from units outside the multiply-accumulate path (a
guess: the PE's output stage, bias add / activation function).  The PDF
has not been checked (accelerators.md §4.1 marks it unresolved); the model's
useful-work peak is 512 GOP/s.

Package layout
--------------
``formats``   :class:`Compressed` weights in the direct / step index formats, :func:`compress`;
``kernel``    the Numba IM-chunking and PE-schedule kernels; ``model``  the :class:`CambriconX` class;
``area``      the 6.38 mm^2 area formula; ``validate``  the validation suite (``accelsim validate
cambricon-x``).  Shared with DianNao: ``models/common/nfu.py`` (DMA traffic, area rows, the
width-named actions, SRAM leakage, chip power by block, the benchmark runs and :func:`pruned_weights`)
and ``models/common/weight_walk.py`` (effectual MACs and functional output).
"""

from __future__ import annotations

from ..common.nfu import pruned_weights
from .formats import IM_ACTIONS, Compressed, compress
from .model import CambriconX
from .validate import validate

__all__ = ["IM_ACTIONS", "CambriconX", "Compressed", "compress", "pruned_weights", "validate"]
