"""SCNN's weight reads from DRAM (accelsim/models/scnn/rounds.py ``dram_weight_loads``): a broadcast read of a
(channel, group) block serves every PE of the round, so a round reads each block as often as the PE that needs
it most; counting the PE with the largest total instead misses the blocks only other PEs need."""

import numpy as np
import pytest
from random_layers import random_inst

from accelsim.engine import make_model, run_instance
from accelsim.models.scnn.kernel import ST_WLOAD


def brute_force(prep, F, I, fifo):
    """Per round, from the streams, block by block and PE by PE (plain Python)."""
    plan, ast, wst = prep.plan, prep.ast, prep.wst
    out = []
    for r in range(plan.round_tile.shape[0]):
        need = {}   # channel -> per-PE loads of its block
        for t, g in zip(plan.round_tile[r], plan.round_group[r]):
            if t < 0 or g < 0:
                continue
            for cl in range(wst.CVg):
                c = int(wst.cv0[g]) + cl
                na = int(ast.ptr[t * ast.CV + c + 1] - ast.ptr[t * ast.CV + c])
                nw = int(wst.ptr[g * wst.CVg + cl + 1] - wst.ptr[g * wst.CVg + cl])
                if na == 0 or nw == 0:
                    continue
                load = nw if -(-nw // F) <= fifo else nw * -(-na // I)
                need.setdefault((g, c), []).append(load)
        if plan.mode == "channel":
            out.append(sum(sum(v) for v in need.values()))
        else:
            out.append(sum(max(v) for v in need.values()))
    return np.array(out, dtype=np.int64)


CASES = [
    ("scnn", {}, dict(C=16, K=32, H=14, W=14, R=3, pad=1, da=0.1, dw=0.1)),          # small tiles, low density
    ("scnn", {"weight_fifo.entries": 2}, dict(C=16, K=32, H=14, W=14, R=3, pad=1, da=0.3)),   # FIFO reloads
    ("scnn", {"accumulator.entries": 4}, dict(C=8, K=16, H=20, W=20, R=3, pad=1, groups=2, da=0.2)),
    ("scnn", {"accumulator.entries": 4}, dict(C=12, K=12, H=20, W=20, R=3, pad=1, groups=12, da=0.2)),
    ("scnn", {"iaram_bytes": 512}, dict(C=32, K=64, H=40, W=40, R=3, pad=1, da=0.3)),       # several passes
    ("scnn-4x256", {}, dict(C=16, K=64, H=1, W=1, R=1, kind="fc")),                       # channel mode
]


@pytest.mark.parametrize("arch,ov,case", CASES, ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(CASES)])
def test_weight_reads_equal_the_block_by_block_count(arch, ov, case):
    m = make_model(arch, ov)
    prep = m.prepare(random_inst(**case))
    F, I, fifo = m.cfg["multipliers.F"], m.cfg["multipliers.I"], m.cfg["weight_fifo.entries"]
    assert np.array_equal(prep.wround, brute_force(prep, F, I, fifo))
    # between the largest single PE's FIFO loads (the kernel's count) and all PEs' loads together
    wl = m.run_rounds(prep)[:, :, ST_WLOAD]
    assert np.all(wl.max(axis=1) <= prep.wround) and np.all(prep.wround <= wl.sum(axis=1))


def test_small_sparse_tiles_read_blocks_no_single_pe_needs():
    """One pixel per PE at density 0.1 (GoogLeNet 5b's 7x7 planes on 8x8 PEs): each PE needs about a tenth of
    the channels, the round nearly all of them, so the DRAM bytes are several times the busiest PE's loads and
    close to the compressed weights' size."""
    m = make_model("scnn")
    inst = random_inst(C=64, K=64, H=7, W=7, R=1, da=0.1, dw=0.1)
    prep = m.prepare(inst)
    wl = m.run_rounds(prep)[:, :, ST_WLOAD]
    assert prep.wround.sum() > 3 * wl.max(axis=1).sum()
    stored = int(np.diff(prep.wst.ptr).sum())      # every weight entry (RLE padding included) once
    assert 0.9 * stored <= prep.wround.sum() <= stored
    res = run_instance(m, inst)
    assert res.extra["dram_bytes_weights"] == prep.wround.sum() * m.entry_bits / 8


def test_dense_input_reads_what_one_pe_loads():
    """Every PE has activations in every channel: the blocks every PE needs are the same, so the round reads
    what any one PE loads (consistency)."""
    m = make_model("scnn")
    prep = m.prepare(random_inst(C=8, K=16, H=16, W=16, R=3, pad=1, da=1.0, dw=0.4))
    wl = m.run_rounds(prep)[:, :, ST_WLOAD]
    assert np.array_equal(prep.wround, wl.max(axis=1))
