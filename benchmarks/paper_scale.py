#!/usr/bin/env python
"""The paper's setting (``accelsim compare --paper``) for one bundled image: what it costs to simulate here,
sampled and exhaustive, and how accurate the sampling is (issue 14).

    python benchmarks/paper_scale.py                       # both parts (the acceptance run)
    python benchmarks/paper_scale.py --part speed          # paper setting, --sample auto, one image
    python benchmarks/paper_scale.py --part accuracy --accuracy-size 400x672 --accuracy-images 2
    python benchmarks/paper_scale.py --part speed --size 400x672 --dask-local 2   # compare's Dask path

Part ``speed``: trace the three heads of the paper's setting (C = 256, the gate-free baseline at depth 6,
the dynamic heads at the shipped depth, 800x1333; ``CompareSettings.paper``) on one bundled image, then
simulate every head on every target with ``--sample auto`` (``engine.simulate``, ``--jobs``) and print
the wall seconds per target and in all.  The exhaustive time of each target is printed beside it:
*measured* where the run was exhaustive anyway (targets without work units, whose timing has exact fast
paths), else *extrapolated* = the heads' effectual MACs / the target's exhaustive rate in effectual MACs
per second per core (``benchmarks/throughput.py``'s layer family) / the worker count: labelled so.

Part ``accuracy``: the same heads at a smaller input (default 400x672, 2 images), where exhaustive
simulation is affordable, on the targets that sample (they name their work units): exhaustive and
``auto`` side by side.  Printed: every (head, target) total's relative error, and over all sampled layers
the share whose exhaustive cycles fall inside the reported 95 % interval.

``--dask-local N`` / ``--scheduler ADDRESS`` (speed part): every target's heads as one queue on Dask, as
``accelsim compare`` runs them there; one wall time, and a hash over every report to compare with a local
run (it must be equal).  The traces go to every worker: 6.9 GiB each at 800x1333 (``Workload.nbytes``);
a local cluster refuses copies that would not fit in memory.

Numba and BLAS threads are pinned to one per process (``--jobs`` processes simulate the layers).
"""

from __future__ import annotations

import os

for _v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))


def trace_heads(size, images: int, seed: int = 0):
    """``(settings, {row: Workload}, wall s)``: the three heads of the paper's setting (C = 256, baseline D6)
    at ``size`` on the first ``images`` bundled images (the compare pipeline, no measurement)."""
    import torch

    from accelsim.compare import CompareSettings
    from accelsim.compare.rows import image_tensors, load_rows, prepare, raw_images
    from accelsim.compare.trace import trace_row

    t0 = time.perf_counter()
    kw = dict(images=images, measure=False, plots=False, seed=seed, quiet=True)
    if tuple(size) == CompareSettings.PAPER["size"]:
        s = CompareSettings.paper(**kw)
    else:
        s = CompareSettings(width=256, baseline_depth=6, size=size, **kw)
    torch.manual_seed(s.seed)
    raw = raw_images(s)[:images]
    rows, _ = load_rows(s)
    prepare(rows, image_tensors(raw, s.size), s.seed)
    traces = {name: trace_row(name, row, s, raw) for name, row in rows.items()}
    return s, traces, time.perf_counter() - t0


def effectual(traces) -> dict[str, int]:
    """Effectual MACs of every head over all its images (``workloads.effectual``, the reports' count)."""
    from workloads.effectual import effectual_macs
    return {row: sum(int(effectual_macs(wl.instance(n, i).materialize(0))) for i in range(wl.n_images)
                     for n in wl.layer_names()) for row, wl in traces.items()}


def exhaustive_rate(target: str, budget: float) -> float:
    """Effectual MACs per second per core of ``target`` simulated exhaustively (throughput.py)."""
    from throughput import bench_model
    r = bench_model(target, budget, 2)
    if "error" in r:
        raise RuntimeError(f"{target}: {r['error']}")
    return float(r["eff_macs_per_s"])


def run_target(target: str, traces, sample: str, jobs: int, reuse: dict | None = None, executor=None):
    """``({row: Report}, wall s)``: every head on ``target``.  ``reuse`` (a dict shared by the targets of a run,
    as ``accelsim compare`` does): layers whose result another target already gave under the same
    ``reuse_key`` (scnn-maskskip on the unmasked baseline head = scnn) are not simulated again.
    ``executor``: the run's :class:`accelsim.forkpool.ForkPool` (as ``accelsim compare``), else a pool per call."""
    from accelsim.engine import make_model, simulate, simulate_pairs, with_sampling
    model = make_model(target)
    t0 = time.perf_counter()
    if executor is not None:  # the three heads in one queue (accelsim compare: every target too)
        got = simulate_pairs([(with_sampling(model, sample, 0), wl) for wl in traces.values()], executor, seed=0,
                             reuse={} if reuse is None else reuse)
        reps = dict(zip(traces, got))
    else:
        reps = {row: simulate(wl, model, jobs=jobs, seed=0, on_unsupported="skip", progress=False, sample=sample,
                              reuse=reuse) for row, wl in traces.items()}
    return reps, time.perf_counter() - t0


def sampled_layers(rep) -> int:
    return sum(1 for r in rep.results if (r.extra.get("sampling") or {}).get("cycles_var") is not None)


def _row(a, t, reps, wall, cpu, eff, out) -> None:
    """Print and record one target's row: ``reps`` its reports by head, ``wall`` its wall s (None: it ran in
    one queue with the others), ``cpu`` its workers' CPU s (None: not known)."""
    n_s = sum(sampled_layers(r) for r in reps.values())
    n_l = sum(len(r.results) for r in reps.values())
    cyc = sum(r.total()["cycles"] for r in reps.values())
    hw = sum((r.total().get("sampling") or {}).get("cycles_half_width", 0.0) ** 2 for r in reps.values()) ** 0.5
    if n_s:
        rate = exhaustive_rate(t, a.budget)
        ex_s, how = sum(eff.values()) / rate / a.jobs, f"extrapolated ({rate:.3g} eff. MACs/s/core)"
    elif wall is not None:
        ex_s, how = wall, "measured (this run was exhaustive)"
    else:
        ex_s, how = 0.0, "in the queue's wall (this run was exhaustive)"
    out["targets"][t] = {"wall_s": wall, "worker_cpu_s": cpu, "sampled_layers": n_s, "layers": n_l,
                         "cycles": cyc, "cycles_half_width": hw, "exhaustive_s": ex_s, "exhaustive_from": how,
                         "report_hashes": {row: r.hash for row, r in reps.items()}}
    busy = "-" if cpu is None or wall is None else f"{cpu / (a.jobs * wall):.0%}"
    w = "(one queue)" if wall is None else f"{wall:.1f}"
    print(f"| {t} | {n_s}/{n_l} | {w} | {busy} | {cyc:,} +- {hw:,.0f} | {ex_s:,.0f} | {how} |", flush=True)


def _hash(out) -> str:
    import hashlib
    return hashlib.sha256(json.dumps([v["report_hashes"] for v in out["targets"].values()]).encode()).hexdigest()


def _speed_rows(a, targets, traces, eff, reuse, pool, out) -> float:
    """Simulate the heads on every target (on ``pool`` when given), print a row each; the summed wall s."""
    total = 0.0
    for t in targets:
        cpu0 = pool.cpu_s if pool is not None else None
        reps, wall = run_target(t, traces, a.sample, a.jobs, reuse, pool)
        total += wall
        # the workers' CPU s on this target's tasks: jobs x wall - this is time a worker waited (the last chunks,
        # the parent's reports); not known with a pool per call
        _row(a, t, reps, wall, None if pool is None else pool.cpu_s - cpu0, eff, out)
    out["hash"] = _hash(out)
    return total


def _speed_dask(a, targets, traces, eff, reuse, ex, out) -> float:
    """Every target's heads as one queue on the Dask executor ``ex`` (as ``accelsim compare --dask-local``
    runs them: each model and workload scattered to every worker once); a row per target, one wall s."""
    from accelsim.engine import make_model, simulate_pairs, with_sampling
    t0 = time.perf_counter()
    pairs = [(with_sampling(make_model(t), a.sample, 0), wl) for t in targets for wl in traces.values()]
    got = iter(simulate_pairs(pairs, ex, seed=0, reuse={} if reuse is None else reuse))
    wall = time.perf_counter() - t0
    for t in targets:
        _row(a, t, {row: next(got) for row in traces}, None, None, eff, out)
    out["hash"], out["worker_cpu_s"] = _hash(out), ex.cpu_s
    print(f"\nthe queue: {wall:.1f} s wall, workers busy {ex.cpu_s / (a.jobs * wall):.0%} "
          f"({ex.cpu_s:.1f} CPU s on the units)")
    return wall


def part_speed(a) -> dict:
    from accelsim.compare import default_targets
    from dynhead.cost import parse_size
    targets = [t for t in (a.targets or ",".join(default_targets())).split(",") if t]
    s, traces, trace_s = trace_heads(parse_size(a.size), 1)
    where = f"--dask-local {a.dask_local}" if a.dask_local else f"--scheduler {a.scheduler}" if a.scheduler else \
        f"--jobs {a.jobs}"
    print(f"\n## speed: the paper's setting, C={s.width}, baseline D{s.baseline_depth}, {s.size[0]}x{s.size[1]}, "
          f"bundled image 0, --sample {a.sample}, {where}")
    print(f"traced the three heads in {trace_s:.1f} s (not counted below)")
    eff = effectual(traces)
    print("effectual MACs: " + ", ".join(f"{r} {v:.3e}" for r, v in eff.items()))
    print("\n| target | sampled layers | wall s (sampled run) | workers busy | total cycles +- 95 % (all heads) "
          "| exhaustive s | exhaustive from |\n|---|---|---|---|---|---|---|")
    out, total = {"targets": {}, "trace_s": trace_s, "reuse": not a.no_reuse}, 0.0
    reuse = None if a.no_reuse else {}  # shared by the targets (as accelsim compare does; keys name the head)
    # warm-up: numba's cache load of each target's kernels on a small layer is not the paper's setting
    from accelsim.engine import make_model, run_instance
    from workloads import Layer, LayerInstance
    warm = LayerInstance(Layer("warm", "conv", C=16, K=16, H=8, W=8, R=3, S=3, padding=1, weight_density=0.5,
                               act_density=0.5), 0)
    for t in targets:
        try:
            run_instance(make_model(t), warm, seed=0)
        except Exception:  # noqa: BLE001 - a target that declines the warm-up layer warms up on the heads
            pass
    # one pool for every target, forked after the warm-ups (its workers inherit the loaded kernels), as
    # accelsim compare does; --fork-per-call: a pool per simulate call (before 2026-12-01)
    from accelsim.forkpool import ForkPool
    with contextlib.ExitStack() as stack:
        t0 = time.perf_counter()
        if a.dask_local or a.scheduler:
            from accelsim.distributed import DaskExecutor
            pool = stack.enter_context(DaskExecutor(a.scheduler, a.dask_local))
            a.jobs = pool.n_workers  # the extrapolated exhaustive time divides by the workers
            out["pool"], out["pool_start_s"] = f"Dask, {pool.n_workers} workers", time.perf_counter() - t0
            total = out["pool_start_s"] + _speed_dask(a, targets, traces, eff, reuse, pool, out)
        else:
            pool = None if a.jobs <= 1 or a.fork_per_call else stack.enter_context(ForkPool(a.jobs, traces.values()))
            out["pool"] = "per call" if pool is None else "one for the run"
            out["pool_start_s"] = time.perf_counter() - t0
            total = out["pool_start_s"] + _speed_rows(a, targets, traces, eff, reuse, pool, out)  # its start counts
    ex_total = sum(v["exhaustive_s"] for v in out["targets"].values())
    limit = " (limit 120 s)" if tuple(s.size) == (800, 1333) else ""
    print(f"\nall targets: {total:.1f} s per image with --sample {a.sample}{limit}; exhaustive "
          f"{ex_total:,.0f} s ({ex_total / 3600:.1f} h; measured + extrapolated as labelled)")
    print(f"reports' hash (sha256 over every (target, head) report_hash, any executor): {out['hash']}")
    out.update(total_s=total, exhaustive_total_s=ex_total)
    return out


def part_accuracy(a) -> dict:
    from accelsim.sampling import SampleSpec
    from dynhead.cost import parse_size
    size = parse_size(a.accuracy_size)
    targets = [t for t in a.accuracy_targets.split(",") if t]
    s, traces, trace_s = trace_heads(size, a.accuracy_images)
    print(f"\n## accuracy: C={s.width}, baseline D{s.baseline_depth}, {s.size[0]}x{s.size[1]}, "
          f"{a.accuracy_images} image(s), exhaustive vs --sample {a.sample}; traced in {trace_s:.1f} s")
    print("\n| head | target | exhaustive cycles | sampled cycles +- 95 % | rel. error | sampled layers "
          "| covered | wall exhaustive s | wall sampled s |\n|---|---|---|---|---|---|---|---|---|")
    out, cov, n_all, worst = {"rows": []}, 0, 0, 0.0
    # layers that took SCNN's barrier rule unsampled, those of them with the exhaustive cycles, the others
    b_all, b_exact, misses = 0, 0, []
    # ... and of those with imputed stalls: how many the stall interval covers (exhaustive stall PE-cycles inside
    # the imputed +- half-width)
    s_all, s_cov = 0, 0
    spec = SampleSpec.parse(a.sample)
    for t in targets:
        ex, w_ex = run_target(t, traces, "off", a.jobs)
        sm, w_sm = run_target(t, traces, spec, a.jobs)
        for row in traces:
            e_tot, s_tot = ex[row].total()["cycles"], sm[row].total()["cycles"]
            hw = (sm[row].total().get("sampling") or {}).get("cycles_half_width", 0.0)
            err = (s_tot - e_tot) / max(1, e_tot)
            worst = max(worst, abs(err))
            c = n = 0
            for re, rs in zip(ex[row].results, sm[row].results):
                smp = rs.extra.get("sampling") or {}
                if "barrier" in rs.extra and smp.get("cycles_var") is None:
                    # SCNN's barrier rule (models/scnn/barrier.py) on a layer not sampled: cycles must be exact
                    b_all += 1
                    b_exact += rs.cycles == re.cycles
                    if rs.cycles != re.cycles:
                        misses.append(f"{row} {t} {re.name}: {rs.cycles:,} vs {re.cycles:,}")
                    b = rs.extra["barrier"]
                    if b["imputed"]:
                        s_all += 1
                        d = abs(rs.extra["conflict_stall_pe_cycles"] - re.extra["conflict_stall_pe_cycles"])
                        s_cov += d <= b["stall_half_width"]
                if smp.get("cycles_var") is None:
                    continue
                lo, hi = smp["cycles_ci"]
                n += 1
                c += lo <= re.cycles <= hi
            cov, n_all = cov + c, n_all + n
            out["rows"].append({"head": row, "target": t, "exhaustive": e_tot, "sampled": s_tot, "half_width": hw,
                                "rel_error": err, "sampled_layers": n, "covered": c,
                                "wall_exhaustive_s": w_ex, "wall_sampled_s": w_sm})
            print(f"| {row} | {t} | {e_tot:,} | {s_tot:,} +- {hw:,.0f} | {100 * err:+.3f} % | {n} | {c} "
                  f"| {w_ex:.1f} | {w_sm:.1f} |", flush=True)
    share = cov / n_all if n_all else float("nan")
    print(f"\nworst total error {100 * worst:.3f} % (limit 1 %); exhaustive value inside the 95 % interval for "
          f"{cov} of {n_all} sampled layers ({100 * share:.1f} %, limit 90 %)")
    print(f"SCNN's barrier rule (crossbar walked only for candidate barrier PEs), layers not sampled otherwise: "
          f"the exhaustive cycles exactly on {b_exact} of {b_all}" + "".join(f"\n  miss: {m}" for m in misses))
    print(f"  of them with imputed stalls: the exhaustive stall PE-cycles inside the 95 % interval on {s_cov} of "
          f"{s_all}" + (f" ({100 * s_cov / s_all:.1f} %)" if s_all else ""))
    out.update(worst_rel_error=worst, covered=cov, sampled_layers=n_all, coverage=share, barrier_layers=b_all,
               barrier_exact=b_exact, barrier_misses=misses, stall_layers=s_all, stall_covered=s_cov)
    return out


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip() or "?"
    except OSError:
        return "?"


def _cpu() -> str:
    """CPU model, family and whether it has AVX-512: the same code took 2.0-2.2x the CPU seconds on a VM
    without it (RESULTS §7, tenth and twelfth passes), so the wall times here mean little without it."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    except OSError:
        return platform.processor() or "cpu unknown"
    avx512 = "avx512f" in info.get("flags", "").split()
    return (f"{info.get('model name', '?')} (family {info.get('cpu family', '?')} model {info.get('model', '?')}, "
            f"{'with' if avx512 else 'no'} AVX-512)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("speed", "accuracy", "both"), default="both")
    ap.add_argument("--targets", default=None, help="speed part: targets (default: compare's default targets)")
    ap.add_argument("--sample", default="auto", help="off, auto or a fraction (default auto)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    ap.add_argument("--no-reuse", action="store_true",
                    help="speed part: simulate every target's layers itself, even where another target's result "
                         "stands for it (AcceleratorModel.reuse_key)")
    ap.add_argument("--fork-per-call", action="store_true",
                    help="speed part: fork a worker pool per simulate call (as before 2026-12-01), not one for the run")
    ap.add_argument("--size", default="800x1333", help="speed part: input HxW (default the paper's 800x1333)")
    ap.add_argument("--dask-local", type=int, default=None,
                    help="speed part: every target as one queue on a local Dask cluster of N worker processes "
                         "(accelsim compare's Dask path; the traces are scattered to each worker: mind the memory)")
    ap.add_argument("--scheduler", default=None, help="speed part: as --dask-local, on this Dask scheduler")
    ap.add_argument("--budget", type=float, default=3.0,
                    help="seconds of throughput.py's largest layer per target, for the extrapolated exhaustive time")
    ap.add_argument("--accuracy-size", default="400x672")
    ap.add_argument("--accuracy-images", type=int, default=2)
    ap.add_argument("--accuracy-targets", default="scnn,scnn-maskskip,eie",
                    help="targets that sample (name their work units; eyeriss-v2 samples only with "
                         "mapper.top_k 1, not its preset's 4)")
    ap.add_argument("--json", help="also write everything to this JSON file")
    a = ap.parse_args(argv)
    print("# accelsim: the paper's setting, sampled and exhaustive (benchmarks/paper_scale.py)")
    print(f"# machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, {_cpu()}, python "
          f"{platform.python_version()}; commit {_commit()}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# command: python benchmarks/paper_scale.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    res = {}
    from accelsim.errors import AccelsimError
    from dynhead.errors import DynheadError
    try:
        if a.part in ("speed", "both"):
            res["speed"] = part_speed(a)
        if a.part in ("accuracy", "both"):
            res["accuracy"] = part_accuracy(a)
    except (AccelsimError, DynheadError) as e:  # bad settings (--size, --dask-local copies that do not fit): one line
        print(f"paper_scale.py: {e}", file=sys.stderr)
        return 2
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
