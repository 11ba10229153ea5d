"""SCNN crossbar sensitivity: the published results of ``accelsim validate scnn`` for the fifo crossbar
at several FIFO depths and arbiters (linear hash), beside the preset's.

Reports, per setting, Fig. 10's three points (density 1.0, crossover, density 0.1), the 64x16 vs 4x256
speed ratio and PE busy-cycle math utilisations, the Kc = 8 1x1 utilisation, and which of them miss the
issue-16 tolerances.  The preset's depth (8) was fixed before any of these numbers existed
(docs/timing-model.md SCNN 'Crossbar'); this sweep is a sensitivity report, not a selection.

    python benchmarks/scnn_crossbar_sweep.py [--depths 1 2 4 8 16] [--arbiters longest_queue round_robin]

Single core; about a minute of CPU per setting.
"""

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import _single_core  # noqa: F401  (pins one thread before numpy is imported)

from accelsim.engine import make_model  # noqa: E402
from accelsim.models.scnn.validate import crossbar_numbers, layers_from_csv  # noqa: E402
from accelsim.paths import shared_dir  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--arbiters", nargs="+", default=["longest_queue", "round_robin"])
    ap.add_argument("--json", type=Path, help="also write the rows here")
    a = ap.parse_args()
    path = shared_dir() / "validation" / "scnn_layer_densities" / "googlenet_inception_3a_5b.csv"
    allrows = layers_from_csv(path)
    keep = {"inception_3a_1x1", "inception_3a_3x3", "inception_3a_5x5", "inception_5b_3x3", "inception_5b_1x1"}
    rows = [r for r in allrows if r["layer"] in keep]
    dcnn = make_model("dcnn")
    out = []
    keys = ("perf_at_1", "crossover", "speedup_at_01", "speed_64x16_over_4x256", "math_util_64x16",
            "math_util_4x256", "kc8_1x1_util")
    print("| arbiter | depth | " + " | ".join(keys) + " | misses |")
    print("|---" * (len(keys) + 3) + "|")
    for arb in a.arbiters:
        for d in a.depths:
            ov = {"accumulator.conflict_model": "fifo", "accumulator.fifo_depth": d, "accumulator.arbitration": arb}
            n = crossbar_numbers(ov, rows, allrows, [1.0, 0.9, 0.85, 0.8, 0.7, 0.1], dcnn, False)
            out.append({"overrides": ov, **n})
            v = n["values"]
            cells = " | ".join("-" if v[k] is None else f"{v[k]:.3g}" for k in keys)
            miss = ", ".join(f"{k} {e:+.0%}" if e is not None else f"{k} none" for k, e in n["misses"].items())
            print(f"| {arb} | {d} | {cells} | {miss or '-'} |", flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
