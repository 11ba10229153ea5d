"""One technology for every compare row (issue 15 item 4): the Stillmaker & Baas node scaling against the
paper's own numbers, the round trip, rows projected by the first-order rule, the datapath-width rule against
an independent 16-bit row, the technology of every preset, and the compare outputs with and without
``--normalize``."""

import csv
import io
import json
import math
import os

import numpy as np
import pytest

from accelsim.config import list_presets
from accelsim.energy import (
    COMMON_DRAM_PJ_PER_BYTE,
    ROW_KINDS,
    SB_AREA,
    list_tables,
    load_table,
    parse_normalize,
    sb_area_scale,
    sb_energy_factor,
    sb_energy_scale,
)
from accelsim.engine import make_model
from accelsim.registry import table_files
from accelsim.yamlio import load_yaml_file

FULL = bool(os.environ.get("ACCELSIM_FULL"))


# ------------------------------------------------------------------ the scaling model against the paper
def test_energy_fit_reproduces_the_papers_worked_example():
    """Stillmaker & Baas Sec. 4.2.1 (as corrected by the authors): 1 pJ/op at 65 nm, 1.3 V is 0.1755 pJ/op
    at HP 32 nm, 0.9 V, through the energy factors 2.604 (65 nm) and 0.4571 (HP32) of their Table 5."""
    assert sb_energy_factor(65, 1.3) == pytest.approx(2.604, rel=2e-4)
    assert sb_energy_factor(32, 0.9) == pytest.approx(0.4571, rel=2e-4)
    assert sb_energy_scale(65, 1.3, 32, 0.9) == pytest.approx(0.1755, rel=5e-4)


def test_area_factors_are_the_papers_table():
    assert sb_area_scale(16, 45) == 5.3 and sb_area_scale(45, 65) == 1.5 and sb_area_scale(16, 65) == 7.9
    assert sb_area_scale(45, 16) == pytest.approx(1 / 5.3) and sb_area_scale(65, 45) == pytest.approx(1 / 1.5)
    # the table's two entries of a pair are reciprocal to its two significant digits (a transcription check)
    for s in SB_AREA:
        for d in SB_AREA:
            assert SB_AREA[s][d] * SB_AREA[d][s] == pytest.approx(1.0, abs=0.05), (s, d)


def _native_copy(tmp_path, name):
    """A shipped table with its derived_from metadata removed: every row taken as published at its node."""
    data = load_yaml_file(table_files()[name])
    data.pop("derived_from", None)
    for r in data["actions"].values():
        r.pop("derived_from", None)
    import yaml
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data))
    return str(p)


def test_16nm_table_normalised_to_45nm_and_back_is_the_identity(tmp_path):
    t16 = load_table(_native_copy(tmp_path, "scnn_16nm"))
    t45 = t16.normalized(45, 0.9)
    back = t45.normalized(16, 0.9)
    assert t45.energy_pJ("mult_16b") == pytest.approx(t16.energy_pJ("mult_16b") * sb_energy_scale(16, 0.9, 45, 0.9))
    assert t45.energy_pJ("mult_16b") > 4 * t16.energy_pJ("mult_16b")  # the fit: 4.42x, first-order rule 2.81x
    for a in t16.rows:
        assert back.energy_pJ(a) == pytest.approx(t16.energy_pJ(a), rel=1e-12), a
    t = load_table(_native_copy(tmp_path, "horowitz_45nm"))
    back = t.normalized(16, 0.9).normalized(45, 0.9)
    for c in t.area:
        assert back.area_mm2(c) == pytest.approx(t.area_mm2(c), rel=1e-12), c
    assert t.normalized(16, 0.9).area_mm2("int_mult_8b") == pytest.approx(t.area_mm2("int_mult_8b") / 5.3)


def test_rows_projected_from_45nm_start_from_their_published_value():
    """scnn_16nm (and the arithmetic of cambricon_x_65nm) are Horowitz 45 nm / 0.9 V values carried by the
    first-order rule; at 45 nm / 0.9 V they are Horowitz's again (to the tables' 4-5 digit rounding)."""
    h = load_table("horowitz_45nm")
    s = load_table("scnn_16nm").normalized(45, 0.9)
    assert s.energy_pJ("mult_16b") == pytest.approx(h.energy_pJ("int_mult_16b"), rel=5e-4)
    assert s.energy_pJ("iaram_read_16b") == pytest.approx(h.energy_pJ("sram_32kb_64b") / 4, rel=5e-4)
    c = load_table("cambricon_x_65nm").normalized(45, 0.9)
    for b in (8, 16, 32):
        assert c.energy_pJ(f"mult_{b}b") == pytest.approx(h.energy_pJ(f"int_mult_{b}b"), rel=5e-4)
    # its CACTI 65 nm SRAM rows are native: carried with the fit (65 nm 1.0 V -> 45 nm 0.9 V)
    raw = load_table("cambricon_x_65nm")
    assert c.energy_pJ("sb_read_16b") == pytest.approx(raw.energy_pJ("sb_read_16b") * sb_energy_scale(65, 1.0, 45, 0.9))
    assert c.energy_pJ("sb_leakage_byte_ns") == raw.energy_pJ("sb_leakage_byte_ns")  # no leakage model: kept
    assert "Stillmaker & Baas" in c.rows["sb_read_16b"].source and "kept" in c.rows["sb_leakage_byte_ns"].source


def test_every_shipped_row_has_a_kind_and_dram_rows_become_one_common_value():
    for name in list_tables():
        raw = load_yaml_file(table_files()[name])
        t = load_table(name).normalized(45, 0.9, COMMON_DRAM_PJ_PER_BYTE, "common")
        for a, r in raw["actions"].items():
            if name.startswith("toy"):
                continue
            assert r.get("kind") in ROW_KINDS, (name, a)
            assert (r["kind"] == "dram") == (r.get("node_scaled", True) is False), (name, a)
            if r["kind"] == "dram":
                assert t.energy_pJ(a) * 8 / r["width_bits"] == pytest.approx(COMMON_DRAM_PJ_PER_BYTE), (name, a)
            assert "Stillmaker & Baas" in t.rows[a].source or r["kind"] in ("dram", "leakage"), (name, a)


def test_width_rule_against_the_independent_16bit_eyeriss_v1_mac():
    """Eyeriss v2's 8-bit ERT rows carried to 16 bits: the MAC (quadratic rule) against Eyeriss v1's
    16-bit MAC of the same Accelergy 45 nm ERT family, 2.200 pJ: 0.561 x 4 = 2.244 pJ, +2.0 %."""
    v2 = load_table("eyeriss_v2_45nm", datapath_bits=16)
    v1 = load_table("eyeriss_v1_45nm")
    assert v2.energy_pJ("mac") == pytest.approx(0.561 * 4)
    assert abs(v2.energy_pJ("mac") / v1.energy_pJ("mac") - 1) < 0.05
    raw = load_table("eyeriss_v2_45nm")
    # GLB entries: 8-bit value + 4-bit zero count -> 16 + 4 bits
    assert v2.energy_pJ("glb_iact_read") == pytest.approx(raw.energy_pJ("glb_iact_read") * 20 / 12)
    assert v2.energy_pJ("weight_spad_meta_read") == raw.energy_pJ("weight_spad_meta_read")  # addresses: no data bits
    assert load_table("eyeriss_v2_45nm", datapath_bits=8).energy_pJ("mac") == raw.energy_pJ("mac")
    assert v2.dump()["table_datapath_bits"] == 8 and "width_rule" in v2.dump()


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_reports_its_technology(preset):
    m = make_model(preset)
    t = m.technology()
    for k in ("node_nm", "voltage_v", "clock_hz", "onchip_sram_bytes", "area_mm2"):
        assert isinstance(t[k], float) and t[k] > 0, (k, t[k])
    assert t["datapath_bits"] in (8, 16, 24, 32) and t["energy_table"]
    rep = m.area()
    if all((c.ref_node_nm or rep.node_nm) == rep.node_nm for c in rep.components):
        assert rep.total_at_node(rep.node_nm) == pytest.approx(rep.total_mm2)
    ov = m.datapath_overrides(16)
    if ov is not None:
        assert make_model(m.cfg, ov).datapath_bits() == 16
    if m.datapath_bits() == 8:  # the 8-bit presets (systolic array, Eyeriss v2) have a 16-bit variant
        assert ov


def test_normalize_values_parse_or_fail_in_one_line():
    assert parse_normalize("45nm").label == "45nm@0.9V" and parse_normalize("16NM@0.8v").label == "16nm@0.8V"
    assert parse_normalize("none") is None and parse_normalize("65").node_nm == 65
    for bad, needle in (("22nm", "no Stillmaker"), ("45nm@", "expected"), ("fast", "expected")):
        with pytest.raises(ValueError, match=needle):
            parse_normalize(bad)


# ------------------------------------------------------------------ compare outputs
def _small_workload():
    from workloads import Layer, Workload
    rng = np.random.default_rng(0)
    wl = Workload("t")
    wl.add_layer(Layer("a", "conv", C=8, K=8, H=6, W=7, R=3, S=3, padding=1,
                       weights=rng.standard_normal((8, 8, 3, 3)) * (rng.random((8, 8, 3, 3)) > 0.5)))
    for i in range(2):
        wl.set_image_data(i, "a", acts=np.maximum(0, rng.standard_normal((8, 6, 7))), out_mask=rng.random((6, 7)) > 0.3)
    return wl


@pytest.mark.parametrize("preset", ["systolic", "eyeriss-v2", "dcnn", "cambricon-x"])
def test_entry_fields_price_the_same_actions_at_the_common_node(preset):
    """The compare columns of one report: ``none`` leaves the published numbers alone (the report's energy is
    its actions x the configured table, as before); ``45nm`` prices the same action counts with the
    normalised table and carries the area with the fit's factors."""
    from accelsim.compare.technology import entry_fields
    from accelsim.engine import simulate
    rep = simulate(_small_workload(), preset, jobs=1)
    published = load_table(rep.cfg["energy_table"], rep.cfg.get("tech_node_nm"), None, rep.model.datapath_bits())
    assert rep.total()["energy_j"] == pytest.approx(
        sum(sum(published.rollup(r.actions).values()) for r in rep.results) * 1e-12, rel=1e-12)
    lat = rep.total()["latency_s"] / 2
    none = entry_fields(rep, None, lat)
    assert none["normalized"] is None and none["technology"]["node_nm"] == published.node_nm
    norm = parse_normalize("45nm")
    n = entry_fields(rep, norm, lat)["normalized"]
    t45 = rep.model.energy.normalized(45, 0.9, COMMON_DRAM_PJ_PER_BYTE, "x")
    per_img = {}
    for r in rep.results:
        per_img[r.image] = per_img.get(r.image, 0.0) + sum(float(c) * t45.energy_pJ(a) for a, c in r.actions.items())
    assert n["energy_j_per_image"]["avg"] == pytest.approx(sum(per_img.values()) / 2 * 1e-12, rel=1e-12)
    assert n["area_mm2"] == pytest.approx(rep.model.area().total_at_node(45))
    assert n["inferences_per_s_per_mm2"] == pytest.approx(1 / lat / n["area_mm2"])
    assert rep.total()["energy_j"] == pytest.approx(  # normalising did not touch the published numbers
        sum(sum(published.rollup(r.actions).values()) for r in rep.results) * 1e-12, rel=1e-12)


def _run(tmp_path, normalize, targets=("systolic", "dcnn")):
    pytest.importorskip("torch")
    from accelsim.compare import CompareSettings, run_compare
    return run_compare(CompareSettings(size="128x192", images=1, measure=False, plots=False, quiet=True, jobs=1,
                                       targets=targets, normalize=normalize,
                                       out=tmp_path / normalize.replace("@", "_"))).data


def test_compare_outputs_carry_technology_and_the_normalisation_node(tmp_path):
    _run(tmp_path, "45nm")
    out = tmp_path / "45nm"
    js = json.loads((out / "compare.json").read_text())
    assert js["settings"]["normalize"] == "45nm@0.9V" and js["normalization"]["node_nm"] == 45
    sims = [e for e in js["entries"] if e["kind"] == "simulated"]
    assert {e["target"] for e in sims} == {"systolic", "systolic@16b", "dcnn"}
    for e in sims:
        t, n = e["technology"], e["normalized"]
        assert {"node_nm", "datapath_bits", "clock_hz", "onchip_sram_bytes", "area_mm2"} <= set(t)
        assert n["node_nm"] == 45 and n["area_mm2"] > 0 and n["inferences_per_s_per_mm2"] > 0
        assert e["energy_j_per_image"]["avg"] > 0  # the published-node number stays beside the normalised one
    by = {(e["model"], e["target"]): e for e in sims}
    sys8, sys16, dcnn = by[("baseline", "systolic")], by[("baseline", "systolic@16b")], by[("baseline", "dcnn")]
    assert sys8["technology"]["datapath_bits"] == 8 and sys16["technology"]["datapath_bits"] == 16
    assert sys16["technology"]["datapath_variant_of"] == "systolic"
    assert dcnn["technology"]["node_nm"] == 16 and dcnn["normalized"]["area_mm2"] == pytest.approx(
        dcnn["technology"]["area_mm2"] * 5.3)
    assert not math.isclose(dcnn["normalized"]["energy_j_per_image"]["avg"], dcnn["energy_j_per_image"]["avg"])
    # every row of the normalised tables cites the scaling model (or is the common DRAM value)
    for rows in js["normalization"]["tables"].values():
        assert all("Stillmaker & Baas" in r["source"] or "common DRAM" in r["source"] for r in rows["actions"].values())
    lines = list(csv.DictReader(io.StringIO((out / "compare.csv").read_text())))
    assert all(r["normalize"] == "45nm@0.9V" for r in lines)
    for r in lines:
        if r["kind"] == "simulated":
            assert float(r["tech_node_nm"]) > 0 and float(r["normalize_node_nm"]) == 45
            assert float(r["inferences_per_s_per_mm2_norm"]) > 0 and float(r["onchip_sram_bytes"]) > 0
    md = (out / "compare.md").read_text()
    assert "energy uJ/image @45 nm" in md and "inf/s/mm^2 @45 nm" in md
    assert "## Technology (--normalize 45nm@0.9V)" in md
    assert "16 nm, 16 b, 1000 MHz" in md and "systolic@16b" in md


@pytest.mark.slow
def test_compare_normalize_none_gives_the_published_numbers(tmp_path):
    """Two compare runs (slow; the reduced form is test_entry_fields_price_the_same_actions_at_the_common_node)."""
    targets = ("systolic", "dcnn") if FULL else ("systolic",)
    by = {(e["model"], e["target"]): e for e in _run(tmp_path, "45nm", targets)["entries"] if e["kind"] == "simulated"}
    none = _run(tmp_path, "none", targets)
    assert none["settings"]["normalize"] == "none" and none["normalization"]["normalize"] == "none"
    nsims = {(e["model"], e["target"]): e for e in none["entries"] if e["kind"] == "simulated"}
    assert set(nsims) == {k for k in by if not k[1].endswith("@16b")}
    for k, e in nsims.items():
        assert e["normalized"] is None and e["technology"] == {**by[k]["technology"], "datapath_variant_of": None}
        assert e["energy_j_per_image"] == by[k]["energy_j_per_image"] and e["latency_s"] == by[k]["latency_s"]
    nmd = (tmp_path / "none" / "compare.md").read_text()
    assert "(not normalised)" in nmd and "--normalize none" in nmd and "technology (node" in nmd
    lines = list(csv.DictReader(io.StringIO((tmp_path / "none" / "compare.csv").read_text())))
    assert all(r["normalize"] == "none" for r in lines)
