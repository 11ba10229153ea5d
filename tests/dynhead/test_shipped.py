"""The shipped checkpoints and sample images (dynhead/checkpoints, dynhead/images)."""

import json

import numpy as np
import pytest
import torch

import dynhead
from dynhead.model import HeadContext, build_head, random_features, random_gate_override
from dynhead.trace import trace_model


def test_sample_images_are_small_rgb_pngs():
    imgs = dynhead.sample_images()
    assert len(imgs) >= 3 and all(i.ndim == 3 and i.shape[2] == 3 and i.dtype == np.uint8 for i in imgs)
    assert sum(p.stat().st_size for p in dynhead.IMAGE_DIR.iterdir()) < 1_000_000


@pytest.fixture(scope="module")
def shipped():
    return {n: dynhead.load_shipped(n) for n in ("small", "large", "baseline")}


def test_shipped_checkpoints_small_and_load(shipped):
    assert set(dynhead.SHIPPED) == {"small", "large", "baseline"}
    for n, m in shipped.items():
        assert dynhead.shipped_path(n).stat().st_size <= 3 * 2 ** 20   # float16
        assert not m.training


def test_shipped_heads_are_the_papers_depths_and_one_recipe(shipped):
    """Dynamic D8 at lambda 0.1 (large) and 0.8 (small) in the official configuration (GeReTanH tau 1.5,
    K=2), the gate-free D6 baseline with no gate parameters; all trained with one recipe and budget."""
    for n, lam in (("large", 0.1), ("small", 0.8)):
        m = shipped[n]
        assert m.head.kind == "dynamic" and m.cfg.depth == 8 and m.checkpoint_meta["train"]["lambda"] == lam
        assert (m.cfg.gate_activation, m.cfg.tau, m.cfg.num_adjacent_scales) == ("geretanh", 1.5, 2)
    b = shipped["baseline"]
    assert b.head.kind == "fix" and b.cfg.depth == 6 and b.checkpoint_meta["train"]["lambda"] == 0.0
    assert not any(".gate." in k or k.endswith("scale_weight") for k in b.state_dict())
    assert {m.cfg.channels for m in shipped.values()} == {32}
    recipe = [{k: m.checkpoint_meta["train"][k] for k in ("lr", "batch", "max_cpu_minutes", "seed", "data")}
              for m in shipped.values()]
    assert recipe[0] == recipe[1] == recipe[2] and recipe[0]["max_cpu_minutes"] == 5.0


def test_shipped_traces_density_ordered_by_lambda_as_in_card(shipped):
    """Larger lambda ('small') must give fewer active depth-gate pixels on the sample images, and the
    trace numbers must be the ones the model card reports; the baseline computes every pixel."""
    imgs = dynhead.sample_images()
    card = (dynhead.CHECKPOINT_DIR / "MODEL_CARD.md").read_text()
    act = {}
    for n, m in shipped.items():
        size = tuple(m.checkpoint_meta["train"]["data"]["size"])
        wl = trace_model(m, imgs, size, store_acts=False, store_weights=False)
        used = [round(x["used_over_full"], 4) for x in wl.image_meta]
        assert f"| {n} | " in card and str(used) in card, (n, used)
        for x in wl.image_meta:
            assert x["used_gflops"] == pytest.approx(x["used_gflops_from_masks"], abs=1e-12)
        if n == "baseline":
            assert used == [1.0] * len(imgs) and not any(L.meta["op"].startswith("gate_") for L in wl.layers.values())
            continue
        act[n] = [round(x["depth_gate_active"], 4) for x in wl.image_meta]
        assert str(act[n]) in card, (n, act[n])
    assert shipped["small"].checkpoint_meta["train"]["lambda"] > shipped["large"].checkpoint_meta["train"]["lambda"]
    assert np.mean(act["small"]) < np.mean(act["large"])


def test_random_gate_override_density():
    h = build_head("dynamic", 1, 32, 3)
    f = random_features((128, 192), 32, batch=2)
    gates = random_gate_override(h, f, 0.3, seed=0)
    g = gates[("cls", 0, 0, "depth")]
    assert g.shape == (2, 1, 16, 24) and float((g > 0).float().mean()) == pytest.approx(0.3, abs=0.01)
    with torch.no_grad():
        h(f, masked=True, ctx=HeadContext(masked=True, gate_override=gates))
    assert (h.last_costs["hard"] < h.last_costs["full"]).all()


def test_eval_cli_on_shipped(capsys):
    from dynhead.__main__ import main
    assert main(["eval", "--checkpoint", "small", "--n", "4", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["n_images"] == 4 and 0 <= r["mAP50"] <= 1 and r["used_over_full"] < 0.2
    assert main(["eval", "--checkpoint", "baseline", "--n", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["used_over_full"] == 1.0 and "depth_gate_active" not in r
