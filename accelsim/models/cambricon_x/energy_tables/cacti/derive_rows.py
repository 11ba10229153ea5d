"""Re-derive the SRAM rows of ``cambricon_x_65nm.yaml`` with CACTI 7 (not run by the tests).

Usage::

    python derive_rows.py CACTI_DIR        # CACTI_DIR holds the built ``cacti`` binary and its ``cache.cfg``

CACTI 7 (Balasubramonian, Kahng, Muralimanohar, Shafiee, Srinivas, ACM TACO 14(2), 2017; the source
tree is the one shipped in the ``hwcomponents-cacti`` 1.0.40 wheel on PyPI, built with ``make opt``).
Every run starts from CACTI's own sample ``cache.cfg`` (ITRS high-performance cells and periphery,
360 K, normal access, cycle-time objective) and changes only what describes the buffer:

* ``-size`` and ``-block size`` (one access = one row of ``Tm`` values: the NFU reads Tm synapses per
  lane / PE and Tm input neurons per cycle, writes Tn outputs; Tm = Tn = 16), ``-output/input bus
  width`` = the row, ``-associativity 1``, ``-cache type "ram"`` (a scratchpad: no tags),
  ``-Add ECC "false"``, ``-technology (u) 0.065`` (both chips are 65 nm).

Buffer sizes are the presets' (SB 2 KB per PE, NBin 8 KB, NBout 8 KB; assumed, see accelerators.md
§4.1).  Prints, per buffer and data width, the read / write energy per access (pJ), per value
(access / Tm) and per bit, the standby leakage (mW, subthreshold + gate) and the access and cycle
times, as the rows in the YAML record them (``cacti_65nm_runs.md`` beside this file).
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TM = 16
BUFFERS = {"sb": 2048, "nbin": 8192, "nbout": 8192}
WIDTHS = (8, 16, 32)
CHANGES = {
    r"-size \(bytes\)": "-size (bytes) {size}",
    r"-block size \(bytes\)": "-block size (bytes) {block}",
    r"-associativity": "-associativity 1",
    r"-technology \(u\)": "-technology (u) 0.065",
    r"-output/input bus width": "-output/input bus width {bits}",
    r"-cache type": '-cache type "ram"',
    r"-Add ECC": '-Add ECC - "false"',
}


def config(base: str, size: int, block: int) -> str:
    out = []
    for line in base.splitlines():
        for pat, rep in CHANGES.items():
            if re.match(pat, line):
                line = rep.format(size=size, block=block, bits=8 * block)
                break
        out.append(line)
    return "\n".join(out) + "\n"


def run(cacti_dir: Path, size: int, block: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "buf.cfg"
        cfg.write_text(config((cacti_dir / "cache.cfg").read_text(), size, block))
        subprocess.run(["./cacti", "-infile", str(cfg)], cwd=cacti_dir, check=True, capture_output=True)
        row = list(csv.DictReader(Path(str(cfg) + ".out").read_text().splitlines()))[-1]
    row = {k.strip(): v.strip() for k, v in row.items() if k}
    return {"read_pJ": 1e3 * float(row["Dynamic read energy (nJ)"]),
            "write_pJ": 1e3 * float(row["Dynamic write energy (nJ)"]),
            "leak_mW": float(row["Standby leakage per bank(mW)"]), "area_mm2": float(row["Area (mm2)"]),
            "access_ns": float(row["Access time (ns)"]), "cycle_ns": float(row["Random cycle time (ns)"])}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    cacti_dir = Path(argv[0])
    print("| buffer | bytes | value bits | row bits | read pJ/access | write pJ/access | read pJ/value | "
          "write pJ/value | read pJ/bit | leakage mW | area mm2 | access ns | cycle ns |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, size in BUFFERS.items():
        for bits in WIDTHS:
            block = TM * bits // 8
            r = run(cacti_dir, size, block)
            print(f"| {name} | {size} | {bits} | {8 * block} | {r['read_pJ']:.4f} | {r['write_pJ']:.4f} | "
                  f"{r['read_pJ'] / TM:.4f} | {r['write_pJ'] / TM:.4f} | {r['read_pJ'] / (8 * block):.5f} | "
                  f"{r['leak_mW']:.4f} | {r['area_mm2']:.5f} | {r['access_ns']:.4f} | {r['cycle_ns']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
