"""Compressed sparse formats shared by the models (the layer between the core and the models).

:mod:`accelsim.formats.rle`: RLE with n-bit zero counts (SCNN, EIE, Eyeriss v2), CSC, bitmaps and
step indices (Cambricon-X), with the Numba kernels the models call per row (``rle_counts``,
``rle_fill``).
"""

from .rle import CSC, RLE, bitmap, csc, rle_counts, rle_encode, rle_entry_count, rle_fill, step_index

__all__ = ["CSC", "RLE", "bitmap", "csc", "rle_counts", "rle_encode", "rle_entry_count", "rle_fill", "step_index"]
