"""Reference numbers and row names of ``accelsim compare`` (no imports beyond the standard library)."""

from __future__ import annotations

PAPER_V100 = {  # rebuttal Table 5 (head only, Tesla V100); dynamic-head.md section 5.2
    "baseline": {"gflops": 298.1, "latency_ms": {"avg": 46.8, "min": None, "max": None}, "mAP": 40.3},
    "large": {"gflops": 104.3, "latency_ms": {"avg": 52.3, "min": 42.9, "max": 63.6}, "mAP": 41.0},
    "small": {"gflops": 70.0, "latency_ms": {"avg": 34.9, "min": 28.9, "max": 46.5}, "mAP": 40.3},
}

#: the official dynamic FCOS heads' used GFLOPs (README of StevenGrove/DynamicHead, COCO val2017, ResNet-50,
#: C=256; dynamic-head.md section 5.1): depth, lambda, the README's budget name, avg/min/max over the images.
#: Their full cost is not published per image: the ratio is taken against the full D8 cost at the largest
#: COCO input (800x1333 padded to 800x1344), so it is a lower bound of the mean per-image used/full.
OFFICIAL_DYNAMIC = {
    "large": {"depth": 8, "lambda": 0.1, "budget": "Mid", "gflops": {"avg": 83.9, "min": 21.3, "max": 237.7}},
    "small": {"depth": 8, "lambda": 0.8, "budget": "Low", "gflops": {"avg": 33.3, "min": 6.4, "max": 140.2}},
}
OFFICIAL_FULL_SIZE = (800, 1333)  # the README's constants are at this size, padded to a multiple of 32

#: peak MAC/s of GPUs (FP32, boost clock; vendor data sheets) for the iso-throughput columns, by model
#: name as it appears as a whole token of the device name ("NVIDIA L4", "Tesla V100-SXM2-16GB")
GPU_PEAK_MACS = {"V100": 15.7e12 / 2, "A100": 19.5e12 / 2, "H100": 67e12 / 2, "H200": 67e12 / 2,
                 "T4": 8.1e12 / 2, "L4": 30.3e12 / 2, "A10": 31.2e12 / 2}

#: the rows of the table: the gate-free baseline head and the dynamic head at two budgets
MODELS = ("baseline", "large", "small")

LABELS = {"baseline": "baseline (no gates)", "large": "dynamic Large (lambda 0.1)",
          "small": "dynamic Small (lambda 0.8)"}

#: how to split a run where only torch + numpy are importable (a lent GPU machine): the end of the
#: one-line errors that refuse simulating or plotting there
TORCH_NUMPY_ONLY = ("on a machine with torch + numpy only, measure with --targets '' --no-plots and merge "
                    "its compare.json where the rest is installed with --measured")
