"""Eyeriss v2 / v1 model throughput and chip-level numbers on the paper's sparse MobileNet.

Times ``simulate`` (one process) on the Eyeriss v2 chip benchmark, sparse MobileNet-v1 0.5/128
(``workloads.eyeriss_masks.paper_mobilenet``, batch 1; ``--pruned`` runs the magnitude-pruned
MobileNet-v1 at ``--width`` / ``--res`` instead) for ``eyeriss-v2`` and ``eyeriss-v1`` after a JIT
warm-up, and the single-PE preset on the nine real MobileNet-0.5 masks.  Prints the simulated
inferences/s, inferences/J (chip, and with DRAM), chip power, the v2/v1 speed-up next to the paper
(1470.6 inf/s, 2560.3 inf/J, 0.574 W, 12.6x), and the simulator's speed: effectual MACs simulated
per wall-second.

    python benchmarks/eyeriss_throughput.py [--pruned [--width 1.0] [--res 224]] [--json]

Wall times are for comparison on one machine only (never asserted in tests).
"""

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import _single_core  # noqa: F401  (pins one thread before numpy is imported)

from accelsim.engine import make_model, simulate  # noqa: E402
from accelsim.models.eyeriss import PAPER, chip_numbers  # noqa: E402
from workloads.eyeriss_masks import paper_mobilenet, sparse_mobilenet_v1  # noqa: E402


def run(wl, arch):
    m = make_model(arch)
    simulate(wl.subset(layers=wl.layer_names()[:3]), m, jobs=1)  # JIT warm-up / cache load
    t = time.perf_counter()
    rep = simulate(wl, m, jobs=1)
    wall = time.perf_counter() - t
    n = chip_numbers(rep)
    eff = rep.total()["macs_effectual"]
    return {"arch": arch, "wall_s": wall, "layers_per_s": len(rep.results) / wall,
            "effectual_macs_per_wall_s": eff / wall, **{k: v for k, v in n.items() if k != "breakdown"},
            "breakdown": n["breakdown"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pruned", action="store_true", help="magnitude-pruned MobileNet-v1 at --width/--res")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--res", type=int, default=224)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    wl = sparse_mobilenet_v1(seed=0, width=a.width, res=a.res) if a.pruned else paper_mobilenet(seed=0)
    rows = [run(wl, "eyeriss-v2"), run(wl, "eyeriss-v1")]
    out = {"workload": wl.name, "meta": wl.meta, "paper": PAPER, "runs": rows,
           "speedup_v2_over_v1": rows[1]["cycles"] / rows[0]["cycles"]}
    try:
        from workloads.zoo import resolve
        pe_wl = resolve("eyeriss-v2-pe-mobilenet05")
    except Exception as e:  # shared data absent
        out["single_pe"] = f"skipped: {e}"
    else:
        t = time.perf_counter()
        rep = simulate(pe_wl, "eyeriss-v2-pe", jobs=1)
        out["single_pe"] = {"wall_s": time.perf_counter() - t,
                            "layers": {r.name: {"cycles": r.cycles,
                                                "ground_truth": pe_wl.layers[r.name].meta["ground_truth_cycles"]}
                                       for r in rep.results}}
    if a.json:
        print(json.dumps(out, indent=2, default=str))
        return
    print(f"{wl.name}")
    for r in rows:
        print(f"  {r['arch']:11s} {r['cycles']:>10,} cycles  {r['inf_per_s']:8.1f} inf/s  "
              f"{r['inf_per_j_chip']:8.1f} inf/J chip  {r['inf_per_j_with_dram']:7.1f} inf/J with DRAM  "
              f"{r['chip_power_w']:.3f} W chip  "
              f"util {100 * r['utilization']:.1f}%  | sim {r['wall_s']:.2f} s, "
              f"{r['effectual_macs_per_wall_s'] / 1e6:.0f} M effectual MACs/s")
    print(f"  paper: {PAPER['inf_per_s']} inf/s, {PAPER['inf_per_j']} inf/J, {PAPER['power_w']:.3f} W, "
          f"v2/v1 {PAPER['speedup_vs_v1']}x; "
          f"model v2/v1 {out['speedup_v2_over_v1']:.2f}x")
    if isinstance(out["single_pe"], dict):
        ok = sum(v["cycles"] == v["ground_truth"] for v in out["single_pe"]["layers"].values())
        print(f"  single PE on the real masks: {ok}/9 layers equal the ground truth "
              f"({out['single_pe']['wall_s']:.2f} s)")
    else:
        print(f"  single PE: {out['single_pe']}")


if __name__ == "__main__":
    main()
