import json
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from dynhead.__main__ import main
from dynhead.cost import depth_unit, full_gflops, full_macs, level_sizes, scale_unit
from dynhead.model import build_head


def test_unit_costs():
    assert depth_unit(256) == 590_080
    assert scale_unit(256) == 4_864


def test_level_sizes():
    assert level_sizes((800, 1333)) == [(100, 167), (50, 84), (25, 42), (13, 21), (7, 11)]
    assert sum(h * w for h, w in level_sizes((800, 1333), pad=True)) == 22_400


@pytest.mark.parametrize("head,depth,size,pad,expected", [
    ("fcos", 2, (800, 1333), False, 98.0),
    ("fix", 4, (800, 1344), False, 198.6),
    ("fix", 8, (800, 1344), False, 397.2),
    ("fix", 6, (800, 1344), False, 297.9),
    ("fix", 8, (800, 1333), True, 397.2),
])
def test_official_flops(head, depth, size, pad, expected):
    assert round(full_gflops(head, depth, size, pad=pad), 1) == expected


def test_cli_flops_json(capsys):
    assert main(["flops", "--head", "fix", "--depth", "4", "--size", "800x1344", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["positions"] == 22_400 and round(rep["gflops"], 2) == 198.58


def test_cli_bad_size_exit2():
    r = subprocess.run([sys.executable, "-m", "dynhead", "flops", "--head", "fix", "--depth", "4", "--size", "8x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "size" in r.stderr


def test_fcos_head_macs_match_torch_flop_counter():
    h = build_head("fcos", 2, 256, 80).to("meta")
    sizes = level_sizes((800, 1333))
    with FlopCounterMode(display=False) as fc:
        for hh, ww in sizes:
            x = torch.empty(1, 256, hh, ww, device="meta")
            h.cls_subnet(x)
            h.bbox_subnet(x)
    assert fc.get_total_flops() == 2 * full_macs("fcos", 2, 256, sizes)  # counter: 2 FLOPs per MAC


def test_dynamic_tallies_soft_hard_full():
    torch.manual_seed(0)
    C = 32
    h = build_head("dynamic", 2, C, 3).eval()
    from dynhead.model import random_features
    f = random_features((128, 192), C, batch=1)
    with torch.no_grad():
        h(f)
    c = h.last_costs
    sizes = [tuple(x.shape[-2:]) for x in f]
    n = sum(a * b for a, b in sizes)
    assert float(c["full"][0]) == 2 * 2 * (2 * depth_unit(C) + 2 * scale_unit(C)) * n
    # at init every gate is ~0.99: hard = full, soft ~ 0.99 full
    assert float(c["hard"][0]) == float(c["full"][0])
    assert float(c["soft"][0]) / float(c["full"][0]) == pytest.approx(0.99, abs=2e-3)
    # close every depth gate: only the scale paths remain in the hard tally
    for tower in (h.cls_subnet, h.bbox_subnet):
        for st in tower:
            with torch.no_grad():
                st.depth_module.gate.gate_conv.bias.fill_(-5.0)
    with torch.no_grad():
        h(f)
    assert float(h.last_costs["hard"][0]) == 2 * 2 * 2 * scale_unit(C) * n
