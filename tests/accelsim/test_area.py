"""Area model: provenance on every component, node scaling, per-model formulas, model override, generic fallback.

The published totals (SCNN 7.9 mm^2, EIE 40.8 mm^2, Cambricon-X 6.38 mm^2) are reproduced at the published
configs by construction of the formulas; those checks guard the unit handling, not the model's accuracy.
"""

import pytest

from accelsim.area import GENERIC, area_mm2, area_of
from accelsim.config import Field, list_presets, load_arch
from accelsim.engine import AcceleratorModel
from accelsim.models import model_names, register_model
from accelsim.models.common.scnn_pe_area import SCNN_PE_16NM


def _need(preset):
    if preset not in list_presets():
        pytest.skip(f"preset {preset} not available")
    return load_arch(preset)


def test_every_preset_has_sourced_components():
    for p in list_presets():
        rep = area_of(p)
        assert rep.components, p
        assert rep.total_mm2 > 0
        for c in rep.components:
            assert c.area_mm2 >= 0 and c.source and c.basis, (p, c)
        d = rep.to_dict()
        assert d["total_mm2"] == pytest.approx(sum(c["area_mm2"] for c in d["components"]))
        assert d["method"] in ("model", "paper", "generic")


def test_scnn_formula():
    cfg = _need("scnn")
    rep = area_of(cfg)
    assert rep.method in ("paper", "model")
    if rep.method != "paper":
        pytest.skip("the SCNN model provides its own area")
    assert rep.total_mm2 == pytest.approx(64 * 0.123, rel=1e-9)  # by construction: the paper's PE table x 64
    parts = {c.name: c.area_mm2 for c in rep.components}
    # doubling the banks doubles exactly the crossbar and the accumulator buffers
    big = area_of(cfg.with_overrides({"accumulator.banks": 64}))
    bp = {c.name: c.area_mm2 for c in big.components}
    assert bp["pe.crossbar"] == pytest.approx(2 * parts["pe.crossbar"])
    assert bp["pe.accumulators"] == pytest.approx(2 * parts["pe.accumulators"])
    assert bp["pe.act_ram"] == pytest.approx(parts["pe.act_ram"])
    # 8x8 multipliers: 4x the multiplier array, 4x the crossbar inputs
    m8 = {c.name: c.area_mm2 for c in area_of(cfg.with_overrides({"multipliers.F": 8, "multipliers.I": 8})).components}
    assert m8["pe.multipliers"] == pytest.approx(4 * parts["pe.multipliers"])
    assert m8["pe.crossbar"] == pytest.approx(4 * parts["pe.crossbar"])
    # a 4x4 PE grid is a quarter of the chip
    assert area_mm2(cfg.with_overrides({"pe_rows": 4, "pe_cols": 4})) == pytest.approx(rep.total_mm2 / 4)
    # node scaling: A ~ node^2
    assert area_mm2(cfg.with_overrides({"tech_node_nm": 32})) == pytest.approx(4 * rep.total_mm2)
    assert SCNN_PE_16NM["multipliers"].node_nm == 16


def test_eie_and_cambricon_x_totals():
    eie = area_of(_need("eie"))
    if eie.method == "paper":
        assert eie.total_mm2 == pytest.approx(40.8, rel=0.005)  # 64 x 638,024 um^2 (Table II), by construction
    cx = _need("cambricon-x")
    rep = area_of(cx)
    if rep.method == "paper":
        assert rep.total_mm2 == pytest.approx(6.38, rel=1e-9)
        assert area_mm2(cx.with_overrides({"pe.count": 32})) > rep.total_mm2
        assert area_mm2(cx.with_overrides({"tech_node_nm": 32.5})) == pytest.approx(rep.total_mm2 / 4)


@register_model("area-toy")
class AreaToy(AcceleratorModel):
    FIELDS = {"multipliers": Field(int, "MACs/cycle", default=4), "bits": Field(int, "bits", default=8),
              "buf_bytes": Field(int, "bytes", default=2048), "own": Field(bool, "", default=False)}

    def peak_macs_per_cycle(self):
        return self.cfg["multipliers"]

    def simulate_layer(self, inst, functional=False):  # area only
        raise NotImplementedError

    def area_mm2(self):
        return {"core": 1.5, "sram": 0.25} if self.cfg["own"] else {}


def _toy(tmp_path, extra=""):
    p = tmp_path / "t.yaml"
    p.write_text("model: area-toy\nclock_hz: 1.0e9\nenergy_table: horowitz_45nm\ntech_node_nm: 45\n" + extra)
    return load_arch(str(p))


def test_model_area_wins(tmp_path):
    rep = area_of(_toy(tmp_path, "own: true\n"))
    assert rep.method == "model" and rep.total_mm2 == pytest.approx(1.75)


def test_generic_fallback(tmp_path):
    cfg = _toy(tmp_path, "multipliers: 10\n")
    rep = area_of(cfg)
    assert rep.method == "generic"
    c = {x.name: x for x in rep.components}
    # 8-bit multipliers: the energy table's own area row is preferred, with its source
    assert c["multipliers"].area_mm2 == pytest.approx(10 * 282e-6)
    assert "horowitz_45nm" in c["multipliers"].source
    assert c["sram.buf_bytes"].area_mm2 == pytest.approx(2048 * GENERIC["sram_byte"].area_mm2)
    # 90 nm: every component x4
    rep90 = area_of(cfg.with_overrides({"tech_node_nm": 90}))
    assert rep90.total_mm2 == pytest.approx(4 * rep.total_mm2)
    assert "area-toy" in model_names()
