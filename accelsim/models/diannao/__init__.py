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

Memory: the layer's DMA traffic (:func:`accelsim.models.common.nfu.dma_traffic`) overlaps
compute (double-buffered, assumed); ``memory_stall`` = max(0, DMA cycles - compute
cycles).  The helper is shared with :mod:`accelsim.models.cambricon_x`, and so is the walk
over the non-zero weights that counts effectual MACs and computes the functional output
(:func:`accelsim.models.common.weight_walk.effectual_and_output`).

Package layout: ``model`` (the :class:`DianNao` class and its Numba timeline), ``area`` (generic
NFU rows), ``validate`` (``accelsim validate diannao``: the published 452 GOP/s, 3.02 mm^2 and 485 mW;
Cambricon-X's suite also measures against this model).
"""

from __future__ import annotations

from .model import DianNao
from .validate import validate

__all__ = ["DianNao", "validate"]
