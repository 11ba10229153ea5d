"""SCNN PE-granularity sensitivity: the F x I shape of the 4-PE design's 256 multipliers.

The granularity study (paper Sec. VI; accelerators.md 2.2 'PE granularity') compares 64 PEs x 16 multipliers
with 4 PEs x 256.  What is published is the multiplier count per PE, not how the 256 are arranged; the
preset ``scnn-4x256`` reads them as F x I = 16 x 16 (the 64-PE design's 4 x 4, squared).  The shape decides
intra-PE fragmentation, the mechanism the paper names for the 4-PE design's loss: an I-vector holds up to I
non-zero activations of one channel of the PE's tile, an F-vector up to F non-zero weights of one
(channel, Kc group) block, so a long I-vector fragments on small tiles and a long F-vector on small Kc.

For each shape F x I = 256 this prints, on GoogLeNet inception 3a/5b (the ``validate`` network) and on
VGG16 (the one whole network in the shared data), the 64x16 / 4x256 speed ratio and both PE busy-cycle math
utilisations (``accelsim.models.scnn.validate.granularity``, the preset crossbar), their relative errors
against the paper (1.11, 0.59, 0.35) and which miss issue 16's tolerances (15 %, 25 %, 25 %).  A
sensitivity report, not a selection: no shape is adopted from it.

    python benchmarks/scnn_granularity_shapes.py [--shapes 4x64 8x32 16x16 32x8 64x4] [--json out.json]

Single core; about 4 min here (the 64x16 design runs once per network).
"""

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import _single_core  # noqa: F401  (pins one thread before numpy is imported)

from accelsim.engine import make_model  # noqa: E402
from accelsim.models.scnn.validate import PAPER, TOL, design_granularity, layers_from_csv  # noqa: E402
from accelsim.paths import shared_dir  # noqa: E402

KEYS = ("speed_64x16_over_4x256", "math_util_64x16", "math_util_4x256")


def shape_numbers(F: int, I: int, rows: list[dict], g64: dict) -> dict:
    """The three granularity quantities with ``scnn-4x256`` at F x I against the 64x16 design's ``g64``
    (:func:`design_granularity` on the same rows: the same for every shape), their relative errors and misses."""
    g4 = design_granularity(make_model("scnn-4x256", {"multipliers.F": F, "multipliers.I": I}), rows)
    v = {"speed_64x16_over_4x256": g4["cycles"] / g64["cycles"],
         "math_util_64x16": g64["math_utilization_pe_active"],
         "math_util_4x256": g4["math_utilization_pe_active"],
         "occupancy_4x256": g4["math_utilization_issue_steps"]}
    rel = {k: (v[k] - PAPER[k]) / PAPER[k] for k in KEYS}
    return {"F": F, "I": I, "values": v, "rel_error": rel,
            "misses": {k: e for k, e in rel.items() if abs(e) > TOL[k]},
            "breakdown_share_4x256": g4["breakdown_share"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", default=["4x64", "8x32", "16x16", "32x8", "64x4"],
                    help="F x I of the 4-PE design (F * I = 256 keeps the study's multiplier count)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    a = ap.parse_args()
    base = shared_dir() / "validation" / "scnn_layer_densities"
    nets = {"inception 3a/5b": layers_from_csv(base / "googlenet_inception_3a_5b.csv"),
            "VGG16": layers_from_csv(base / "vgg16_conv.csv")}
    print("paper: speed 64x16 / 4x256 1.11, math utilisation 0.59 / 0.35 (busy cycles)\n")
    print("| network | F x I (4x256) | speed 64x16/4x256 | math util. 64x16 | math util. 4x256 | "
          "4x256 issue-step occupancy | misses |\n|---|---|---|---|---|---|---|")
    out = []
    for net, rows in nets.items():
        g64 = design_granularity(make_model("scnn"), rows)
        for sh in a.shapes:
            F, I = (int(x) for x in sh.lower().split("x"))
            n = shape_numbers(F, I, rows, g64)
            out.append({"network": net, **n})
            v, r = n["values"], n["rel_error"]
            cells = " | ".join(f"{v[k]:.3f} ({r[k]:+.0%})" for k in KEYS)
            miss = ", ".join(f"{k} {e:+.0%}" for k, e in n["misses"].items())
            print(f"| {net} | {F}x{I} | {cells} | {v['occupancy_4x256']:.3f} | {miss or '-'} |", flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
