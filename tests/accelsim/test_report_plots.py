"""Report plots (accelsim plot / simulate --plots) and the per-layer sums they draw from."""

import json

import numpy as np
import pytest

from accelsim.cli import main
from accelsim.engine import make_model, simulate
from accelsim.report_plots import PLOTS, dram_bytes, per_layer, roofline_points, write_report_plots
from workloads import Layer, Workload


def _workload(n_images=3):
    wl = Workload("tiny")
    wl.add_layer(Layer("a", "conv", C=8, K=16, H=12, W=12, R=3, S=3, padding=1, weight_density=0.5,
                       act_density=0.6))
    wl.add_layer(Layer("b", "conv", C=16, K=16, H=12, W=12, R=1, S=1, weight_density=0.4, act_density=0.5),
                 deps=["a"])
    wl.add_layer(Layer("fc", "fc", C=64, K=10, weight_density=0.3, act_density=0.7), deps=["b"])
    rng = np.random.default_rng(0)
    for i in range(n_images):
        for n in wl.layers:
            wl.set_image_data(i, n, act_density=float(rng.uniform(0.3, 0.8)))
    return wl


@pytest.fixture(scope="module")
def report():
    rep = simulate(_workload(), make_model("scnn"), jobs=1)
    return json.loads(rep.to_json())


def test_per_layer_sums_match_the_report_totals(report):
    layers = per_layer(report)
    assert [L["name"] for L in layers] == ["a", "b", "fc"]
    assert all(L["images"] == 3 for L in layers)
    t = report["total"]
    assert sum(L["cycles"] for L in layers) == t["cycles"]
    assert sum(L["energy_j"] for L in layers) == pytest.approx(t["energy_j"], rel=1e-12)
    assert sum(sum(L["breakdown"].values()) for L in layers) == t["cycles"]
    # off-chip bytes from the DRAM rows of the energy table == the model's own DRAM byte count
    for r in report["layers"]:
        assert dram_bytes(r, report["energy_table"]) == pytest.approx(r["extra"]["dram_bytes"])


def test_roofline_points_stay_under_the_compute_ceiling(report):
    t = report["total"]
    peak = t["peak_macs_per_cycle"] * t["clock_hz"]
    assert t["dram_bytes_per_s"] == 50e9          # SCNN preset: 50 GB/s
    pts = roofline_points(report)
    assert {p["kind"] for p in pts} == {"effectual", "algorithmic"}
    for p in pts:
        if p["kind"] == "effectual":
            assert 0 < p["macs_per_s"] <= peak
    L = per_layer(report)[0]
    p = next(p for p in pts if p["layer"] == "a" and p["kind"] == "algorithmic")
    assert p["macs_per_dram_byte"] == pytest.approx(L["macs_dense"] / L["dram_bytes"])


def test_p90_in_per_image_stats(report):
    lat = [p["latency_s"] for p in report["per_image"]]
    assert report["per_image_stats"]["latency_s"]["p90"] == pytest.approx(np.percentile(lat, 90))


def test_write_every_plot(report, tmp_path):
    files = write_report_plots(report, tmp_path, top=2)     # top=2 merges the third layer
    assert set(files) == set(PLOTS)
    for f in files.values():
        assert open(f, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_model_without_dram_has_no_bandwidth_ceiling(tmp_path):
    rep = json.loads(simulate(_workload(1).subset(layers=["fc"]), make_model("eie"), jobs=1).to_json())
    assert rep["total"]["dram_bytes_per_s"] is None
    assert all(p["macs_per_dram_byte"] is None for p in roofline_points(rep))
    write_report_plots(rep, tmp_path)                     # points drawn at the right edge


def test_cli_simulate_plots_then_plot_again(tmp_path, capsys):
    wl = tmp_path / "t.npz"
    _workload(2).save(wl)
    out = tmp_path / "run"
    assert main(["simulate", "--workload", str(wl), "--arch", "systolic", "--layers", "a,f*", "--out", str(out),
                 "--plots", "-j", "1"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert sorted({r["name"] for r in rep["layers"]}) == ["a", "fc"]
    assert all((out / f"{p}.png").is_file() for p in PLOTS)
    capsys.readouterr()
    assert main(["plot", str(out / "report.json"), "--out", str(tmp_path / "again")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(PLOTS)


def _broken(report, path, value):
    """A copy of ``report`` with the field at ``path`` (keys/indices) set to ``value`` (deleted if ...)."""
    rep = json.loads(json.dumps(report))
    *up, last = path
    d = rep
    for k in up:
        d = d[k]
    if value is ...:
        del d[last]
    else:
        d[last] = value
    return json.dumps(rep)


@pytest.mark.parametrize("content,needle", [
    (None, "JSON report not found"),
    ("not json", "not a JSON report"),
    ('{"layers": []}', "field 'total': missing"),
    ("[1, 2]", "not an accelsim simulate report"),
    ((("layers", 1, "cycles"), ...), "field 'layers[1].cycles': must be a finite number, got None"),
    ((("layers", 0, "energy_j"), "3"), "field 'layers[0].energy_j'"),
    ((("layers", 0, "actions"), None), "field 'layers[0].actions'"),
    ((("layers",), {"a": 1}), "field 'layers': must be a list"),
    ((("total", "clock_hz"), ...), "field 'total.clock_hz'"),
    ((("per_image", 0, "latency_s"), ...), "field 'per_image[0].latency_s'"),
    ((("arch",), "scnn"), "field 'arch': must be an object"),
    ((("workload", "name"), ...), "field 'workload.name'"),
    ((("energy_table",), None), "field 'energy_table'"),
])
def test_cli_plot_bad_report(report, tmp_path, capsys, content, needle):
    p = tmp_path / "r.json"
    if isinstance(content, tuple):
        content = _broken(report, *content)
    if content is not None:
        p.write_text(content)
    assert main(["plot", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_cli_plots_needs_out_and_layer_patterns_must_match(tmp_path, capsys):
    assert main(["simulate", "--workload", "alexnet", "--arch", "systolic", "--plots"]) == 2
    assert "--plots" in capsys.readouterr().err
    assert main(["simulate", "--workload", "alexnet", "--arch", "systolic", "--layers", "conv9*"]) == 2
    assert "no layer named or matching conv9*" in capsys.readouterr().err


def test_names_with_dollar_signs_and_layers_without_macs_are_drawn(report, tmp_path, monkeypatch):
    """User-chosen names are literal text (matplotlib would parse ``$\\x$`` as math and fail), and a
    layer with no effectual MACs (all outputs gated off) is left off the log-log roofline instead
    of being drawn as a layer without off-chip traffic."""
    import accelsim.report_plots as rp
    rep = json.loads(json.dumps(report))
    rep["workload"]["name"] = "w$1"
    for r in rep["layers"]:
        r["name"] = r["name"] + "$\\x$"
        if r["name"].startswith("b"):
            r["macs_effectual"] = 0
    labels = []
    save = rp.save_png
    monkeypatch.setattr(rp, "save_png", lambda fig, path: (labels.extend(
        t for ax in fig.axes for t in (ax.get_legend_handles_labels()[1])), save(fig, path))[1])
    files = write_report_plots(rep, tmp_path)
    assert all(open(f, "rb").read(4) == b"\x89PNG" for f in files.values())
    assert not any("no off-chip bytes" in t for t in labels)


def test_cli_simulate_plots_when_every_layer_is_skipped_and_empty_layer_selection(tmp_path, capsys):
    wl = tmp_path / "t.npz"
    _workload(1).save(wl)
    out = tmp_path / "run"
    assert main(["simulate", "--workload", str(wl), "--arch", "scnn", "--set", "accumulator.entries=1", "--set",
                 "accumulator.banks=1", "--layers", "a", "--skip-unsupported", "--out", str(out), "--plots",
                 "-j", "1", "--json"]) == 0
    assert "no plots written" in capsys.readouterr().err
    assert (out / "report.json").is_file() and not list(out.glob("*.png"))
    assert main(["simulate", "--workload", str(wl), "--arch", "scnn", "--layers", " , "]) == 2
    assert "--layers: no layer name or pattern" in capsys.readouterr().err
