"""`accelsim compare` end to end on a tiny setting (CPU) through the Python API and the CLI, its
settings and parts, plus the CUDA measurement (marked gpu)."""

import json

import pytest

torch = pytest.importorskip("torch")

from accelsim.cli import build_parser, main  # noqa: E402
from accelsim.compare import CompareSettings, run_compare  # noqa: E402
from accelsim.errors import AccelsimError  # noqa: E402

TINY = dict(size="128x192", images=2, reps=2, warmup=1, batch=2, jobs=1, quiet=True)


def test_compare_tiny(tmp_path):
    out = tmp_path / "cmp"
    # one image: the default heads are D8 (575 traced convs per row); TINY's two images double the simulation
    r = run_compare(CompareSettings(targets=("systolic", "scnn", "eie"), out=out, **{**TINY, "images": 1}))
    res = r.data
    assert json.loads((out / "compare.json").read_text())["entries"] == json.loads(json.dumps(res["entries"]))
    for f in ("compare.json", "compare.md", "compare.csv", "latency.png", "gate_masks.png"):
        assert (out / f).is_file(), f
    assert set(r.files) >= {"json", "md", "csv", "plot_latency"} and r.files == res["files"]
    ents = res["entries"]
    # one entry per (model, target) with latency, energy for simulated targets
    for model in ("baseline", "large", "small"):
        sims = {e["target"]: e for e in ents if e["model"] == model and e["kind"] == "simulated"}
        for t in set(res["settings"]["targets"]) - set(res["settings"]["missing_targets"]):
            assert t in sims and r.entry(model, t) is sims[t]
            assert sims[t]["latency_s"]["avg"] > 0 and sims[t]["energy_j_per_image"]["avg"] > 0
        meas = [e for e in ents if e["model"] == model and e["kind"] == "measured"]
        assert meas and all(e["latency_s"]["avg"] > 0 for e in meas)
    # 3 rows x (systolic, scnn, eie) + systolic@16b, the 16-bit variant --normalize adds for the 8-bit array
    assert len(r.simulated) == 9 + 3 and len(r.measured) == 2 + 4 + 4
    # dynamic rows are hard-gate tallies: never above the full cost of the same head
    for model in ("large", "small"):
        pi = res["per_image"][model]
        assert all(u <= f for u, f in zip(pi["gflops"], pi["full_gflops"]))
    assert "CPU" in res["device_label"] or "GPU" in res["device_label"]
    md = (out / "compare.md").read_text()
    assert md == r.markdown and md.count("Iso-throughput:") == 1


def test_compare_cli_prints_the_table_or_json(tmp_path, capsys):
    common = ["compare", "--size", "128x192", "--images", "1", "--no-measure", "--no-plots", "--quiet",
              "--targets", "systolic", "--jobs", "1"]
    assert main([*common, "--out", str(tmp_path / "md")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# accelsim compare") and text.count("Iso-throughput:") == 1
    assert text.rstrip().endswith(str(tmp_path / "md" / "compare.csv"))
    assert main([*common, "--out", str(tmp_path / "js"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res == json.loads((tmp_path / "js" / "compare.json").read_text())


def test_compare_bad_args(tmp_path, capsys):
    assert main(["compare", "--size", "12xq", "--out", str(tmp_path)]) == 2
    assert "--size" in capsys.readouterr().err
    assert main(["compare", "--size", "64x64", "--out", str(tmp_path)]) == 2
    assert "too small" in capsys.readouterr().err
    assert main(["compare", "--device", "tpu", "--out", str(tmp_path)]) == 2
    assert main(["compare", "--set", "nosuch:x=1", "--out", str(tmp_path)]) == 2
    assert "--set: 'nosuch' is not one of the targets" in capsys.readouterr().err
    assert main(["compare", "--width", "48", "--out", str(tmp_path)]) == 2
    assert "--width: must be a multiple of 32" in capsys.readouterr().err


@pytest.mark.parametrize("kw,needle", [
    ({"images": 0}, "images: must be >= 1, got 0"),
    ({"reps": 0}, "reps: must be >= 1"),
    ({"batch": 2.5}, "batch: must be an integer"),
    ({"width": 48}, "width: must be a multiple of 32"),
    ({"size": "12xq"}, "size: size must look like HxW"),
    ({"size": (0, 5)}, "size: expected 'HxW' or (height, width)"),
    ({"size": "64x64"}, "size: 64x64 is too small, P7 would be"),
    ({"prune": 0.0}, "prune: must be a density in (0, 1]"),
    ({"gpu_peak_tmacs": -1.0}, "gpu_peak_tmacs: must be a positive number"),
    ({"device": "tpu"}, "device: expected auto, cuda or cpu, got 'tpu'"),
    ({"overrides": ("scnn-pe_rows=4",)}, "overrides: expected PRESET:KEY=VALUE, got 'scnn-pe_rows=4'"),
    ({"overrides": ("nosuch:x=1",)}, "overrides: 'nosuch' is not one of the targets (scnn)"),
    ({"overrides": "scnn:pe_rows=4"}, "overrides: must be a sequence"),
    ({"measure": "no"}, "measure: must be True or False"),
    ({"jobs": 0}, "jobs: must be >= 1"),
])
def test_settings_reject_bad_values_in_one_line(kw, needle):
    with pytest.raises(AccelsimError) as e:
        CompareSettings(targets=("scnn",), **kw)
    assert str(e.value).startswith(needle) and len(str(e.value).splitlines()) == 1, str(e.value)
    assert e.value.field == needle.split(":")[0]


def test_settings_normalise_and_cli_builds_the_api_defaults(tmp_path):
    from accelsim.cli_compare import settings_from_args
    from accelsim.registry import compare_default_presets
    s = CompareSettings()
    assert s.targets == tuple(compare_default_presets()) and s.size == (256, 256) and s.measure and s.plots
    assert settings_from_args(build_parser().parse_args(["compare"])) == s
    args = ["compare", "--size", "128x192", "--targets", "scnn,eie", "--set", "scnn:pe_rows=4", "--no-plots",
            "--no-measure", "--out", str(tmp_path), "--prune", "0.5", "-j", "2"]
    assert settings_from_args(build_parser().parse_args(args)) == CompareSettings(
        size=(128, 192), targets=("scnn", "eie"), overrides=("scnn:pe_rows=4",), plots=False, measure=False,
        out=tmp_path, prune=0.5, jobs=2)
    s = CompareSettings(targets="scnn,,eie", overrides=["scnn:pe_rows=4", "scnn:pe_cols=2"], out=str(tmp_path))
    assert s.targets == ("scnn", "eie") and s.overrides_by_target == {"scnn": ["pe_rows=4", "pe_cols=2"], "eie": []}
    assert CompareSettings(targets="").targets == ()


@pytest.mark.parametrize("name,peak,source", [
    ("NVIDIA L40S", 7.85e12, "V100 FP32 data sheet (the paper's GPU)"),   # not an L4
    ("NVIDIA L4", 15.15e12, "data sheet of the measured GPU"),
    ("NVIDIA A100-SXM4-80GB", 9.75e12, "data sheet of the measured GPU"),  # not an A10
    ("NVIDIA A10", 15.6e12, "data sheet of the measured GPU"),
    ("Tesla V100-SXM2-16GB", 7.85e12, "data sheet of the measured GPU"),
    ("NVIDIA H100 80GB HBM3", 33.5e12, "data sheet of the measured GPU"),
])
def test_gpu_peak_matches_whole_model_names(name, peak, source):
    """The iso-throughput GPU peak is looked up by the model name as a whole token of the device name
    (a substring match took an L40S for an L4)."""
    from accelsim.compare.simulate import gpu_peak
    assert gpu_peak({"kind": "gpu", "name": name}) == (pytest.approx(peak), source)
    assert gpu_peak({"kind": "cpu", "name": name})[1] == "V100 FP32 data sheet (the paper's GPU)"
    assert gpu_peak({"kind": "gpu", "name": name}, 2.0) == (2e12, "--gpu-peak-tmacs")


def test_markdown_has_one_iso_throughput_paragraph():
    from accelsim.compare.tables import ISO_THROUGHPUT_NOTE, markdown
    res = {"settings": {"size": [128, 192], "width": 32, "depth": 3, "baseline_depth": 3, "images": 1,
                        "missing_targets": ["nosuch"]},
           "device_label": "CPU (no GPU available): x", "device": {"torch": "2"}, "baseline_full_gflops": 1.0,
           "gpu_peak_macs_per_s": 7.85e12, "gpu_peak_source": "V100", "iso_throughput_note": ISO_THROUGHPUT_NOTE,
           "entries": [{"model": "small", "target": "scnn", "kind": "simulated", "batch": 1,
                        "latency_s": {"avg": 1e-3, "min": 1e-3, "max": 1e-3}, "gflops": {"avg": 0.1},
                        "energy_j_per_image": {"avg": 1e-6}, "iso_throughput_latency_s": {"avg": 2e-4},
                        "speedup_vs_baseline": 1.5}]}
    md = markdown(res)
    assert md.count("Iso-throughput:") == 1 and md.count(ISO_THROUGHPUT_NOTE) == 1
    assert "| dynamic Small (lambda 0.8) | scnn | simulated | 0.100 | 1.000 (1.000-1.000) | 1.50x | 1.000 | 0.200 |" in md
    assert md.rstrip().endswith("Targets without a preset (skipped): nosuch")


def test_baseline_d6_gflops_paper_size():
    from dynhead.cost import full_gflops
    assert round(full_gflops("fix", 6, (800, 1333), C=256, pad=True), 1) == 297.9


@pytest.mark.gpu
def test_masked_vs_dense_on_cuda():
    """On a GPU: measure dense vs masked head of the Small model (the paper: 34.9 vs 46.8 ms on V100)."""
    import dynhead
    from accelsim.gpu import measure
    dev = torch.device("cuda")
    m = dynhead.load_shipped("small").to(dev).eval()
    img = torch.from_numpy(dynhead.sample_images()[0]).permute(2, 0, 1)[None].float().to(dev)
    with torch.inference_mode():
        feats = m.features(m.preprocess(img)[0])
    dense = measure(lambda: m.head(feats, masked=False), dev, reps=30)
    masked = measure(lambda: m.head(feats, masked=True), dev, reps=30)
    print(f"dense {dense['avg'] * 1e3:.3f} ms, masked {masked['avg'] * 1e3:.3f} ms, "
          f"masked/dense {masked['avg'] / dense['avg']:.3f}")
    assert dense["avg"] > 0 and masked["avg"] > 0


def test_flops_only_baseline_depth_and_width(tmp_path):
    """The GFLOPs column is the official accounting: the gate-free baseline's is its full cost (the paper
    setting `--width 256 --baseline-depth 6 --size 800x1344` reads 297.88 the same way)."""
    from dynhead.cost import full_gflops
    res = run_compare(CompareSettings(width=64, baseline_depth=6, size="256x256", images=2, targets=(),
                                      measure=False, plots=False, out=tmp_path, quiet=True)).data
    ents = {e["model"]: e for e in res["entries"] if e["kind"] == "accounting"}
    assert ents["baseline"]["gflops"]["avg"] == pytest.approx(full_gflops("fix", 6, (256, 256), C=64, pad=True))
    # dynamic rows: hard-gate tallies of the C=64 head driven by the trained gates, below their full cost
    for m in ("large", "small"):
        assert 0 < ents[m]["gflops"]["max"] < full_gflops("dynamic", 8, (256, 256), C=64, pad=True)
    assert ents["large"]["gflops"]["avg"] > ents["small"]["gflops"]["avg"]  # lambda 0.1 keeps more pixels


def test_iso_overrides_scale_pe_count_to_gpu_peak():
    from accelsim.engine import make_model
    for preset in ("scnn", "cambricon-x", "systolic", "eyeriss-v2", "eie"):
        m = make_model(preset)
        peak = m.peak_macs_per_cycle() * m.cfg.clock_hz
        m2 = make_model(m.cfg, m.iso_overrides(7.85e12 / peak))
        # rounding the PE grid keeps the scaled peak within 15 % of the target
        assert m2.peak_macs_per_cycle() * m2.cfg.clock_hz == pytest.approx(7.85e12, rel=0.15), preset


def test_compare_iso_resimulate(tmp_path):
    res = run_compare(CompareSettings(size="128x192", images=1, measure=False, plots=False, quiet=True,
                                      targets=("systolic", "cambricon-x"), iso_resimulate=True, out=tmp_path)).data
    iso = [e for e in res["entries"] if e["target"].endswith("@iso")]
    assert {e["target"] for e in iso} == {"systolic@iso", "cambricon-x@iso"} and len(iso) == 6
    assert all(e["iso_overrides"] for e in iso)


BLOCKER = '''
import sys, importlib.abc
BLOCK = {"numba", "scipy", "networkx", "yaml", "rich", "matplotlib", "dask", "distributed", "PIL", "hypothesis",
         "pytest", "llvmlite", "pandas"}
class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCK:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, _Blocker())
'''


def test_measurement_runs_with_torch_and_numpy_only_then_merges(tmp_path, capsys):
    """The GPU machine has its own torch and maybe nothing else: a measurement-only compare must run
    with every other dependency blocked (sitecustomize in a subprocess), and its compare.json must
    merge into a full run here with --measured (the rows are copied, not re-measured)."""
    import os
    import subprocess
    import sys
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(site)}
    gpu = tmp_path / "gpu"
    common = ["--size", "128x192", "--images", "2", "--batch", "2"]
    r = subprocess.run([sys.executable, "-m", "accelsim", "compare", "--targets", "", "--device", "cpu", "--reps", "2",
                        "--warmup", "1", "--no-plots", "--quiet", "--out", str(gpu), *common],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    there = json.loads((gpu / "compare.json").read_text())
    assert there["measured_raw"] and len(there["image_hashes"]) == 2
    rc = main(["compare", "--measured", str(gpu / "compare.json"), "--targets", "systolic", "--jobs", "1",
               "--no-plots", "--quiet", "--json", "--out", str(tmp_path / "merged"), *common])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    meas = {(e["model"], e["target"], e["batch"]): e["latency_s"]["avg"] for e in res["entries"] if e["kind"] == "measured"}
    ref = {(e["model"], e["target"], e["batch"]): e["latency_s"]["avg"] for e in there["entries"] if e["kind"] == "measured"}
    assert meas == ref and ("small", "cpu:masked", 1) in meas
    assert any(e["kind"] == "simulated" for e in res["entries"])
    # a measurement of other settings is refused, naming the field
    assert main(["compare", "--measured", str(gpu / "compare.json"), "--targets", "", "--no-plots", "--quiet",
                 "--out", str(tmp_path / "bad"), "--size", "128x192", "--images", "2", "--batch", "4"]) == 2
    assert "settings.batch" in capsys.readouterr().err


def _measured_setup(tmp_path, ckpt_bytes=b"weights"):
    """What load_measured compares, without running compare: this run's settings record, images and a
    valid file."""
    import numpy as np

    from accelsim.compare.rows import image_hashes, settings_record
    ck = tmp_path / "here" / "large.pt"
    ck.parent.mkdir(exist_ok=True)
    ck.write_bytes(ckpt_bytes)
    settings = CompareSettings(size=(128, 192), images=2, batch=2, checkpoint_large=ck, targets=())
    here = settings_record(settings, width=32, depth=3, baseline_depth=3)
    raw = [np.full((4, 4, 3), i, dtype=np.uint8) for i in range(2)]
    b1 = {"latency_s": {"avg": 0.01, "min": 0.009, "max": 0.011}, "cv_max": 0.02}
    bn = {"batch": 2, "latency_s_per_image": 0.008}
    res = {"settings": {**here, "checkpoints": {"large": "/gpu/elsewhere/large.pt"}},
           "device": {"kind": "gpu", "name": "H100"}, "image_hashes": image_hashes(raw),
           "measured_raw": {"baseline": {"dense_b1": b1, "dense_bN": bn},
                            "small": {"dense_b1": b1, "masked_b1": b1, "dense_bN": bn, "masked_bN": bn}}}
    return settings, here, raw, json.loads(json.dumps(res))   # no shared sub-dicts between rows


@pytest.mark.parametrize("path,value,needle", [
    (("measured_raw", "small", "dense_b1", "latency_s"), None, "field 'measured_raw.small.dense_b1.latency_s'"),
    (("measured_raw", "small", "masked_bN", "latency_s_per_image"), "1", "masked_bN.latency_s_per_image'"),
    (("measured_raw", "small", "dense_b1", "latency_s", "avg"), 0, "latency_s.avg': must be a positive number"),
    (("measured_raw", "small", "sparse_b1"), {}, "not a measurement"),
    (("measured_raw", "medium"), {}, "field 'measured_raw.medium': not a model row"),
    (("measured_raw", "small"), [], "must be an object of measurements"),
    (("settings",), [], "field 'settings': must be an object"),
    (("device",), "H100", "field 'device': must be an object"),
    (("image_hashes",), None, "field 'image_hashes': missing"),
])
def test_measured_file_fields_are_checked(tmp_path, path, value, needle):
    """A hand-edited or truncated --measured file is refused naming the field, never a traceback."""
    from accelsim.compare.measure import load_measured
    _, here, raw, res = _measured_setup(tmp_path)
    d = res
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    f = tmp_path / "m.json"
    f.write_text(json.dumps(res))
    with pytest.raises(AccelsimError, match="measured: .*m.json: ") as e:
        load_measured(f, here, raw)
    assert needle in str(e.value) and len(str(e.value).splitlines()) == 1


def test_measured_checkpoints_compared_by_content_not_path(tmp_path):
    """The GPU machine keeps its copy of a checkpoint elsewhere: same bytes at another path are the
    same heads; other bytes at the same path are not."""
    from accelsim.compare.measure import load_measured
    from accelsim.compare.rows import settings_record
    settings, here, raw, res = _measured_setup(tmp_path)
    f = tmp_path / "m.json"
    f.write_text(json.dumps(res))
    measured, dev = load_measured(f, here, raw)
    assert set(measured) == {"baseline", "small"} and dev["name"] == "H100"
    (tmp_path / "here" / "large.pt").write_bytes(b"retrained")
    with pytest.raises(AccelsimError, match="settings.checkpoint_sha256"):
        load_measured(f, settings_record(settings, width=32, depth=3, baseline_depth=3), raw)


def test_gpu_session_fits_what_a_lent_machine_returns(tmp_path, monkeypatch):
    """benchmarks/gpu_session.py on the GPU machine: at most 8 files, all in --out itself (a lent
    machine returns no more), every step with the repository on PYTHONPATH (no pip install
    there: no package index), the checks in FP32.  The steps' commands are faked here; the
    real dry run is `python benchmarks/gpu_session.py --device cpu --quick --out DIR`."""
    import importlib.util
    import os
    import subprocess
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gpu_session", root / "benchmarks" / "gpu_session.py")
    gs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gs)
    seen = []

    def fake_run(cmd, cwd=None, env=None, **kw):
        seen.append((cmd, env))
        if "compare" in cmd:
            d = Path(cmd[cmd.index("--out") + 1])
            d.mkdir(parents=True)
            for f in ("compare.json", "compare.md", "compare.csv"):
                (d / f).write_text(json.dumps({"settings": {"size": [1, 1], "width": 32, "images": 1},
                                               "device_label": "cpu", "entries": []}))
        return subprocess.CompletedProcess(cmd, 0, stdout="{}\n", stderr="")
    from types import SimpleNamespace
    monkeypatch.setattr(gs, "subprocess", SimpleNamespace(run=fake_run))   # this script's steps only
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)      # torch's default, restored after
    out = tmp_path / "OUT"
    assert gs.main(["--device", "cpu", "--quick", "--out", str(out)]) == 0
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8 and all(p.parent == out for p in files), files
    assert {"compare_c32.json", "compare_paper.json", "summary.md", "checks.json"} <= {p.name for p in files}
    assert all(str(root) in env["PYTHONPATH"].split(os.pathsep) for _, env in seen) and len(seen) == 3
    ck = json.loads((out / "checks.json").read_text())
    assert ck["masked_equals_dense"] and "tf32_before" in ck


@pytest.mark.parametrize("extra,needle", [
    (["--targets", "systolic", "--no-plots"], "--targets: simulating needs"),
    (["--targets", ""], "--no-plots: needed here"),
    (["--no-plots"], "--targets: the default targets need"),   # the registry reads the presets' YAML
])
def test_torch_numpy_only_machine_refuses_simulation_and_plots_before_measuring(tmp_path, extra, needle):
    """Targets or plots on a machine with torch + numpy only: refused in one line before anything is
    measured (a late ImportError lost the measurement and wrote no compare.json)."""
    import os
    import subprocess
    import sys
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    r = subprocess.run([sys.executable, "-m", "accelsim", "compare", "--device", "cpu", "--quiet", "--size", "128x192",
                        "--images", "1", "--out", str(tmp_path / "o"), *extra],
                       env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-800:]
    assert "--measured" in r.stderr and not (tmp_path / "o").exists()
