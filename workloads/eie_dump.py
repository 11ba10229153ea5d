"""Reader for the EIE authors' dump of the pruned, weight-shared AlexNet fc8 layer.

The folder (reference set ``eie_alexnet_fc8``, from ``RalphMao/EIE-simulator:data/``, packaged in
:mod:`workloads.refdata` and overridden by ``../shared/validation/eie_alexnet_fc8``; format in
``workloads/refdata/README.md``) holds, little endian:

* ``act.dat``       C x float32 input activations (C = 4096; 1759 non-zeros);
* ``arithm.dat``    16 x float32 codebook, code 0 = 0.0;
* ``ptr/ptr{p}.dat`` (C + 2) x uint32 per PE p: CSC column pointers into that PE's
  ``spm`` (columns 0..C-1 are the inputs, column C is the bias column whose
  activation is 1.0, the last pointer is the end);
* ``spm/spm{p}.dat`` pairs of uint32 per PE: (codebook index, zero rows skipped
  before this entry) -- EIE's 4-bit relative row index.

Rows are interleaved over the N PEs: output row i lives in PE i mod N as local row
i // N.  A column's local rows are rebuilt as row = previous row + run + 1,
starting at -1.  Entries whose code is 0 are padding (the value 0.0) used when a
zero run exceeds 15 (EIE paper Sec. IV; 4-bit index).

:func:`read_dump` checks every file (sizes, pointer monotonicity, row indices
past the PE's rows, codes past the codebook) and raises
:class:`~workloads.errors.WorkloadError` naming the file; :func:`decode_dense`
rebuilds the dense weights (K x C) and the bias (K,) for functional references.
The zoo entry ``eie-alexnet-fc8`` wraps both into a one-layer workload whose
``layer.meta["eie_dump"]`` names the folder (:func:`workloads.refdata.set_dir`), so the EIE model can run the stored
per-PE CSC as-is instead of re-compressing the dense matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import WorkloadError
from .ir import Layer, Workload
from .zoo import register, require_shared

SUBDIR = "eie_alexnet_fc8"
FC8_INPUTS = 4096    # AlexNet fc8 inputs (C)
FC8_OUTPUTS = 1000   # AlexNet fc8 outputs (K)
FC8_PES = 64         # PEs the dump was made for (ptr0..63 / spm0..63)
CODEBOOK_SIZE = 16   # 4-bit weight codes
MAX_RUN = 15         # 4-bit relative row index


@dataclass
class EIEDump:
    """The dump's arrays, validated.  Per PE p: ``ptr[p]`` (C + 2,) int64, ``code[p]`` / ``run[p]``
    (entries,) int64 and ``row[p]`` (entries,) local row of each entry (decoded from the runs)."""

    path: Path
    n_pe: int
    n_in: int
    n_out: int
    act: np.ndarray            # (C,) float64 (stored as float32)
    codebook: np.ndarray       # (16,) float64 (stored as float32)
    ptr: list[np.ndarray]
    code: list[np.ndarray]
    run: list[np.ndarray]
    row: list[np.ndarray]

    @property
    def entries_per_pe(self) -> list[int]:
        return [int(c.shape[0]) for c in self.code]

    @property
    def n_entries(self) -> int:
        return int(sum(self.entries_per_pe))

    def local_rows(self, p: int) -> int:
        """Output rows held by PE p (rows p, p + N, ...)."""
        return max(0, -(-(self.n_out - p) // self.n_pe))


def _read(path: Path, dtype, count: int | None = None, multiple: int = 1) -> np.ndarray:
    if not path.is_file():
        raise WorkloadError("missing file of the EIE dump", file=str(path))
    size = path.stat().st_size
    item = np.dtype(dtype).itemsize
    if count is not None and size != count * item:
        raise WorkloadError(f"file size {size} bytes != expected {count * item} ({count} x {np.dtype(dtype).name})",
                            file=str(path))
    if size % (item * multiple):
        raise WorkloadError(f"file size {size} bytes is not a multiple of {item * multiple}", file=str(path))
    return np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<"))


def _decode_rows(ptr: np.ndarray, run: np.ndarray) -> np.ndarray:
    """Local row of every entry: within each column, row = prev + run + 1 from -1 (vectorised)."""
    cs = np.concatenate([[0], np.cumsum(run + 1)])
    start = np.repeat(ptr[:-1], np.diff(ptr))  # first entry of each entry's column
    return cs[1:] - cs[start] - 1


def read_dump(path, n_out: int = FC8_OUTPUTS, n_pe: int = FC8_PES, n_in: int = FC8_INPUTS) -> EIEDump:
    """Read and validate a dump folder; every defect is a WorkloadError naming the file."""
    path = Path(path)
    if not path.is_dir():
        raise WorkloadError("EIE dump folder not found", file=str(path))
    act = _read(path / "act.dat", np.float32, n_in).astype(np.float64)
    codebook = _read(path / "arithm.dat", np.float32, CODEBOOK_SIZE).astype(np.float64)
    if codebook[0] != 0.0:
        raise WorkloadError(f"codebook entry 0 must be 0.0 (padding code), got {codebook[0]}",
                            file=str(path / "arithm.dat"))
    ptrs, codes, runs, rows = [], [], [], []
    for p in range(n_pe):
        fp = path / "ptr" / f"ptr{p}.dat"
        fs = path / "spm" / f"spm{p}.dat"
        ptr = _read(fp, np.uint32, n_in + 2).astype(np.int64)
        spm = _read(fs, np.uint32, None, multiple=2).astype(np.int64).reshape(-1, 2)
        n = spm.shape[0]
        if ptr[0] != 0:
            raise WorkloadError(f"first column pointer must be 0, got {ptr[0]}", file=str(fp))
        d = np.diff(ptr)
        if (d < 0).any():
            j = int(np.argmax(d < 0))
            raise WorkloadError(f"column pointers not monotone: ptr[{j + 1}]={ptr[j + 1]} < ptr[{j}]={ptr[j]}",
                                file=str(fp))
        if ptr[-1] != n:
            raise WorkloadError(f"file size {fs.stat().st_size} bytes = {n} entries, but the last column pointer "
                                f"in {fp.name} is {ptr[-1]}", file=str(fs))
        code, run = spm[:, 0], spm[:, 1]
        if n and code.max() >= CODEBOOK_SIZE:
            i = int(np.argmax(code >= CODEBOOK_SIZE))
            raise WorkloadError(f"entry {i}: code {code[i]} >= codebook size {CODEBOOK_SIZE}", file=str(fs))
        if n and run.max() > MAX_RUN:
            i = int(np.argmax(run > MAX_RUN))
            raise WorkloadError(f"entry {i}: zero run {run[i]} exceeds the 4-bit index (max {MAX_RUN})",
                                file=str(fs))
        row = _decode_rows(ptr, run)
        lim = max(0, -(-(n_out - p) // n_pe))
        if n and row.max() >= lim:
            i = int(np.argmax(row >= lim))
            col = int(np.searchsorted(ptr, i, side="right") - 1)
            raise WorkloadError(f"entry {i} (column {col}): local row {row[i]} past the PE's {lim} rows",
                                file=str(fs))
        ptrs.append(ptr)
        codes.append(code)
        runs.append(run)
        rows.append(row)
    return EIEDump(path, n_pe, n_in, n_out, act, codebook, ptrs, codes, runs, rows)


def decode_dense(d: EIEDump) -> tuple[np.ndarray, np.ndarray]:
    """Dense weights (K, C) and bias (K,) in float64, decoded through the codebook."""
    Wb = np.zeros((d.n_out, d.n_in + 1), dtype=np.float64)
    for p in range(d.n_pe):
        cols = np.repeat(np.arange(d.n_in + 1), np.diff(d.ptr[p]))
        Wb[d.row[p] * d.n_pe + p, cols] += d.codebook[d.code[p]]
    return Wb[:, :d.n_in], Wb[:, d.n_in].copy()


@register("eie-alexnet-fc8", "EIE authors' pruned, weight-shared AlexNet fc8 (4096x1000) with its real input "
          "(reference set eie_alexnet_fc8)")
def eie_alexnet_fc8(shared=None, seed: int = 0) -> Workload:
    path = require_shared(SUBDIR, shared)
    d = read_dump(path)
    W, bias = decode_dense(d)
    epp = d.entries_per_pe
    meta = {"eie_dump": str(path), "eie_n_pe": d.n_pe, "stored_entries": d.n_entries,
            "act_nnz": int(np.count_nonzero(d.act)), "source": "RalphMao/EIE-simulator data/ (EIE, ISCA 2016)"}
    wl = Workload("eie-alexnet-fc8", meta={**meta, "stored_entries_per_pe": epp})
    wl.add_layer(Layer("fc8", "fc", C=d.n_in, K=d.n_out, weights=W, bias=bias, meta=dict(meta)))
    wl.set_image_data(0, "fc8", acts=d.act)
    return wl
