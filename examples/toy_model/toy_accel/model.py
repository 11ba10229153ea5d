"""toy: an output-stationary array that skips zero activations -- a worked accelsim plug-in.

The design
----------
``pe.count`` PEs, each with ``pe.lanes`` multipliers, an adder tree and one accumulator.  A PE owns
one output neuron (k, p, q) at a time (output stationary) and holds that output's filter in its
weight buffer.  The activation buffer keeps the input compressed: only the non-zero values, each
with its coordinates (``data.bits + index.bits`` per entry).  For its output, a PE walks the
non-zero activations of the receptive field, ``pe.lanes`` per cycle, and multiplies each by the
matching weight.  Zero activations and the zero padding cost nothing (they are not in the list).
Zero weights are not skipped: their products keep a lane slot; with ``gate_zero_weights`` the
multiplier is clock-gated (no energy: ``macs_gated``), otherwise it multiplies by zero
(``macs_actual``).

Mapping: the outputs to compute -- all K x P x Q, less the positions the dynamic head's output mask
turns off when ``skip_masked_outputs`` -- are taken in (k, p, q) raster order and dealt to the PEs
in tiles of ``pe.count`` consecutive outputs.  The PEs of a tile start together, so a tile lasts as
long as its slowest PE: ``ceil(n / pe.lanes)`` cycles for an output whose receptive field holds
``n`` non-zero activations.

    cycles = compute + memory_stall + pipeline_fill
    compute       = sum over tiles of max over the tile's outputs of ceil(n / lanes)
    memory_stall  = max(0, ceil(DRAM bytes / dram.bytes_per_cycle) - compute)
                    (DRAM traffic overlaps compute, double-buffered -- assumed; the layer reads its
                    dense weights and its compressed activations once and writes its computed
                    outputs once)
    pipeline_fill = pipeline.fill_cycles, once per layer

The compute cycles are split by cause in lane slots (divided by pe.count x pe.lanes and rounded
to integers that sum to ``compute``): ``busy`` (products multiplied), ``zero_weight`` (slots of
gated products), ``fragmentation`` (unused lanes in the last, partial lane group of each output) and
``load_imbalance`` (PEs waiting for the slowest PE of their tile, and PEs left without an output
in the last tile).

Hand-worked example (also :func:`validate` and ``tests/test_toy.py``)
----------------------------------------------------------------------
C = K = 1, a 3x3 input, a 3x3 filter, stride 1, padding 1 -> a 3x3 output; pe.count = 4,
pe.lanes = 2, pipeline.fill_cycles = 2, dram.bytes_per_cycle = 16::

    acts = [[1, 0, 2],        non-zeros at (0,0) (0,2) (1,2) (2,0)
            [0, 0, 3],
            [4, 0, 0]]

Non-zero activations in each output's 3x3 window, raster order: n = 1 3 2 | 2 4 2 | 1 2 1
(18 products); cycles per output ceil(n/2) = 1 2 1 1 2 1 1 1 1; tiles of 4 outputs:
max(1,2,1,1) + max(2,1,1,1) + max(1) = 2 + 2 + 1 = 5 compute cycles.  DRAM: 9 weights x 2 B +
4 activation entries x 20 bit / 8 + 9 outputs x 2 B = 18 + 10 + 18 = 46 B -> 3 cycles < 5: no
stall.  cycles = 5 + 0 + 2 = **7**.  With the centre output masked off (8 outputs:
n = 1 3 2 2 | 2 1 2 1 -> ceil 1 2 1 1 | 1 1 1 1) compute = 2 + 1 = 3 and cycles = **5**.
"""

from __future__ import annotations

import numpy as np

from accelsim.area import AreaReport, Builder, add_key, mult_key
from accelsim.base import AcceleratorModel, LayerResult
from accelsim.checks import check
from accelsim.config import Field
from accelsim.engine import largest_remainder
from accelsim.errors import AccelsimError, UnsupportedLayer
from accelsim.registry import register_model
from workloads import Layer, LayerInstance, effectual_macs
from workloads.effectual import conv_reference, im2col

#: most (filter, entry) pairs one numpy block of the functional walk holds (memory bound, not a semantic)
_BLOCK = 1 << 22


def _segments_sum(x: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Sum of ``x[..., start:start + len]`` for each segment (empty segments give 0)."""
    out = np.zeros(x.shape[:-1] + (starts.shape[0],), dtype=x.dtype)
    nz = lens > 0
    if x.shape[-1] and nz.any():
        out[..., nz] = np.add.reduceat(x, starts[nz], axis=-1)
    return out


@register_model("toy")
class Toy(AcceleratorModel):
    """Output-stationary array of pe.count PEs x pe.lanes multipliers that skips zero activations."""

    FIELDS = {
        "pe.count": Field(int, "PEs", default=16, doc="PEs; each computes one output neuron at a time",
                          source="assumed (toy design)"),
        "pe.lanes": Field(int, "multipliers/PE", default=4, doc="non-zero activations a PE consumes per cycle",
                          source="assumed (toy design)"),
        "pe.weight_buffer_bytes": Field(int, "bytes", default=9216,
                                        doc="per PE: holds one filter (C/groups x R x S weights)",
                                        source="assumed: one 3x3x512 filter of 16-bit weights"),
        "act_buffer.bytes": Field(int, "bytes", default=65536, doc="global compressed-activation buffer",
                                  source="assumed (toy design)"),
        "data.bits": Field(int, "bits", default=16, choices=(16,),
                           doc="weight, activation and output width (the energy table is for 16-bit data)",
                           source="assumed: 16-bit fixed point"),
        "index.bits": Field(int, "bits", default=4, doc="coordinate bits stored with each non-zero activation",
                            source="assumed: 4-bit relative index, as in SCNN/EIE-style run-length formats"),
        "dram.bytes_per_cycle": Field(float, "bytes/cycle", default=16.0, doc="off-chip bandwidth",
                                      source="assumed"),
        "pipeline.fill_cycles": Field(int, "cycles", default=3, min=0,
                                      doc="multiplier + adder tree + accumulator stages, once per layer",
                                      source="assumed"),
        "skip_masked_outputs": Field(bool, "", default=True, source="assumed (toy design)",
                                     doc="outputs the dynamic head's mask turns off get no PE"),
        "gate_zero_weights": Field(bool, "", default=True, source="assumed (toy design)",
                                   doc="clock-gate the multiplier when the weight is zero (slot kept)"),
    }
    MAPPING_NOTES = {
        "conv": "one output (k, p, q) per PE; the PE walks the non-zero activations of its receptive field",
        "depthwise": "as conv, over the output's own channel (C/groups = 1)",
        "fc": "as conv with P = Q = 1: the K outputs are dealt to the PEs pe.count at a time",
    }
    ACTIONS = ("mult_16b", "acc_add_32b", "act_buf_read_20b", "weight_buf_read_16b", "out_buf_write_16b",
               "dram_byte")
    ISO_FIELDS = {"pe.count": "lin"}
    DRAM_BANDWIDTH = ("dram.bytes_per_cycle", True)

    # ------------------------------------------------------------------ the contract
    def peak_macs_per_cycle(self) -> int:
        return int(self.cfg["pe.count"]) * int(self.cfg["pe.lanes"])

    def unsupported_reason(self, layer: Layer) -> str | None:
        if layer.dilation != 1:
            return "dilated convolutions are not mapped (the walker steps taps at distance 1)"
        need = (layer.C // layer.groups) * layer.R * layer.S * (int(self.cfg["data.bits"]) // 8)
        if need > int(self.cfg["pe.weight_buffer_bytes"]):
            return (f"a filter ({need} bytes) does not fit pe.weight_buffer_bytes "
                    f"({self.cfg['pe.weight_buffer_bytes']}); the toy does not split filters")
        return None

    def simulate_layer(self, inst: LayerInstance, functional: bool = False) -> LayerResult:
        cfg, L = self.cfg, inst.layer
        reason = self.unsupported_reason(L)
        if reason:
            raise UnsupportedLayer(f"{L.name}: {reason}")
        n_pe, lanes = int(cfg["pe.count"]), int(cfg["pe.lanes"])
        G, Kg, Cg, RS = L.groups, L.K // L.groups, L.C // L.groups, L.R * L.S
        mask = inst.out_mask_or_ones().reshape(-1)                      # (P*Q,) active per the head's gate
        computed = mask if cfg["skip_masked_outputs"] else np.ones_like(mask)
        pos = np.flatnonzero(computed)                                  # output positions given to PEs
        A = pos.size

        # The compressed receptive fields: for every computed position, the list of its non-zero
        # activations (row c*R*S + r*S + s of the im2col matrix, value).  One list per group.
        src = inst.acts_dense() if functional else inst.act_mask().astype(np.float32)
        if functional and not inst.functional_ok:
            raise AccelsimError(f"layer {L.name!r}: functional mode needs real values (pattern-only data)")
        cols = im2col(src, L.R, L.S, L.stride, L.padding, L.dilation)[:, pos]  # (C*R*S, A)
        wmask = inst.weight_mask().reshape(G, Kg, Cg * RS)
        w = inst.weights_dense().reshape(G, Kg, Cg * RS) if functional else None
        n = np.zeros((G, A), np.int64)          # list length per (group, position)
        zero_w = eff = 0                        # products with a zero weight / effectual products
        out = np.zeros((L.K, L.P * L.Q)) if functional else None
        on_mask = mask[pos]                     # computed positions the mask keeps
        for g in range(G):
            sub = cols[g * Cg * RS:(g + 1) * Cg * RS]               # (Cg*R*S, A)
            a_idx, crs = np.nonzero(sub.T)                           # entries sorted by position
            n[g] = np.bincount(a_idx, minlength=A)
            nzw = wmask[g].sum(axis=0)                               # non-zero weights per (c, r, s) over Kg filters
            zero_w += int((Kg - nzw)[crs].sum())
            eff += int(nzw[crs[on_mask[a_idx]]].sum())
            if functional:
                starts = np.concatenate([[0], np.cumsum(n[g])[:-1]]).astype(np.int64)
                vals = sub.T[a_idx, crs]
                step = max(1, _BLOCK // max(1, crs.size))
                for k0 in range(0, Kg, step):                        # filters in blocks (memory)
                    prods = w[g, k0:k0 + step][:, crs] * vals[None, :]
                    out[g * Kg + k0:g * Kg + k0 + prods.shape[0], pos] = _segments_sum(prods, starts, n[g])
        products = int(n.sum()) * Kg                                # every filter of a group walks its lists

        # tiles of pe.count consecutive outputs in (k, p, q) order; a tile lasts as long as its slowest PE
        per_out = np.repeat(-(-n // lanes), Kg, axis=0).reshape(-1)  # (K*A,) cycles of each output
        pad = (-per_out.size) % n_pe
        tiles = np.concatenate([per_out, np.zeros(pad, np.int64)]).reshape(-1, n_pe)
        tile_len = tiles.max(axis=1) if tiles.size else np.zeros(0, np.int64)
        compute = int(tile_len.sum())

        gate = bool(cfg["gate_zero_weights"])
        macs_gated = zero_w if gate else 0
        macs_actual = products - macs_gated
        db = int(cfg["data.bits"]) // 8
        act_entries = int(inst.act_mask().sum())
        dram = {"weights": L.K * Cg * RS * db,
                "acts": -(-act_entries * (int(cfg["data.bits"]) + int(cfg["index.bits"])) // 8),
                "outputs": L.K * A * db}
        dram["total"] = sum(dram.values())
        stall = max(0, int(np.ceil(dram["total"] / float(cfg["dram.bytes_per_cycle"]))) - compute)
        fill = int(cfg["pipeline.fill_cycles"]) if compute else 0

        slots = {"busy": macs_actual, "zero_weight": macs_gated,
                 "fragmentation": int((-(-n // lanes) * lanes - n).sum()) * Kg,
                 "load_imbalance": int((tile_len[:, None] - tiles).sum()) * lanes}
        breakdown = largest_remainder({k: v / (n_pe * lanes) for k, v in slots.items()}, compute)
        breakdown.update(memory_stall=stall, pipeline_fill=fill)
        cycles = compute + stall + fill

        actions = {"mult_16b": macs_actual, "acc_add_32b": macs_actual,
                   "act_buf_read_20b": products, "weight_buf_read_16b": products,
                   "out_buf_write_16b": L.K * A, "dram_byte": dram["total"]}
        if functional:
            if L.bias is not None:
                out = out + np.asarray(L.bias, np.float64)[:, None]
            out[:, ~mask] = 0.0                                     # gated-off outputs are zero downstream
            out = out.reshape(L.K, L.P, L.Q)
        extra = {"products": products, "zero_weight_products": zero_w, "computed_outputs": L.K * A,
                 "tiles": int(tile_len.size), "compute_cycles": compute, "dram_bytes": dram,
                 "act_entries": act_entries}
        return LayerResult(inst.name, inst.image, cycles, breakdown, actions, L.macs_dense, eff, macs_actual,
                           macs_skipped=L.macs_dense - products, macs_gated=macs_gated, output=out, extra=extra)

    # ------------------------------------------------------------------ hooks with defaults overridden
    def area(self) -> AreaReport:
        """Multipliers, adders and SRAM from the generic 45 nm rows of :mod:`accelsim.area` (Horowitz ISSCC
        2014 logic, EIE Table II SRAM density), scaled to the config's node.  Control and wiring are not
        counted: a lower bound."""
        cfg = self.cfg
        b = Builder(cfg, "model")
        n, lanes, bits = int(cfg["pe.count"]), int(cfg["pe.lanes"]), int(cfg["data.bits"])
        b.add_generic("pe.multipliers", mult_key(bits), n * lanes, f"pe.count x pe.lanes ({bits}-bit)")
        b.add_generic("pe.adders", add_key(32), n * lanes,
                      "pe.count x pe.lanes 32-bit adders (lanes - 1 tree adders + 1 accumulator)")
        b.add_generic("pe.weight_buffer", "sram_byte", n * cfg["pe.weight_buffer_bytes"],
                      "pe.count x pe.weight_buffer_bytes")
        b.add_generic("act_buffer", "sram_byte", cfg["act_buffer.bytes"], "act_buffer.bytes")
        b.rep.notes.append("toy: generic multipliers, adders and SRAM; control, NoC and wiring not counted "
                           "(a lower bound)")
        return b.rep

    @classmethod
    def validation_suite(cls):
        return validate


# ---------------------------------------------------------------------- validation
HAND_ACTS = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [4.0, 0.0, 0.0]])
#: the hand-worked config of the module docstring
HAND_CONFIG = {"pe.count": 4, "pe.lanes": 2, "pipeline.fill_cycles": 2, "dram.bytes_per_cycle": 16.0}


def hand_layer(out_mask: np.ndarray | None = None) -> LayerInstance:
    """The module docstring's 3x3 layer (all-ones filter), optionally with an output mask."""
    L = Layer("hand", "conv", C=1, K=1, H=3, W=3, R=3, S=3, padding=1, weights=np.ones((1, 1, 3, 3)))
    return LayerInstance(L, 0, acts=HAND_ACTS[None], weights=L.weights, out_mask=out_mask)


def validate(shared=None, full: bool = False) -> dict:
    """``accelsim validate toy``: the hand-worked cycles of the module docstring (kind ``validation``:
    computed by hand from the design's definition, not by this code) and two consistency checks of the
    compressed walk against accelsim's dense references."""
    from accelsim.engine import make_model, run_instance

    m = make_model("toy", HAND_CONFIG)
    centre_off = np.ones((3, 3), bool)
    centre_off[1, 1] = False
    checks = [
        check("hand-worked 3x3 layer: cycles", run_instance(m, hand_layer()).cycles, 7, "cycles", tol=0.0,
              note="module docstring: tiles 2 + 2 + 1, fill 2, no DRAM stall"),
        check("hand-worked 3x3 layer, centre output masked: cycles", run_instance(m, hand_layer(centre_off)).cycles,
              5, "cycles", tol=0.0, note="module docstring: tiles 2 + 1, fill 2"),
    ]
    rng = np.random.default_rng(0)
    L = Layer("rand", "conv", C=4, K=6, H=7, W=6, R=3, S=3, padding=1, stride=2,
              weights=rng.standard_normal((6, 4, 3, 3)) * (rng.random((6, 4, 3, 3)) < 0.6))
    om = rng.random((L.P, L.Q)) < 0.7
    inst = LayerInstance(L, 0, acts=np.maximum(0.0, rng.standard_normal((4, 7, 6))), weights=L.weights, out_mask=om)
    r = run_instance(make_model("toy"), inst, functional=True)
    checks.append(check("effectual MACs of the walk = workloads.effectual_macs (random 3x3/2 layer)",
                        r.macs_effectual, effectual_macs(inst), "MACs", kind="consistency", tol=0.0))
    ref = conv_reference(inst.acts_dense(), inst.weights_dense(), L.stride, L.padding) * om[None]
    err = float(np.abs(r.output - ref).max())
    checks.append(check("functional output from the compressed walk vs numpy conv (max abs error)", err, 0.0,
                        "", kind="consistency", passed=err <= 1e-9 * max(1.0, float(np.abs(ref).max()))))
    return {"model": "toy", "checks": checks}
