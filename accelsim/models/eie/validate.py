"""``accelsim validate eie``: the authors' fc8 dump and the paper's Table IV (see :func:`validate`)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...checks import check
from .formats import matrix_from_dump, synthetic_acts, synthetic_matrix
from .mapping import MAPPING_NOTES, run_matrix
from .power import (
    BLOCK_OF_ACTION,
    PAPER_CHIP_MW,
    PAPER_TABLE_II_MW,
    PAPER_TOTAL_MW,
    chip_power_account,
    power_per_pe_mW,
)

#: EIE paper Table III sizes/densities and Table IV batch-1 times (us) at 800 MHz, 64 PEs
TABLE_IV = [
    # name, inputs C, outputs K, weight density, act density, theoretical us, actual us
    ("Alex-6", 9216, 4096, 0.09, 0.351, 28.1, 30.3),
    ("Alex-7", 4096, 4096, 0.09, 0.353, 11.7, 12.2),
    ("Alex-8", 4096, 1000, 0.25, 0.375, 8.9, 9.9),
    ("VGG-6", 25088, 4096, 0.04, 0.183, 28.1, 34.4),
    ("VGG-7", 4096, 4096, 0.04, 0.375, 7.9, 8.7),
    ("VGG-8", 4096, 1000, 0.23, 0.411, 7.3, 8.4),
    ("NT-We", 4096, 600, 0.10, 1.0, 5.2, 8.0),
    ("NT-Wd", 600, 8791, 0.11, 1.0, 13.0, 13.9),
    ("NT-LSTM", 1201, 2400, 0.10, 1.0, 6.5, 7.5),
]
FC8_ACTUAL_US, FC8_THEORETICAL_US = 9.9, 8.9
#: the paper's FIFO-depth study (Sec. VI, Fig. 8): depths 1..256 in powers of 2 over the 9 benchmarks;
#: "at FIFO size = 1, around half of the total cycles are idle" (read here as an idle share of 0.5, +-20 %)
FIG8_DEPTHS = tuple(2 ** i for i in range(9))
FIG8_IDLE_AT_DEPTH_1 = 0.5
#: The authors' own cycle simulator (``RalphMao/EIE-simulator``) on the same fc8 dump: NZFETCH_buffersize ->
#: (cycles, its "Efficiency" = multiply-adds / cycles / 64).  Built and run here on 2026-12-01 (g++ -O2
#: -std=c++11 -D DEBUG=1; src/system.cpp, ptrvec.cpp, nzfetch.cpp, spmat.cpp, module.h, arithm.cpp at commit
#: 04364e3c, configs.h at 26b92dea, actrw.cpp at 041293f5, utils.h at 5dd94ffc, params.h from the template
#: of script/layer_dump2.py @5978ae8a with 64 PEs).  04364e3c's ptrvec.cpp never assigns patch_complete (the
#: run faults at cycle 43); the run adds the authors' own three lines of the later version (patch_complete =
#: current_addr == end_addr; on valid: start_addr_p, patch_complete_p, memory_addr_p), and that later ptrvec.cpp
#: unpatched gives the same cycles at sizes 2, 8 and 17.  Its output equals W a + b from the dump at every size
#: (453,748 multiply-adds).  Reference numbers, not a fit: the model's queue follows the lines QUEUE_SEMANTICS
#: names and was not tuned to them (docs/timing-model.md EIE 'Validation').
AUTHORS_SIM_FC8 = {2: (10194, 0.695489), 3: (8827, 0.803196), 4: (8386, 0.845434), 5: (8160, 0.868850),
                   6: (8018, 0.884237), 7: (7954, 0.891352), 8: (7926, 0.894501), 9: (7896, 0.897899),
                   10: (7865, 0.901438), 12: (7822, 0.906394), 15: (7794, 0.909650), 17: (7794, 0.909650),
                   33: (7794, 0.909650), 65: (7794, 0.909650)}
#: The same simulator on the Table IV layers as ``validate`` builds them (seed 0 of the loop below, written
#: in the authors' format as our encoder stored them, with an empty bias column at C rounded up to 64, the
#: sizes of params.h as layer_dump2.py sets them): name -> {NZFETCH_buffersize: cycles}.  NT-Wd is the sum of
#: its three passes' runs (the simulator runs one pass of up to 4096 outputs).  The output equalled W a at
#: both sizes on every layer.  Run 2026-12-01; the model is 6 cycles faster per pass at every size.  These
#: numbers hold for the matrices this code draws (synthetic_matrix / synthetic_acts with the seeds below):
#: a change to either invalidates them, and the row and its test then fail.
AUTHORS_SIM_TABLE_IV = {
    "Alex-6": {2: 27185, 8: 23057}, "Alex-7": {2: 12115, 8: 10259}, "Alex-8": {2: 8716, 8: 6575},
    "VGG-6": {2: 25997, 8: 19923}, "VGG-7": {2: 8669, 8: 6699}, "VGG-8": {2: 9079, 8: 6686},
    "NT-We": {2: 11814, 8: 6028}, "NT-Wd": {2: 13241, 8: 10839}, "NT-LSTM": {2: 7133, 8: 5431}}
QUEUE_SEMANTICS = (
    "fifo_depth = activations the queue holds = the authors' NZFETCH_buffersize - 1 (src/nzfetch.cpp: a ring of "
    "buffer_size slots, full when (pos_write + 1) % buffer_size == pos_read, so it holds buffer_size - 1); the "
    "PtrRead register is the column being streamed (src/ptrvec.cpp: read_ptr = !valid || patch_complete), so a "
    "PE pops its queue only when idle, on an empty column, or on its column's last entry.  The paper's 'depth 8' "
    "is read as NZFETCH_buffersize 8 = fifo_depth 7 (the alternative, 8 entries held, is reported beside it).")


def validate(shared: Path | None, full: bool = False) -> dict:
    """EIE against the authors' fc8 dump and the paper's Table IV (see the package docstring).

    Checks: fc8 cycles vs 7,920 (1 %), theoretical time, FIFO-depth sweep 1..64 (monotone,
    saturating) and the paper's depth-1 statement (Fig. 8 text), the other Table IV layers on seeded
    synthetic matrices (25 %), invariants, functional output vs dense W a, the energy calibration
    against Table II and the chip power on fc8 against the published 590 mW (30 %).
    """
    from ...config import load_arch
    from ...energy import table_for

    t0 = time.perf_counter()
    cfg = load_arch("eie")
    f = cfg.clock_hz
    table = table_for(cfg)
    checks: list[dict] = []
    out: dict = {"model": "eie", "preset": "eie", "clock_hz": f, "fifo_depth_preset": cfg["fifo_depth"],
                 "fifo_mapping": QUEUE_SEMANTICS, "mapping_notes": MAPPING_NOTES}
    idle_d1: dict[str, float] = {}               # idle share at depth 1 per benchmark (Fig. 8 text)
    from workloads.zoo import shared_root
    root = shared_root(shared)
    dump = root / "validation" / "eie_alexnet_fc8" if root else None
    if dump is None or not dump.is_dir():
        out["skipped"] = "shared fc8 dump not found (set ACCELSIM_SHARED or place ../shared)"
    else:
        from workloads.eie_dump import decode_dense, read_dump
        m = matrix_from_dump(dump, 1000, 4096, cfg["n_pe"], cfg["act_regs_per_pe"])
        act = m.meta["act"][None]
        r = run_matrix(m, act, cfg, functional=True)
        cyc = r["cycles"]
        checks.append(check(f"fc8 cycles (dump, 64 PEs, paper queue depth 8 = NZFETCH_buffersize 8 = fifo_depth "
                            f"{cfg['fifo_depth']})", cyc, FC8_ACTUAL_US * 1e-6 * f, "cycles", kind="validation",
                            tol=0.01, note=f"{cyc / f * 1e6:.3f} us vs Table IV actual {FC8_ACTUAL_US} us (rounded "
                                           f"to 0.1 us, i.e. +-0.5 %); queue semantics of the authors' model"))
        checks.append(check("fc8 theoretical (mean PE work, perfect balance)", r["mean_pe_work_cycles"],
                            FC8_THEORETICAL_US * 1e-6 * f, "cycles", kind="validation",
                            note="paper's 'theoretical' time; informational"))
        r8 = run_matrix(m, act, cfg, fifo_depth=8)
        checks.append(check("fc8 cycles with fifo_depth=8 (alternative reading: 8 entries held = "
                            "NZFETCH_buffersize 9)", r8["cycles"], FC8_ACTUAL_US * 1e-6 * f, "cycles",
                            kind="validation", note="informational"))
        # invariants
        inv = "consistency: a bound the cycle model satisfies by construction"
        checks.append(check("invariant: cycles >= broadcast non-zeros", cyc, r["broadcasts"], "cycles",
                            kind="consistency", passed=cyc >= r["broadcasts"], note=inv))
        checks.append(check("invariant: cycles >= busiest PE entries", cyc, r["busiest_pe_entries"], "cycles",
                            kind="consistency", passed=cyc >= r["busiest_pe_entries"], note=inv))
        checks.append(check("invariant: breakdown sums to cycles", sum(r["breakdown"].values()), cyc, "cycles",
                            kind="consistency", passed=sum(r["breakdown"].values()) == cyc,
                            note="consistency: the breakdown is rounded to sum to the cycles"))
        W, b = decode_dense(read_dump(dump))
        ref = W @ act[0] + b
        err = float(np.max(np.abs(r["output"][0] - ref)) / np.max(np.abs(ref)))
        checks.append(check("functional: output vs dense W a + b (max rel error)", err, 0.0, "",
                            kind="consistency", passed=err <= 1e-9,
                            note="float64, decoded through the codebook; consistency: the reference is computed "
                                 "from the same dump the model walks"))
        # FIFO sweep
        depths = list(range(1, 65))
        sweep = [run_matrix(m, act, cfg, fifo_depth=d) for d in depths]
        cyc_d = [s["cycles"] for s in sweep]
        mono = all(a >= b_ for a, b_ in zip(cyc_d, cyc_d[1:]))
        sat = (cyc_d[31] - cyc_d[63]) / cyc_d[63]
        out["fifo_sweep"] = {"depth": depths, "nzfetch_buffersize": [d + 1 for d in depths], "cycles": cyc_d,
                             "load_efficiency": [round(s["load_efficiency"], 4) for s in sweep],
                             "broadcast_stall_cycles": [s["broadcast_stall_cycles"] for s in sweep],
                             "semantics": QUEUE_SEMANTICS}
        idle_d1["Alex-8"] = 1 - sweep[0]["load_efficiency"]
        out["fc8_depth1_pe_utilization"] = sweep[0]["pe_utilization"]
        # the same sweep against the authors' own simulator on the same dump (buffer size b = depth b - 1)
        vs = {b: (cyc_d[b - 2], ref) for b, (ref, _eff) in AUTHORS_SIM_FC8.items()}
        worst_b = max(vs, key=lambda b: abs(vs[b][0] - vs[b][1]) / vs[b][1])
        out["fifo_sweep"]["authors_simulator"] = {
            "nzfetch_buffersize": list(vs), "cycles": [ref for _m, ref in vs.values()],
            "model_cycles": [m_ for m_, _r in vs.values()], "model_minus_authors": [m_ - r_ for m_, r_ in vs.values()],
            "efficiency": [eff for _r, eff in AUTHORS_SIM_FC8.values()]}
        m_w, r_w = vs[worst_b]
        checks.append(check("FIFO sweep vs the authors' simulator (fc8 dump, NZFETCH_buffersize 2..65)", m_w, r_w,
                            "cycles", kind="validation", tol=0.01,
                            note=f"worst of {len(vs)} sizes at buffer size {worst_b}; model - authors: "
                                 f"{sorted({m_ - r_ for m_, r_ in vs.values()})} cycles; RalphMao/EIE-simulator "
                                 f"built and run on the same dump (AUTHORS_SIM_FC8 has the provenance); its "
                                 f"idle share at buffer size 2 is {1 - AUTHORS_SIM_FC8[2][1]:.3f}"))
        checks.append(check("FIFO sweep 1..64: cycles non-increasing", cyc_d[-1], cyc_d[0], "cycles",
                            kind="consistency", passed=mono,
                            note=f"depth 1: {cyc_d[0]}, 4: {cyc_d[3]}, 8: {cyc_d[7]}, 16: {cyc_d[15]}, "
                                 f"64: {cyc_d[63]}; consistency: the model against itself, no published number"))
        checks.append(check("FIFO sweep: saturates (depth 32 vs 64)", cyc_d[31], cyc_d[63], "cycles",
                            kind="consistency", tol=0.01,
                            note=f"gain from 32 to 64: {100 * sat:.2f} %; consistency: the model against itself "
                                 f"(the paper's figure shows the trend, not these numbers)"))
        # energy calibration against Table II
        pw = power_per_pe_mW(r["actions"], cyc, cfg, table)
        total = float(sum(pw.values()))
        calib = {"reference": "EIE Table II, per PE at 800 MHz (mW)", "model_mW": {k: round(v, 4) for k, v in pw.items()},
                 "table_ii_mW": PAPER_TABLE_II_MW, "model_total_mW": round(total, 4), "table_ii_total_mW": PAPER_TOTAL_MW,
                 "factor_table_ii_over_model": {k: round(PAPER_TABLE_II_MW[k] / pw[k], 3)
                                                for k in PAPER_TABLE_II_MW if pw.get(k)},
                 "note": "energy rows are Horowitz 45 nm / EIE Table I values (not fitted); Table II's block powers "
                         "include their clock share, which the model books as one pe_clock_cycle row "
                         "(Table II clock network). Factors are shown, not applied."}
        # per-action energies that would reproduce each Table II block on this run (shown, not applied)
        calib["implied_energy_pJ"] = {
            a: {"table_pJ": table.energy_pJ(a),
                "implied_by_table_ii_pJ": round(table.energy_pJ(a) * PAPER_TABLE_II_MW[BLOCK_OF_ACTION[a]]
                                                / pw[BLOCK_OF_ACTION[a]], 4)}
            for a in r["actions"] if BLOCK_OF_ACTION.get(a) in PAPER_TABLE_II_MW and pw.get(BLOCK_OF_ACTION[a])}
        out["calibration"] = calib
        checks.append(check("energy: power per PE on fc8 vs Table II", total, PAPER_TOTAL_MW, "mW",
                            kind="validation",
                            note="calibration: see 'calibration' for the blocks; not a pass/fail target"))
        # chip power on the authors' own benchmark data (the fc8 dump shipped with their simulator)
        acc = chip_power_account(pw, cfg["n_pe"])
        acc["benchmark"] = ("Alex-8 (fc8), the authors' dump (their weights and activations); the paper does not "
                            "name the layer its PrimeTime PX toggle rates came from; the Table IV layers' chip power "
                            "is listed in table_iv[].chip_power_mW (synthetic data)")
        out["chip_power"] = acc
        gap = acc["model_chip_mW"] - PAPER_CHIP_MW
        checks.append(check("chip power on fc8 vs published 590 mW (64 PEs, 800 MHz, 45 nm)", acc["model_chip_mW"],
                            PAPER_CHIP_MW, "mW", kind="validation", tol=0.30,
                            note=f"64 x per-PE blocks, nothing fitted; gap {gap:+.0f} mW: SpmatRead "
                                 f"{acc['blocks']['SpmatRead']['model_minus_paper_mW']:+.0f}, PtrRead "
                                 f"{acc['blocks']['PtrRead']['model_minus_paper_mW']:+.0f}, ActRW "
                                 f"{acc['blocks']['ActRW']['model_minus_paper_mW']:+.0f}, ArithmUnit "
                                 f"{acc['blocks']['ArithmUnit']['model_minus_paper_mW']:+.0f}, Act_queue "
                                 f"{acc['blocks']['Act_queue']['model_minus_paper_mW']:+.0f} mW (paper blocks include "
                                 f"their clock share), clock network booked apart "
                                 f"+{acc['blocks']['clock network']['model_mW']:.0f}; missing: central unit / LNZD "
                                 f"tree ({acc['missing_in_model']['central control unit + LNZD quadtree + broadcast wires']['paper_implied_mW']:.0f} "
                                 f"mW by the paper's own numbers), leakage (not separated); the clock row is Table II's own figure, "
                                 f"so the independent part is {acc['model_without_clock_mW']:.0f} mW vs the paper's "
                                 f"non-clock {acc['paper_without_clock_mW']:.0f} mW; see 'chip_power'"))
        out["fc8"] = {k: v for k, v in r.items() if k not in ("output",)}
    # other Table IV layers on synthetic matrices (seeded)
    rows = []
    vs_authors: dict[str, dict] = {}
    idle_util_d1: dict[str, float] = {}
    util_syn_d1: dict[str, float] = {}          # the synthetic layers' multiply-adds / (PEs x cycles) at depth 1
    if "fc8" in out:  # the real dump, as the mean below counts it
        idle_util_d1["Alex-8"] = 1 - out["fc8_depth1_pe_utilization"]
    seeds = range(3) if full else range(1)
    for name, C, K, wd, ad, th_us, act_us in TABLE_IV:
        sims, ths = [], []
        for s in seeds:
            mm, a = table_iv_instance(name, s, cfg)
            rr = run_matrix(mm, a[None], cfg)
            sims.append(rr["cycles"])
            ths.append(rr["mean_pe_work_cycles"])
            if s == 0:
                by_d = [run_matrix(mm, a[None], cfg, fifo_depth=d) for d in FIG8_DEPTHS]
                eff_d = [r_["load_efficiency"] for r_ in by_d]
                # the authors' buffer sizes 2 and 8 = fifo_depth 1 and 7; idle as the authors' simulator counts
                # it (its "Efficiency": multiply-adds / (PEs x cycles))
                r7 = rr if cfg["fifo_depth"] == 7 else run_matrix(mm, a[None], cfg, fifo_depth=7)
                vs_authors[name] = {2: (by_d[0]["cycles"], AUTHORS_SIM_TABLE_IV[name][2]),
                                    8: (r7["cycles"], AUTHORS_SIM_TABLE_IV[name][8])}
                idle_util_d1.setdefault(name, 1 - by_d[0]["pe_utilization"])  # Alex-8: the real dump when present
                util_syn_d1[name] = by_d[0]["pe_utilization"]
                chip_mw = float(sum(power_per_pe_mW(rr["actions"], rr["cycles"], cfg, table).values())) * cfg["n_pe"]
        cyc, th = float(np.mean(sims)), float(np.mean(ths))
        rel = cyc / f * 1e6 / act_us - 1
        note = (f"seeded uniform random data; simulated perfect-balance time {th / f * 1e6:.2f} us vs the paper's "
                f"theoretical {th_us} us; the authors' own simulator on the same matrix (seed 0, buffer size 8): "
                f"{AUTHORS_SIM_TABLE_IV[name][8] / f * 1e6:.2f} us")
        if abs(rel) > 0.25 and abs(th / f * 1e6 / th_us - 1) > 0.15:
            nzc = C * ad
            note += (f"; the gap is already in the perfect-balance time: the paper's theoretical time implies "
                     f"{th_us * 1e-6 * f / nzc:.2f} cycles of work per PE per non-zero activation, the uniform "
                     f"synthetic matrix gives {th / nzc:.2f} (entries incl. padding), so the cause is the data "
                     f"(real pruned weights are not uniform over the columns the non-zero activations hit), "
                     f"not the cycle model")
        if name == "Alex-8":
            note += "; the real fc8 dump (checked above) has 42.9 % activation density vs Table III's 37.5 %"
        rows.append({"layer": name, "C": C, "K": K, "weight_density": wd, "act_density": ad,
                     "simulated_cycles": cyc, "simulated_us": cyc / f * 1e6, "paper_actual_us": act_us,
                     "simulated_theoretical_us": th / f * 1e6, "paper_theoretical_us": th_us,
                     "passes": mm.n_pass, "padding_entries": mm.n_padding, "load_efficiency": rr["load_efficiency"],
                     "seeds": len(sims), "chip_power_mW": round(chip_mw, 1),
                     "load_efficiency_vs_depth": dict(zip(FIG8_DEPTHS, (round(e, 4) for e in eff_d)))})
        idle_d1.setdefault(name, 1 - eff_d[0])   # Alex-8: the real dump when present
        checks.append(check(f"Table IV {name} (synthetic {K}x{C}, w {wd:.0%}, a {ad:.1%})", cyc / f * 1e6, act_us,
                            "us", kind="validation", tol=0.25, note=note))
    out["table_iv"] = rows
    pairs = [(n, b, m_, r_) for n, d in vs_authors.items() for b, (m_, r_) in d.items()]
    wn, wb, wm, wr = max(pairs, key=lambda t: abs(t[2] - t[3]) / t[3])
    out["table_iv_vs_authors_simulator"] = {n: {b: {"model": m_, "authors": r_} for b, (m_, r_) in d.items()}
                                            for n, d in vs_authors.items()}
    checks.append(check("Table IV layers (synthetic, seed 0) vs the authors' simulator, NZFETCH_buffersize 2 and 8",
                        wm, wr, "cycles", kind="validation", tol=0.01,
                        note=f"worst of {len(pairs)} at {wn}, size {wb}; model - authors per layer and size: "
                             + ", ".join(f"{n} {d[2][0] - d[2][1]:+d}/{d[8][0] - d[8][1]:+d}"
                                         for n, d in vs_authors.items())
                             + " (6 cycles per pass: the simulator's pipeline fill; NT-Wd runs 3 passes); the same "
                               "matrices written in the authors' format (AUTHORS_SIM_TABLE_IV)"))
    # idle as the authors' simulator reports it: 1 - multiply-adds / (PEs x cycles); mean PE work (empty columns
    # counted as work) is reported beside it
    idle = float(np.mean(list(idle_util_d1.values())))
    # the authors' simulator on the same 9 synthetic matrices (same multiply-adds, its own cycles)
    idle_authors = float(np.mean([1 - u * vs_authors[n][2][0] / vs_authors[n][2][1] for n, u in util_syn_d1.items()]))
    idle_model_syn = float(np.mean([1 - u for u in util_syn_d1.values()]))
    checks.append(check("FIFO depth 1: idle share of cycles, mean of the 9 benchmarks (paper Sec. VI: 'around half')",
                        idle, FIG8_IDLE_AT_DEPTH_1, "", kind="validation", tol=0.2,
                        note="idle = 1 - multiply-adds / (PEs x cycles) at fifo_depth 1 (NZFETCH_buffersize 2), the "
                             f"authors' simulator's own Efficiency; on the 9 synthetic layers the authors' simulator "
                             f"gives {idle_authors:.3f} and the model {idle_model_syn:.3f}; "
                             + ", ".join(f"{k} {v:.2f}" for k, v in idle_util_d1.items())
                             + f" (Alex-8: the real dump if present, the others seeded uniform synthetic); with mean "
                               f"PE work instead (empty columns as work) {float(np.mean(list(idle_d1.values()))):.2f}; "
                               "the paper's figure values are not published as numbers, only this sentence"))
    out["checks"] = checks
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    return out


def table_iv_instance(name: str, seed: int, cfg):
    """``(matrix, acts)``: Table IV layer ``name`` as seeded uniform synthetic data (Table III's sizes and
    densities), the matrices :func:`validate` runs and AUTHORS_SIM_TABLE_IV was measured on (seed 0)."""
    _n, C, K, wd, ad, _th, _act = next(t for t in TABLE_IV if t[0] == name)
    rng = np.random.default_rng([2016, seed, _name_seed(name)])
    mm = synthetic_matrix(K, C, wd, rng, cfg["n_pe"], cfg["act_regs_per_pe"], cfg["index_bits"])
    return mm, synthetic_acts(C, ad, rng)


def _name_seed(name: str) -> int:
    import hashlib
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
