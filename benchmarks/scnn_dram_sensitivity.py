"""SCNN's sensitivity to DRAM bandwidth on VGG16 (the shared data's one whole network).

The paper temporally tiles 9 of its 72 layers, all VGG, through DRAM, and a third-party reading of it says
performance degrades only below a few GB/s ("~4 GB/s versus a nominal 50 GB/s"; accelerators.md 2.1 'DRAM',
marked there as unverified against the PDF).  This prints, for each bandwidth, the 13 VGG16 conv layers'
total cycles at their shared densities (seeded synthetic data, as ``accelsim validate scnn``), the ratio to
the first bandwidth, the memory-stall share, and the DRAM traffic split into input reads (passes), output
spills and weight reads (``extra.dram_bytes_*``; the same at every bandwidth).  A sensitivity report: nothing
is fitted to it.

    python benchmarks/scnn_dram_sensitivity.py [--gbps 50 16 8 4 2 1] [--json out.json]

Single core; about 4 min here for the default six bandwidths.
"""

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import _single_core  # noqa: F401  (pins one thread before numpy is imported)

from accelsim.engine import make_model  # noqa: E402
from accelsim.models.scnn.validate import layer_from_row, layers_from_csv, run_layer  # noqa: E402
from accelsim.paths import shared_dir  # noqa: E402


def network_numbers(gbps: float, rows: list[dict]) -> dict:
    """Totals over ``rows`` with ``scnn`` at ``gbps`` GB/s: cycles, memory stall and DRAM bytes by kind."""
    m = make_model("scnn", {"dram.bandwidth_bytes_per_s": gbps * 1e9})
    tot = {"cycles": 0, "memory_stall": 0, "dram_bytes_in": 0.0, "dram_bytes_out": 0.0, "dram_bytes_weights": 0.0}
    for r in rows:
        res = run_layer(m, layer_from_row(r, None))
        tot["cycles"] += res.cycles
        tot["memory_stall"] += res.breakdown.get("memory_stall", 0)
        for k in ("dram_bytes_in", "dram_bytes_out", "dram_bytes_weights"):
            tot[k] += res.extra[k]
    return tot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gbps", type=float, nargs="+", default=[50, 16, 8, 4, 2, 1])
    ap.add_argument("--json", type=Path, help="also write the rows here")
    a = ap.parse_args()
    rows = layers_from_csv(shared_dir() / "validation" / "scnn_layer_densities" / "vgg16_conv.csv")
    out = []
    print("| GB/s | cycles | x first | memory stall share | DRAM MB in / out / weights |")
    print("|---|---|---|---|---|")
    for g in a.gbps:
        t = network_numbers(g, rows)
        t["gbps"] = g
        t["ratio_to_first"] = t["cycles"] / out[0]["cycles"] if out else 1.0
        out.append(t)
        print(f"| {g:g} | {t['cycles']:,} | {t['ratio_to_first']:.3f} | {t['memory_stall'] / t['cycles']:.1%} | "
              f"{t['dram_bytes_in'] / 1e6:.1f} / {t['dram_bytes_out'] / 1e6:.1f} / {t['dram_bytes_weights'] / 1e6:.1f} |",
              flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
