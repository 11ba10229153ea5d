"""The rows of `accelsim compare`: which trained heads they load (the shipped D6 gate-free baseline and D8
dynamic heads), the seeded wide weights they share at --width, the traces built from the same heads and
features, and the used/full compute table beside the official heads' ratios."""

import pytest

torch = pytest.importorskip("torch")

import dynhead  # noqa: E402
from accelsim.compare import CompareSettings, run_compare  # noqa: E402
from accelsim.compare.rows import image_tensors, load_rows, prepare, raw_images  # noqa: E402
from accelsim.compare.trace import trace_row  # noqa: E402
from accelsim.errors import AccelsimError  # noqa: E402
from dynhead.wide import canonical_name  # noqa: E402

SMALL = dict(size=(128, 192), images=1, targets=(), measure=False, plots=False, quiet=True)


def _rows(**kw):
    s = CompareSettings(**{**SMALL, **kw})
    rows, cfg = load_rows(s)
    raw = raw_images(s)
    prepare(rows, image_tensors(raw, s.size), s.seed)
    return s, rows, raw


def test_default_rows_are_the_trained_d6_baseline_and_d8_dynamic_heads():
    s, rows, _ = _rows()
    b = rows["baseline"]
    assert b.head.kind == "fix" and b.head.depth == 6 and b.head is b.backbone_model.head
    for n in ("large", "small"):
        r = rows[n]
        assert r.head.kind == "dynamic" and r.head.depth == 8 and r.head is r.backbone_model.head
    # each row on its own trained backbone + FPN: the baseline's features are not the Small model's
    assert not torch.equal(rows["baseline"].features[0][0], rows["small"].features[0][0])
    assert rows["baseline"].gflops == rows["baseline"].full_gflops          # gate-free: all computed
    assert all(u < f for u, f in zip(rows["small"].gflops, rows["small"].full_gflops))


def test_wide_rows_share_seeded_weights_and_traces_use_them():
    """At --width every row's head has the seeded weights of dynhead.wide: the D8 heads are identical, the
    D6 baseline holds the same tensors for its 6 stages and the predictors; the traces record exactly
    those weights, the same gates and the same used GFLOPs as the measured rows."""
    s, rows, raw = _rows(width=64)
    large, small, base = (rows[n].head.state_dict() for n in ("large", "small", "baseline"))
    assert all(torch.equal(v, small[k]) for k, v in large.items())
    n_shared = 0
    for k, v in base.items():
        assert torch.equal(v, large[canonical_name(k)]), k
        n_shared += v.dim() == 4
    assert n_shared == 2 * 6 * 4 + 3
    for name in ("baseline", "small"):
        wl = trace_row(name, rows[name], s, raw)
        head = rows[name].head
        assert wl.layers["reg.s5.l1.conv2"].weights == pytest.approx(
            head.bbox_subnet[5].depth_module.bottleneck.conv2.weight.detach().numpy())
        assert wl.image_meta[0]["used_gflops"] == pytest.approx(rows[name].gflops[0], rel=1e-12)
        x0 = wl.instance("cls.s0.l0.scale0", 0).acts_dense()   # the input features
        assert x0 == pytest.approx(rows[name].features[0][0][0].numpy(), abs=1e-5)
        assert wl.meta["row"] == name and "seeded random" in wl.meta["sources"]["weights"]


def test_compare_md_says_what_is_trained_and_reports_used_over_full_beside_the_official_ratios(tmp_path):
    res = run_compare(CompareSettings(**{**SMALL, "out": tmp_path / "a"}))
    md, d = res.markdown, res.data
    assert "weights trained (checkpoint)" in md and "seeded random" not in md
    cr = d["compute_ratio"]
    for n in ("baseline", "large", "small"):
        pi = d["per_image"][n]
        want = sum(u / f for u, f in zip(pi["gflops"], pi["full_gflops"])) / len(pi["gflops"])
        assert cr[n]["used_over_full"]["avg"] == pytest.approx(want)
    assert cr["baseline"]["used_over_full"]["avg"] == 1.0
    assert cr["small"]["used_over_full"]["avg"] < cr["large"]["used_over_full"]["avg"] < 1.0
    # the official ratios: README D8 heads against the full D8 at 800x1344, Table 5 against its baseline
    assert cr["large"]["official"]["ratio"]["avg"] == pytest.approx(83.9 / 397.168, rel=1e-4)
    assert cr["small"]["official"]["ratio"]["max"] == pytest.approx(140.2 / 397.168, rel=1e-4)
    assert cr["small"]["table5"]["ratio"] == pytest.approx(70.0 / 298.1)
    for needle in ("| dynamic Large (lambda 0.1) | dynamic D8 C=32 | ", "Mid D8 lambda 0.1: 83.9 (21.3-237.7) / 397.2",
                   "Low D8 lambda 0.8: 33.3 (6.4-140.2) / 397.2", "104.3 / 298.1 = 0.350", "70.0 / 298.1 = 0.235",
                   "| baseline (no gates) | fix D6 C=32 | 1.000 | 1.000 |"):
        assert needle in md, needle
    wide = run_compare(CompareSettings(**{**SMALL, "width": 64, "out": tmp_path / "b"})).markdown
    assert "seeded random" in wide and "weights trained" not in wide and "the trained C=32 model's" in wide


def test_rows_refuse_wrong_checkpoints_in_one_line(tmp_path):
    with pytest.raises(AccelsimError, match="baseline_depth: 4 differs from the baseline checkpoint's depth 6"):
        load_rows(CompareSettings(**{**SMALL, "baseline_depth": 4}))
    with pytest.raises(AccelsimError, match="checkpoint_baseline: .*expected a gate-free"):
        load_rows(CompareSettings(**{**SMALL, "checkpoint_baseline": str(dynhead.shipped_path("small"))}))
    with pytest.raises(AccelsimError, match="checkpoint_large: .*expected a dynamic head"):
        load_rows(CompareSettings(**{**SMALL, "checkpoint_large": str(dynhead.shipped_path("baseline"))}))
