"""``accelsim compare``: the dynamic head measured on a GPU (or CPU) beside simulated accelerators.

Rows (models): the gate-free baseline head ("Fix" topology: depth and scale paths, no gates — the
rebuttal's definition of FCOS-D{D}), and the dynamic head at two budgets, "Large" (lambda 0.1) and
"Small" (lambda 0.8), by default the shipped synthetic-data checkpoints (``dynhead/checkpoints``).

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
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .errors import AccelsimError

PAPER_V100 = {  # rebuttal Table 5 (head only, Tesla V100); dynamic-head.md section 5.2
    "baseline": {"gflops": 298.1, "latency_ms": {"avg": 46.8, "min": None, "max": None}, "mAP": 40.3},
    "large": {"gflops": 104.3, "latency_ms": {"avg": 52.3, "min": 42.9, "max": 63.6}, "mAP": 41.0},
    "small": {"gflops": 70.0, "latency_ms": {"avg": 34.9, "min": 28.9, "max": 46.5}, "mAP": 40.3},
}

#: peak MAC/s of GPUs (FP32, boost clock; vendor data sheets) for the iso-throughput columns
GPU_PEAK_MACS = {"V100": 15.7e12 / 2, "A100": 19.5e12 / 2, "H100": 67e12 / 2, "H200": 67e12 / 2,
                 "T4": 8.1e12 / 2, "L4": 30.3e12 / 2, "A10": 31.2e12 / 2}

DEFAULT_TARGETS = ("scnn", "scnn-maskskip", "dcnn", "eie", "cambricon-x", "diannao", "eyeriss-v2", "eyeriss-v1", "systolic")
MODELS = ("baseline", "large", "small")


def add_arguments(p):
    p.add_argument("--device", default="auto", help="auto | cuda | cpu (measured, not simulated)")
    p.add_argument("--size", default="256x256", help="input size HxW (padded to a multiple of 32); the paper: 800x1333")
    p.add_argument("--images", type=int, default=3, help="number of images (bundled sample images, cycled)")
    p.add_argument("--image-dir", help="folder of RGB images instead of the bundled ones")
    p.add_argument("--checkpoint-large", help="dynamic checkpoint for the 'Large' row (default: shipped lambda 0.1)")
    p.add_argument("--checkpoint-small", help="dynamic checkpoint for the 'Small' row (default: shipped lambda 0.8)")
    p.add_argument("--width", type=int, default=None,
                   help="trace/measure a head of this channel width C (random seeded weights) driven by the "
                        "trained model's gates (default: the checkpoint's width)")
    p.add_argument("--baseline-depth", type=int, default=None,
                   help="depth D of the gate-free baseline (default: the dynamic checkpoints' depth)")
    p.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                   help="comma-separated accelerator presets to simulate (missing presets are skipped and listed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PRESET:KEY=VALUE",
                   help="override a field of one target, e.g. --set scnn:pe_rows=4")
    p.add_argument("--prune", type=float, default=None,
                   help="magnitude-prune head weights to this density for all targets (default: dense weights)")
    p.add_argument("--batch", type=int, default=4, help="batch size N of the batch-N measurement")
    p.add_argument("--reps", type=int, default=20, help="timed repetitions per measurement")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--gpu-peak-tmacs", type=float, default=None,
                   help="peak TMAC/s for the iso-throughput columns (default: from the measured GPU's name, "
                        "else the paper's V100, 7.85 TMAC/s FP32)")
    p.add_argument("--iso-resimulate", action="store_true",
                   help="also re-simulate every target with its PE count scaled to the GPU's peak MAC rate "
                        "(targets '<preset>@iso'; buffers and bandwidths unchanged)")
    p.add_argument("--no-measure", action="store_true", help="skip the latency measurement")
    p.add_argument("--measured", metavar="COMPARE_JSON",
                   help="take the measured rows from a compare.json written elsewhere (e.g. on a GPU machine by "
                        "`accelsim compare --targets '' --device cuda`) instead of measuring here; its settings "
                        "must match this run's")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--jobs", "-j", type=int, default=None, help="simulation worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/compare", help="output folder (default runs/compare)")
    p.add_argument("--json", action="store_true", help="print the JSON result to stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")


def _parse_overrides(items, targets):
    out = {t: [] for t in targets}
    for it in items:
        if ":" not in it or "=" not in it:
            raise AccelsimError(f"--set: expected PRESET:KEY=VALUE, got {it!r}")
        t, kv = it.split(":", 1)
        if t not in out:
            raise AccelsimError(f"--set: {t!r} is not one of the targets ({', '.join(targets)})")
        out[t].append(kv)
    return out


def run(a) -> int:
    from .compare_run import run_compare
    res = run_compare(a)
    if a.json:
        from .report import _default
        print(json.dumps(res, indent=2, default=_default))
    else:
        import sys
        sys.stdout.write(Path(res["files"]["md"]).read_text())
        sys.stdout.write(f"\nwrote {', '.join(res['files'].values())}\n")
    return 0
