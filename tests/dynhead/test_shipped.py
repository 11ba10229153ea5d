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
    return {n: dynhead.load_shipped(n) for n in ("small", "large")}


def test_shipped_checkpoints_small_and_load(shipped):
    for n, m in shipped.items():
        assert dynhead.shipped_path(n).stat().st_size <= 3 * 2 ** 20
        assert m.head.kind == "dynamic" and not m.training


def test_shipped_traces_density_ordered_by_lambda_as_in_card(shipped):
    """Larger lambda ('small') must give fewer active depth-gate pixels on the sample images, and the
    trace numbers must be the ones the model card reports."""
    imgs = dynhead.sample_images()
    card = (dynhead.CHECKPOINT_DIR / "MODEL_CARD.md").read_text()
    act = {}
    for n, m in shipped.items():
        size = tuple(m.checkpoint_meta["train"]["data"]["size"])
        wl = trace_model(m, imgs, size, store_acts=False, store_weights=False)
        act[n] = [round(x["depth_gate_active"], 4) for x in wl.image_meta]
        assert str(act[n]) in card, (n, act[n])
        for x in wl.image_meta:
            assert x["used_gflops"] == pytest.approx(x["used_gflops_from_masks"], abs=1e-12)
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
