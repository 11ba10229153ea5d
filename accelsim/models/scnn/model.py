"""SCNN (Parashar et al., ISCA 2017): cycle-level, data-driven model of the PT-IS-CP-sparse dataflow.

Reads top-down like the paper (Sec. III-IV; ``../shared/docs/accelerators.md`` section 2):

1. **Config** (``FIELDS``): 8x8 PEs, an F x I = 4 x 4 multiplier array per PE, A = 32
   accumulator banks x 32 entries x 24 b (double-buffered), IARAM/OARAM 10 KB, a 50-entry
   weight FIFO, 16-bit values with 4-bit run-length indices, DRAM bandwidth.

2. **Plan** (:func:`accelsim.models.common.planar.plan_layer`, shared with the dense DCNN
   baseline, ``accelsim/models/dcnn/``):

   * *Planar tiling.*  The H x W **input** plane is cut into ``pe_rows x pe_cols`` tiles
     with balanced boundaries (``floor(i*H/rows)``), one tile per PE, spanning all C
     channels.  Each PE holds its input tile (input stationary, no input halo) and owns
     the output pixels whose centre tap ``p*stride - pad + ((R-1)//2)*dilation`` falls in
     its tile (clamped at the border).  Its accumulators cover its *footprint*: every
     output reachable from its tile, i.e. the owned outputs plus an output halo of up to
     R-1 rows / S-1 columns.
   * *Kc.*  All PEs use one accumulator layout of ``Pacc x Qacc`` (the largest footprint),
     so ``Kc = floor(banks*entries / (Pacc*Qacc))``, capped at K/groups (``kc`` > 0 in
     the config caps it further, e.g. the paper's Kc = 8 study).  A plane whose footprint
     does not fit even one channel is processed in several *planar passes* (a finer tile
     grid, ``pe_rows*ny x pe_cols*nx`` tiles, pass (a, b) = the contiguous block of tiles
     a*rows.., b*cols..).
   * *Strides* are handled as in DNNsim: activations and weights are split into the
     stride^2 phases ((y+pad) mod s, (x+pad) mod s) / ((r*dil) mod s, (s*dil) mod s) and
     only matching phases are multiplied, so no product is discarded for misalignment.
   * *Grouped / depthwise layers* (documented fallback, not native SCNN): each
     convolution group runs as its own C/g -> K/g convolution on the array, its Kc groups
     never crossing a convolution group (DNNsim's "MobileNet fix").
   * *FC layers and 1x1 output planes*: planar tiling has nothing to split, so the output
     channels are dealt to the PEs (each PE holds a broadcast copy of the input vector and
     its own slice of K); with one activation per channel an I-vector holds one useful
     entry, hence ~25 % of peak (Sec. VI).

3. **Compressed formats** (``formats.py``: :func:`build_act_streams`, :func:`build_weight_streams`): the
   activations of each PE tile are run-length encoded per (channel, phase) in row-major
   order, the weights per (channel c, Kc-group) block in (r, s, k) order -- k innermost, so
   an F-vector of a dense block spans F output channels at one filter tap (DNNsim's
   order; ``weight_order: krs`` gives the other order).  Both use
   :func:`accelsim.formats.rle.rle_fill` with ``index_bits``-bit zero counts: a run longer
   than 2^bits - 1 inserts an explicit zero, which occupies a multiplier slot
   (``rle_padding``).

4. **Cycle loop** (``kernel.py``: :func:`scnn_kernel`, Numba): for every barrier round (pass, Kc-group)
   and PE: for each input channel (and phase) the PE holds an I-vector of its activation
   entries while the F-vectors of the (c, group) weight block stream past; one
   multiplier-array step computes the F x I Cartesian product.  Each product's output
   coordinate ``(k, (y+pad-r*dil)/s, (x+pad-s*dil)/s)`` comes from the indices; products
   outside the output plane are discarded (``out_of_plane``); the rest cross the 16 x 32
   scatter crossbar to an accumulator bank.  The paper gives no hash; two are provided
   (:func:`~accelsim.models.scnn.kernel.bank_terms`, ``accumulator.bank_hash``), with ``spatial = (p-p0)*Qacc + (q-q0)``
   the position in the PE's accumulator footprint:

       linear (default): ``bank = ((k_local*Pacc + p - p0)*Qacc + q - q0) mod A``
       skewed:           ``bank = (k_local mod F) + F * ((spatial + k_local // F) mod (A/F))``

   (linear: plain low-order interleaving of the accumulator address; skewed: an F-vector
   of consecutive channels uses F distinct lanes and consecutive pixels of an I-vector
   distinct spatial slots, so dense data never conflict).  The default is ``linear``:
   SCNN's loss at full density is attributed (in a third-party reading of the paper) to
   contention among products hashing to the same accumulator bank, which the skewed hash
   never produces on dense data (docs/timing-model.md, SCNN "Bank hash"; until 2026-11-27
   the default was skewed).
   A bank accepts one product per cycle.  ``accumulator.conflict_model``:
   ``fifo`` (default) -- each of the F x I multipliers writes its product into its own
   output FIFO of ``fifo_depth`` products (8); every cycle each bank takes one of the
   FIFO heads aimed at it (``arbitration``: longest queue first, ties round robin;
   round robin and fixed priority are options), and the lock-step array issues its next
   step in a cycle only when no FIFO that receives one of its products is full (Kim,
   Park & Park, IEEE Access 2022: FIFOs between multiplier outputs and crossbar buses,
   arbitration among them).  Walked cycle by cycle on the real products; cycles in
   which the next step cannot issue, and the drain of the FIFOs before the barrier, are
   ``bank_conflict`` stalls.  Depth 1 is DNNsim's model when consecutive steps use the
   same lanes.  ``step_max`` (DNNsim) -- a step lasts ``max products on one bank``
   cycles, the ``max - 1`` extra are stalls; ``queue`` -- per-bank queues of
   ``queue_depth`` products drain one per cycle, a step issues when every bank it needs
   has room, and the round ends when the queues are empty.
   After each round all PEs barrier (``load_imbalance`` = idle PE-cycles), exchange
   output halos (``halo``: the largest halo of a PE, ``(footprint - owned) x Kc`` partial
   sums at ``halo.psums_per_cycle``), and the PPU drains the owned accumulators
   (``ppu.entries_per_cycle``) while the next round computes in the other accumulator
   buffer; only the excess shows (``ppu_drain``; the last round's drain is exposed).

5. **Memory.**  A layer whose compressed input tiles (summed over a PE's passes) fit in
   IARAM is resident (produced on chip by the previous layer); otherwise the plane is
   split into passes whose tiles fit and the input is read from DRAM once.  Outputs of a
   PE that overflow its OARAM are written to DRAM (output entries are estimated as the
   outputs with at least one effectual product: ReLU zeros are unknown in timing mode).
   Weights are always streamed from DRAM and broadcast to all PEs: a PE needs the (c, group)
   block of a channel its tile has non-zero activations in, once when the block fits the
   weight FIFO, else once per I-vector; one broadcast read serves every PE, so a round reads
   each block as often as the PE that needs it most (``rounds.dram_weight_loads``).  Per pass,
   DRAM time ``bytes / (bandwidth/clock)`` overlaps compute (double-buffered); the excess
   is ``memory_stall``.

6. **Output mask** (the dynamic head's spatial gate, ``out_mask`` (P, Q)): baseline SCNN
   ignores it -- products aimed at masked-off outputs are computed, routed and
   accumulated (``masked_output``, counted in ``macs_actual``) and the PPU discards them.
   With ``output_mask_skip: true`` (a variant, not the paper's design) the activation
   sequencer drops activations none of whose R x S targets is active, and the products
   of kept activations that aim at masked-off outputs are gated before the multiplier
   (no multiply / crossbar / accumulator energy; ``macs_gated``).  ``mask_skip_granularity``
   says what a gated product saves: ``product`` -- only its energy, its F x I step keeps
   its cycle; ``step`` (preset ``scnn-maskskip``) -- in addition a step none of whose
   products lands on an active output is not issued: no cycle, no weight-FIFO read, no
   multiply (``steps_skipped``; its in-plane products are ``macs_skipped``).

7. **Compute counts** (:mod:`accelsim.base`): every in-plane product issued is one
   algorithmic MAC, performed (``macs_actual``) or gated (``macs_gated``); the rest of
   ``macs_dense`` was never issued (padding taps, zero operands, dropped activations,
   skipped steps: ``macs_skipped``).  Out-of-plane products and products of RLE padding
   entries are multiplier work outside the algorithmic count
   (``extra["products_outside_dense"]``), charged in ``mult_16b`` with the rest.

Functional mode accumulates the real products (float64) into the output at the same
coordinates (halo exchange is a sum, so a global buffer is equivalent), adds the bias
and zeroes masked-off outputs; timing-only mode skips the arithmetic.

Cycle breakdown (keys shared with the other models; they sum to ``cycles``): ``busy``
(effectual products / (F*I), averaged over PEs), ``fragmentation`` (empty multiplier
slots of partial I/F vectors), ``rle_padding``, ``out_of_plane``, ``masked_output``,
``bank_conflict``, ``load_imbalance``, ``halo``, ``ppu_drain``, ``memory_stall``.

Sampling (``--sample``): the barrier rounds are the work units (``sampling.py``); :meth:`SCNN.prepare` (``prepare.py``),
:meth:`SCNN.run_rounds`, :func:`round_numbers` and :meth:`SCNN.assemble` are shared by both paths.  In the sampled
modes the crossbar is walked only for the PEs that may be a round's barrier (``barrier.py``; every unit's other
counters from a crossbar-free pass of the same kernel): a statistical rule whose layers must give the exhaustive
cycles (benchmarks/paper_scale.py's accuracy part counts them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from workloads import LayerInstance

from ...area import AreaReport
from ...base import AcceleratorModel, LayerResult
from ...config import ArchConfig, Field
from ...errors import ConfigError, UnsupportedLayer
from ...registry import register_model
from ..common.planar import (
    GEOMETRY_FIELDS,
    PlanarArrayMixin,
    apportion,
    geom,
    round_timeline,
)
from .area import scnn_area
from .barrier import barrier_stats, layer_seed, merge, walk_units
from .kernel import (
    N_ST,
    ST_CYC,
    ST_EFF,
    ST_MASK,
    ST_STALL,
    scnn_kernel,
    scnn_kernel_parallel,
)
from .prepare import prepare_layer
from .rounds import ROUND_SUMS, Prepared, round_numbers  # noqa: F401 - re-exported

#: cycle-breakdown keys in report order
BREAKDOWN_KEYS = ("busy", "fragmentation", "rle_padding", "out_of_plane", "masked_output", "bank_conflict",
                  "load_imbalance", "halo", "ppu_drain", "memory_stall")


def _n(x):
    """An int count from an exhaustive total (already int) or a sampled estimate (float)."""
    return x if isinstance(x, (int, np.integer)) else int(round(float(x)))


# ======================================================================= model
@register_model("scnn")
class SCNN(PlanarArrayMixin, AcceleratorModel):
    """SCNN PT-IS-CP-sparse accelerator (ISCA 2017), cycle-level; see the module docstring."""
    DATAPATH_FIELD = ("value_bits", 1)

    FIELDS = {
        **GEOMETRY_FIELDS,
        "output_mask_skip": Field(bool, "", False, doc="variant: drop activations / gate products aimed at "
                                  "masked-off outputs before the multiplier array", source="assumed (not in SCNN)"),
        "accumulator.bank_hash": Field(str, "", "linear", choices=("linear", "skewed"), doc="product -> bank "
                                       "mapping (see bank_terms): linear = address mod banks, skewed = channel "
                                       "lane + skewed spatial interleave (conflict-free on dense data)",
                                       source="assumed (paper gives no hash; SCNN's dense-data loss is attributed "
                                              "to bank contention, which linear has and skewed lacks)"),
        "accumulator.conflict_model": Field(str, "", "fifo", choices=("fifo", "step_max", "queue"), doc="crossbar / "
                                            "accumulator model (kernel.py): fifo = an output FIFO of fifo_depth "
                                            "products per multiplier, one write per bank per cycle granted by the "
                                            "arbiter among the FIFO heads, the array stalls only when a receiving "
                                            "FIFO is full; step_max = a step lasts max products on one bank "
                                            "(DNNsim); queue = per-bank queues of queue_depth products",
                                            source="fifo: Kim, Park & Park, IEEE Access 10 (2022), FIFOs between "
                                                   "multiplier outputs and crossbar buses with arbitration; the "
                                                   "SCNN paper gives no crossbar microarchitecture"),
        "accumulator.fifo_depth": Field(int, "products", 8, min=1, doc="per-multiplier output FIFO depth of the "
                                        "fifo model (1: a step waits for its busiest bank, as step_max)",
                                        source="losif63/SCNN_Simulator_101 README 'Queue depth: 8' (its crossbar "
                                               "queues sit at the multiplier outputs)"),
        "accumulator.arbitration": Field(str, "", "longest_queue", choices=("longest_queue", "round_robin",
                                                                             "fixed_priority"),
                                         doc="fifo model: which FIFO head a bank takes when several aim at it "
                                             "(longest_queue: the fullest FIFO, ties round robin)",
                                         source="Kim, Park & Park, IEEE Access 10 (2022) study fixed priority, "
                                                "round robin and longest-queue-first; longest_queue chosen because "
                                                "round robin makes deeper FIFOs slower on systematic conflicts "
                                                "(docs/timing-model.md SCNN 'Crossbar')"),
        "accumulator.queue_depth": Field(int, "products", 8, min=1, doc="per-bank queue depth of the queue model",
                                         source="losif63/SCNN_Simulator_101 crossbar queue depth 8"),
        "mask_skip_granularity": Field(str, "", "product", choices=("product", "step"), doc="with "
                                       "output_mask_skip: product = each product aimed at a masked-off output is "
                                       "gated in front of its multiplier (no multiply / crossbar / accumulator "
                                       "energy) but its F x I step keeps its cycle; step = in addition the "
                                       "sequencer does not issue a step none of whose products lands on an active "
                                       "output (no cycle, no weight-FIFO read, no multiply)",
                                       source="assumed (project variant, not in SCNN)"),
        "weight_order": Field(str, "", "rsk", choices=("rsk", "krs"), doc="order of a (c, Kc-group) weight "
                              "block: rsk = k innermost (F-vector spans output channels), krs = s innermost",
                              source="assumed (DNNsim core/src/SCNN.cpp uses r, s, k)"),
    }
    ACTIONS = ("mult_16b", "xbar_24b", "acc_read_24b", "acc_add_24b", "acc_write_24b", "noc_psum_24b",
               "iaram_read_20b", "wfifo_read_80b", "wfifo_write_80b", "ppu_op_24b", "oaram_write_20b", "dram_byte")
    MAPPING_NOTES = {
        "conv": "planar tiles over the PE grid, input stationary, Kc output-channel groups, output halos",
        "depthwise": "fallback: each group as its own 1-channel convolution, Kc = 1 (very low utilisation)",
        "fc": "output channels dealt to PEs, input broadcast; one activation per I-vector (25 % of peak)",
    }

    @classmethod
    def check_config(cls, cfg: ArchConfig) -> None:
        if cfg["accumulator.bits"] < cfg["value_bits"]:
            raise ConfigError(f"accumulator.bits ({cfg['accumulator.bits']}) must be >= value_bits "
                              f"({cfg['value_bits']})", file=cfg.file, field="accumulator.bits")
        if cfg["accumulator.bank_hash"] == "skewed" and cfg["accumulator.banks"] % cfg["multipliers.F"]:
            raise ConfigError(f"the skewed bank hash needs banks ({cfg['accumulator.banks']}) to be a multiple of "
                              f"F ({cfg['multipliers.F']})", file=cfg.file, field="accumulator.banks")
        if cfg["index_bits"] > 16:
            raise ConfigError("must be <= 16", file=cfg.file, field="index_bits")
        ent = cfg["iaram_bytes"] * 8 // (cfg["value_bits"] + cfg["index_bits"])
        if ent < cfg["multipliers.I"]:
            raise ConfigError(f"IARAM holds {ent} entries, fewer than one I-vector", file=cfg.file,
                              field="iaram_bytes")

    @property
    def entry_bits(self) -> int:
        return self.cfg["value_bits"] + self.cfg["index_bits"]

    # ---------------------------------------------------------------- simulate
    #: run one barrier round per class of identical rounds (timing only; :meth:`run_rounds`); False runs every
    #: round (the loop the fast path is proven equal to)
    fast_paths: bool = True
    #: (inst, Prepared) of the last :meth:`sampling_units`, reused by :meth:`simulate_layer` on the same instance
    #: (the sampler's exhaustive fallback) so the streams are built once
    _prepared = None

    def simulate_layer(self, inst: LayerInstance, functional: bool = False) -> LayerResult:
        cached, self._prepared = self._prepared, None
        prep = cached[1] if cached is not None and cached[0] is inst else self.prepare(inst)
        L, plan = inst.layer, prep.plan
        out = np.zeros((L.K, L.P, L.Q)) if functional else np.zeros((1, 1, 1))
        binfo: list = []
        S = self.run_rounds(prep, None, functional, out, binfo)
        rn = round_numbers(prep, np.arange(plan.round_tile.shape[0]), S)
        tot = {k: int(v.sum()) for k, v in rn.items()}
        comp_pass = np.bincount(plan.round_pass, weights=rn["cyc"], minlength=plan.n_pass)
        wl_pass = np.bincount(plan.round_pass, weights=rn["wround"], minlength=plan.n_pass)
        res = self.assemble(prep, tot, comp_pass, wl_pass, S, rn)
        # which timing path ran (the report lists it; its hash ignores it): identical units once, or all
        active = int(((plan.round_tile >= 0) & (plan.round_group >= 0)).sum())
        once = self.fast_paths and not functional and prep.n_unit_classes < active
        res.extra["path"] = "identical_units_once" if once else "cycle_loop"
        if binfo:
            res.extra["path"] = "barrier_candidates"
            res.extra["barrier"] = merge(binfo)
        if functional:
            if L.bias is not None:
                out += np.asarray(L.bias, dtype=np.float64)[:, None, None]
            out *= prep.mask[None]
            res.output = out
        return res

    #: fields that act only through an output mask (prepare_layer: skipping needs ``output_mask_skip`` and a mask)
    MASK_ONLY_FIELDS = ("output_mask_skip", "mask_skip_granularity")

    def reuse_key(self, inst: LayerInstance) -> str | None:
        """On an instance without an output mask (none stored and none to synthesise, or all ones) the
        :attr:`MASK_ONLY_FIELDS` change nothing, so every SCNN config equal in its other fields gives the same
        result: ``scnn`` and ``scnn-maskskip`` on the gate-free baseline head (tests/accelsim/test_reuse.py).
        The key covers the model, every other config value, the energy table's rows, the fast-path, PE-timeline
        and sampling settings; None for a masked instance."""
        if inst.masked() or self.record_pe_timeline:
            return None
        spec = self.sampling
        blob = json.dumps({
            "class": f"{type(self).__module__}.{type(self).__qualname__}", "model": self.cfg.model,
            "values": {k: v for k, v in self.cfg.values.items() if k not in self.MASK_ONLY_FIELDS},
            "energy": {a: self.energy.energy_pJ(a) for a in sorted(self.energy.rows)},
            "fast_paths": self.fast_paths,
            "sampling": None if spec is None else dataclasses.asdict(spec)}, sort_keys=True, default=str)
        return "scnn:" + hashlib.sha256(blob.encode()).hexdigest()

    def sampling_units(self, inst: LayerInstance):
        """The layer's barrier rounds (:class:`accelsim.models.scnn.sampling.RoundSpace`); None for a layer the
        model cannot run (simulate_layer raises) or when the PE timeline is recorded (it needs every round)."""
        if self.record_pe_timeline or self.unsupported_reason(inst.layer):
            return None
        from .sampling import RoundSpace
        prep = self.prepare(inst)
        self._prepared = (inst, prep)
        return RoundSpace(self, inst, prep)

    def prepare(self, inst: LayerInstance) -> "Prepared":
        """Everything of a layer but the cycle loop: plan, compressed streams, bank-hash terms and the
        per-round / per-pass numbers that need no kernel (halo, PPU drain, input / output DRAM bytes).
        Shared by :meth:`simulate_layer` and the sampled path (:meth:`sampling_units`)."""
        cfg, L = self.cfg, inst.layer
        why = self.unsupported_reason(L)
        if why:
            raise UnsupportedLayer(f"{cfg.name}: layer {L.name!r}: {why}")
        return prepare_layer(cfg, inst, self.entry_bits)

    def run_rounds(self, prep: "Prepared", rounds: np.ndarray | None = None, functional: bool = False,
                   out: np.ndarray | None = None, info: list | None = None) -> np.ndarray:
        """The cycle loop (:func:`scnn_kernel`; :func:`scnn_kernel_parallel` unless ``functional``) on the barrier
        rounds ``rounds`` (sorted indices; None: all):
        ``stats[len(rounds), npe, N_ST]``.  The kernel carries nothing from one round to the next (every
        crossbar queue / FIFO drains at the barrier, arbiter pointers restart, weight-FIFO loads are counted per
        (c, group) block), so a round's numbers do not depend on which other rounds run, and a (round, PE)
        unit's depend only on its tile and Kc group.  With ``fast_paths`` (timing only) one unit of each class of
        identical units (:func:`unit_keys`: same tile class, same group class) runs and its stats stand for the
        others: exact, proven equal to running every unit by tests/accelsim/test_fast_paths.py.  In the sampled
        modes (:attr:`sampling` set) the crossbar walks only the units that may be a round's barrier
        (:mod:`.barrier`, a statistical rule; what it did is appended to ``info``)."""
        plan = prep.plan
        rt, rg = plan.round_tile, plan.round_group
        sel = np.arange(rt.shape[0]) if rounds is None else np.asarray(rounds, dtype=np.int64)
        if functional:                 # float outputs summed over PEs: every unit, in the serial kernel's order
            stats = np.zeros((len(sel), rt.shape[1], N_ST), dtype=np.int64)
            scnn_kernel(np.ascontiguousarray(rt[sel]), np.ascontiguousarray(rg[sel]), *prep.streams, functional,
                        out if out is not None else np.zeros((1, 1, 1)), *prep.xbar, False, stats)
            return stats
        if not self.fast_paths:        # (round, PE) units in parallel, each into its own stats row
            stats = np.zeros((len(sel), rt.shape[1], N_ST), dtype=np.int64)
            scnn_kernel_parallel(np.ascontiguousarray(rt[sel]), np.ascontiguousarray(rg[sel]), *prep.streams,
                                 *prep.xbar, False, stats)
            return stats
        # one unit per class of identical units (same tile class, same group class), as a one-PE round each
        if rounds is None:
            first, inv = prep.unit_first, prep.unit_class.ravel()
        else:
            _, first, inv = np.unique(prep.unit_class[sel].ravel(), return_index=True, return_inverse=True)
        t, g = rt[sel], rg[sel]
        ut, ug = t.ravel()[first], g.ravel()[first]
        if self.sampling is not None and not self.record_pe_timeline:
            # sampled modes: the crossbar walks only the units that may be a round's barrier (barrier.py)
            st1, got = barrier_stats(prep, ut, ug, inv.reshape(t.shape), layer_seed(prep.inst, self.sampling.seed))
            if info is not None:
                info.append(got)
        else:
            st1 = walk_units(prep, ut, ug, prep.xbar)
        stats = st1[inv.reshape(-1)].reshape(len(sel), rt.shape[1], N_ST)
        if prep.mask_count is not None:  # the run had no mask: split each unit's in-plane products (maskcount.py)
            mc = np.where((t >= 0) & (g >= 0), prep.mask_count[np.maximum(t, 0), np.maximum(g, 0)], 0)
            stats[:, :, ST_MASK] = mc
            stats[:, :, ST_EFF] -= mc
        return stats

    def dram_pass_cycles(self, prep: "Prepared", wl_pass: np.ndarray) -> np.ndarray:
        """Cycles each pass's DRAM traffic takes at the configured bandwidth (input, weight entries ``wl_pass``
        loaded, output spills); a pass stalls by what exceeds its compute (:meth:`assemble`)."""
        dram_pass = prep.dram_in + np.asarray(wl_pass, dtype=np.float64) * self.entry_bits / 8 + prep.dram_out
        return np.ceil(dram_pass / (self.cfg["dram.bandwidth_bytes_per_s"] / self.cfg.clock_hz))

    def assemble(self, prep: "Prepared", tot: dict, comp_pass: np.ndarray, wl_pass: np.ndarray, S=None,
                 rn=None) -> LayerResult:
        """The LayerResult from the totals over the rounds of :func:`round_numbers` (``tot``; ints when exhaustive,
        estimates when sampled), each pass's round cycles ``comp_pass`` and weight entries loaded ``wl_pass``
        (a pass's DRAM time overlaps its compute: the excess is its ``memory_stall``).  ``S`` / ``rn``: the
        exhaustive run's stats and round numbers, for the PE timeline."""
        cfg, inst, plan = self.cfg, prep.inst, prep.plan
        L = inst.layer
        rows, cols, F, I, cap = geom(cfg)
        npe, FI, eb = rows * cols, F * I, self.entry_bits
        halo_r, drain_r = prep.halo_r, prep.drain_r
        halo_psums, drained, out_total = prep.halo_psums, prep.drained, prep.out_total
        # the last round's PPU drain is exposed (planar.timeline)
        drain_last = int(drain_r[-1]) if drain_r.size else 0
        comp_pass = np.array(comp_pass, dtype=np.float64)
        if drain_r.size:
            comp_pass[plan.round_pass[-1]] += drain_last
        dram_w = np.asarray(wl_pass, dtype=np.float64) * eb / 8
        dram_in, dram_out = prep.dram_in, prep.dram_out
        mem_stall = np.maximum(0, self.dram_pass_cycles(prep, wl_pass) - comp_pass)
        cycles = _n(tot["cyc"] + drain_last + mem_stall.sum())

        pad_prod = tot["padp"]
        parts = {
            "busy": tot["eff"] / FI / npe,
            "fragmentation": (tot["steps"] * FI - tot["prod"]) / FI / npe,
            "rle_padding": pad_prod / FI / npe,
            "out_of_plane": tot["oop"] / FI / npe,
            "masked_output": tot["mask"] / FI / npe,
            "bank_conflict": tot["stall"] / npe,
            "load_imbalance": float(tot["imb"]) / npe,
            "halo": float(halo_r.sum()),
            "ppu_drain": float(tot["ppu"] + drain_last),
            "memory_stall": float(mem_stall.sum()),
        }
        breakdown = apportion(parts, cycles)
        # compute counts (base.py): out-of-plane and RLE-padding products are multiplier work outside the
        # algorithmic count (extra["products_outside_dense"], charged in mult_16b); every in-plane product
        # issued is one algorithmic MAC, performed or gated; the rest of macs_dense was never issued
        # (padding taps, zero operands, dropped activations, skipped steps): skipped
        outside = tot["oop"] + pad_prod
        inplane = tot["prod"] - outside
        macs_actual = inplane - tot["gated"]
        dram_bytes = float((dram_in + dram_w + dram_out).sum())
        actions = {
            "mult_16b": tot["prod"] - tot["gated"],
            "xbar_24b": tot["write"],
            "acc_read_24b": tot["write"] + halo_psums + drained,
            "acc_add_24b": tot["write"] + halo_psums,
            "acc_write_24b": tot["write"] + halo_psums,
            "noc_psum_24b": halo_psums,
            "iaram_read_20b": tot["aread"],
            "wfifo_read_80b": tot["steps"],
            "wfifo_write_80b": -(-tot["wload"] // F),
            "ppu_op_24b": drained,
            "oaram_write_20b": out_total,
            "dram_byte": dram_bytes,
        }
        eff = tot["eff"]
        extra = {
            "mode": plan.mode, "Kc": plan.Kc, "groups_kc": int(plan.kgroups.shape[0]), "passes": plan.n_pass,
            "rounds": int(plan.round_tile.shape[0]), "Pacc": plan.Pacc, "Qacc": plan.Qacc,
            "tile_hw_max": [int((plan.tiles[:, 1] - plan.tiles[:, 0]).max()),
                            int((plan.tiles[:, 3] - plan.tiles[:, 2]).max())],
            "multiplier_steps": tot["steps"], "conflict_stall_pe_cycles": tot["stall"],
            "steps_skipped": _n(tot["skipstep"]), "products_in_skipped_steps": _n(tot["skipprod"]),
            "conflict_stall_max_per_round": _n(tot["stall_max"]),
            "compute_cycles_max_pe_steps": _n(tot["steps_max"]),
            "products": tot["prod"], "products_out_of_plane": tot["oop"], "products_rle_padding": pad_prod,
            "products_outside_dense": outside,
            "macs_masked_wasted": tot["mask"] - tot["gated"], "macs_masked_gated": tot["gated"],
            "crossbar_writes": tot["write"], "act_entries_read": tot["aread"], "i_vectors": tot["ivec"],
            "halo_psums": halo_psums, "act_from_dram": bool(prep.act_dram), "dram_bytes": dram_bytes,
            "dram_bytes_in": float(dram_in.sum()), "dram_bytes_weights": float(dram_w.sum()),
            "dram_bytes_out": float(dram_out.sum()), "out_entries_est": out_total,
            "input_entries_stored": int(prep.in_tile.sum()),
            "slot_utilization": tot["prod"] / max(1, cycles * npe * FI),
            "notes": list(plan.notes),
        }
        if self.record_pe_timeline and S is not None:
            ppu_r = rn["ppu"].copy()
            if ppu_r.size:
                ppu_r[-1] += drain_last
            extra["pe_timeline"] = round_timeline(plan, S[:, :, ST_CYC], S[:, :, ST_STALL], rn["T"], halo_r, ppu_r,
                                                  mem_stall)
        if prep.note:
            extra["notes"].append(prep.note)
        macs_actual, gated = _n(macs_actual), _n(tot["gated"])
        return LayerResult(inst.name, inst.image, cycles, breakdown, actions, L.macs_dense, _n(eff), macs_actual,
                           macs_skipped=L.macs_dense - macs_actual - gated, macs_gated=gated,
                           utilization=eff / max(1, cycles * npe * FI), extra=extra)

    def area(self) -> AreaReport:
        """SCNN paper PE area table (16 nm) scaled per unit (see :mod:`accelsim.models.scnn.area`)."""
        return scnn_area(self.cfg)

    @classmethod
    def validation_suite(cls):
        from .validate import validate
        return validate
