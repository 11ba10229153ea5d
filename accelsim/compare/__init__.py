"""``accelsim compare``: the dynamic head measured on a GPU (or CPU) beside simulated accelerators.

Rows (models): the gate-free baseline head ("Fix" topology: depth and scale paths, no gates — the
rebuttal's definition of FCOS-D{D}), and the dynamic head at two budgets, "Large" (lambda 0.1) and
"Small" (lambda 0.8); by default the shipped synthetic-data checkpoints (``dynhead/checkpoints``) at the
paper's depths: a trained gate-free D6 baseline and dynamic D8 heads, one recipe and CPU budget for all.
At ``width`` every head has seeded random weights (``dynhead.wide``, identical for shared layers).

Columns (targets): head GFLOPs avg/min/max (official accounting, hard-gate tally per image; binary
giga-MACs as in the paper's code), measured latency of the head on the device — dense and masked
(gather-GEMM-scatter) execution, batch 1 and batch N — and, per accelerator preset, simulated
latency avg/min/max at its clock and energy per image from the per-image traces.  Speedups are
relative to the baseline row on the same target.  The paper's own V100 rows are shown as a
labelled reference, never mixed with measured numbers.

Iso-throughput: each accelerator's latency is also given scaled to the GPU's peak MAC rate
(``latency * accel_peak_macs_per_s / gpu_peak_macs_per_s``), i.e. ideal PE-count scaling with no
added imbalance or bandwidth limits — an optimistic bound, labelled as such.

Only the head is measured and simulated (the paper reports head-only latency); the backbone and FPN
run once per image, untimed, to produce the features.

Python API::

    from accelsim.compare import CompareSettings, run_compare
    res = run_compare(CompareSettings(images=1, targets=("scnn", "dcnn"), plots=False))
    print(res.markdown)

Modules: ``settings`` (CompareSettings), ``rows`` (heads, images, features), ``measure`` (timed
measurement, ``measured=`` merge), ``trace`` (per-image workloads), ``simulate`` (targets x traces,
iso-throughput), ``tables`` (result dict, markdown, CSV), ``plots``, ``run`` (run_compare).  The
command line (``accelsim compare``) is :mod:`accelsim.cli_compare`.
"""

from __future__ import annotations

from .constants import GPU_PEAK_MACS, MODELS, PAPER_V100
from .run import CompareResult, run_compare
from .settings import CompareSettings, default_targets

__all__ = ["CompareResult", "CompareSettings", "GPU_PEAK_MACS", "MODELS", "PAPER_V100", "default_targets",
           "run_compare"]
