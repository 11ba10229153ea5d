"""Engine, config and report plumbing, with a tiny toy model defined here."""

import json

import numpy as np
import pytest

from accelsim.config import Field, load_arch
from accelsim.engine import AcceleratorModel, LayerResult, simulate
from accelsim.errors import ConfigError
from accelsim.registry import register_model
from workloads import Layer, Workload, effectual_macs
from workloads.effectual import conv_reference


@register_model("engine-toy")
class Toy(AcceleratorModel):
    """One effectual MAC per cycle per multiplier (ceil), for plumbing tests only."""
    FIELDS = {"multipliers": Field(int, "MACs/cycle", default=4), "mode.skip": Field(bool, "", default=True)}

    def peak_macs_per_cycle(self):
        return self.cfg["multipliers"]

    def simulate_layer(self, inst, functional=False):
        eff = effectual_macs(inst)
        work = eff if self.cfg["mode.skip"] else inst.layer.macs_dense
        cyc = -(-work // self.cfg["multipliers"])
        out = None
        if functional:
            L = inst.layer
            out = conv_reference(inst.acts_dense(), inst.weights_dense(), L.stride, L.padding, L.dilation, L.groups)
        return LayerResult(inst.name, inst.image, cyc, {"busy": cyc}, {"mac_16b": work}, inst.layer.macs_dense,
                           eff, work, inst.layer.macs_dense - work, output=out)


@pytest.fixture
def toy_yaml(tmp_path):
    p = tmp_path / "toy.yaml"
    p.write_text("model: engine-toy\nclock_hz: {value: 1.0e9, unit: Hz, source: test}\nenergy_table: horowitz_45nm\n"
                 "tech_node_nm: 45\nmultipliers: 8\n")
    return p


def _wl(images=2):
    rng = np.random.default_rng(0)
    wl = Workload("t")
    wl.add_layer(Layer("a", "conv", C=3, K=4, H=6, W=7, R=3, S=3, padding=1,
                       weights=rng.standard_normal((4, 3, 3, 3)) * (rng.random((4, 3, 3, 3)) > 0.5)))
    wl.add_layer(Layer("b", "fc", C=10, K=5, weight_density=0.5, act_density=0.3), deps=["a"])
    for i in range(images):
        wl.set_image_data(i, "a", acts=np.maximum(0, rng.standard_normal((3, 6, 7))),
                          out_mask=rng.random((6, 7)) > 0.3)
    return wl


def test_simulate_report_roundtrip(toy_yaml, tmp_path):
    wl = _wl()
    rep = simulate(wl, str(toy_yaml), jobs=1)
    d = rep.to_dict()
    assert d["total"]["cycles"] == sum(r["cycles"] for r in d["layers"])
    assert len(d["layers"]) == 4 and d["workload"]["hash"] == wl.content_hash
    # energy = sum(count x cost)
    for r in d["layers"]:
        assert r["energy_j"] == pytest.approx(r["actions"]["mac_16b"] * 1.05e-12)
    files = rep.write(tmp_path / "out")
    assert json.loads(open(files["json"]).read())["report_hash"] == d["report_hash"]
    assert "Total Cycles" in open(files["csv"]).readline()


def test_parallel_equals_serial_and_deterministic(toy_yaml):
    wl = _wl(3)
    a = simulate(wl, str(toy_yaml), jobs=1).hash
    b = simulate(wl, str(toy_yaml), jobs=2).hash
    assert a == b


def test_overrides_and_errors(toy_yaml, tmp_path):
    cfg = load_arch(str(toy_yaml), ["multipliers=16", "mode.skip=false"])
    assert cfg["multipliers"] == 16 and cfg["mode.skip"] is False
    assert cfg.sources["multipliers"] == "command-line override"
    for bad, field in (["multipliers=0"], "multipliers"), (["nope=1"], "nope"), (["multipliers=x"], "multipliers"):
        with pytest.raises(ConfigError, match=field):
            load_arch(str(toy_yaml), bad)
    p = tmp_path / "bad.yaml"
    p.write_text("model: engine-toy\nclock_hz: 1e9\nenergy_table: horowitz_45nm\ntech_node_nm: 45\nbogus: 3\n")
    with pytest.raises(ConfigError, match="bad.yaml.*bogus"):
        load_arch(str(p))
    p.write_text("model: engine-toy\nclock_hz: [1\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_arch(str(p))
    with pytest.raises(ConfigError, match="unknown accelerator"):
        load_arch("no-such-preset")


def test_functional_output(toy_yaml):
    wl = _wl(1)
    rep = simulate(wl, str(toy_yaml), jobs=1, functional=True, layers=["a"])
    r = rep.results[0]
    inst = wl.instance("a", 0)
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.conv2d(torch.tensor(inst.acts_dense())[None], torch.tensor(inst.weights_dense()),
                                     padding=1)[0].numpy()
    np.testing.assert_allclose(r.output, ref, rtol=1e-9, atol=1e-12)


def test_energy_scaling(toy_yaml):
    cfg = load_arch(str(toy_yaml), ["tech_node_nm=22.5"])
    from accelsim.energy import table_for
    t = table_for(cfg)
    assert t.energy_pJ("mac_16b") == pytest.approx(1.05 * 0.5)


def test_chrome_trace_timeline(toy_yaml, tmp_path):
    from accelsim.cli import main
    wl = _wl(2)
    p = tmp_path / "w.npz"
    wl.save(p)
    out = tmp_path / "t.json"
    assert main(["simulate", "-w", str(p), "-a", str(toy_yaml), "-j", "1", "--chrome-trace", str(out)]) == 0
    tr = json.loads(out.read_text())
    xs = [e for e in tr["traceEvents"] if e["ph"] == "X"]
    assert len(xs) == 4 and {e["pid"] for e in xs} == {1, 2}
    rep = simulate(wl, str(toy_yaml), jobs=1)
    for pid, img in ((1, 0), (2, 1)):
        ev = sorted((e for e in xs if e["pid"] == pid), key=lambda e: e["ts"])
        assert ev[0]["ts"] == 0 and ev[1]["ts"] == pytest.approx(ev[0]["dur"])  # back to back
        lat = [pi for pi in rep.per_image() if pi["image"] == img][0]["latency_s"]
        assert sum(e["dur"] for e in ev) == pytest.approx(lat * 1e6)
