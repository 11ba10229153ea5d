"""Measured (not simulated) latency of a callable on CUDA or the CPU.

Imports only torch and numpy, so it runs on a machine whose CUDA torch was
installed outside this project (``pip install --no-deps -e .``).

Protocol (``measure``):

1. ``warmup`` untimed calls (cuDNN autotuning, allocator growth, JIT);
2. ``reps`` timed calls; on CUDA each is bracketed by CUDA events recorded
   on the current stream and the device is synchronised before reading them,
   so the time is GPU execution time of that call, not launch time; on the
   CPU ``time.perf_counter_ns`` around the call;
3. the report gives avg/min/max/p50/p99 in seconds and the coefficient of
   variation (std/mean).  If the CV exceeds ``target_cv`` after ``reps``,
   up to ``max_rounds`` more rounds are run and the round with the lowest CV
   is kept (noisy neighbours); the CV reached is always reported.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from typing import Callable

import numpy as np
import torch


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU.  ``cuda`` without a GPU raises ValueError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available (torch {torch.__version__})")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"--device: expected auto, cuda or cpu, got {device!r}")
    return torch.device(device)


def fp32_only() -> dict:
    """Turn TF32 off for cuDNN convolutions and CUDA matmuls; returns the flags as they were.

    cuDNN convolutions default to TF32 on Ampere and later GPUs, matmuls do not: left as is, the
    dense head (convolutions) runs on TF32 tensor cores and the masked head (gather + matmul) in
    full FP32, a precision difference that would be timed as a speed difference and break FP32
    equality checks.  FP32 throughout is what the paper's V100 ran and what the FP32 data-sheet
    peaks of the iso-throughput columns assume."""
    prev = {"cudnn_conv": torch.backends.cudnn.allow_tf32, "cuda_matmul": torch.backends.cuda.matmul.allow_tf32}
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    return prev


def _nvidia_smi(query: str) -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def device_info(device: torch.device) -> dict:
    """Name, clocks, versions of the measured device (recorded in every report)."""
    info = {"device": str(device), "torch": torch.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info.update(kind="gpu", name=p.name, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    sm_count=p.multi_processor_count, memory_bytes=int(p.total_memory),
                    capability=f"{p.major}.{p.minor}")
        info["driver"] = _nvidia_smi("driver_version")
        clocks = _nvidia_smi("clocks.sm,clocks.max.sm,clocks.mem")
        if clocks:
            parts = [c.strip() for c in clocks.split(",")]
            info.update(sm_clock_mhz=parts[0], max_sm_clock_mhz=parts[1] if len(parts) > 1 else None,
                        mem_clock_mhz=parts[2] if len(parts) > 2 else None)
    else:
        name = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        name = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        info.update(kind="cpu", name=name, cores=os.cpu_count())
    return info


#: what every :func:`measure` result holds (statistics in seconds, then the protocol it ran)
STAT_KEYS = ("avg", "min", "max", "p50", "p99", "std", "cv", "n")
PROTOCOL_KEYS = ("warmup", "reps", "target_cv", "max_rounds", "timer")


def check_measurement(st: dict, device: torch.device) -> None:
    """Raise ValueError naming the first field of a :func:`measure` result on ``device`` that is missing
    or inconsistent: the statistics (finite, avg > 0, min <= p50 <= max, min <= avg <= max, n = reps),
    the protocol, the timer of the device and, on CUDA, TF32 off for convolutions and matmuls (the
    FP32 measurement of :func:`fp32_only`)."""
    def bad(field, why):
        return ValueError(f"measurement field {field!r}: {why}")
    for k in STAT_KEYS:
        v = st.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise bad(k, f"must be a finite number, got {v!r}")
    if not (st["avg"] > 0 and st["min"] <= st["p50"] <= st["max"] and st["min"] <= st["avg"] <= st["max"]):
        raise bad("avg", f"inconsistent statistics {({k: st[k] for k in STAT_KEYS})}")
    proto = st.get("protocol")
    if not isinstance(proto, dict):
        raise bad("protocol", f"must be an object, got {proto!r}")
    for k in PROTOCOL_KEYS:
        if k not in proto:
            raise bad(f"protocol.{k}", "missing")
    if st["n"] != proto["reps"]:
        raise bad("n", f"{st['n']} samples, protocol says {proto['reps']} reps")
    timer = "cuda events" if device.type == "cuda" else "perf_counter_ns"
    if proto["timer"] != timer:
        raise bad("protocol.timer", f"{proto['timer']!r} on {device.type}, expected {timer!r}")
    if device.type == "cuda" and proto.get("tf32") != {"cudnn_conv": False, "cuda_matmul": False}:
        raise bad("protocol.tf32", f"must record TF32 off for both (FP32 measurement), got {proto.get('tf32')!r}")


def latency_stats(samples_s) -> dict:
    v = np.asarray(samples_s, dtype=float)
    return {"avg": float(v.mean()), "min": float(v.min()), "max": float(v.max()),
            "p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99)),
            "std": float(v.std()), "cv": float(v.std() / v.mean()) if v.mean() > 0 else 0.0, "n": int(v.size)}


@torch.inference_mode()
def measure(fn: Callable[[], object], device: torch.device, warmup: int = 5, reps: int = 20,
            target_cv: float = 0.05, max_rounds: int = 3) -> dict:
    """Time ``fn()`` (seconds per call) following the protocol in the module docstring."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    best = None
    for _ in range(max(1, max_rounds)):
        samples = []
        if device.type == "cuda":
            starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
            ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
            for i in range(reps):
                starts[i].record()
                fn()
                ends[i].record()
            torch.cuda.synchronize(device)
            samples = [s.elapsed_time(e) * 1e-3 for s, e in zip(starts, ends)]
        else:
            for _ in range(reps):
                t0 = time.perf_counter_ns()
                fn()
                samples.append((time.perf_counter_ns() - t0) * 1e-9)
        st = latency_stats(samples)
        if best is None or st["cv"] < best["cv"]:
            best = st
        if st["cv"] <= target_cv:
            break
    best["protocol"] = {"warmup": warmup, "reps": reps, "target_cv": target_cv, "max_rounds": max_rounds,
                        "timer": "cuda events" if device.type == "cuda" else "perf_counter_ns"}
    if device.type == "cuda":  # the precision the kernels ran at (see fp32_only)
        best["protocol"]["tf32"] = {"cudnn_conv": torch.backends.cudnn.allow_tf32,
                                    "cuda_matmul": torch.backends.cuda.matmul.allow_tf32}
    return best
