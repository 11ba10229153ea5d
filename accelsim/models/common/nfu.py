"""The NFU memory system and area rows shared by DianNao and Cambricon-X.

Both designs (``accelsim/models/diannao/``, ``accelsim/models/cambricon_x/``) have the same
field names for their Tn x Tm neural functional unit and buffers (``pe.count``,
``pe.multipliers``, ``data.bits``, ``nbin.bytes``, ``nbout.bytes``, ``sb.bytes_per_pe``), the same
DRAM traffic model (:func:`dma_traffic`) and the same generic area rows (:func:`nfu_area_rows`), so
that speedups and area ratios between the two isolate sparsity.  Also shared: the data-width field and the
width-named actions (:data:`DATA_BITS`, :func:`width_actions`), SRAM leakage (:func:`leakage_actions`), the
action -> chip block map and on-chip power (:func:`chip_power`), and the benchmark runs of both validation
suites (:func:`pruned_weights`, :func:`network_runs`).
"""

from __future__ import annotations

import numpy as np

from ...area import GENERIC, Builder, add_key, mult_key
from ...config import ArchConfig, Field

BUFFER_NOTE = ("buffer sizes of Cambricon-X are not established (accelerators.md §4.1: 8 KB NBin/NBout and "
               "2 KB SB per PE 'sometimes quoted', low confidence)")


#: data widths with energy rows in ``cambricon_x_65nm`` (arithmetic and SRAM rows per width)
WIDTHS = (8, 16, 32)


def data_bits_field(source: str) -> Field:
    """``data.bits``: the datapath width; the actions named after it (``mult_16b``, ``sb_read_8b``, ...) have
    energy rows for each of :data:`WIDTHS`, so the width is restricted to those."""
    return Field(int, "bits", default=16, choices=WIDTHS, source=source,
                 doc="datapath width: multipliers, adders, buffer words and DMA bytes; energy rows exist for "
                     "8, 16 and 32 bits")


def width_actions(*prefixes: str) -> tuple[str, ...]:
    """Every width-named action of ``prefixes`` (``mult`` -> ``mult_8b``, ``mult_16b``, ``mult_32b``)."""
    return tuple(f"{p}_{b}b" for p in prefixes for b in WIDTHS)


#: SRAM standby leakage, per byte of buffer per ns (rows from CACTI in cambricon_x_65nm)
LEAKAGE_ACTIONS = ("sb_leakage_byte_ns", "nb_leakage_byte_ns")


def leakage_actions(cfg: ArchConfig, cycles: int) -> dict[str, float]:
    """Byte-ns of SRAM standing for ``cycles`` at the config's clock: every PE's SB, NBin and NBout leak for the
    whole layer (stalls included)."""
    ns = float(cycles) * 1e9 / cfg.clock_hz
    return {"sb_leakage_byte_ns": int(cfg["pe.count"]) * float(cfg["sb.bytes_per_pe"]) * ns,
            "nb_leakage_byte_ns": (float(cfg["nbin.bytes"]) + float(cfg["nbout.bytes"])) * ns}


def dma_traffic(*, C: int, H: int, W: int, K: int, n_active: int, map_bytes: np.ndarray, n_pe: int,
                nbin_bytes: int, nbout_bytes: int, sb_bytes_per_pe: int, data_bytes: int) -> dict:
    """DRAM traffic of one layer (bytes), for DianNao and Cambricon-X alike (assumed model).

    * weights: every map's (compressed) filter is fetched once; a filter larger than
      one PE's SB is split into ``ceil(bytes / SB)`` reduction tiles.
    * inputs: fetched once if the (C, H, W) input fits NBin; otherwise once per
      reduction tile of every block of ``n_pe`` maps (the block's tiles are swept
      over all positions one after the other).
    * partial sums: with more than one tile, if the block's partial sums
      (n_pe x n_active values) exceed NBout they spill to DRAM (write + read per
      extra tile).
    * outputs: K x n_active values written once.
    """
    K = int(K)
    nb = -(-K // n_pe)
    tiles = np.maximum(1, -(-map_bytes.astype(np.int64) // int(sb_bytes_per_pe)))
    pad = nb * n_pe - K
    tiles_blk = np.concatenate([tiles, np.ones(pad, np.int64)]).reshape(nb, n_pe).max(axis=1)
    in_bytes = int(C) * int(H) * int(W) * data_bytes
    in_passes = 1 if in_bytes <= nbin_bytes else int(tiles_blk.sum())
    psum_blk = n_pe * int(n_active) * data_bytes
    spill = 0
    if psum_blk > nbout_bytes:
        spill = int(((tiles_blk - 1) * 2 * psum_blk).sum())
    w_bytes = int(map_bytes.sum())
    out_bytes = K * int(n_active) * data_bytes
    return {"weights": w_bytes, "inputs": in_bytes * in_passes, "input_passes": in_passes,
            "psum_spill": spill, "outputs": out_bytes,
            "total": w_bytes + in_bytes * in_passes + spill + out_bytes,
            "max_reduction_tiles": int(tiles_blk.max()) if nb else 0}


# ------------------------------------------------------------------ area
def nfu_area_parts(n, tm, bits, nbin, nbout, sb) -> list[tuple[str, str, float, str]]:
    """(component, GENERIC key, count, basis) of an NFU with ``n`` lanes/PEs of ``tm`` multipliers."""
    return [("pe.multipliers", mult_key(bits), n * tm, f"pe.count x pe.multipliers ({bits}-bit)"),
            ("pe.adder_tree", add_key(2 * bits), n * tm, "pe.count x pe.multipliers (Tm-1 tree adders + 1 accumulator)"),
            ("pe.synapse_buffer", "sram_byte", n * sb, "pe.count x sb.bytes_per_pe"),
            ("nbin", "sram_byte", nbin, "nbin.bytes"), ("nbout", "sram_byte", nbout, "nbout.bytes")]


def nfu_area_rows(cfg: ArchConfig, method: str) -> Builder:
    """Cambricon-X / DianNao generic rows from the shared field names (pe.count, pe.multipliers, ...)."""
    b = Builder(cfg, method)
    for name, key, count, basis in nfu_area_parts(int(cfg["pe.count"]), int(cfg["pe.multipliers"]),
                                                  int(cfg["data.bits"]), cfg["nbin.bytes"], cfg["nbout.bytes"],
                                                  cfg["sb.bytes_per_pe"]):
        b.add(name, GENERIC[key], count, basis)
    return b


# ------------------------------------------------------------------ chip power
#: chip block of each action prefix (the blocks of the chips' own descriptions); DRAM is off chip
BLOCKS = (("mult_", "NFU multipliers"), ("add_", "NFU adder trees"), ("sb_read_", "SB"),
          ("sb_index_read_bit", "SB"), ("im_", "IM (indexing module)"), ("nbin_read_", "NBin"),
          ("nbout_write_", "NBout"), ("sb_leakage", "SRAM leakage"), ("nb_leakage", "SRAM leakage"),
          ("dram_byte", "DRAM (off chip)"))
OFF_CHIP = "DRAM (off chip)"


def block_of(action: str) -> str:
    return next((b for p, b in BLOCKS if action.startswith(p)), action)


def chip_power(energy_pJ: dict[str, float], seconds: float) -> dict:
    """On-chip power (W) from energy per action over ``seconds``: ``{"total_w", "blocks_w", "off_chip_w"}``.
    DRAM energy is reported apart: a chip's layout power does not include the memory it talks to."""
    blocks: dict[str, float] = {}
    for a, e in energy_pJ.items():
        b = block_of(a)
        blocks[b] = blocks.get(b, 0.0) + e * 1e-12 / seconds
    off = blocks.pop(OFF_CHIP, 0.0)
    return {"total_w": sum(blocks.values()), "blocks_w": dict(sorted(blocks.items(), key=lambda kv: -kv[1])),
            "off_chip_w": off}


# ------------------------------------------------------------------ benchmark runs (both validation suites)
def pruned_weights(shape, density: float, rng: np.random.Generator, block_elems: int = 1 << 22):
    """Seeded He-normal weights magnitude-pruned to ``density`` (exact count per block of output maps).

    The ``round(density * n)`` largest magnitudes of each block survive.

    Large layers are pruned in blocks of whole output maps (<= ``block_elems``
    weights) so memory stays bounded; for i.i.d. weights this has the same
    statistics as one per-layer threshold.
    """
    import math

    from workloads.ir import SparseTensor
    K = shape[0]
    per = int(np.prod(shape[1:]))
    rows = max(1, block_elems // per)
    mask = np.zeros((K, per), bool)
    vals = []
    for a in range(0, K, rows):
        b = min(K, a + rows)
        w = rng.standard_normal((b - a, per)) * math.sqrt(2.0 / per)
        keep = int(round(density * w.size))
        if keep < w.size:  # keep the `keep` largest |w| (continuous values: no ties)
            cut = np.argpartition(np.abs(w).ravel(), w.size - keep)[:w.size - keep]
            w.ravel()[cut] = 0.0
        m = w != 0
        mask[a:b] = m
        vals.append(w[m])
    return SparseTensor(mask.reshape(shape), np.concatenate(vals) if vals else np.zeros(0))


def reduced_layer(layer, full: bool, fc_max_k: int = 512, spatial_div: int = 4):
    """Default mode: output planes divided by ``spatial_div`` and FC layers cut to ``fc_max_k`` output neurons."""
    from dataclasses import replace
    if full:
        return layer
    if layer.kind == "fc":
        return replace(layer, K=min(layer.K, fc_max_k), weights=None)
    P = max(3, layer.P // spatial_div)
    H = (P - 1) * layer.stride + layer.dilation * (layer.R - 1) + 1 - 2 * layer.padding
    return replace(layer, H=H, W=H, weights=None)


def network_runs(name: str, models: dict, full: bool, seed: int, density_override: float | None = None):
    """Simulate every layer of zoo network ``name`` (pruned per Han et al., or to ``density_override``) on each
    model; per-layer rows ``{"layer", "weight_density", "macs_dense", key: {cycles, latency_s, energy_j, ...}}``."""
    from dataclasses import replace

    from workloads import Workload
    from workloads.zoo import resolve

    from ...engine import run_instance
    src = resolve(name)
    rows = []
    for i, lname in enumerate(src.layer_names()):
        L0 = src.layers[lname]
        L = reduced_layer(L0, full)
        d = density_override if density_override is not None else (L0.weight_density or 1.0)
        rng = np.random.default_rng([seed, i, 6])
        L = replace(L, weights=pruned_weights(L.weight_shape, d, rng), weight_density=None)
        wl = Workload(name)
        wl.add_layer(L)
        row = {"layer": lname, "weight_density": d, "macs_dense": L.macs_dense}
        for key, m in models.items():
            r = run_instance(m, wl.instance(lname, 0), seed=seed)
            row[key] = {"cycles": int(r.cycles), "latency_s": r.latency_s, "energy_j": r.energy_j,
                        "breakdown": dict(r.breakdown), "energy_pJ": dict(r.energy_pJ),
                        "extra": {k: r.extra.get(k) for k in ("compute_cycles", "dma_cycles", "energy_share_im",
                                                              "index_formats", "dense_weight_bytes")}}
        rows.append(row)
    return rows


def network_power(rows: list[dict], key: str) -> dict:
    """On-chip power of model ``key`` over a network's rows (energy over the summed latency, stalls included)."""
    e: dict[str, float] = {}
    for row in rows:
        for a, v in row[key]["energy_pJ"].items():
            e[a] = e.get(a, 0.0) + v
    return chip_power(e, sum(row[key]["latency_s"] for row in rows))


#: blocks of the chips that the per-action model has no action for (each costs power on the real chip)
NOT_MODELLED = ("clock network", "pipeline registers", "control processor / instruction decode", "DMA / AXI engine",
                "logic leakage (only SRAM leakage is modelled)")
CLOCK_NOTE = ("EIE's layout (Han et al., ISCA 2016, Table II, 45 nm; accelerators.md §3) spends 20.5 % of its power "
              "in the clock network and 11.2 % in registers, blocks with no action here")
#: Horowitz ISSCC 2014 int multiply at 45 nm: 8-bit 0.2 pJ, 32-bit 3.1 pJ; the table's 16-bit row is 1.0 pJ
#: (accelerators.md §7.1); the geometric mean of the two published points is the 16-bit value of an energy that
#: grows as width^2 (array multiplier), 0.787 pJ
HOROWITZ_MULT16_GEOMETRIC = (0.2 * 3.1) ** 0.5


#: the two ways each suite runs its benchmark: the average over the run (DMA stall cycles cost only SRAM leakage
#: here, while on a chip the clock network keeps switching) and the chip while its NFU computes
MODE_NOTES = {
    "DMA stalls included": "average over the run; stall cycles cost only SRAM leakage in the model (on the chip "
                           "the clock network keeps switching), which lowers this average",
    "computing only, ideal memory": "no DMA stalls: the chip at its computing activity, the like-for-like reading "
                                    "of a layout power figure",
}


def chip_power_rows(label: str, powers: dict[str, dict], ref_w: float, ref_source: str, tol: float = 0.3):
    """Validation rows ``chip power, <label> (<mode>)`` against a published chip power, and the per-block account.

    ``powers``: mode -> :func:`chip_power` result.  Returns ``(checks, analysis)``; the analysis lists each mode's
    blocks (mW), the DRAM power left off chip, the blocks with no action, and how much of the model's power the
    16-bit multiplier row's interpolation accounts for (Horowitz 1.0 pJ vs the geometric 0.787 pJ; reported, not
    applied)."""
    from ...checks import check
    checks, modes = [], {}
    for mode, pw in powers.items():
        blocks = ", ".join(f"{b} {1e3 * w:.0f}" for b, w in pw["blocks_w"].items())
        mult_w = pw["blocks_w"].get("NFU multipliers", 0.0)
        alt = pw["total_w"] - mult_w * (1.0 - HOROWITZ_MULT16_GEOMETRIC)
        modes[mode] = {"note": MODE_NOTES.get(mode, ""), "total_w": pw["total_w"], "rel_error": (pw["total_w"] - ref_w) / ref_w,
                       "blocks_mw": {b: 1e3 * w for b, w in pw["blocks_w"].items()},
                       "off_chip_dram_w": pw["off_chip_w"],
                       "with_geometric_mult16_w": alt}
        checks.append(check(f"chip power, {label} ({mode})", pw["total_w"], ref_w, "W", kind="validation", tol=tol,
                            note=f"{MODE_NOTES.get(mode, mode)}; on chip, by block (mW): {blocks}; DRAM {pw['off_chip_w']:.3g} W is off chip and "
                                 f"not counted ({ref_source} is the chip's layout power); not modelled: "
                                 f"{', '.join(NOT_MODELLED)}"))
    analysis = {"reference_w": ref_w, "reference_source": ref_source, "modes": modes,
                "account": _power_account(modes, ref_w),
                "not_modelled": list(NOT_MODELLED), "clock_note": CLOCK_NOTE,
                "rows": "arithmetic: Horowitz 45 nm x 1.78 (65 nm, 1.0 V assumed); SRAM: CACTI 7 65 nm for the "
                        "presets' buffer sizes and Tm-wide rows (energy_tables/cacti); DRAM off chip",
                "mult16_note": "the 16-bit multiply row is Horowitz's commonly used 1.0 pJ interpolation; the "
                               "geometric mean of Horowitz's 8- and 32-bit points is 0.787 pJ: "
                               "'with_geometric_mult16_w' is the total with that row (reported, not applied)"}
    return checks, analysis


def _power_account(modes: dict, ref_w: float) -> list[str]:
    """Block-by-block account of each mode's gap (sentences built from the numbers)."""
    out = []
    for mode, m in modes.items():
        top = sorted(m["blocks_mw"].items(), key=lambda kv: -kv[1])
        share = ", ".join(f"{b} {v:.0f} mW ({100 * v / (1e3 * m['total_w']):.0f} %)" for b, v in top[:3])
        line = (f"{mode}: {1e3 * m['total_w']:.0f} mW vs {1e3 * ref_w:.0f} mW ({100 * m['rel_error']:+.0f} %); "
                f"largest blocks {share}")
        if m["rel_error"] > 0:
            line += ("; the blocks modelled already exceed the chip's total while clock network, registers and "
                     "control are missing (31.7 % of EIE's layout power), so the per-action rows present are likely "
                     "high for this chip; first suspect: the largest, the multiplier row (an interpolated Horowitz "
                     "value for random operands)")
        else:
            line += "; the blocks not modelled (clock network, registers, control: 31.7 % of EIE's layout power) " \
                    "can account for the shortfall"
        line += (f"; with the geometric 16-bit multiply (0.787 pJ instead of 1.0 pJ at 45 nm) the total would be "
                 f"{1e3 * m['with_geometric_mult16_w']:.0f} mW ({100 * (m['with_geometric_mult16_w'] - ref_w) / ref_w:+.0f} %)")
        out.append(line)
    return out
