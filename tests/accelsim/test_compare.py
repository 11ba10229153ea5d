"""`accelsim compare` end to end on a tiny setting (CPU), plus the CUDA measurement (marked gpu)."""

import json

import pytest

torch = pytest.importorskip("torch")

from accelsim.cli import main  # noqa: E402


def _run(tmp_path, *extra):
    out = tmp_path / "cmp"
    rc = main(["compare", "--size", "128x192", "--images", "2", "--reps", "2", "--warmup", "1", "--batch", "2",
               "--targets", "systolic,scnn,eie", "--jobs", "1", "--out", str(out), "--json", *extra])
    return rc, out


def test_compare_tiny(tmp_path, capsys):
    rc, out = _run(tmp_path)
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    for f in ("compare.json", "compare.md", "compare.csv", "latency.png", "gate_masks.png"):
        assert (out / f).is_file(), f
    ents = res["entries"]
    # one entry per (model, target) with latency, energy for simulated targets
    for model in ("baseline", "large", "small"):
        sims = {e["target"]: e for e in ents if e["model"] == model and e["kind"] == "simulated"}
        for t in set(res["settings"]["targets"]) - set(res["settings"]["missing_targets"]):
            assert t in sims
            assert sims[t]["latency_s"]["avg"] > 0 and sims[t]["energy_j_per_image"]["avg"] > 0
        meas = [e for e in ents if e["model"] == model and e["kind"] == "measured"]
        assert meas and all(e["latency_s"]["avg"] > 0 for e in meas)
    # dynamic rows are hard-gate tallies: never above the full cost of the same head
    full = res["baseline_full_gflops"]
    for model in ("large", "small"):
        assert max(res["per_image"][model]["gflops"]) <= full * 1.0001
    assert "CPU" in res["device_label"] or "GPU" in res["device_label"]


def test_compare_bad_args(tmp_path, capsys):
    assert main(["compare", "--size", "12xq", "--out", str(tmp_path)]) == 2
    assert "--size" in capsys.readouterr().err
    assert main(["compare", "--size", "64x64", "--out", str(tmp_path)]) == 2
    assert "too small" in capsys.readouterr().err
    assert main(["compare", "--device", "tpu", "--out", str(tmp_path)]) == 2
    assert main(["compare", "--set", "nosuch:x=1", "--out", str(tmp_path)]) == 2


def test_baseline_d6_gflops_paper_size():
    from dynhead.cost import full_gflops
    assert round(full_gflops("fix", 6, (800, 1333), C=256, pad=True), 1) == 297.9


@pytest.mark.gpu
def test_masked_vs_dense_on_cuda():
    """On a GPU: measure dense vs masked head of the Small model (the paper: 34.9 vs 46.8 ms on V100)."""
    import dynhead
    from accelsim.gpu import measure
    from dynhead.model import HeadContext
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
