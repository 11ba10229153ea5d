"""The Cambricon-X model class: schema, hooks and the per-layer simulation (see the package docstring)."""

from __future__ import annotations

import math

import numpy as np

from ...area import AreaReport
from ...config import Field
from ...engine import AcceleratorModel, LayerResult, largest_remainder
from ...errors import ConfigError
from ...registry import register_model
from ..common.nfu import BUFFER_NOTE, LEAKAGE_ACTIONS, data_bits_field, dma_traffic, leakage_actions, width_actions
from ..common.weight_walk import effectual_and_output, weights_csr
from .area import cambricon_x_area
from .formats import IM_ACTIONS, compress
from .kernel import map_cycles, timeline

PAPER = "Zhang et al., Cambricon-X, MICRO 2016"


@register_model("cambricon-x")
class CambriconX(AcceleratorModel):
    """Cambricon-X: 16 asynchronous PEs x 16 multipliers, compressed weights, central indexing module."""

    ACTIONS = (*width_actions("mult", "add", "sb_read"), "sb_index_read_bit", *IM_ACTIONS,
               *width_actions("nbin_read", "nbout_write"), *LEAKAGE_ACTIONS, "dram_byte")
    ISO_FIELDS = {"pe.count": "lin"}
    DRAM_BANDWIDTH = ("dma.bytes_per_cycle", True)
    DATAPATH_FIELD = ("data.bits", 1)

    FIELDS = {
        "pe.count": Field(int, "PEs", default=16, source=f"{PAPER}, abstract / Sec. 4 (Tn = 16)"),
        "pe.multipliers": Field(int, "multipliers/PE", default=16, source=f"{PAPER}, Sec. 4 (Tm = 16)"),
        "pe.sync": Field(str, "", default="async", choices=("async", "lockstep"),
                         source=f"{PAPER}, abstract (PEs asynchronous)",
                         doc="async: each PE moves on when done; lockstep: groups wait for their slowest PE"),
        "data.bits": data_bits_field(f"{PAPER}: 16-bit fixed point"),
        "index.format": Field(str, "", default="step", choices=("step", "direct", "auto"),
                              source="assumed: the paper compares both and picks by sparsity range",
                              doc="weight index format held in the SB and decoded by the IM; auto: the "
                                  "smaller of the two per layer"),
        "index.step_bits": Field(int, "bits", default=8, min=1, max=16, source="assumed",
                                 doc="width of a step index; longer gaps insert padding entries"),
        "im.window_neurons": Field(int, "neurons", default=256, min=1,
                                   source="assumed: one NBin read of Tn x Tm = 256 neurons",
                                   doc="span of consecutive input neurons the IM can select a chunk from"),
        "nbin.neurons_per_cycle": Field(int, "neurons/cycle", default=256, min=1,
                                        source="assumed: one NBin row of Tn x Tm = 256 neurons per cycle",
                                        doc="NBin read bandwidth into the buffer controller (shared by all IMs)"),
        "nbin.bytes": Field(int, "bytes", default=8192, source=f"assumed; {BUFFER_NOTE}"),
        "nbout.bytes": Field(int, "bytes", default=8192, source=f"assumed; {BUFFER_NOTE}"),
        "sb.bytes_per_pe": Field(int, "bytes", default=2048, source=f"assumed; {BUFFER_NOTE}"),
        "dma.bytes_per_cycle": Field(float, "bytes/cycle", default=256.0,
                                     source="assumed (DRAM bandwidth not established, accelerators.md §10)"),
        "dma.enabled": Field(bool, "", default=True, doc="false: ideal memory (no DMA stalls, no DRAM energy)"),
        "pipeline.fill_cycles": Field(int, "cycles", default=7, min=0,
                                      source="assumed: IM decode 2 + multiply 1 + adder tree 4 stages, once per layer"),
        "skip_masked_outputs": Field(bool, "", default=True,
                                     doc="skip output neurons the dynamic head's mask turns off"),
    }
    MAPPING_NOTES = {
        "conv": "PE i computes output map block*16+i at one position; dot product over C*R*S non-zeros",
        "fc": "PE i computes output neuron block*16+i; dot product over the C non-zeros of its row",
        "depthwise": "PE i computes channel block*16+i; dot product over the R*S non-zeros of its own channel",
    }

    @classmethod
    def check_config(cls, cfg):
        if cfg["im.window_neurons"] < cfg["pe.multipliers"]:
            raise ConfigError(f"must be >= pe.multipliers ({cfg['pe.multipliers']}): a window narrower than "
                              "Tm cannot feed a dense chunk", file=cfg.file, field="im.window_neurons")

    def peak_macs_per_cycle(self) -> int:
        return int(self.cfg["pe.count"]) * int(self.cfg["pe.multipliers"])

    def peak_ops_per_s(self) -> float:
        """Useful-work peak (ops/s): PEs x multipliers x 2 (multiply + add) x clock."""
        return 2.0 * self.peak_macs_per_cycle() * self.cfg.clock_hz

    def area(self) -> AreaReport:
        """Generic NFU rows plus 'other logic' from the published 6.38 mm^2
        (:func:`accelsim.models.cambricon_x.area.cambricon_x_area`)."""
        return cambricon_x_area(self.cfg)

    @classmethod
    def validation_suite(cls):
        from .validate import validate
        return validate

    # -------------------------------------------------------------- one layer
    def simulate_layer(self, inst, functional: bool = False) -> LayerResult:
        cfg = self.cfg
        Ly = inst.layer
        n_pe, tm = int(cfg["pe.count"]), int(cfg["pe.multipliers"])
        vb, sbits = int(cfg["data.bits"]), int(cfg["index.step_bits"])
        db = max(1, vb // 8)
        csr = weights_csr(inst)  # both formats encode the same CSR rows
        comp = compress(inst, "step", vb, sbits, csr)
        other = compress(inst, "direct", vb, sbits, csr)
        fmt = cfg["index.format"]
        if fmt == "direct" or (fmt == "auto" and other.map_bits().sum() < comp.map_bits().sum()):
            comp, other = other, comp
        fmt = comp.fmt  # auto: the smaller format for this layer
        K, L = comp.K, comp.L
        om = inst.out_mask_or_ones().ravel()
        active = (om if cfg["skip_masked_outputs"] else np.ones_like(om)).astype(np.bool_)
        n_active = int(active.sum())
        ones = np.ones_like(active)

        map_cyc = map_cycles(comp.ptr, comp.pos, tm, int(cfg["im.window_neurons"]))
        lock = cfg["pe.sync"] == "lockstep"
        pe_busy, t_lock = timeline(map_cyc, active, n_pe, lock)
        comp_cyc = int(t_lock if lock else (pe_busy.max() if pe_busy.size else 0))

        # multiplier-slot accounting per PE (slots = cycles x Tm), summed over PEs
        ent = comp.entries_per_map
        nnz = comp.nnz_per_map
        chunks_min = -(-ent // tm)
        pe_of = np.arange(K) % n_pe
        per_pe = lambda x: np.bincount(pe_of, weights=x.astype(np.float64), minlength=n_pe) * n_active  # noqa: E731
        s_busy = per_pe(nnz).sum()
        s_pad = per_pe(ent - nnz).sum()
        s_frag = per_pe(chunks_min * tm - ent).sum()
        s_win = per_pe((map_cyc - chunks_min) * tm).sum()
        s_idle = float(comp_cyc * n_pe * tm) - float(pe_busy.sum()) * tm
        parts = {"busy": s_busy, "fragmentation": s_frag, "step_padding": s_pad, "im_window": s_win,
                 "load_imbalance": s_idle}
        bd = largest_remainder({k: v / (n_pe * tm) for k, v in parts.items()}, comp_cyc)

        dma = dma_traffic(C=Ly.C, H=Ly.H, W=Ly.W, K=K, n_active=n_active, map_bytes=comp.map_bytes(), n_pe=n_pe,
                          nbin_bytes=cfg["nbin.bytes"], nbout_bytes=cfg["nbout.bytes"],
                          sb_bytes_per_pe=cfg["sb.bytes_per_pe"], data_bytes=db)
        dma_cyc = int(math.ceil(dma["total"] / cfg["dma.bytes_per_cycle"])) if cfg["dma.enabled"] else 0
        # NBin -> BC stream: each (block, active position) receptive field of L neurons is read once and
        # broadcast to the selectors; the PEs cannot run ahead of it on average
        nb = -(-K // n_pe)
        nbin_cyc = nb * n_active * -(-L // int(cfg["nbin.neurons_per_cycle"]))
        nbin_stall = max(0, nbin_cyc - comp_cyc)
        stall = max(0, dma_cyc - comp_cyc - nbin_stall)
        fill = int(cfg["pipeline.fill_cycles"]) if comp_cyc else 0
        bd.update(nbin_bandwidth=nbin_stall, memory_stall=stall, pipeline_fill=fill)
        cycles = comp_cyc + nbin_stall + stall + fill

        # compute counts (activations dense: zero neurons are multiplied); action names carry the data width
        n_real = int(nnz.sum())
        n_pad = int(ent.sum()) - n_real
        macs_actual = n_real * n_active
        macs_gated = n_pad * n_active  # padding entries keep a slot; weight 0 -> gated
        eff, out = effectual_and_output(inst, active, functional, comp)
        e_all = int(ent.sum()) * n_active
        actions = {
            f"mult_{vb}b": macs_actual,
            f"add_{vb}b": macs_actual,                   # adder tree + accumulator: one add per product
            f"sb_read_{vb}b": e_all,                     # synapse values (padding entries included)
            "sb_index_read_bit": (e_all * sbits) if fmt == "step" else K * L * n_active,
            f"im_select_{vb}b": e_all,                   # neurons muxed out of the window to the PEs
            "im_step_add": e_all if fmt == "step" else 0,          # prefix-sum adder chain
            "im_direct_scan_bit": K * L * n_active if fmt == "direct" else 0,  # mask bits scanned
            f"nbin_read_{vb}b": nb * n_active * L,       # BC streams each position's receptive field once per block
            f"nbout_write_{vb}b": K * n_active,
            **leakage_actions(cfg, cycles),              # SB / NBin / NBout standby leakage over the layer
            "dram_byte": dma["total"] if cfg["dma.enabled"] else 0,
        }
        actions = {a: v for a, v in actions.items() if v}
        e_pJ = self.energy.rollup(actions)
        e_tot = sum(e_pJ.values())
        im_pJ = sum(v for a, v in e_pJ.items() if a in IM_ACTIONS)

        # savings: weight sparsity vs the dynamic head's output mask (compute cycles, async)
        dense_neuron = -(-L // tm)
        pe_maps = np.bincount(pe_of, minlength=n_pe)
        dense_nomask = int(pe_maps.max()) * dense_neuron * int(ones.sum()) if K else 0
        pe_sparse_nomask, t_lock1 = timeline(map_cyc, ones, n_pe, lock)
        sparse_nomask = int(t_lock1 if lock else pe_sparse_nomask.max())
        mean_pe = float(pe_busy.mean()) if pe_busy.size else 0.0
        fmts = {c.fmt: {"storage_bytes": int(c.map_bytes().sum()), "value_bits": int(c.entries_per_map.sum()) * vb,
                        "index_bits": int(c.map_bits().sum() - c.entries_per_map.sum() * vb),
                        "entries": int(c.entries_per_map.sum()), "padding_entries": int(c.pad.sum()),
                        "decode_ops_per_pass": (int(c.entries_per_map.sum()) if c.fmt == "step" else K * L),
                        "decode_op": "prefix-sum addition" if c.fmt == "step" else "mask bit scanned"}
                for c in (comp, other)}
        extra = {
            "index_format": fmt, "index_formats": fmts, "dense_weight_bytes": K * L * db,
            "weight_nnz": n_real, "weight_density": n_real / max(1, K * L), "reduction_length": L,
            "n_active_positions": n_active, "compute_cycles": comp_cyc, "nbin_cycles": nbin_cyc,
            "dma_cycles": dma_cyc, "dma_bytes": dma,
            "pe_cycles": pe_busy.tolist(),
            "load_imbalance_ratio": float(pe_busy.max() / mean_pe) if mean_pe else 1.0,
            "savings": {"dense_weights_no_mask_cycles": dense_nomask, "sparse_weights_no_mask_cycles": sparse_nomask,
                        "actual_compute_cycles": comp_cyc,
                        "weight_sparsity_saved_cycles": dense_nomask - sparse_nomask,
                        "output_mask_saved_cycles": sparse_nomask - comp_cyc},
            "energy_share_im": im_pJ / e_tot if e_tot else 0.0,
        }
        return LayerResult(inst.name, inst.image, cycles, bd, actions, Ly.macs_dense, eff, macs_actual,
                           macs_skipped=Ly.macs_dense - macs_actual - macs_gated, macs_gated=macs_gated,
                           output=out, extra=extra)
