"""Large per-layer arrays from reused memory (:func:`empty`), for the models' layer preparation.

Why: a fresh array of more than 32 MiB is a new ``mmap`` (glibc's largest threshold), so every layer pays the
kernel's page faults and zeroing for its compressed streams before writing a byte: 4-5 ms per 34 MB array
here, against 1.2-1.6 ms to write a reused one.  SCNN's streams of one paper-head layer are 4.3 M entries in
five arrays plus the kernel's copies, so most of the fill pass was page faults.

An array handed out is a view of a pooled buffer; the buffer is handed out again only once no view of it is
alive (its reference count says so), so a result never shares memory with a later one.  The pool holds at most
:data:`MAX_BYTES` per process (free buffers beyond that are dropped); arrays under :data:`MIN_BYTES` come from
``np.empty``.  Contents are undefined, as with ``np.empty``: callers write every element.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
from numba import njit

from workloads import LayerInstance, SparseTensor

#: arrays smaller than this (bytes) are not pooled: malloc reuses them anyway
MIN_BYTES = 1 << 20
#: most bytes the pool keeps per process
MAX_BYTES = 1 << 30

_pool: list[np.ndarray] = []
_lock = threading.Lock()


def _free(i: int) -> bool:
    # references: the pool's list and getrefcount's argument; each live view adds one through its ``base``
    return sys.getrefcount(_pool[i]) == 2


def empty(n: int, dtype) -> np.ndarray:
    """An uninitialised ``(n,)`` array of ``dtype`` (as ``np.empty``), from a pooled buffer when large."""
    dt = np.dtype(dtype)
    nbytes = int(n) * dt.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(n, dtype=dt)
    with _lock:
        best = -1
        for i in range(len(_pool)):
            if _free(i) and _pool[i].nbytes >= nbytes and (best < 0 or _pool[i].nbytes < _pool[best].nbytes):
                best = i
        if best < 0:
            # grow: drop free buffers, smallest first, while the pool would exceed its cap
            size = nbytes + nbytes // 4  # room for a slightly larger layer next time
            held = sum(b.nbytes for b in _pool)
            for i in sorted((i for i in range(len(_pool)) if _free(i)), key=lambda i: _pool[i].nbytes):
                if held + size <= MAX_BYTES:
                    break
                held -= _pool[i].nbytes
                _pool[i] = None
            _pool[:] = [b for b in _pool if b is not None]
            if held + size > MAX_BYTES:
                return np.empty(n, dtype=dt)
            _pool.append(np.empty(size, dtype=np.uint8))
            best = len(_pool) - 1
        return _pool[best][:nbytes].view(dt)


def held_bytes() -> int:
    """Bytes the pool holds (free or handed out)."""
    with _lock:
        return sum(b.nbytes for b in _pool)


def dense_acts(inst: LayerInstance) -> np.ndarray:
    """``inst.acts_dense()`` (float64), in reused memory when stored sparse with values (as traced heads are): a
    fresh 34 MB array per paper-head layer cost more in page faults than its scatter."""
    a = inst.acts
    if not isinstance(a, SparseTensor) or not a.has_values:
        return inst.acts_dense()
    out = empty(a.mask.size, np.float64)
    if a.values.shape[0] == a.mask.size:  # no zero (the gated heads' block inputs): a plain copy
        np.copyto(out, a.values.reshape(-1))
    elif a.values.shape[0] == 0:
        out.fill(0.0)
    else:
        _scatter(np.ascontiguousarray(a.mask).reshape(-1), np.ascontiguousarray(a.values), out)
    return out.reshape(a.shape)


@njit(cache=True)
def _scatter(mask, vals, out):
    """``out[mask] = vals``, zero elsewhere, in one pass without an index array and without a branch on the
    mask (a select): 3.0-3.4 ms for 4.3 M elements whatever the pattern, against 5.4-11.4 ms for numpy's zero
    fill, ``flatnonzero`` and scatter (random post-ReLU zeros cost it the most)."""
    k = 0
    last = vals.shape[0] - 1
    for i in range(mask.shape[0]):
        m = mask[i]
        v = vals[k if k < last else last]
        out[i] = v if m else 0.0
        k += m
