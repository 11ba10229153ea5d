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


@pytest.fixture
def one_thread():
    """torch on one thread for the test (restored after): the head forwards are small, and two threads
    on a shared 2-core machine spin against each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _sample_image(size=None):
    """The first shipped sample image as a (1, 3, H, W) float tensor (resized to ``size`` if given)."""
    import dynhead
    img = torch.from_numpy(dynhead.sample_images()[0]).permute(2, 0, 1)[None].float()
    return img if size is None else torch.nn.functional.interpolate(img, size=size, mode="bilinear")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_masked_vs_dense_on_cuda():
    """On a GPU: the Small model's head dense and masked, as compare times it (the paper: 34.9 vs 46.8 ms
    on V100): every traced conv runs, each output equals the FP64 CPU evaluation of its mode within
    the FP32 rounding bound, the measurements carry their statistics and protocol (CUDA events, TF32
    off).  The same checks run on the CPU in test_masked_vs_dense_check_on_cpu."""
    import dynhead
    from accelsim.compare.measure import check_masked_vs_dense
    r = check_masked_vs_dense(dynhead.load_shipped("small"), _sample_image(), torch.device("cuda"), reps=30)
    print(f"dense {r['dense']['avg'] * 1e3:.3f} ms, masked {r['masked']['avg'] * 1e3:.3f} ms, "
          f"masked/dense {r['masked']['avg'] / r['dense']['avg']:.3f}, vs FP64 {r['max_rel_err']}")
    assert max(r["max_rel_err"].values()) <= r["tolerance"]
    assert r["masked"]["protocol"]["timer"] == "cuda events" and not any(r["dense"]["protocol"]["tf32"].values())


def test_masked_vs_dense_check_on_cpu(monkeypatch, one_thread):
    """check_masked_vs_dense (run on CUDA by the gpu test and benchmarks/gpu_session.py) on the CPU: it
    passes on the shipped Large head (17 % of its depth-gate pixels open here, so the masked path is
    exercised) and fails when the masked FP32 branch is 1 % off or a measurement lacks its protocol."""
    import dynhead
    import dynhead.model as dm
    from accelsim.compare import measure as meas
    from dynhead.trace import layer_keys
    m = dynhead.load_shipped("large")
    img = _sample_image((128, 192))
    r = meas.check_masked_vs_dense(m, img, torch.device("cpu"), reps=2, warmup=1)
    assert r["tolerance"] == pytest.approx((2 * m.head.depth + 1) * 9 * m.head.C * 2.0 ** -24)
    assert 0 < r["max_rel_err"]["dense"] <= r["tolerance"] and 0 < r["max_rel_err"]["masked"] <= r["tolerance"]
    assert r["convs_timed"] == len(layer_keys(m.head.depth, 5))
    for mode in ("dense", "masked"):
        assert r[mode]["n"] == 2 and r[mode]["protocol"]["timer"] == "perf_counter_ns"
    orig = dm.masked_depth_branch

    def off(*a, **k):  # the FP32 masked path 1 % off (not the FP64 reference it is checked against)
        br, h1 = orig(*a, **k)
        return (br * 1.01 if br.dtype == torch.float32 else br), h1
    monkeypatch.setattr(dm, "masked_depth_branch", off)
    with pytest.raises(RuntimeError, match="masked head on cpu: FP32 output differs from the FP64"):
        meas.check_masked_vs_dense(m, img, torch.device("cpu"), reps=2, warmup=1)
    monkeypatch.setattr(dm, "masked_depth_branch", orig)
    monkeypatch.setattr("accelsim.gpu.measure", lambda fn, device, **kw: {"avg": 1.0, "min": 1.0, "max": 1.0,
                        "p50": 1.0, "p99": 1.0, "std": 0.0, "cv": 0.0, "n": 2})
    with pytest.raises(RuntimeError, match="dense head on cpu: measurement field 'protocol'"):
        meas.check_masked_vs_dense(m, img, torch.device("cpu"), reps=2, warmup=1)


def test_check_measurement_names_the_missing_or_wrong_field():
    from accelsim.gpu import PROTOCOL_KEYS, check_measurement, measure
    cpu = torch.device("cpu")
    st = measure(lambda: None, cpu, warmup=0, reps=3)
    check_measurement(st, cpu)
    for k in PROTOCOL_KEYS:
        bad = {**st, "protocol": {p: v for p, v in st["protocol"].items() if p != k}}
        with pytest.raises(ValueError, match=f"'protocol.{k}': missing"):
            check_measurement(bad, cpu)
    with pytest.raises(ValueError, match="'protocol.timer': 'perf_counter_ns' on cuda"):
        check_measurement(st, torch.device("cuda"))
    with pytest.raises(ValueError, match="'n': 2 samples, protocol says 3 reps"):
        check_measurement({**st, "n": 2}, cpu)
    with pytest.raises(ValueError, match="'avg': must be a finite number"):
        check_measurement({**st, "avg": float("nan")}, cpu)


@pytest.mark.parametrize("width", [None, 256])
def test_timed_forward_runs_every_gate_conv_and_the_traced_convs(width, monkeypatch, one_thread):
    """Issue 15 item 1: in every timed forward of compare (dense and masked, batch 1 and batch N) every
    gate module of the head runs, once per FPN level (hooks of this test), at the shipped width and at
    --width 256 (where the trained model's gates are substituted after the wide head's gate convs ran),
    and the convs timed are exactly the trace's layers.  With the old override (decision returned, gate
    conv skipped) compare refuses to time."""
    from collections import Counter

    import accelsim.gpu
    from accelsim.compare.measure import measure_rows
    from accelsim.compare.rows import image_tensors, load_rows, prepare, raw_images
    from accelsim.compare.trace import timed_layer_names, trace_row
    from dynhead.gates import SpatialGate
    from dynhead.model import HeadContext
    from dynhead.probe import executed_convs
    s = CompareSettings(width=width, size="128x192", images=1, batch=2, reps=1, warmup=0, targets=("dcnn",),
                        plots=False, quiet=True)
    rows, cfg = load_rows(s)
    raw = raw_images(s)
    prepare(rows, image_tensors(raw, s.size), s.seed)
    traces = {n: trace_row(n, r, s, raw) for n, r in rows.items()}
    names = timed_layer_names(rows, traces)
    assert all(names[n] == list(traces[n].layers) for n in rows)
    gates = {n: [m for m in r.head.modules() if isinstance(m, SpatialGate)] for n, r in rows.items()}
    assert not gates["baseline"] and all(len(gates[n]) == 2 * cfg.depth * 3 for n in ("large", "small"))
    order = [n for n in rows for _ in range(2 if n == "baseline" else 4)]  # (dense[, masked]) x (b1, bN)
    timed = []  # per timed closure, in that order: (gate module calls, convs it runs)

    @torch.inference_mode()  # as accelsim.gpu.measure
    def fake_measure(fn, device, warmup, reps, **kw):
        seen = Counter()
        hooks = [m.register_forward_hook(lambda mod, i, o: seen.update([mod])) for g in gates.values() for m in g]
        try:
            fn()
        finally:
            for h in hooks:
                h.remove()
        timed.append((seen, sorted(executed_convs(rows[order[len(timed)]].head, fn))))
        return {"avg": 1e-3, "cv": 0.0, "protocol": {}}
    monkeypatch.setattr(accelsim.gpu, "measure", fake_measure)
    res = measure_rows(rows, s, torch.device("cpu"), names)
    assert len(timed) == len(order)
    for n, (seen, convs) in zip(order, timed):
        assert seen == {m: 5 for m in gates[n]}  # every gate module, once per level, in this head only
        assert convs == sorted(traces[n].layers)
    for n, t in traces.items():
        n_gate = sum(L.meta["op"].startswith("gate_") for L in t.layers.values())
        assert n_gate == (0 if n == "baseline" else 2 * cfg.depth * 3 * 5)
        for mode, m in res[n].items():
            assert (m["convs_timed"], m["gate_convs_timed"]) == (len(t.layers), n_gate), (n, mode)
    if width:  # the old override: the decision returned without running the gate conv
        def old_gate(ctx, module, x, key):
            ctx.gates[key] = g = ctx.gate_override[key].to(x.dtype) if ctx.gate_override else module(x)
            return g
        monkeypatch.setattr(HeadContext, "gate", old_gate)
        monkeypatch.setattr(accelsim.gpu, "measure", lambda fn, device, **kw: {"avg": 1e-3, "cv": 0.0, "protocol": {}})
        with pytest.raises(RuntimeError, match=r"timed forward of large dense image 0 does not run the simulated "
                                               rf"convs: {2 * cfg.depth * 3 * 5} not run \(cls.s0.l0.gate_depth"):
            measure_rows(rows, s, torch.device("cpu"), names)


def test_readme_names_the_targets_that_skip_the_scale_paths(one_thread):
    """README's compare notes: the official count takes the scale paths as sparse, and the traced scale
    layers carry their gate as the output mask, so the targets that skip masked-off outputs skip those
    pixels too (the notes said every target executes them).  The targets the README names on each
    side are the ones that do, found here by simulating one traced scale layer, half open, on every
    default target with and without its mask."""
    import dataclasses
    import re
    from pathlib import Path

    import dynhead
    from accelsim.engine import make_model
    from accelsim.registry import compare_default_presets
    from dynhead.trace import trace_model
    wl = trace_model(dynhead.load_shipped("small"), dynhead.sample_images()[:1], (128, 192), warn=lambda s: None)
    open_frac = {n: float(wl.instance(n).out_mask.mean()) for n, L in wl.layers.items()
                 if L.meta["op"].startswith("scale")}
    name = min(open_frac, key=lambda n: abs(open_frac[n] - 0.5))
    assert 0.2 < open_frac[name] < 0.8
    inst = wl.instance(name)
    skip, run = set(), set()
    for preset in compare_default_presets():
        model = make_model(preset)
        masked, full = model.simulate_layer(inst), model.simulate_layer(dataclasses.replace(inst, out_mask=None))
        (skip if masked.macs_actual < full.macs_actual else run).add(preset)
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    said = re.search(r"skip those pixels of the scale paths too \(([^)]*)\); the others \(([^)]*)\)", readme)
    assert said, "README's compare notes no longer say which targets skip the scale paths"
    assert (set(said.group(1).split(", ")), set(said.group(2).split(", "))) == (skip, run)
    assert skip and run


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
    b1 = {"latency_s": {"avg": 0.01, "min": 0.009, "max": 0.011}, "cv_max": 0.02, "convs_timed": 225}
    bn = {"batch": 2, "latency_s_per_image": 0.008, "convs_timed": 225}
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
    (("measured_raw", "small", "masked_b1", "convs_timed"), None, "convs_timed': missing: measured before compare"),
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
    # the measurement ran as many convs per forward as this run simulates, else it timed other work
    measured, _ = load_measured(f, here, raw, {"baseline": ["c"] * 225, "small": ["c"] * 225})
    with pytest.raises(AccelsimError, match=r"measured_raw.small.dense_b1.convs_timed': 225 convs timed there, "
                                            r"226 simulated in this run"):
        load_measured(f, here, raw, {"baseline": ["c"] * 225, "small": ["c"] * 226})
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


def test_compare_sampled_prints_intervals(tmp_path):
    """--sample: sampled targets carry the per-image latency half-width in compare.json and compare.md prints
    `avg +- half-width` and the mode; targets without work units stay exhaustive (no interval)."""
    r = run_compare(CompareSettings(targets=("eie", "systolic"), out=tmp_path / "s", measure=False, plots=False,
                                    sample="0.2", **{**TINY, "images": 1}))
    assert r.data["settings"]["sample"] == "0.2"
    eie = r.entry("baseline", "eie")["sampling"]
    assert eie["sampled_layers"] > 0 and eie["latency_s_half_width"] > 0
    assert r.entry("baseline", "systolic")["sampling"]["sampled_layers"] == 0
    md = (tmp_path / "s" / "compare.md").read_text()
    assert "`--sample 0.2`" in md and " +- " in md


def test_compare_out_is_one_output_set(tmp_path, monkeypatch):
    """compare's files appear together with a manifest; a rerun without plots removes the earlier run's
    plots; a run that fails while writing leaves the folder as it was (nothing half-written)."""
    from accelsim.compare import plots
    from accelsim.outset import read_manifest
    out = tmp_path / "cmp"
    common = dict(size="128x192", images=1, measure=False, targets=("systolic",), jobs=1, quiet=True, out=out)
    run_compare(CompareSettings(plots=True, **common))
    man = read_manifest(out)
    assert man["complete"] and {"compare.json", "compare.md", "compare.csv", "latency.png"} <= set(man["files"])
    files = json.loads((out / "compare.json").read_text())["files"]
    assert all(v.startswith(str(out)) and (out / v.rsplit("/", 1)[-1]).is_file() for v in files.values())
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(plots, "write_plots", boom)
    with pytest.raises(RuntimeError):
        run_compare(CompareSettings(plots=True, **common))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no staging folder left
    monkeypatch.undo()
    run_compare(CompareSettings(plots=False, **common))
    assert not list(out.glob("*.png")) and read_manifest(out)["complete"]
