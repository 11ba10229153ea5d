"""Every GPU check of the project in one prepared run, for a session that is lent a GPU.

    python benchmarks/gpu_session.py --out "$OUT"                                # on the GPU machine
    python benchmarks/gpu_session.py --device cpu --quick --out /tmp/gpu_dry_run   # dry run, any machine

Needs only torch and numpy (the GPU machine has its own CUDA torch and may lack numba, scipy,
PIL, pytest): the simulators are not imported.  Nor does it need ``pip install``: the GPU machine
reaches no package index, so pip could not fetch the build backend; the repository root is put on
the import path of this script and of every step it runs.  Steps, each timed and written to
``--out`` as at most 8 files in one folder (what a lent GPU machine returns from ``$OUT``):

1. ``device.json``: the card, clocks, driver, torch/CUDA versions;
2. ``checks.json``: the CUDA checks of the test suite as plain assertions, in FP32 (TF32 off,
   see ``accelsim.gpu.fp32_only``). The masked (gather-GEMM-scatter) head equals the dense head
   on CUDA with every gate open, and equals the CPU result. ``accelsim.gpu.measure`` runs with
   CUDA events and records its protocol (``accelsim.gpu.check_measurement``). The shipped Small
   head, timed as compare times it, runs every traced conv (hooks) and its dense and masked
   outputs equal their FP64 CPU evaluation (``accelsim.compare.measure.check_masked_vs_dense``).
   The compare steps below assert, on CUDA, that each timed forward runs exactly the convs the
   simulators are given (gate convs included at ``--width``);
3. ``compare_c32.json`` -- the compare.json of ``accelsim compare --targets ''`` (measurement
   only) at the default setting (shipped C=32 models, 256x256, 3 images);
4. ``compare_paper.json`` -- the same at the paper's setting: C=256 heads driven by the trained
   gates, baseline depth 6, 800x1333, 4 images;
5. ``head_latency.jsonl`` -- ``benchmarks/dynhead_latency.py``: a random C=256 D=6 dynamic head
   at 800x1344, dense vs masked, batch 1 and 4, gates open at 10 %, 30 % and 100 %;
6. ``summary.md`` -- the numbers above as markdown, with the card's name, for benchmarks/RESULTS.md;
   ``log.txt`` -- every command with its return code and time.

Back on the CPU machine, ``accelsim compare --measured <out>/compare_paper.json`` with the
same settings (``--width 256 --baseline-depth 6 --size 800x1333 --images 4``) puts these
measured rows beside the simulated accelerators.  ``--quick`` shrinks every step for a dry run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # accelsim and dynhead without an install (see the module doc)
#: the steps' environment: the repository importable from any script path
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def _run(cmd: list[str], log) -> tuple[int, float]:
    t0 = time.perf_counter()
    log(f"$ {' '.join(cmd)}")
    rc = subprocess.run(cmd, cwd=ROOT, env=ENV).returncode
    dt = time.perf_counter() - t0
    log(f"  -> rc {rc}, {dt:.1f} s")
    return rc, dt


def checks(device: torch.device, quick: bool) -> dict:
    """The CUDA tests of the suite, as plain assertions (pytest/hypothesis may be absent)."""
    from accelsim.gpu import check_measurement, fp32_only, measure
    from dynhead.model import build_head, random_features, random_gate_override
    out = {"tf32_before": fp32_only()}  # the tolerances below are FP32 ones
    torch.manual_seed(0)
    C = 32 if quick else 64
    h = build_head("dynamic", 2, C, 5).eval()
    f = random_features((128, 192), C, batch=2, seed=3)
    gates = random_gate_override(h, f, 1.0, seed=1)           # every gate open
    from dynhead.model import HeadContext
    with torch.no_grad():
        ref = h(f, masked=False, ctx=HeadContext(gate_override=gates))
        hd = h.to(device)
        fd = [x.to(device) for x in f]
        gd = {k: v.to(device) for k, v in gates.items()}
        dense = hd(fd, masked=False, ctx=HeadContext(gate_override=gd))
        masked = hd(fd, masked=True, ctx=HeadContext(masked=True, gate_override=gd))
    flat = lambda o: [t for lvl in o for t in (lvl if isinstance(lvl, (list, tuple)) else [lvl])]  # noqa: E731
    rel_mask = max(float((x - y).abs().max() / y.abs().max().clamp_min(1e-12))
                   for x, y in zip(flat(masked), flat(dense)))
    rel_cpu = max(float((x.cpu() - y).abs().max() / y.abs().max().clamp_min(1e-12))
                  for x, y in zip(flat(dense), flat(ref)))
    out["masked_vs_dense_all_open_max_rel"] = rel_mask
    out["device_vs_cpu_dense_max_rel"] = rel_cpu
    out["masked_equals_dense"] = rel_mask < 1e-4
    out["device_equals_cpu"] = rel_cpu < 1e-3     # other kernels, other summation order on a GPU
    st = measure(lambda: hd(fd, masked=False, ctx=HeadContext(gate_override=gd)), device, warmup=2, reps=5)
    out["measure_protocol"] = st.get("protocol")
    check_measurement(st, device)  # ValueError: recorded as this step's error
    out["measure_ok"] = True
    # the shipped Small head as compare times it: every traced conv runs (hooks), dense and masked
    # outputs equal their FP64 CPU evaluation, measurements complete (RuntimeError otherwise)
    import dynhead
    from accelsim.compare.measure import check_masked_vs_dense
    img = torch.from_numpy(dynhead.sample_images()[0]).permute(2, 0, 1)[None].float()
    r = check_masked_vs_dense(dynhead.load_shipped("small"), img, device, reps=3 if quick else 30,
                              warmup=1 if quick else 5)
    out["small_head"] = {"max_rel_err_vs_fp64": r["max_rel_err"], "tolerance": r["tolerance"],
                         "convs_timed": r["convs_timed"], "dense_ms": r["dense"]["avg"] * 1e3,
                         "masked_ms": r["masked"]["avg"] * 1e3}
    return out


#: device.json fields quoted in summary.md (names as accelsim.gpu.device_info writes them)
_DEVICE_KEYS = ("name", "driver", "cuda", "torch", "capability", "sm_clock_mhz", "max_sm_clock_mhz")


def _fmt_compare(path: Path) -> list[str]:
    res = json.loads(path.read_text())
    lines = [f"### {path.stem}: {res['settings']['size'][0]}x{res['settings']['size'][1]}, C={res['settings']['width']}, "
             f"{res['settings']['images']} image(s), {res['device_label']}", "",
             "| model | target | batch | latency ms avg (min-max) | speedup vs baseline | worst CV |", "|---|---|---|---|---|---|"]
    for e in res["entries"]:
        if e["kind"] not in ("measured", "reference"):
            continue
        lat = e["latency_s"]
        rng = f" ({lat['min'] * 1e3:.3f}-{lat['max'] * 1e3:.3f})" if lat.get("min") is not None else ""
        sp = f"{e['speedup_vs_baseline']:.2f}x" if e.get("speedup_vs_baseline") else "-"
        cv = f"{e['cv_max']:.3f}" if e.get("cv_max") is not None else "-"
        lines.append(f"| {e['model']} | {e['target']} | {e.get('batch', 1)} | {lat['avg'] * 1e3:.3f}{rng} | {sp} | {cv} |")
    return lines + [""]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a dry run of the script itself)")
    a = p.parse_args(argv)
    from accelsim.gpu import device_info, pick_device
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "log.txt", "w")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    device = pick_device(a.device)
    dev = device_info(device)
    (out / "device.json").write_text(json.dumps(dev, indent=2))
    log(f"device: {dev.get('name')} ({dev.get('device')})")
    t0 = time.perf_counter()
    try:
        ck = checks(device, a.quick)
    except Exception as e:  # noqa: BLE001 - a failed check must not cost the measurements after it
        ck = {"error": f"{type(e).__name__}: {e}"}
    (out / "checks.json").write_text(json.dumps(ck, indent=2))
    log(f"checks: {json.dumps(ck)} ({time.perf_counter() - t0:.1f} s)")
    py = sys.executable
    q = ["--images", "1", "--reps", "3", "--warmup", "1", "--batch", "2"] if a.quick else ["--reps", "30"]
    runs = {
        "compare_c32": ["--size", "256x256", *(q if a.quick else ["--images", "3", *q])],
        "compare_paper": (["--width", "64", "--baseline-depth", "6", "--size", "256x256", *q] if a.quick else
                          ["--width", "256", "--baseline-depth", "6", "--size", "800x1333", "--images", "4", *q]),
    }
    rcs = {}
    scratch = Path(tempfile.mkdtemp(prefix="gpu_session_"))  # compare's md/csv stay here: 8 files come back
    for name, extra in runs.items():
        rcs[name], _ = _run([py, "-m", "accelsim", "compare", "--targets", "", "--device", a.device, "--no-plots",
                             "--quiet", "--out", str(scratch / name), *extra], log)
        if (scratch / name / "compare.json").is_file():  # at once: a later step may outrun the time limit
            shutil.copyfile(scratch / name / "compare.json", out / f"{name}.json")
    lat = (["--channels", "32", "--depth", "2", "--size", "128x192", "--batch", "1", "--density", "0.3",
            "--repeats", "2"] if a.quick else
           ["--channels", "256", "--depth", "6", "--size", "800x1344", "--batch", "1", "4", "--repeats", "10"])
    dens = ["0.3"] if a.quick else ["0.1", "0.3", "1.0"]
    with open(out / "head_latency.jsonl", "w") as fh:
        for d in dens:
            args = [py, str(ROOT / "benchmarks" / "dynhead_latency.py"), "--device", a.device, *lat]
            if "--density" not in args:
                args += ["--density", d]
            t1 = time.perf_counter()
            log(f"$ {' '.join(args)}")
            r = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True)
            fh.write(r.stdout)
            rcs[f"head_latency_{d}"] = r.returncode
            log(f"  -> rc {r.returncode}, {time.perf_counter() - t1:.1f} s" + (f"\n{r.stderr[-2000:]}" if r.returncode else ""))
    checks_ok = "error" not in ck and ck["masked_equals_dense"] and ck["device_equals_cpu"] and ck["measure_ok"]
    lines = [f"## GPU session: {dev.get('name')}", "",
             f"- device: {json.dumps({k: dev.get(k) for k in _DEVICE_KEYS})}",
             (f"- checks: masked == dense (all gates open) max rel {ck['masked_vs_dense_all_open_max_rel']:.2e}; "
              f"device == CPU max rel {ck['device_vs_cpu_dense_max_rel']:.2e}; Small head vs FP64 "
              f"{json.dumps(ck['small_head']['max_rel_err_vs_fp64'])} (tolerance {ck['small_head']['tolerance']:.1e}, "
              f"{ck['small_head']['convs_timed']} convs timed); pass: {checks_ok}"
              if "error" not in ck else f"- checks: FAILED ({ck['error']})"),
             f"- return codes: {json.dumps(rcs)}", ""]
    for name in runs:
        if (out / f"{name}.json").is_file():
            lines += _fmt_compare(out / f"{name}.json")
    if (out / "head_latency.jsonl").stat().st_size:
        lines += ["### dynhead_latency.py", "", "```", (out / "head_latency.jsonl").read_text().strip(), "```", ""]
    (out / "summary.md").write_text("\n".join(lines))
    log(f"wrote {out / 'summary.md'} ({time.perf_counter() - t0:.1f} s in all)")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if all(v == 0 for v in rcs.values()) and checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
