"""The typed Python API (``from accelsim import ...``): settings objects validated once, with one-line
errors naming the field, and runs that give the same report as the command line."""

import json
import subprocess
import sys

import numpy as np
import pytest

import accelsim
from accelsim.errors import AccelsimError, SettingsError
from workloads import Layer, Workload


def _wl():
    """Two density-only layers (seeded synthetic weights), two images with their own activations of c1."""
    wl = Workload("api")
    wl.add_layer(Layer("c1", "conv", C=3, K=8, H=8, W=8, R=3, S=3, padding=1, weight_density=0.5, act_density=0.4))
    wl.add_layer(Layer("fc", "fc", C=16, K=4, weight_density=0.5, act_density=0.4), deps=["c1"])
    acts = np.maximum(0, np.random.default_rng(1).standard_normal((2, 3, 8, 8)))
    for i in range(2):
        wl.set_image_data(i, "c1", acts=acts[i])
    return wl


@pytest.fixture
def wl_file(tmp_path):
    p = tmp_path / "api.npz"
    _wl().save(p)
    return p


def test_import_accelsim_is_cheap_and_exports_the_api():
    code = "import accelsim, sys; print(sorted(m for m in sys.modules if m.startswith('accelsim.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # nothing below the package root is imported until a name is used
    for name in ("simulate", "SimulateSettings", "run_simulate", "run_sweep", "SweepSettings", "SweepResult",
                 "run_compare", "CompareSettings", "CompareResult", "make_model", "area_of", "register_model",
                 "load_plugin", "model_names", "__version__"):
        assert name in accelsim.__all__ and getattr(accelsim, name) is not None, name
    assert set(accelsim.__all__) <= set(dir(accelsim))
    with pytest.raises(AttributeError, match="no_such_name"):
        accelsim.no_such_name  # noqa: B018


@pytest.mark.parametrize("kw,message", [
    ({"images": "1,x"}, "images: expected comma-separated integers, got '1,x'"),
    ({"images": ()}, "images: no image index given"),
    ({"images": [0, True]}, "images: expected image indices"),
    ({"layers": " , "}, "layers: no layer name or pattern in ' , '"),
    ({"jobs": 0}, "jobs: must be >= 1, got 0"),
    ({"seed": 1.5}, "seed: must be an integer, got 1.5"),
    ({"on_unsupported": "ignore"}, "on_unsupported: expected one of error, skip, got 'ignore'"),
    ({"overrides": "pe_rows=4"}, "overrides: must be a sequence of 'KEY=VALUE' strings"),
    ({"overrides": ("pe_rows",)}, "overrides: expected KEY=VALUE, got 'pe_rows'"),
    ({"plots": True}, r"plots: needs out DIR \(the plots are written beside report.json\)"),
    ({"pe_tracks": True}, "pe_tracks: needs chrome_trace FILE"),
    ({"functional": "yes"}, "functional: must be True or False, got 'yes'"),
    ({"workload": None}, "workload: must be a path, got None"),
])
def test_simulate_settings_bad_values_are_one_line_errors(kw, message):
    with pytest.raises(SettingsError, match=f"^{message}") as e:
        accelsim.SimulateSettings(**{"workload": "alexnet", "arch": "systolic", **kw})
    assert "\n" not in str(e.value) and e.value.field == message.split(":")[0]


def test_simulate_settings_normalise():
    s = accelsim.SimulateSettings("alexnet", "systolic", images="0, 2", layers="conv*,fc8", overrides=["a=1"],
                                  out="o", plots=True)
    assert s.images == (0, 2) and s.layers == ("conv*", "fc8") and s.overrides == ("a=1",)
    assert str(s.out) == "o" and s == accelsim.SimulateSettings("alexnet", "systolic", images=(0, 2),
                                                                layers=("conv*", "fc8"), overrides=("a=1",),
                                                                out="o", plots=True)


def test_run_simulate_same_report_hash_as_cli_and_engine(wl_file, tmp_path, capsys):
    from accelsim import SimulateSettings, run_simulate, simulate
    from accelsim.cli import main
    s = SimulateSettings(workload=str(wl_file), arch="systolic", overrides=("array.height=8",), images="1",
                         layers="c*", jobs=1, out=tmp_path / "o", chrome_trace=tmp_path / "t.json")
    rep = run_simulate(s)
    assert [(r.name, r.image) for r in rep.results] == [("c1", 1)]
    assert main(["simulate", "-w", str(wl_file), "-a", "systolic", "--set", "array.height=8", "--images", "1",
                 "--layers", "c*", "-j", "1", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    eng = simulate(Workload.load(wl_file), "systolic", ["array.height=8"], images=[1], layers=["c1"], jobs=1)
    assert rep.hash == cli["report_hash"] == eng.hash
    # what the settings asked to write, with the hash of the returned report
    assert json.loads((tmp_path / "o" / "report.json").read_text())["report_hash"] == rep.hash
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    # keyword shorthand: fields of a new settings object, or replacements of given ones
    assert run_simulate(workload=str(wl_file), arch="systolic", overrides=("array.height=8",), images=(1,),
                        layers=("c1",), jobs=1).hash == rep.hash
    assert run_simulate(s, images=(0,), out=None, chrome_trace=None).hash != rep.hash


def test_run_simulate_errors_need_the_workload(wl_file, capsys):
    from accelsim.cli import main
    with pytest.raises(SettingsError, match=r"^images: \[5\] out of range \(workload has 2\)"):
        accelsim.run_simulate(workload=str(wl_file), arch="systolic", images=(5,), jobs=1)
    with pytest.raises(SettingsError, match="^layers: no layer named or matching z"):
        accelsim.run_simulate(workload=str(wl_file), arch="systolic", layers="z*", jobs=1)
    # the CLI names the flags instead of the fields, on one line
    for argv, err in ((["--images", "5"], "--images: [5] out of range"), (["-j", "0"], "--jobs: must be >= 1"),
                      (["--set", "x"], "--set: expected KEY=VALUE"), (["--pe-tracks"], "--pe-tracks: needs "
                                                                                       "--chrome-trace FILE")):
        assert main(["simulate", "-w", str(wl_file), "-a", "systolic", *argv]) == 2
        line = capsys.readouterr().err
        assert line.startswith(f"accelsim: error: {err}") and line.count("\n") == 1
    assert isinstance(SettingsError("x", "y"), AccelsimError)
