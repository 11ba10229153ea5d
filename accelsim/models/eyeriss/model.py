"""Eyeriss v2 (Chen et al., IEEE JETCAS 2019): sparse CSC PEs on a hierarchical-mesh array.

Sources: ``../shared/docs/accelerators.md`` section 5 (architecture, RS+ dataflow, PE spads),
section 7.4 (Accelergy 45 nm ERT values of the Sparseloop artifact).

What is simulated (cycle level, data driven, Numba):

* **PE** (section 5.1/5.2).  A PE tile is (filter row r, output row p, a block of ``C0``
  input channels, a block of ``M0`` output channels).  The PE walks its output row
  position by position; for every *non-zero* iact of the C0 x S window it reads the start
  and end of the matching CSC weight column (M0 rows) and spends ``ceil(nnz / lanes)``
  cycles on it in the weight-data/MAC stage (SIMD-2: two output channels per cycle, the
  idle lane of an odd count is counted).  Zero iacts and zero weights cost no MAC cycle.
  The pipeline's other stages are counted too (``pe.address_stages``): one iact-address
  read per window column (Q x S per pass), one iact-data and one weight-address read per
  fed iact; they overlap the MAC stage, so a pass lasts as long as the PE's busiest stage
  (breakdown ``pe_address_stall``: empty or one-pair weight columns, iact columns with no
  non-zero).  The single-PE ground truth shows them hidden whenever the MAC stage has work
  (L27 has 1,655 iacts meeting an empty weight column and no cycle for them).
  Depthwise: each iact meets one weight, so the second SIMD lane idles; ``pe.depthwise_rule``
  picks what the PE skips there (default ``dense``: nothing, as the artifact's L20 ground truth
  shows; ``weights``: zero weights only; ``skip``: zeros of both, like pointwise).  Spad
  capacities (iact 16 data + 9 address entries, weight 192 x 8 b entries (96 x 24 b words) +
  16 addresses, psum 32) limit the tile: a mapping is legal only when every real tile of the
  layer fits.  A 7-stage pipeline adds ``stages - 1`` fill/drain cycles per pass.
* **Array** (section 5.2).  ``clusters.rows x clusters.cols`` clusters of
  ``cluster.pe_rows x cluster.pe_cols`` PEs.  RS+ mapping: PE rows <- filter rows x
  channel blocks (psums accumulate vertically), PE columns <- output rows x output-channel
  blocks, clusters <- output rows x channel blocks x output-channel blocks; everything else
  is temporal (loop order m, c, r outer, output rows inner so weights, which bypass the
  GLB, stay in the spad).  The mapper enumerates every legal factorisation (spad fit is
  checked on every real tile), ranks them by a density-based estimate and simulates the
  best ``mapper.top_k`` on the real data, keeping the fewest cycles (on the sparse
  MobileNet-v1, top-4 is within 1.2 % of top-64).  A pass (all PEs on one tile each) lasts
  as long as its slowest PE (PEs sharing an accumulation wait for the slowest; the next
  pass's multicast synchronises the rest; ``extra.compute_cycles_groups_decoupled`` gives
  the bound without that sync) or its data delivery, whichever is longer: per cluster,
  the iact entries over the 3 iact routers / GLB banks, the weight entries over the 3
  weight routers, psum GLB traffic over the 4 psum banks.  The HM-NoC mode sets the
  traffic: a multicast / broadcast entry crosses a cluster's router once for all the PEs
  that need it, a unicast entry once per PE (``extra.noc_modes`` names the mode per data
  type for the chosen mapping).  DRAM traffic (weights once per
  psum-capacity chunk, iacts once or once per output-channel tile when the layer input
  does not fit the iact GLB, outputs once) is bounded by ``dram.bytes_per_cycle`` per layer.
* **Functional mode**: the same tiles are walked over real CSC values (float64) and must
  equal conv2d / depthwise / FC.
* Not modelled: output masks (every output is computed; ``macs_effectual`` still honours
  them), grouped convolutions other than depthwise, batch > 1 within a layer instance.

Eyeriss v1 (:mod:`.v1`) reuses this array simulator with dense PEs.  Package layout: Numba
kernels in :mod:`.kernel`, weight CSC in :mod:`.formats`, the mapping search in :mod:`.mapping`,
area in :mod:`.area`, the validation suite in :mod:`.validate`.
"""

from __future__ import annotations

import math

import numpy as np

from ...area import AreaReport
from ...config import Field
from ...engine import AcceleratorModel, LayerResult, largest_remainder
from ...errors import AccelsimError, UnsupportedLayer
from ...registry import register_model
from .area import eyeriss_area
from .formats import ceil_div, weight_csc
from .kernel import (
    A_ACTIVE,
    A_ADDR_OVH,
    A_DENSE_NZ,
    A_DENSE_Z,
    A_FILL,
    A_FRAG,
    A_I_NOC,
    A_I_SPADW,
    A_IADDR,
    A_IDEAL,
    A_IMB,
    A_LOOKUPS,
    A_MACS,
    A_P_GLB_R,
    A_P_GLB_W,
    A_P_NOC,
    A_PASSES,
    A_SLOTS_NZ,
    A_SLOTS_Z,
    A_ST_I,
    A_ST_P,
    A_ST_W,
    A_TOTAL,
    A_W_NOC,
    A_W_SPADW,
    A_WWORDS,
    COUNT_SLOTS,
    array_pass_units,
)
from .layerarrays import CLOSED_FORM, LayerArrays
from .mapping import Mapping, candidates
from .walk import functional_walk

# ------------------------------------------------------------------ the model
FIELDS_V2 = {
    "clusters.rows": Field(int, "clusters", default=8, source="accelerators.md 5.1 (16 clusters as 8x2)"),
    "clusters.cols": Field(int, "clusters", default=2, source="accelerators.md 5.1"),
    "cluster.pe_rows": Field(int, "PEs", default=3, source="accelerators.md 5.1 (3x4 PE cluster)"),
    "cluster.pe_cols": Field(int, "PEs", default=4, source="accelerators.md 5.1"),
    "pe.simd_lanes": Field(int, "MACs/cycle", default=2, choices=(1, 2), source="accelerators.md 5.1 (SIMD-2)"),
    "pe.pipeline_stages": Field(int, "stages", default=7, source="accelerators.md 5.1 (7-stage pipeline) [3rd]"),
    "pe.skip_zero_iacts": Field(bool, "", default=True, source="accelerators.md 5.2 (CSC iacts, zeros skipped)"),
    "pe.skip_zero_weights": Field(bool, "", default=True, source="accelerators.md 5.2 (CSC weights)"),
    "pe.compressed_spads": Field(bool, "", default=True,
                                 doc="spad capacities count stored non-zeros (CSC) rather than dense entries",
                                 source="accelerators.md 5.1"),
    "pe.depthwise_rule": Field(str, "", default="dense", choices=("dense", "weights", "skip"),
                               doc="depthwise: process densely, skip zero weights only, or skip zeros of both",
                               source="Sparseloop fig12 ground truth (accelerators.md 5.3): L20, the one depthwise "
                                      "layer with masks, costs exactly its dense count (rule 'dense'; 'weights' "
                                      "-4.9 %, 'skip' -57 %); all 13 depthwise counts are multiples of P x Q, so "
                                      "zero iacts are never skipped there"),
    "pe.address_stages": Field(bool, "", default=True,
                               doc="iact-address (one cycle per window column), iact-data and weight-address "
                                   "(one cycle per fed iact) pipeline stages bound a PE pass beside the MAC stage",
                               source="accelerators.md 5.1 (7-stage pipeline: 2 stages fetch the non-zero iact "
                                      "through the iact address / data spads, 3 read the matching weight column "
                                      "through the weight address spad) [3rd]; stages decoupled: the single-PE "
                                      "ground truth hides address reads behind MACs (L27: 1,655 empty weight "
                                      "columns, no cycle)"),
    "pe.iact_spad_entries": Field(int, "entries", default=16, source="accelerators.md 5.1 (16 x 12 b data)"),
    "pe.iact_addr_entries": Field(int, "entries", default=9, source="accelerators.md 5.1 (9 x 4 b address)"),
    "pe.weight_spad_entries": Field(int, "entries", default=192,
                                    source="accelerators.md 5.1 (96 x 24 b = 192 x 8 b + counts)"),
    "pe.weight_addr_entries": Field(int, "entries", default=16, source="accelerators.md 5.1 (16 x 7 b address)"),
    "pe.psum_spad_entries": Field(int, "entries", default=32, source="accelerators.md 5.1 (32 x 20 b)"),
    "glb.iact_bytes_per_cluster": Field(int, "bytes", default=4608,
                                        source="accelerators.md 5.1 (3 iact banks x 1.5 KB)"),
    "glb.psum_entries_per_cluster": Field(int, "entries", default=3072,
                                          source="accelerators.md 5.1 (4 psum banks x 768 x 20 b)"),
    "noc.iact_entries_per_cycle": Field(float, "entries/cycle", default=3.0,
                                        source="assumed: 3 iact routers/GLB banks per cluster, 1 entry/cycle each"),
    "noc.weight_entries_per_cycle": Field(float, "entries/cycle", default=3.0,
                                          source="assumed: 3 weight routers per cluster, 1 entry/cycle each"),
    "noc.psum_entries_per_cycle": Field(float, "entries/cycle", default=4.0,
                                        source="assumed: 4 psum routers/GLB banks per cluster, 1 psum/cycle each"),
    "dram.bytes_per_cycle": Field(float, "bytes/cycle", default=128.0,
                                  source="assumed 25.6 GB/s DDR at 200 MHz (accelerators.md 5.1: an assumption)"),
    "memory.ideal": Field(bool, "", default=False,
                          doc="no NoC/GLB/DRAM limits (PE-only study, as in the Sparseloop fig12 PE setup)"),
    "bits.iact_entry": Field(int, "bits", default=12, source="accelerators.md 5.1 (8 b value + 4 b zero count)"),
    "bits.weight_entry": Field(int, "bits", default=12, source="accelerators.md 5.1 (12 b entries)"),
    "bits.output": Field(int, "bits", default=8, source="accelerators.md 1 (8-bit iacts)"),
    "mapper.top_k": Field(int, "mappings", default=4, doc="estimated-best mappings simulated on the real data"),
}


@register_model("eyeriss-v2")
class EyerissV2(AcceleratorModel):
    """Eyeriss v2: 192 sparse PEs (CSC iacts + weights, SIMD-2) in 16 clusters; RS+ mapper."""

    FIELDS = FIELDS_V2
    MAPPING_NOTES = {
        "conv": "RS+: PE rows <- filter rows x C blocks, PE cols <- output rows x M blocks, clusters <- "
                "output rows x C x M blocks; mapping searched per layer (extra.mapping)",
        "depthwise": "RS+: channels ride the M blocks (each iact meets one weight: SIMD lane 2 idles)",
        "fc": "1x1 conv on a 1x1 plane: C blocks down PE rows / clusters, M blocks across PE columns",
    }
    ACTIONS = ("mac", "mac_gated", "iact_spad_read", "iact_spad_meta_read", "weight_spad_meta_read",
               "weight_spad_read", "psum_spad_access", "iact_spad_write", "weight_spad_write", "glb_iact_read",
               "glb_iact_write", "glb_psum_read", "glb_psum_write", "noc_iact", "noc_weight", "noc_psum", "dram_byte")
    ISO_FIELDS = {"clusters.rows": "sqrt", "clusters.cols": "sqrt"}
    DRAM_BANDWIDTH = ("dram.bytes_per_cycle", True)
    #: False: walk every layer's PE stage times from the data even where the closed form is exact (tests)
    fast_paths: bool = True
    DATAPATH_FIELD = ("bits.output", 1)

    # ---- config
    @classmethod
    def check_config(cls, cfg):
        from ...errors import ConfigError
        if cfg["pe.iact_addr_entries"] < 1 or cfg["pe.weight_addr_entries"] < 1:
            raise ConfigError("address spads need at least one entry", file=cfg.file, field="pe.iact_addr_entries")

    @property
    def n_pes(self) -> int:
        c = self.cfg
        return c["clusters.rows"] * c["clusters.cols"] * c["cluster.pe_rows"] * c["cluster.pe_cols"]

    def peak_macs_per_cycle(self) -> int:
        return self.n_pes * self.cfg["pe.simd_lanes"]

    def datapath_overrides(self, bits: int) -> dict:
        """``bits``-wide values; iact / weight entries keep their zero-count bits beside the value."""
        c, w = self.cfg, self.datapath_bits()
        return {} if bits == w else {"bits.output": bits, "bits.iact_entry": c["bits.iact_entry"] - w + bits,
                                     "bits.weight_entry": c["bits.weight_entry"] - w + bits}

    def unsupported_reason(self, layer) -> str | None:
        if layer.kind == "conv" and layer.groups != 1:
            return "grouped convolution other than depthwise is not mapped"
        return None

    def area(self) -> AreaReport:
        return eyeriss_area(self.cfg)

    @classmethod
    def validation_suite(cls):
        from .validate import validate
        return validate

    # ---- per-layer data
    def _flags(self, L):
        c = self.cfg
        if L.kind == "depthwise" and c["pe.depthwise_rule"] == "dense":
            return False, False
        if L.kind == "depthwise" and c["pe.depthwise_rule"] == "weights":
            return False, bool(c["pe.skip_zero_weights"])
        return bool(c["pe.skip_zero_iacts"]), bool(c["pe.skip_zero_weights"])

    def _prepare(self, inst):
        """Padded iact codes: 2 non-zero, 1 zero, 0 padding that is never fed.

        A PE that skips zero iacts skips the halo too; a dense PE (v1, depthwise rule 'dense')
        streams the halo as zeros, so its count is the algorithmic K*P*Q*C*R*S (Timeloop convention)."""
        L = inst.layer
        dw = L.kind == "depthwise"
        pad = L.padding
        am = inst.act_mask()
        skip_i, _ = self._flags(L)
        code = np.full((L.C, L.H + 2 * pad, L.W + 2 * pad), 0 if skip_i else 1, dtype=np.int8)
        code[:, pad:pad + L.H, pad:pad + L.W] = np.asarray(am, dtype=np.int8) + np.int8(1)
        return dw, code, inst.weight_mask()

    def _dram(self, ld: LayerArrays, m: Mapping):
        """Layer-level DRAM / tiling numbers of mapping ``m`` (no pass walk): (dict, output-row tiles per
        weight fetch)."""
        c = self.cfg
        L, dw = ld.L, ld.dw
        K, Cg, R, S = ld.wmask.shape
        wtile = ld.wtile(m.M0, m.C0)
        # psum GLB capacity: outputs of a cluster kept across temporal C/R accumulation
        nMb, nCb = ceil_div(K, m.M0), (1 if dw else ceil_div(Cg, m.C0))
        n_ct, n_rt, n_ft = ceil_div(nCb, m.Cr * m.Ck), ceil_div(R, m.Rsp), ceil_div(L.P, m.Fc * m.Fk)
        n_mt = ceil_div(nMb, m.Mc * m.Mk)
        chunks = 1
        if n_ct * n_rt > 1:
            ws = m.Mc * m.M0 * m.Fc * n_ft * L.Q
            chunks = max(1, min(n_ft, ceil_div(ws, c["glb.psum_entries_per_cluster"])))
        # DRAM tiling (layer level).  Weights bypass the GLB, so an input that does not fit the iact
        # GLB costs either iact re-reads (once per output-channel tile, weights fetched once) or weight
        # re-reads (once per output-row chunk whose input fits, iacts fetched once); take the cheaper.
        wbits, ibits, obits = c["bits.weight_entry"], c["bits.iact_entry"], c["bits.output"]
        nclus = c["clusters.rows"] * c["clusters.cols"]
        w_once = float(wtile.sum())
        i_stored = ld.iacts_stored
        glb_bytes = c["glb.iact_bytes_per_cluster"] * nclus
        in_bytes = i_stored * ibits / 8
        tiling, i_reads, w_reads = "input fits the GLB", 1, chunks
        if in_bytes > glb_bytes:
            a_bytes = w_once * chunks * wbits / 8 + in_bytes * n_mt
            pc = max(chunks, min(n_ft, ceil_div(in_bytes, glb_bytes)))
            b_bytes = w_once * pc * wbits / 8 + in_bytes
            if a_bytes <= b_bytes:
                tiling, i_reads = "weights once, iacts re-read per output-channel tile", n_mt
            else:
                tiling, w_reads = "iacts once, weights re-read per output-row chunk", pc
        ft_chunk = ceil_div(n_ft, w_reads)
        w_reads = ceil_div(n_ft, ft_chunk)
        # outputs leave uncompressed (their sparsity is only known to the next layer)
        out_bytes = K * L.P * L.Q * obits / 8
        dram_bytes = w_once * w_reads * wbits / 8 + in_bytes * i_reads + out_bytes
        return {"dram_bytes": dram_bytes, "dram_weight_entries": w_once * w_reads,
                "dram_iact_entries": i_stored * i_reads, "psum_chunks": chunks, "weight_fetches": w_reads,
                "dram_tiling": tiling, "glb_iact_writes": i_stored * i_reads}, ft_chunk

    @staticmethod
    def pass_grid(ld: LayerArrays, m: Mapping) -> tuple[int, int, int, int]:
        """Temporal tiles (output-channel, channel, filter-row, output-row) of mapping ``m``: the passes are
        their product, walked in this order (m, c, r outer, output rows inner)."""
        K, Cg, R, _ = ld.wmask.shape
        nMb, nCb = ceil_div(K, m.M0), (1 if ld.dw else ceil_div(Cg, m.C0))
        return (ceil_div(nMb, m.Mc * m.Mk), ceil_div(nCb, m.Cr * m.Ck), ceil_div(R, m.Rsp),
                ceil_div(ld.L.P, m.Fc * m.Fk))

    def pass_args(self, ld: LayerArrays, m: Mapping, ft_chunk: int) -> tuple:
        """Arguments of :func:`~.kernel.array_pass_units` after the selected passes."""
        c = self.cfg
        L, dw = ld.L, ld.dw
        K, Cg, R, S = ld.wmask.shape
        work, _ = ld.tiles(m.M0, m.C0)
        return (work, ld.tile_time(m.M0, m.C0), ld.ncols, dw, K, Cg, R, L.P, L.Q, m.M0, m.C0, L.stride, L.dilation,
                m.Rsp, m.Cr, m.Fc, m.Mc, m.Fk, m.Ck, m.Mk, self.n_pes, ld.rowent(m.M0 if dw else m.C0),
                ld.wtile(m.M0, m.C0), float(c["noc.iact_entries_per_cycle"]),
                float(c["noc.weight_entries_per_cycle"]), float(c["noc.psum_entries_per_cycle"]),
                bool(c["memory.ideal"]), ft_chunk, c["pe.pipeline_stages"], bool(c["pe.address_stages"]),
                # closed-form stage times: the same at every (r, p) of an (m-block, c-block)
                ld.path == CLOSED_FORM)

    def _run(self, ld: LayerArrays, m: Mapping):
        """Walk every pass of the layer of ``ld`` under mapping ``m``: (array time, DRAM / tiling dict,
        (rows, group times) of :func:`~.kernel.array_pass_units`).  The array time is the passes' sum in
        loop order (the accumulator of :func:`~.kernel.array_passes`): it ranks the mappings."""
        dram, ft_chunk = self._dram(ld, m)
        n = math.prod(self.pass_grid(ld, m))
        rows, grows = array_pass_units(np.arange(n, dtype=np.int64), *self.pass_args(ld, m, ft_chunk))
        t = float(np.cumsum(rows[:, A_TOTAL])[-1]) if n else 0.0
        return t, dram, (rows, grows)

    def _cycles(self, t, dram):
        """Layer cycles and DRAM stall from the array time ``t``: DRAM streams the layer's bytes alongside."""
        if self.cfg["memory.ideal"]:
            return int(round(t)), 0.0
        dcyc = dram["dram_bytes"] / self.cfg["dram.bytes_per_cycle"]
        return int(math.ceil(max(t, dcyc))), max(0.0, dcyc - t)

    def map_layer(self, inst, mapping: Mapping | None = None, walk: bool = True):
        """Search, simulate the best few on the real data: (mapping, dram, n_candidates, layer data, walked).

        ``walked``: the passes of the chosen mapping as :func:`~.kernel.array_pass_units` rows, or None when
        ``walk`` is False and the choice needed no walk (one candidate).  ``mapping`` pins the mapping (no
        search; the caller vouches for its legality)."""
        L = inst.layer
        dw, code, wmask = self._prepare(inst)
        skip_i, skip_w = self._flags(L)
        ld = LayerArrays(self.cfg, L, dw, code, wmask, skip_i, skip_w, fast_paths=self.fast_paths)
        if mapping is not None:
            cands, ncand = [mapping], 1
        else:
            cands, ncand = candidates(self.cfg, ld, top=self.cfg["mapper.top_k"])
        if not cands:
            raise UnsupportedLayer(f"{self.cfg.name}: layer {L.name!r}: no legal mapping (filter width {L.S} vs "
                                f"iact address spad {self.cfg['pe.iact_addr_entries']}, or spads too small)")
        if len(cands) == 1 and not walk:
            return cands[0], self._dram(ld, cands[0])[0], ncand, ld, None
        best = None
        for m in cands:
            t, dram, walked = self._run(ld, m)
            cyc, _ = self._cycles(t, dram)
            if best is None or cyc < best[0]:
                best = (cyc, m, dram, walked)
        return best[1], best[2], ncand, ld, best[3]

    def simulate_layer(self, inst, functional: bool = False, mapping: Mapping | None = None) -> LayerResult:
        """The layer exhaustively: every pass walked, the result built from their sums by the same code as a
        sampled layer's (:class:`~.sampling.EyerissPasses`, whose contract this is)."""
        from ...sampling import totals_of
        from .sampling import EyerissPasses
        space = EyerissPasses(self, inst, mapping=mapping, proxy=False)
        res = space.result(totals_of(space.run(np.arange(space.n_units, dtype=np.int64))))
        if functional:
            L = inst.layer
            if not inst.functional_ok:
                raise AccelsimError(f"layer {L.name!r}: functional mode needs real values (pattern-only data)")
            res.output = self.functional_output(inst, space.m.M0, space.m.C0)
        return res

    def sampling_units(self, inst):
        """The layer's processing passes (:class:`~.sampling.EyerissPasses`) when the PE skips zeros (the
        timing depends on the data) and the mapper ranks a single candidate (``mapper.top_k: 1``); None
        with ``top_k`` > 1 (the search walks every pass anyway) and for a PE that skips nothing (Eyeriss v1, v2's depthwise layers
        under ``pe.depthwise_rule: dense``): their stage times are in closed form, exhaustive is cheap."""
        skip_i, skip_w = self._flags(inst.layer)
        if not (skip_i or skip_w):
            return None
        if self.cfg["mapper.top_k"] > 1:
            # the mapper already walks every pass of its best candidates on the real data to choose one,
            # so the exhaustive result costs nothing more than a sample would (measured: auto at 0.95x the
            # exhaustive time on a C=256 3x3 50x84 conv, 65 % of it the candidate search): no sampling
            return None
        from .sampling import EyerissPasses
        return EyerissPasses(self, inst, walk=False)

    def layer_result(self, inst, ld: LayerArrays, m: Mapping, dram: dict, ncand: int, acc,
                     groups_decoupled: float) -> LayerResult:
        """The LayerResult from the pass totals ``acc`` (A_* vector; the per-iact counters are filled in
        here from :meth:`LayerArrays.counts`, exact layer totals) and the layer-level ``dram`` numbers."""
        L = inst.layer
        c = self.cfg
        lanes = c["pe.simd_lanes"]
        for i, slot in enumerate(COUNT_SLOTS):  # per-iact counters: layer totals, the same for every mapping
            acc[slot] = ld.counts(m.M0)[i]
        dw, wmask, skip_i, skip_w = ld.dw, ld.wmask, ld.skip_i, ld.skip_w
        cycles, dram_stall = self._cycles(acc[A_TOTAL], dram)
        bd = {"busy": acc[A_IDEAL], "pe_address_stall": acc[A_ADDR_OVH], "spatial_fragmentation": acc[A_FRAG],
              "load_imbalance": acc[A_IMB],
              "pipeline_fill_drain": acc[A_FILL], "noc_iact_stall": acc[A_ST_I], "noc_weight_stall": acc[A_ST_W],
              "psum_glb_stall": acc[A_ST_P], "dram_stall": dram_stall}
        bd = largest_remainder(bd, cycles)
        macs = int(acc[A_MACS])
        slots = int(acc[A_SLOTS_NZ] + acc[A_SLOTS_Z])
        # performed MACs: non-zero iact x every weight the PE walks (all of them when it does not skip
        # weights); gated: MACs on zero iacts / halo (kept their slot, not their energy); idle: empty
        # SIMD lanes.  A skipping PE performs exactly the effectual MACs.
        mac_actual, mac_gated = int(acc[A_DENSE_NZ]), int(acc[A_DENSE_Z])
        idle = slots - mac_actual - mac_gated
        actions = {
            "mac": mac_actual, "mac_gated": mac_gated + idle,
            "iact_spad_read": acc[A_LOOKUPS],
            # count field of every fed entry + one address read per window column
            "iact_spad_meta_read": acc[A_LOOKUPS] + acc[A_IADDR] if c["pe.compressed_spads"] else 0,
            "weight_spad_meta_read": acc[A_LOOKUPS] if c["pe.compressed_spads"] else 0,
            # a zero iact gates the weight read of a dense PE too
            "weight_spad_read": acc[A_WWORDS] if skip_i else acc[A_SLOTS_NZ] / lanes,
            "psum_spad_access": 2 * mac_actual,
            "iact_spad_write": acc[A_I_SPADW], "weight_spad_write": acc[A_W_SPADW],
            "glb_iact_read": acc[A_I_NOC], "glb_iact_write": dram["glb_iact_writes"],
            "glb_psum_read": acc[A_P_GLB_R], "glb_psum_write": acc[A_P_GLB_W],
            "noc_iact": acc[A_I_NOC], "noc_weight": acc[A_W_NOC], "noc_psum": acc[A_P_NOC],
            "dram_byte": dram["dram_bytes"],
        }
        if c["memory.ideal"]:
            for k in ("glb_iact_read", "glb_iact_write", "glb_psum_read", "glb_psum_write", "noc_iact",
                      "noc_weight", "noc_psum", "dram_byte"):
                actions[k] = 0
        K, Cg, R, S = wmask.shape
        nMb, nCb = ceil_div(K, m.M0), (1 if dw else ceil_div(Cg, m.C0))
        tile_dense = L.Q * (m.M0 if dw else m.C0) * S * (1 if dw else ceil_div(m.M0, lanes))
        passes_cf = (ceil_div(nMb, m.Mc * m.Mk) * ceil_div(nCb, m.Cr * m.Ck) * ceil_div(R, m.Rsp)
                     * ceil_div(L.P, m.Fc * m.Fk))
        closed_form = passes_cf * tile_dense
        if inst.out_mask is None:  # every output active: the walk's MACs are the effectual MACs
            eff = macs
        else:
            from workloads.effectual import effectual_macs
            eff = effectual_macs(inst)
        extra = {
            "mapping": m.describe(), "mapping_factors": [m.Rsp, m.Cr, m.Fc, m.Mc, m.Fk, m.Ck, m.Mk, m.M0, m.C0],
            "mapping_candidates": ncand, "passes": int(round(acc[A_PASSES])),
            "closed_form_dense_cycles": int(closed_form),
            # context for the per-pass synchronisation: compute cycles if each accumulation group ran
            # its passes back to back without waiting for the other groups (no delivery limits)
            "compute_cycles_groups_decoupled": int(round(groups_decoupled)),
            "mapping_efficiency": float(acc[A_ACTIVE] / max(1.0, acc[A_PASSES] * self.n_pes)),
            "simd_idle_lane_slots": int(idle),
            "psum_chunks": dram["psum_chunks"], "weight_fetches": dram["weight_fetches"],
            "dram_tiling": dram["dram_tiling"], "dram_bytes": dram["dram_bytes"],
            "noc_modes": self._noc_modes(L, m),
            "rule": {"skip_zero_iacts": skip_i, "skip_zero_weights": skip_w,
                     "depthwise_rule": c["pe.depthwise_rule"] if dw else None},
            "macs_walked_effectual": macs,
            # timing path (accelsim.models.eyeriss.layerarrays): PE stage times in closed form (data-independent
            # PE) or walked from the data; the pass-level array walk and the action counts are the same
            "path": ld.path,
        }
        return LayerResult(inst.name, inst.image, cycles, bd, actions, L.macs_dense, eff, mac_actual,
                           macs_skipped=int(L.macs_dense - mac_actual - mac_gated), macs_gated=mac_gated,
                           extra=extra)

    def _noc_modes(self, L, m: Mapping) -> dict:
        """HM-NoC mode per data type implied by the sharing pattern of the mapping (section 5.2)."""
        w_share = m.Fc * m.Fk  # PEs / clusters holding the same weight tile
        i_share = m.Mc * m.Mk  # PEs / clusters reading the same iact rows
        def mode(share, total):
            return "unicast" if share == 1 else ("broadcast" if share >= total else "multicast")
        tot = self.n_pes
        return {"weights": mode(w_share, tot), "iacts": mode(i_share, tot),
                "psums": "vertical accumulation" if m.Rsp * m.Cr > 1 else "direct to GLB"}

    def functional_output(self, inst, M0: int, C0: int) -> np.ndarray:
        L = inst.layer
        dw = L.kind == "depthwise"
        w = inst.weights_dense()
        ptr, rows, vals = weight_csc(w != 0, w, M0, dw)
        a = inst.acts_dense()
        pad = L.padding
        ap = np.zeros((L.C, L.H + 2 * pad, L.W + 2 * pad))
        ap[:, pad:pad + L.H, pad:pad + L.W] = a
        K, Cg, R, S = w.shape
        out = functional_walk(ap, ptr, rows, vals, dw, K, Cg, R, S, L.P, L.Q, L.stride, L.dilation, M0, C0)
        if L.bias is not None:
            out = out + L.bias[:, None, None]
        return out
