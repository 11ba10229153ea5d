#!/usr/bin/env python
"""accelsim's systolic model vs SCALE-Sim 3.0.0 on the same layers: cycles and wall time.

    python benchmarks/vs_scalesim.py            # default set (~5 min of SCALE-Sim time)
    python benchmarks/vs_scalesim.py --quick    # small layers only (~1 min)
    python benchmarks/vs_scalesim.py --full     # adds ResNet-18 conv1/layer1 and FCOS P5 at 800x1344 (~10+ min)

SCALE-Sim runs in its own virtual environment (default ``benchmarks/.venv-scalesim``,
created on first use with ``pip install scalesim==3.0.0 numpy==2.3.5``; it is not a
dependency of accelsim).  Both simulators get the same topology and config: SCALE-Sim's
``configs/scale.cfg`` (32x32, 64 KiB SRAMs, CALC bandwidth mode) with the dataflow of each
row.  SCALE-Sim has no padding and sizes outputs as ceil((H - R + s) / s), so its topology
gets the input extent the layer really reads, ``(P - 1) * s + R`` (padding included), which
gives both tools the same P x Q.  Compared: SCALE-Sim's ``Total Cycles`` (its compute
cycles; stalls are 0 in CALC mode) vs accelsim's ``compute_cycles``.  Wall times are per
layer, inside each process (no interpreter start-up or imports); accelsim's is
``run_instance`` on already materialised data with ``memory.model=double_buffered`` (the fold
walk with the DRAM model, effectual-MAC count and energy roll-up), best of 3 after one
warm-up call; SCALE-Sim's is one run (``save_disk_space=True``: no trace files written).
Exit status 0 when every layer's cycles match, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = HERE / ".venv-scalesim"
PINS = ["scalesim==3.0.0", "numpy==2.3.5"]

# SCALE-Sim v3 configs/scale.cfg, with the sections 3.0.0's parser requires
CFG = """[general]
run_name = bench
[architecture_presets]
ArrayHeight: {h}
ArrayWidth: {w}
IfmapSramSzkB: 64
FilterSramSzkB: 64
OfmapSramSzkB: 64
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : 10
Dataflow : {df}
ReadRequestBuffer: 512
WriteRequestBuffer: 512
[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2
[sparsity]
SparsitySupport : {sparse}
SparseRep : ellpack_block
OptimizedMapping : False
BlockSize : 8
RandomNumberGeneratorSeed : 40
[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

# Runs inside the SCALE-Sim venv: one single-layer topology per job, JSON line per result.
RUNNER = r'''
import contextlib, json, os, sys, time
from scalesim.scale_sim import scalesim
jobs = json.load(open(sys.argv[1]))
out = sys.stdout
for j in jobs:
    d = j["dir"]
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        t0 = time.perf_counter()
        s = scalesim(save_disk_space=True, verbose=False, config=d + "/arch.cfg", topology=d + "/topo.csv",
                     layout=d + "/layout.csv")
        s.run_scale(top_path=d + "/out")
        wall = time.perf_counter() - t0
    items = s.runner.single_layer_sim_object_list[0].get_compute_report_items()
    out.write(json.dumps({"id": j["id"], "total_cycles": int(items[1]), "stall_cycles": int(items[2]),
                          "cycles_incl_prefetch": int(items[0]), "wall_s": wall}) + "\n")
    out.flush()
'''


def ensure_venv(venv: Path) -> Path:
    """Python of a venv holding scalesim 3.0.0 + numpy 2.3.5 (created/installed when missing)."""
    py = venv / "bin" / "python"
    check = ("import importlib.metadata as m; import numpy; "
             "assert m.version('scalesim') == '3.0.0' and numpy.__version__ == '2.3.5'")
    if py.exists() and subprocess.run([str(py), "-c", check], capture_output=True).returncode == 0:
        return py
    print(f"creating {venv} with {' '.join(PINS)} ...", flush=True)
    r = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"vs_scalesim: cannot create venv {venv}: {r.stderr.strip().splitlines()[-1:]}")
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", *PINS], capture_output=True, text=True)
    if r.returncode or subprocess.run([str(py), "-c", check], capture_output=True).returncode:
        tail = " | ".join((r.stderr or r.stdout).strip().splitlines()[-3:])
        sys.exit(f"vs_scalesim: pip could not install {' '.join(PINS)} into {venv} (exit {r.returncode}): {tail}")
    return py


def layer_set(mode: str):
    """(Layer, dataflow, N:M or None) rows: a ResNet-18 subset and the FCOS head's 3x3 convs."""
    from workloads import Layer
    from workloads.networks import resnet18

    rn = resnet18()

    def fcos(level, P, Q, img):
        return Layer(f"fcos.{level}@{img}", "conv", C=256, K=256, H=P, W=Q, R=3, S=3, padding=1,
                     meta={"source": "FCOS head tower 3x3 conv, 256->256"})

    rows = [(rn.layers[n], "os", None) for n in ("layer2.0.downsample", "layer4.0.downsample", "fc")]
    rows += [(fcos("P7", 3, 3, "320x320"), "os", None), (fcos("P6", 5, 5, "320x320"), "os", None)]
    rows += [(rn.layers["layer4.0.downsample"], "ws", None), (rn.layers["layer4.0.downsample"], "is", None),
             (fcos("P7", 3, 3, "320x320"), "ws", (2, 4))]
    if mode == "quick":
        return rows
    rows += [(rn.layers[n], "os", None) for n in ("layer3.1.conv1", "layer4.1.conv1")]
    rows += [(fcos("P5", 10, 10, "320x320"), "os", None), (fcos("P7", 7, 11, "800x1344"), "os", None),
             (fcos("P6", 13, 21, "800x1344"), "os", None), (fcos("P7", 7, 11, "800x1344"), "ws", None)]
    if mode == "full":
        rows += [(rn.layers[n], "os", None) for n in ("conv1", "layer1.0.conv1")]
        rows += [(fcos("P5", 25, 42, "800x1344"), "os", None)]
    return rows


def nm_weights(L, n, m, seed=0):
    """Dense-valued weights with SCALE-Sim's N:M pattern: the first n of every m reduction rows."""
    import numpy as np
    Kw = (L.C // L.groups) * L.R * L.S
    keep = (np.arange(Kw) % m) < n
    w = np.random.default_rng(seed).standard_normal((L.K, Kw)) * keep
    return w.reshape(L.weight_shape)


def write_job(d: Path, L, df, nm, h, w):
    d.mkdir(parents=True)
    (d / "arch.cfg").write_text(CFG.format(h=h, w=w, df=df, sparse="true" if nm else "false"))
    Hs = (L.P - 1) * L.stride + L.dilation * (L.R - 1) + 1  # extent SCALE-Sim's ceil rule maps to P
    Ws = (L.Q - 1) * L.stride + L.dilation * (L.S - 1) + 1
    head = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
    row = f"{L.name},{Hs},{Ws},{L.R},{L.S},{L.C},{L.K},{L.stride},"
    if nm:
        head += " Sparsity,"
        row += f"{nm[0]}:{nm[1]},"
    (d / "topo.csv").write_text(head + "\n" + row + "\n")
    (d / "layout.csv").write_text("Layer name,\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="small layers only")
    g.add_argument("--full", action="store_true", help="add the big layers (SCALE-Sim takes 10+ minutes)")
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"SCALE-Sim venv (default {DEFAULT_VENV})")
    ap.add_argument("--array", default="32x32", help="array HxW (default 32x32, SCALE-Sim scale.cfg)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    a = ap.parse_args(argv)
    try:
        h, w = (int(x) for x in a.array.lower().split("x"))
    except ValueError:
        ap.error(f"--array: expected HxW like 32x32, got {a.array!r}")
    py = ensure_venv(a.venv)
    scalesim_ver = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('scalesim'))"],
                                  capture_output=True, text=True).stdout.strip()

    import numpy as np

    from accelsim.engine import make_model, run_instance
    from workloads import Workload

    mode = "quick" if a.quick else "full" if a.full else "default"
    rows = layer_set(mode)
    tmp = Path(tempfile.mkdtemp(prefix="vs_scalesim_"))
    jobs = []
    for i, (L, df, nm) in enumerate(rows):
        d = tmp / f"job{i}"
        write_job(d, L, df, nm, h, w)
        jobs.append({"id": i, "dir": str(d)})
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    (tmp / "runner.py").write_text(RUNNER)

    # accelsim first (fast), SCALE-Sim streams its rows afterwards
    ours = []
    warm = make_model("systolic", {"array.height": h, "array.width": w})
    for i, (L, df, nm) in enumerate(rows):
        over = {"array.height": h, "array.width": w, "dataflow": df, "memory.model": "double_buffered"}
        lay = L
        if nm:
            from dataclasses import replace
            lay = replace(L, weights=nm_weights(L, *nm), weight_density=None)
            over.update({"sparsity.enabled": True, "sparsity.N": nm[0], "sparsity.M": nm[1]})
        wl = Workload("bench")
        wl.add_layer(lay)
        inst = wl.instance(lay.name, 0).materialize(0)
        model = make_model("systolic", over)
        if i == 0:
            run_instance(warm, inst)  # numba cache load / compile
        best = float("inf")
        for _ in range(3):  # best of 3: the runs take milliseconds on a machine shared with others
            t0 = time.perf_counter()
            r = run_instance(model, inst)
            best = min(best, time.perf_counter() - t0)
        ours.append((r, best))

    print(f"# accelsim systolic vs SCALE-Sim {scalesim_ver}: {h}x{w} array, scale.cfg SRAMs, CALC bandwidth")
    print(f"# machine: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    hdr = ("| layer | df | GEMM M x K x N | folds | SCALE-Sim cycles | accelsim cycles | ratio | SCALE-Sim s "
           "| accelsim s | speed-up |")
    print(hdr)
    print("|" + "---|" * 10)
    out_rows, ok = [], True
    proc = subprocess.Popen([str(py), str(tmp / "runner.py"), str(tmp / "jobs.json")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp)
    for line in proc.stdout:
        s = json.loads(line)
        L, df, nm = rows[s["id"]]
        r, t = ours[s["id"]]
        ours_c = r.extra["compute_cycles"]
        match = ours_c == s["total_cycles"] and s["stall_cycles"] == 0
        ok &= match
        M, K, N = r.extra["gemm_MxKxN"]
        tag = df + (f" {nm[0]}:{nm[1]}" if nm else "")
        print(f"| {L.name} | {tag} | {M} x {K} x {N} | {r.extra['folds']} | {s['total_cycles']} | {ours_c} | "
              f"{ours_c / s['total_cycles']:.6f} | {s['wall_s']:.2f} | {t:.4f} | {s['wall_s'] / t:,.0f}x |",
              flush=True)
        out_rows.append({"layer": L.name, "dataflow": df, "nm": nm, "gemm_MxKxN": [M, K, N], "folds": r.extra["folds"],
                         "scalesim_cycles": s["total_cycles"], "scalesim_stall_cycles": s["stall_cycles"],
                         "accelsim_cycles": ours_c, "scalesim_wall_s": s["wall_s"], "accelsim_wall_s": t})
    err = proc.stderr.read()
    if proc.wait() != 0:
        sys.exit(f"vs_scalesim: SCALE-Sim failed (exit {proc.returncode}): {' | '.join(err.strip().splitlines()[-3:])}")
    tot_s = sum(x["scalesim_wall_s"] for x in out_rows)
    tot_a = sum(x["accelsim_wall_s"] for x in out_rows)
    n_ok = sum(x["scalesim_cycles"] == x["accelsim_cycles"] for x in out_rows)
    print(f"\n{n_ok}/{len(out_rows)} layers with identical compute cycles; total wall SCALE-Sim {tot_s:.1f} s, "
          f"accelsim {tot_a:.3f} s ({tot_s / tot_a:,.0f}x)")
    if a.json:
        a.json.write_text(json.dumps({"scalesim": scalesim_ver, "array": [h, w], "rows": out_rows}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
