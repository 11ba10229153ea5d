"""DianNao validation suite (``accelsim validate diannao``): the published peak, area and chip power (Chen et al.,
ASPLOS 2014, abstract: 452 GOP/s, 3.02 mm^2 and 485 mW after layout at 65 nm, 0.98 GHz)."""

from __future__ import annotations

import time

from ...checks import check
from ..common.nfu import chip_power_rows, network_power, network_runs

PAPER = "Chen et al., DianNao, ASPLOS 2014, abstract"
PAPER_PEAK = 452e9      # ops/s: "452 GOP/s (key NN operations such as synaptic weight multiplications and neurons
#                         outputs additions)" [abstract]
PAPER_AREA_MM2 = 3.02   # after layout at 65 nm [abstract]
PAPER_POWER_W = 0.485   # after layout at 65 nm [abstract]
PAPER_CLOCK_HZ = 0.98e9  # the chip's clock (issue 15's brief: 0.98 GHz at 65 nm); the preset runs at Cambricon-X's 1 GHz


def validate(shared=None, full: bool = False) -> dict:
    """Checks of the DianNao model against its paper's published chip figures.

    * peak: Tn x Tm multipliers x 2 ops (multiply + add) at 0.98 GHz against the 452 GOP/s headline
      (consistency: config arithmetic; the op count behind 452 is not in the abstract).
    * area: the generic NFU rows (multipliers, adder trees, buffers) against 3.02 mm^2; they leave out control,
      wiring and filler, so they must stay below it (the relative error is the share not modelled).
    * chip power at 0.98 GHz against 485 mW: on-chip energy (DRAM excluded: the published figure is the chip's
      layout power) over the run time, by block, on AlexNet with all weights non-zero (DianNao's own benchmark
      layers are not transcribed in this project; the Cambricon-X paper runs DianNao on AlexNet), with DMA
      stalls and with ideal memory.  Default mode divides conv output planes by 4 and cuts FC layers to 512
      output neurons (``full=True``: the real sizes).  ``power_analysis`` gives the block-by-block account.

    Nothing is fitted to the paper numbers; rel_error is what comes out.
    """
    from accelsim.engine import make_model

    t0 = time.perf_counter()
    seed = 0
    mode = "full sizes" if full else "reduced: conv output planes / 4, FC layers cut to 512 output neurons"
    dn = make_model("diannao", {"clock_hz": PAPER_CLOCK_HZ})
    checks = []

    peak = 2.0 * dn.peak_macs_per_cycle() * dn.cfg.clock_hz
    checks.append(check("peak throughput vs the paper's 452 GOP/s", peak / 1e9, PAPER_PEAK / 1e9, "GOP/s",
                        kind="consistency",
                        note="Tn x Tm = 256 multipliers x 2 ops (multiply + add) x 0.98 GHz; the abstract counts "
                        "'synaptic weight multiplications and neurons outputs additions' without the per-cycle "
                        "count; consistency: a peak from the config, the gap is an ops-counting convention"))

    area = dn.area().total_mm2
    checks.append(check("area (generic NFU rows) vs the published 3.02 mm^2", area, PAPER_AREA_MM2, "mm^2",
                        kind="validation", passed=area <= PAPER_AREA_MM2,
                        note="multipliers, adder trees, SB / NBin / NBout from generic 65 nm rows at the preset's "
                        "(assumed) buffer sizes; control, wiring and filler cells are not counted, so pass = a lower "
                        "bound (area <= published); the relative error is the share of the chip not modelled"))

    dn_ideal = make_model("diannao", {"clock_hz": PAPER_CLOCK_HZ, "dma.enabled": False})
    rows = network_runs("alexnet", {"dn": dn, "dn_nodma": dn_ideal}, full, seed, density_override=1.0)
    power_checks, power = chip_power_rows(
        "AlexNet, all weights non-zero", {"DMA stalls included": network_power(rows, "dn"),
                                          "computing only, ideal memory": network_power(rows, "dn_nodma")},
        PAPER_POWER_W, "DianNao 485 mW at 0.98 GHz, 65 nm (abstract)")
    checks += power_checks
    per_layer = [{"layer": r["layer"], "cycles": r["dn"]["cycles"], "cycles_ideal_memory": r["dn_nodma"]["cycles"],
                  "energy_j": r["dn"]["energy_j"], "breakdown": r["dn"]["breakdown"]} for r in rows]
    return {"model": "diannao", "mode": mode, "checks": checks, "per_layer": per_layer, "power_analysis": power,
            "wall_s": time.perf_counter() - t0}
