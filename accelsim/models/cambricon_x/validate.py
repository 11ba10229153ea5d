"""Cambricon-X validation suite (``accelsim validate cambricon-x``): the paper's peak, speedup and energy
saving over DianNao on pruned AlexNet / VGG16, and the model's invariants and functional output."""

from __future__ import annotations

import time

import numpy as np

from ...checks import check
from ..common.nfu import chip_power_rows, network_power, network_runs, pruned_weights
from .formats import IM_ACTIONS

PAPER_SPEEDUP = 7.23   # average over the paper's benchmarks vs DianNao [conf, abstract]
PAPER_ENERGY = 6.43    # average energy saving vs DianNao [conf, abstract]
PAPER_PEAK = 544e9     # ops/s headline [conf, abstract]
PAPER_POWER_W = 0.954  # chip power, 16 PEs, 1 GHz, 65 nm, after layout [conf, abstract; accelerators.md §4.1]


def _small_layers(seed: int):
    """A handful of small seeded layers (conv, strided conv with groups, fc, depthwise) for the self-checks."""
    from workloads import Layer
    rng = np.random.default_rng([seed, 66])
    specs = [dict(name="conv", kind="conv", C=8, K=20, H=9, W=9, R=3, S=3, padding=1),
             dict(name="conv_s2_g2", kind="conv", C=8, K=24, H=11, W=10, R=3, S=3, stride=2, padding=1, groups=2),
             dict(name="fc", kind="fc", C=700, K=40),
             dict(name="dw", kind="depthwise", C=16, K=16, H=8, W=8, R=3, S=3, padding=1, groups=16)]
    out = []
    for s in specs:
        L = Layer(**s)
        w = pruned_weights(L.weight_shape, 0.3, rng)
        acts = np.maximum(0.0, rng.standard_normal(L.act_shape))
        mask = rng.random((L.P, L.Q)) > 0.3
        out.append((Layer(**s, weights=w.dense()), acts, mask))
    return out


def validate(shared=None, full: bool = False) -> dict:
    """Checks of the Cambricon-X model against the paper (Zhang et al., MICRO 2016) and against itself.

    * peak: 16 PEs x 16 multipliers x 2 ops x 1 GHz = 512 GOP/s of useful work,
      also sustained on a dense FC layer with ideal memory; the paper's 544 GOP/s
      headline counts 2 more ops per PE per cycle (see the module docstring).
    * pruned AlexNet and VGG16 (zoo layer tables, Han et al. densities, seeded
      magnitude-pruned He-normal weights, dense activations): per-layer and
      per-network speedup and energy saving over DianNao, beside the paper's
      7.23x / 6.43x averages (which also include smaller networks).  Default
      mode divides conv output planes by 4 and cuts FC layers to 512 output
      neurons (``full=True``: the real sizes).
    * chip power on the same networks against the published 954 mW: on-chip energy (DRAM excluded: the
      published figure is the chip's layout power) over the run time, with DMA stalls and with ideal
      memory, by block; ``power_analysis`` gives the block-by-block account (common/nfu.chip_power_rows).
    * all weights non-zero: Cambricon-X no faster than DianNao, per layer.
    * invariants (lower bound, monotone in non-zeros, deterministic) and the
      functional output against the numpy reference convolution.

    Returns ``{"model", "checks": [...], "per_layer": {...}, "gap_analysis": {...}, "power_analysis": {...}}``.
    No constant is fitted to the paper numbers; rel_error is what comes out.
    """
    from accelsim.engine import make_model, run_instance
    from workloads import Workload
    from workloads.effectual import conv_reference

    t0 = time.perf_counter()
    seed = 0
    cx, dn = make_model("cambricon-x"), make_model("diannao")
    cx_ideal = make_model("cambricon-x", {"dma.enabled": False})
    checks = []
    mode = "full sizes" if full else "reduced: conv output planes / 4, FC layers cut to 512 output neurons"

    # --- peak
    peak = cx.peak_ops_per_s()
    checks.append(check("peak useful throughput (config)", peak / 1e9, 512.0, "GOP/s", kind="consistency",
                        passed=peak == 512e9, note="16 PEs x 16 multipliers x 2 ops x clock; consistency: config "
                        "arithmetic, not a measurement"))
    from workloads import Layer
    rng = np.random.default_rng([seed, 512])
    Lp = Layer("dense_fc", "fc", C=4096, K=1024, weights=rng.standard_normal((1024, 4096)))
    wl = Workload("peak")
    wl.add_layer(Lp)
    r = run_instance(cx_ideal, wl.instance("dense_fc", 0))
    sustained = 2.0 * r.macs_actual / r.latency_s
    checks.append(check("sustained throughput, dense FC 4096x1024, ideal memory", sustained / 1e9, 512.0, "GOP/s",
                        kind="consistency", tol=0.001,
                        note=f"{r.cycles} cycles incl. {r.breakdown['pipeline_fill']} pipeline fill; consistency: "
                        "the reference is the config peak, which a dense layer reaches by construction"))
    checks.append(check("peak vs the paper's 544 GOP/s headline", peak / 1e9, PAPER_PEAK / 1e9, "GOP/s",
                        kind="consistency",
                        note="544 = 16 PEs x 34 ops/cycle; the 32 ops of multiply + adder tree + accumulate give 512; "
                        "the extra 2 per PE are outside the MAC path (output stage), unresolved without the PDF; "
                        "consistency: a peak from the config, the gap is an ops-counting convention"))

    # --- pruned networks
    per_layer, nets, bench_rows = {}, {}, []
    for net in ("alexnet", "vgg16"):
        rows = network_runs(net, {"cx": cx, "dn": dn, "cx_nodma": cx_ideal}, full, seed)
        bench_rows += rows
        for row in rows:
            for key in ("cx", "dn"):  # ideal memory: the same run without its memory stall
                row[key + "_ideal"] = {"cycles": row[key]["cycles"] - row[key]["breakdown"]["memory_stall"]}
            row["speedup"] = row["dn"]["cycles"] / row["cx"]["cycles"]
            row["energy_saving"] = row["dn"]["energy_j"] / row["cx"]["energy_j"]
            row["speedup_ideal_memory"] = row["dn_ideal"]["cycles"] / row["cx_ideal"]["cycles"]
        per_layer[net] = [{k: row[k] for k in ("layer", "weight_density", "speedup", "energy_saving",
                                               "speedup_ideal_memory")} |
                          {"cx_cycles": row["cx"]["cycles"], "dn_cycles": row["dn"]["cycles"],
                           "cx_breakdown": row["cx"]["breakdown"], "dn_breakdown": row["dn"]["breakdown"]}
                          for row in rows]
        tot = lambda key, f, rows=rows: sum(row[key][f] for row in rows)  # noqa: E731
        sp = tot("dn", "cycles") / tot("cx", "cycles")
        en = tot("dn", "energy_j") / tot("cx", "energy_j")
        spi = tot("dn_ideal", "cycles") / tot("cx_ideal", "cycles")
        bd: dict[str, int] = {}
        e_act: dict[str, float] = {}
        for row in rows:
            for k, v in row["cx"]["breakdown"].items():
                bd[k] = bd.get(k, 0) + v
            for k, v in row["cx"]["energy_pJ"].items():
                e_act[k] = e_act.get(k, 0.0) + v
        e_tot = sum(e_act.values())
        im_share = sum(v for k, v in e_act.items() if k in IM_ACTIONS) / e_tot
        dn_stall = sum(row["dn"]["breakdown"]["memory_stall"] for row in rows) / tot("dn", "cycles")
        bound = sum(row["macs_dense"] for row in rows) / sum(row["macs_dense"] * row["weight_density"] for row in rows)
        nets[net] = {"weight_sparsity_bound": bound, "speedup": sp, "energy_saving": en, "speedup_ideal_memory": spi, "im_energy_share": im_share,
                     "cx_cycle_shares": {k: v / tot("cx", "cycles") for k, v in bd.items()},
                     "dn_memory_stall_share": dn_stall,
                     "cx_energy_shares": {k: v / e_tot for k, v in sorted(e_act.items())}}
        checks.append(check(f"{net} speedup over DianNao (network)", sp, PAPER_SPEEDUP, "x", kind="validation",
                            tol=0.5, note=f"paper value is the average over all its benchmarks; {mode}"))
        checks.append(check(f"{net} energy saving over DianNao (network)", en, PAPER_ENERGY, "x", kind="validation",
                            tol=0.5, note=f"paper value is the average over all its benchmarks; {mode}"))
        checks.append(check(f"{net} speedup with ideal memory (no DMA stalls)", spi, PAPER_SPEEDUP, "x",
                            kind="validation", tol=0.5, note="cause analysis: compute-only speedup"))
        store = {f: sum(row["cx"]["extra"]["index_formats"][f]["storage_bytes"] for row in rows)
                 for f in ("direct", "step")}
        dense_b = sum(row["cx"]["extra"]["dense_weight_bytes"] for row in rows)
        nets[net]["weight_storage_bytes"] = {**store, "dense": dense_b}
        checks.append(check(f"{net} weight storage, step / direct indexing", store["step"] / store["direct"], None,
                            "ratio", kind="consistency",
                            note=f"step {store['step']:,} B, direct {store['direct']:,} B, dense {dense_b:,} B; "
                            "per layer in extra.index_formats; consistency: reported from the model's own "
                            "counts, no reference"))
        checks.append(check(f"{net} IM share of Cambricon-X energy", im_share, None, "fraction", kind="consistency",
                            note="indexing-module actions (select, step add, mask scan) over total energy; "
                            "consistency: reported from the model's own counts, no reference"))
    avg_sp = float(np.mean([nets[n]["speedup"] for n in nets]))
    avg_en = float(np.mean([nets[n]["energy_saving"] for n in nets]))
    checks.append(check("average speedup AlexNet+VGG16", avg_sp, PAPER_SPEEDUP, "x", kind="validation", tol=0.5,
                        note="arithmetic mean of the two networks vs the paper's benchmark average"))
    checks.append(check("average energy saving AlexNet+VGG16", avg_en, PAPER_ENERGY, "x", kind="validation", tol=0.5,
                        note="arithmetic mean of the two networks vs the paper's benchmark average"))

    # --- chip power on the paper's benchmark networks (on chip: DRAM is outside the published figure)
    power_checks, power = chip_power_rows(
        "pruned AlexNet + VGG16", {"DMA stalls included": network_power(bench_rows, "cx"),
                                   "computing only, ideal memory": network_power(bench_rows, "cx_nodma")},
        PAPER_POWER_W, "Cambricon-X 954 mW at 1 GHz, 65 nm (abstract)")
    checks += power_checks

    # --- dense weights: no faster than DianNao
    rows = network_runs("alexnet", {"cx": cx, "dn": dn}, False, seed, density_override=1.0)
    best = max(row["dn"]["cycles"] / row["cx"]["cycles"] for row in rows)
    checks.append(check("all weights non-zero: max speedup over DianNao (AlexNet layers)", best, 1.0, "x",
                        kind="consistency", passed=all(row["cx"]["cycles"] >= row["dn"]["cycles"] for row in rows),
                        note="pass: Cambricon-X cycles >= DianNao cycles on every layer (index overhead only adds "
                        "DMA bytes); consistency: a property of the two models' construction, not a paper number"))

    # --- invariants and functional output on small layers
    lb_ok, mono_ok, det_ok, fun_err = True, True, True, 0.0
    for L, acts, mask in _small_layers(seed):
        wl = Workload("small")
        wl.add_layer(L)
        wl.set_image_data(0, L.name, acts=acts, out_mask=mask)
        inst = wl.instance(L.name, 0)
        for fmt in ("step", "direct"):
            m = make_model("cambricon-x", {"index.format": fmt, "index.step_bits": 3, "im.window_neurons": 32})
            a = run_instance(m, inst, functional=True)
            b = run_instance(m, inst)
            det_ok &= a.cycles == b.cycles and a.breakdown == b.breakdown
            nnz = int((L.weights != 0).sum())
            lb_ok &= a.extra["compute_cycles"] * 256 >= nnz * int(mask.sum())
            ref = conv_reference(acts, L.weights, L.stride, L.padding, L.dilation, L.groups) * mask[None]
            fun_err = max(fun_err, float(np.abs(a.output - ref).max() / max(1e-300, np.abs(ref).max())))
            w2 = L.weights.copy()
            nz = np.flatnonzero(w2)
            w2.ravel()[np.random.default_rng(seed).choice(nz, nz.size // 5, replace=False)] = 0.0
            from dataclasses import replace
            wl2 = Workload("small2")
            wl2.add_layer(replace(L, weights=w2))
            wl2.set_image_data(0, L.name, acts=acts, out_mask=mask)
            c = run_instance(m, wl2.instance(L.name, 0))
            mono_ok &= c.extra["compute_cycles"] <= a.extra["compute_cycles"]
    inv = "consistency: an invariant of the model, true by construction"
    checks.append(check("invariant: compute cycles >= nnz x outputs / (16 x 16)", None, None, "",
                        kind="consistency", passed=lb_ok, note=f"4 small layers x 2 index formats; {inv}"))
    checks.append(check("invariant: removing 20 % of the non-zeros never adds cycles", None, None, "",
                        kind="consistency", passed=mono_ok,
                        note=f"4 small layers x 2 index formats (narrow window, 3-bit steps); {inv}"))
    checks.append(check("invariant: deterministic", None, None, "", kind="consistency", passed=det_ok,
                        note=f"two runs, identical cycles/breakdown; {inv}"))
    checks.append(check("functional output vs numpy conv (float64)", fun_err, 0.0, "max rel. error",
                        kind="consistency", passed=fun_err <= 1e-9,
                        note="masked outputs are 0; conv, strided+grouped conv, fc, depthwise; consistency: the "
                        "model's functional path against numpy, not evidence about the chip's timing"))

    gap = {n: {"speedup": v["speedup"], "rel_error_vs_paper": (v["speedup"] - PAPER_SPEEDUP) / PAPER_SPEEDUP,
               "weight_sparsity_bound": v["weight_sparsity_bound"],
               "causes": [
                   f"weight-only sparsity caps the compute speedup at dense MACs / non-zero-weight MACs = "
                   f"{v['weight_sparsity_bound']:.2f}x for {n} at the Han et al. densities (activations are dense "
                   f"on Cambricon-X), far below 7.23x; the paper's average also includes smaller, sparser "
                   f"benchmarks (MLPs / LeNet) not modelled here",
                   f"compute-only (ideal memory) speedup {v['speedup_ideal_memory']:.2f}x; with DMA "
                   f"{v['speedup']:.2f}x: DianNao spends {100 * v['dn_memory_stall_share']:.1f} % of its cycles "
                   f"in memory stalls (dense FC weights), Cambricon-X {100 * v['cx_cycle_shares'].get('memory_stall', 0):.1f} %",
                   "Cambricon-X overheads (share of its cycles): " + ", ".join(
                       f"{k} {100 * x:.1f} %" for k, x in v["cx_cycle_shares"].items() if k != "busy"),
                   "assumed constants (DMA 256 B/cycle, 8 KB NBin/NBout, 2 KB SB/PE, 256-neuron IM window, "
                   "8-bit steps) are not fitted; the energy ratio rests on Horowitz-derived rows with DRAM dominant",
               ],
               "speedup_ideal_memory": v["speedup_ideal_memory"],
               "cambricon_x_cycle_shares": v["cx_cycle_shares"],
               "diannao_memory_stall_share": v["dn_memory_stall_share"],
               "im_energy_share": v["im_energy_share"], "cambricon_x_energy_shares": v["cx_energy_shares"],
               "weight_storage_bytes": v["weight_storage_bytes"]}
           for n, v in nets.items()}
    return {"model": "cambricon-x", "mode": mode, "checks": checks, "per_layer": per_layer, "power_analysis": power,
            "gap_analysis": gap, "wall_s": time.perf_counter() - t0}