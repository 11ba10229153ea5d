"""Eyeriss v1 (Chen et al., ISSCC/JSSC 2016): the dense row-stationary baseline for Eyeriss v2.

168 PEs as one 12 x 14 array (``accelerators.md`` section 6, Sparseloop ``table7_eyeriss_setup``),
16-bit data, one MAC per PE per cycle, uncompressed spads (ifmap 12, weight 224, psum 24 entries).
Row stationary: PE rows <- filter rows x channel blocks, PE columns <- output rows x
output-channel blocks; the same mapper and pass-level array simulator as Eyeriss v2
(:mod:`accelsim.models.eyeriss.model`) with one cluster.  Zero iacts are *gated* (the MAC and
weight read are suppressed, so energy drops) but not skipped: every MAC slot costs a cycle.
"""

from __future__ import annotations

from dataclasses import replace

from ...config import Field
from ...registry import register_model
from .model import FIELDS_V2, EyerissV2


def _f(key, default, source, **kw):
    return replace(FIELDS_V2[key], default=default, source=source, **kw)


_V1 = "Eyeriss v1 (Chen et al. JSSC 2016; accelerators.md 6, Sparseloop table7 setup)"
FIELDS_V1 = dict(FIELDS_V2)
FIELDS_V1.update({
    "clusters.rows": _f("clusters.rows", 1, "v1 has one PE array (no clusters)"),
    "clusters.cols": _f("clusters.cols", 1, "v1 has one PE array (no clusters)"),
    "cluster.pe_rows": _f("cluster.pe_rows", 12, f"{_V1}: 12 x 14 PEs"),
    "cluster.pe_cols": _f("cluster.pe_cols", 14, f"{_V1}: 12 x 14 PEs"),
    "pe.simd_lanes": _f("pe.simd_lanes", 1, f"{_V1}: one 16-bit MAC per PE"),
    "pe.pipeline_stages": _f("pe.pipeline_stages", 1, "not modelled (no source for the v1 PE pipeline depth)"),
    "pe.skip_zero_iacts": _f("pe.skip_zero_iacts", False, f"{_V1}: zero iacts gated, not skipped"),
    "pe.skip_zero_weights": _f("pe.skip_zero_weights", False, f"{_V1}: dense weights"),
    "pe.compressed_spads": _f("pe.compressed_spads", False, f"{_V1}: uncompressed spads"),
    "pe.depthwise_rule": _f("pe.depthwise_rule", "dense", f"{_V1}: dense PE"),
    "pe.address_stages": _f("pe.address_stages", False, f"{_V1}: uncompressed spads, no address stages"),
    "pe.iact_spad_entries": _f("pe.iact_spad_entries", 12, f"{_V1}: ifmap spad 12 x 16 b"),
    "pe.iact_addr_entries": _f("pe.iact_addr_entries", 12, "no address spad: the ifmap spad bounds the filter width"),
    "pe.weight_spad_entries": _f("pe.weight_spad_entries", 224, f"{_V1}: weight spad 224 x 16 b"),
    "pe.weight_addr_entries": _f("pe.weight_addr_entries", 224, "no address spad: only the weight spad bounds C0 x S"),
    "pe.psum_spad_entries": _f("pe.psum_spad_entries", 24, f"{_V1}: psum spad 24 x 16 b"),
    "glb.iact_bytes_per_cluster": _f("glb.iact_bytes_per_cluster", 55296,
                                     "assumed: half of the 108 KB GLB for iacts"),
    "glb.psum_entries_per_cluster": _f("glb.psum_entries_per_cluster", 27648,
                                       "assumed: half of the 108 KB GLB for 16-bit psums"),
    "noc.iact_entries_per_cycle": _f("noc.iact_entries_per_cycle", 4.0, "assumed: 64-bit GLB-to-array bus, 16-b words"),
    "noc.weight_entries_per_cycle": _f("noc.weight_entries_per_cycle", 4.0, "assumed: 64-bit filter bus, 16-b words"),
    "noc.psum_entries_per_cycle": _f("noc.psum_entries_per_cycle", 4.0, "assumed: 64-bit psum bus, 16-b words"),
    "bits.iact_entry": _f("bits.iact_entry", 16, f"{_V1}: 16-bit data"),
    "bits.weight_entry": _f("bits.weight_entry", 16, f"{_V1}: 16-bit data"),
    "bits.output": _f("bits.output", 16, f"{_V1}: 16-bit data"),
})


@register_model("eyeriss-v1")
class EyerissV1(EyerissV2):
    """Eyeriss v1: 168 dense PEs (12 x 14), row stationary, zero-iact gating."""

    FIELDS: dict[str, Field] = FIELDS_V1
    MAPPING_NOTES = {
        "conv": "RS: PE rows <- filter rows x C blocks, PE cols <- output rows x M blocks (mapping in extra.mapping)",
        "depthwise": "RS with one channel per weight column (dense)",
        "fc": "1x1 conv on a 1x1 plane: C blocks down PE rows, M blocks across PE columns",
    }

    @classmethod
    def validation_suite(cls):
        from .validate import validate_v1
        return validate_v1
