"""SCALE-Sim CSV import/export (topology and GEMM views).

Topology CSV (SCALE-Sim v2/v3), header then one row per layer::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
    conv1,227,227,11,11,3,96,4,

* Rows usually end with a trailing comma (SCALE-Sim v2's reader drops the last
  field); this reader accepts rows with or without it and reads columns by
  header name (case and spacing ignored), so column order is free.
* SCALE-Sim has no padding column: IFMAP sizes are taken as **already
  padded**, so imported layers have ``padding=0``.  SCALE-Sim sizes the output
  as ceil((H - R + s) / s), accelsim as floor((H - R) / s) + 1: they differ by
  one where (H - R) is not a multiple of the stride.  Export therefore writes,
  for a padded layer, the input extent the layer really reads,
  ``(P - 1) * stride + R`` (<= H + 2*padding), on which both tools agree on P
  and the MAC count; a layer without padding is written with its own H, W so
  import -> export -> import is exact.
* The optional v3 ``Sparsity`` column holds an N:M ratio (N non-zeros in
  every M weights); it is read into ``weight_density = N/M`` and kept in
  ``meta['sparsity']`` so export writes it back.
* A row with a 1x1 IFMAP and a 1x1 filter becomes an ``fc`` layer, any other a
  ``conv`` layer.  Layers are chained in row order (SCALE-Sim runs them in
  sequence).

GEMM CSV (SCALE-Sim ``-i gemm``), header ``Layer, M, N, K``: M = rows of the
input operand, K = reduction length, N = output columns (MACs = M*N*K).
SCALE-Sim itself turns a row into a convolution with an M x K IFMAP, a 1 x K
filter, 1 channel and N filters.  We map it to the equivalent **1x1
convolution** with ``C = K`` input channels, ``K = N`` filters on an ``M x 1``
plane (``fc`` when M == 1): the same GEMM after im2col, the same MACs, but the
reduction is on the channel axis, where the sparse models look for it.  The
original (M, N, K) is kept in ``meta['gemm']``.

Export cannot express everything the IR holds: grouped / depthwise layers are
written with ``Channels = C / groups`` (the per-filter reduction; MACs are
kept, the layer becomes an ordinary conv on re-import); dilation > 1 and batch
N > 1 are refused with a :class:`WorkloadError`.

Every defect of a file raises :class:`WorkloadError` naming the file, the line
and the column.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .errors import WorkloadError
from .ir import Layer, Workload
from .limits import check as check_cap
from .storage import atomic_write_bytes

TOPOLOGY_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                    "Channels", "Num Filter", "Strides")
GEMM_COLUMNS = ("Layer", "M", "N", "K")
SPARSITY_COLUMN = "Sparsity"


def _clip(v: str, n: int = 40) -> str:
    """``repr(v)``, cut to ``n`` characters (a 5,000-digit cell stays a short error line)."""
    return repr(v) if len(v) <= n else repr(v[:n]) + f"... ({len(v):,} characters)"


def _norm(name: str) -> str:
    return " ".join(name.strip().lower().split())


# ------------------------------------------------------------- generic table
class CsvTable:
    """A CSV file read as header + rows, with line numbers for error messages.

    Cells are whitespace-stripped; trailing empty cells (SCALE-Sim's trailing
    comma) are dropped; blank lines are skipped.  ``col(name)`` finds a column
    by case/space-insensitive name.
    """

    def __init__(self, path):
        self.file = str(path)
        p = Path(path)
        if p.is_dir():
            raise WorkloadError("is a folder, expected a CSV file", file=self.file)
        if not p.is_file():
            raise WorkloadError("no such file", file=self.file)
        try:
            check_cap("max_text_bytes", p.stat().st_size, "file size in bytes", file=self.file)
            text = p.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise WorkloadError(f"not UTF-8 text ({e.reason} at byte {e.start})", file=self.file) from None
        except OSError as e:
            raise WorkloadError(f"cannot read ({e.strerror or type(e).__name__})", file=self.file) from None
        if "\0" in text:
            raise WorkloadError("contains NUL bytes: not a text CSV", file=self.file)
        rows = []
        try:
            for lineno, cells in _csv_lines(text):
                cells = [c.strip() for c in cells]
                while cells and cells[-1] == "":
                    cells.pop()
                if cells:
                    rows.append((lineno, cells))
        except csv.Error as e:
            raise WorkloadError(f"malformed CSV ({e})", file=self.file) from None
        if not rows:
            raise WorkloadError("empty file: expected a header line", file=self.file)
        self.header_line, self.header = rows[0]
        self.rows = rows[1:]
        check_cap("max_layers", len(self.rows), "rows", file=self.file)
        for lineno, cells in self.rows:  # a cell without a column would be dropped silently
            if len(cells) > len(self.header):
                raise WorkloadError(f"line {lineno}: {len(cells)} cells but the header (line {self.header_line}) "
                                    f"has {len(self.header)} columns; extra cell {cells[len(self.header)]!r}",
                                    file=self.file, field=f"column {len(self.header) + 1}")
        self._index = {_norm(h): i for i, h in enumerate(self.header)}

    def has(self, name: str) -> bool:
        return _norm(name) in self._index

    def require(self, names) -> None:
        missing = [n for n in names if not self.has(n)]
        if missing:
            raise WorkloadError(f"line {self.header_line}: missing column(s) {', '.join(repr(m) for m in missing)} "
                                f"(header has {', '.join(repr(h) for h in self.header)})",
                                file=self.file, field=missing[0])

    def error(self, lineno: int, column: str, reason: str) -> WorkloadError:
        return WorkloadError(f"line {lineno}: {reason}", file=self.file, field=column)

    def cell(self, lineno: int, cells: list[str], column: str, required: bool = True) -> str | None:
        i = self._index[_norm(column)]
        v = cells[i] if i < len(cells) else ""
        if v == "" and required:
            raise self.error(lineno, column, "missing value")
        return v if v != "" else None

    def int(self, lineno: int, cells: list[str], column: str, minimum: int = 1) -> int:
        v = self.cell(lineno, cells, column)
        try:
            x = int(v)
        except ValueError:
            raise self.error(lineno, column, f"expected an integer, got {_clip(v)}") from None
        if x < minimum:
            raise self.error(lineno, column, f"must be >= {minimum}, got {x}")
        return x

    def float(self, lineno: int, cells: list[str], column: str, lo: float = 0.0, hi: float = 1.0) -> float:
        v = self.cell(lineno, cells, column)
        try:
            x = float(v)
        except ValueError:
            raise self.error(lineno, column, f"expected a number, got {_clip(v)}") from None
        if not lo <= x <= hi:  # also rejects nan
            raise self.error(lineno, column, f"must be in [{lo:g}, {hi:g}], got {v}")
        return x

    def name(self, lineno: int, cells: list[str], column: str, seen: set) -> str:
        v = self.cell(lineno, cells, column)
        if "/" in v:
            raise self.error(lineno, column, f"layer name {v!r} may not contain '/'")
        if v in seen:
            raise self.error(lineno, column, f"duplicate layer name {v!r}")
        seen.add(v)
        return v

    def layer(self, lineno: int, column: str, **kw) -> Layer:
        """Build a Layer, re-raising its validation error with this file and line."""
        try:
            return Layer(**kw)
        except WorkloadError as e:
            raise self.error(lineno, column, f"{e}") from None


def _csv_lines(text: str):
    """(line number, cells) per physical line; quoted newlines are not used by SCALE-Sim."""
    for lineno, line in enumerate(io.StringIO(text), start=1):
        for cells in csv.reader([line], skipinitialspace=True):
            yield lineno, cells


# ------------------------------------------------------------------ import
_NM = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def import_csv(path, name: str | None = None) -> Workload:
    """Read a SCALE-Sim topology or GEMM CSV (detected from the header) into a Workload."""
    t = CsvTable(path)
    keys = {_norm(h) for h in t.header}
    topo = {_norm(c) for c in TOPOLOGY_COLUMNS[1:]}
    gemm = {_norm(c) for c in GEMM_COLUMNS[1:]}
    if keys & topo:
        return _import_topology(t, name)
    if keys & gemm:
        return _import_gemm(t, name)
    raise WorkloadError(f"line {t.header_line}: unrecognised header {t.header!r}: expected a SCALE-Sim topology "
                        f"({', '.join(TOPOLOGY_COLUMNS)}) or GEMM ({', '.join(GEMM_COLUMNS)}) CSV",
                        file=t.file, field="header")


def chained_workload(t: CsvTable, name: str, meta: dict, columns, row_to_layer) -> Workload:
    """One layer per row (``row_to_layer(lineno, cells, seen_names) -> Layer``), chained in row order."""
    t.require(columns)
    wl = Workload(name, meta=meta)
    seen: set = set()
    prev = None
    for ln, cells in t.rows:
        L = row_to_layer(ln, cells, seen)
        wl.add_layer(L, deps=[prev] if prev else [])
        prev = L.name
    if not wl.layers:
        raise WorkloadError("no layer rows after the header", file=t.file)
    return wl


def _import_topology(t: CsvTable, name: str | None) -> Workload:
    def row(ln, cells, seen):
        nm = t.name(ln, cells, "Layer name", seen)
        H, W = t.int(ln, cells, "IFMAP Height"), t.int(ln, cells, "IFMAP Width")
        R, S = t.int(ln, cells, "Filter Height"), t.int(ln, cells, "Filter Width")
        C, K = t.int(ln, cells, "Channels"), t.int(ln, cells, "Num Filter")
        stride = t.int(ln, cells, "Strides")
        meta, wd = {}, None
        if t.has(SPARSITY_COLUMN):
            sp = t.cell(ln, cells, SPARSITY_COLUMN, required=False)
            if sp is not None:
                m = _NM.match(sp)
                if not m or int(m.group(2)) < 1 or int(m.group(1)) > int(m.group(2)):
                    raise t.error(ln, SPARSITY_COLUMN, f"expected an N:M ratio with 0 <= N <= M, M >= 1, got {sp!r}")
                meta["sparsity"] = f"{int(m.group(1))}:{int(m.group(2))}"
                wd = int(m.group(1)) / int(m.group(2))
        if R > H:
            raise t.error(ln, "Filter Height", f"filter height {R} > IFMAP height {H} (IFMAP is taken as padded)")
        if S > W:
            raise t.error(ln, "Filter Width", f"filter width {S} > IFMAP width {W} (IFMAP is taken as padded)")
        kind = "fc" if (H, W, R, S) == (1, 1, 1, 1) else "conv"
        return t.layer(ln, "Layer name", name=nm, kind=kind, C=C, K=K, H=H, W=W, R=R, S=S, stride=stride,
                       weight_density=wd, meta=meta)

    return chained_workload(t, name or Path(t.file).stem, {"source": t.file, "format": "scalesim-topology"},
                            TOPOLOGY_COLUMNS, row)


def _import_gemm(t: CsvTable, name: str | None) -> Workload:
    def row(ln, cells, seen):
        nm = t.name(ln, cells, "Layer", seen)
        M, N, K = t.int(ln, cells, "M"), t.int(ln, cells, "N"), t.int(ln, cells, "K")
        return t.layer(ln, "Layer", name=nm, kind="fc" if M == 1 else "conv", C=K, K=N, H=M, W=1,
                       meta={"gemm": {"M": M, "N": N, "K": K}})

    return chained_workload(t, name or Path(t.file).stem, {"source": t.file, "format": "scalesim-gemm"},
                            GEMM_COLUMNS, row)


# ------------------------------------------------------------------ export
def topology_rows(wl: Workload) -> list[list]:
    """SCALE-Sim topology rows (name, H, W, R, S, C, K, stride[, sparsity]) in layer order."""
    rows = []
    with_sparsity = any("sparsity" in L.meta for L in wl.layers.values())
    for n in wl.layer_names():
        L = wl.layers[n]
        if L.dilation != 1:
            raise WorkloadError(f"dilation {L.dilation} cannot be written to a SCALE-Sim topology (no dilation column)",
                                field=f"{n}.dilation")
        if L.N != 1:
            raise WorkloadError(f"batch N={L.N} cannot be written to a SCALE-Sim topology (no batch column)",
                                field=f"{n}.N")
        if "," in n or '"' in n:
            raise WorkloadError(f"layer name {n!r} contains a comma or quote (SCALE-Sim splits on commas)",
                                field=f"{n}.name")
        if L.padding:
            h, w = (L.P - 1) * L.stride + L.R, (L.Q - 1) * L.stride + L.S
        else:
            h, w = L.H, L.W
        row = [n, h, w, L.R, L.S, L.C // L.groups, L.K, L.stride]
        if with_sparsity:
            row.append(L.meta.get("sparsity", ""))
        rows.append(row)
    return rows


def export_topology_csv(wl: Workload, path) -> None:
    """Write ``wl`` as a SCALE-Sim topology CSV (atomically; see the module doc for what is lossy)."""
    try:
        rows = topology_rows(wl)
    except WorkloadError as e:
        raise WorkloadError(e.reason, file=str(path), field=e.field) from None
    header = list(TOPOLOGY_COLUMNS) + ([SPARSITY_COLUMN] if rows and len(rows[0]) > 8 else [])
    lines = [", ".join(header) + ","]
    lines += [",".join(str(v) for v in r) + "," for r in rows]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
