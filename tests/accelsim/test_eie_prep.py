"""EIE's per-layer preparation kernels (Numba) against plain Python / numpy references: the per-(pass, PE) RLE
encoders (empty segments, zero runs longer than the index range, the bias column, several passes), the broadcast
order of every job, im2col and its packed non-zero patterns, and the sampled path's work proxy."""

import numpy as np
import pytest

from accelsim.models.eie import PixelVectors, build_matrix, matrix_from_dense
from accelsim.models.eie.mapping import broadcast_jobs
from accelsim.models.eie.sampling import _masked_product, _sums_exact
from workloads import Layer, LayerInstance


def reference_csc(W, bias, n_pe, regs, index_bits):
    """EIE's storage of W (K, C) (+ bias as column C), entry by entry: ptr, base, row, run, value, paddings."""
    K = W.shape[0]
    Wb = W if bias is None else np.column_stack([W, bias])
    n_cols = Wb.shape[1]
    max_run = (1 << index_bits) - 1
    rows_pe = -(-K // n_pe)
    n_pass = max(1, -(-rows_pe // regs))
    ptr = np.zeros((n_pass, n_pe, n_cols + 1), dtype=np.int64)
    base = np.zeros((n_pass, n_pe), dtype=np.int64)
    row, run, val = [], [], []
    for q in range(n_pass):
        for p in range(n_pe):
            base[q, p] = len(row)
            for c in range(n_cols):
                prev = -1
                for lr in range(regs):
                    g = (q * regs + lr) * n_pe + p
                    if g < K and Wb[g, c] != 0:
                        while lr - prev - 1 > max_run:       # a padding entry per max_run + 1 zeros
                            prev += max_run + 1
                            row.append(prev)
                            run.append(max_run)
                            val.append(0.0)
                        row.append(lr)
                        run.append(lr - prev - 1)
                        val.append(Wb[g, c])
                        prev = lr
                ptr[q, p, c + 1] = len(row) - base[q, p]
    return ptr, base, np.array(row, dtype=np.int64), np.array(run, dtype=np.int64), np.array(val), \
        int((np.array(val) == 0).sum())


@pytest.mark.parametrize("K, C, n_pe, regs, index_bits, bias, density", [
    (5, 7, 8, 64, 4, False, 0.5),     # K < N: PEs 5..7 hold no row (empty segments)
    (300, 9, 4, 64, 1, True, 0.3),    # runs far beyond a 1-bit index: chains of paddings; bias column
    (300, 9, 4, 16, 2, True, 0.1),    # 5 passes, 2-bit index
    (64, 3, 1, 64, 4, True, 0.05),    # one PE, 64 rows: runs of up to 63 zeros
    (130, 11, 64, 64, 4, False, 1.0),  # dense
    (40, 6, 3, 8, 3, True, 0.0),      # no weight at all: only the bias column
])
def test_encoders_match_reference(K, C, n_pe, regs, index_bits, bias, density):
    rng = np.random.default_rng(K * C + n_pe)
    W = rng.standard_normal((K, C)) * (rng.random((K, C)) < density)
    b = rng.standard_normal(K) * (rng.random(K) < 0.5) if bias else None
    ptr, base, row, run, val, n_pad = reference_csc(W, b, n_pe, regs, index_bits)
    r, c = np.nonzero(W)
    perm = rng.permutation(r.size)                   # build_matrix sorts its COO input
    for m in (matrix_from_dense(W, n_pe, b, regs, index_bits),
              build_matrix(r[perm], c[perm], W[r, c][perm], K, C, n_pe, b, None, None, regs, index_bits)):
        assert np.array_equal(m.ptr, ptr) and np.array_equal(m.base, base)
        assert m.row.dtype == np.int32 and m.run.dtype == np.int16 and m.code.dtype == np.int16
        assert np.array_equal(m.row, row) and np.array_equal(m.run, run) and np.array_equal(m.value, val)
        assert (m.code == -1).all() and m.n_padding == n_pad == int((m.value == 0).sum())
        assert np.array_equal(m.nonzeros_per_column().sum(axis=1),
                              [int((val[base[q, 0]:base[q, -1] + ptr[q, -1, -1]] != 0).sum()) for q in range(m.n_pass)])


def test_shared_codes_padding_is_code_zero():
    """Weight-shared matrices: padding entries carry code 0, the others their code."""
    m = build_matrix(np.array([0, 40]), np.array([0, 0]), np.array([1.5, 2.5]), 64, 1, n_pe=1,
                     codes=np.array([3, 7]), codebook=np.arange(8.0))
    assert m.code.tolist() == [3, 0, 0, 7] and m.value.tolist() == [1.5, 0.0, 0.0, 2.5]


def reference_jobs(aug, n_pass, window, pixel_major):
    """The broadcast order of every job from numpy's nonzero, one vector at a time."""
    seqs, bubs, pos_all, vi_all = [], [], [], []
    for v in range(aug.shape[0]):
        pos = np.flatnonzero(aug[v])
        bub = np.zeros(pos.shape, dtype=np.int64)
        for k in range(pos.size):
            if window == 0:
                continue
            r = pos[k] // window
            if k == 0:
                bub[k] = r                                  # the rows scanned before the first non-zero
            else:
                rp = pos[k - 1] // window
                bub[k] = r - rp - int(r > rp and pos[k - 1] % window == window - 1)
        seqs.append(pos)
        bubs.append(bub)
        pos_all += list(pos)
        vi_all += [v] * pos.size
    jobs = [(v, q) for v in range(aug.shape[0]) for q in range(n_pass)] if pixel_major else \
        [(v, q) for q in range(n_pass) for v in range(aug.shape[0])]
    seq = np.concatenate([seqs[v] for v, _ in jobs]) if jobs else np.zeros(0, dtype=np.int64)
    bub = np.concatenate([bubs[v] for v, _ in jobs]) if jobs else np.zeros(0, dtype=np.int64)
    off = np.concatenate([[0], np.cumsum([seqs[v].size for v, _ in jobs])])
    return seq, bub, off, np.array([q for _, q in jobs]), np.array(pos_all), np.array(vi_all)


@pytest.mark.parametrize("pixel_major", [False, True])
@pytest.mark.parametrize("window", [0, 1, 4, 64])
@pytest.mark.parametrize("n_pass", [1, 3])
def test_broadcast_jobs_match_reference(n_pass, window, pixel_major):
    rng = np.random.default_rng(window + 10 * n_pass)
    aug = rng.standard_normal((7, 150)) * (rng.random((7, 150)) < 0.2)
    aug[2] = 0                                      # a vector with nothing to broadcast
    aug[4, 3::4] = 1.0                              # the last of every row of 4
    got = broadcast_jobs(aug, n_pass, window, pixel_major)
    for g, w in zip(got, reference_jobs(aug, n_pass, window, pixel_major)):
        assert g.dtype == np.int64 and np.array_equal(g, w)


@pytest.mark.parametrize("R, stride, dilation, padding, C", [(3, 1, 1, 1, 5), (3, 2, 2, 2, 3), (1, 1, 1, 0, 9),
                                                               (5, 2, 1, 2, 2)])
def test_im2col_and_patterns_match_reference(R, stride, dilation, padding, C):
    """im2col by index (c*R*S + r*S + s) and its packed non-zero pattern (C R S not a multiple of 8 pads the
    last byte), on a masked layer."""
    L = Layer("x", "conv", C=C, K=4, H=13, W=11, R=R, S=R, stride=stride, padding=padding, dilation=dilation,
              weight_density=0.5, act_density=0.4, out_density=0.6)
    inst = LayerInstance(L, 0).materialize(3)
    v = PixelVectors(inst)
    xp = np.pad(inst.acts_dense(), ((0, 0), (padding, padding), (padding, padding)))
    want = np.array([[xp[c, (p // L.Q) * stride + r * dilation, (p % L.Q) * stride + s * dilation]
                      for c in range(C) for r in range(R) for s in range(R)] for p in v.pix])
    assert np.array_equal(v(0, v.n), want) and np.array_equal(v(2, 5), want[2:5])
    assert np.array_equal(v.x, xp) and np.array_equal(v.nonzero_mask(), xp != 0)   # the padded input, on demand
    assert np.array_equal(v.patterns(), np.packbits(want != 0, axis=1))


def test_masked_product_and_exactness_test():
    rng = np.random.default_rng(0)
    wc = rng.integers(1, 200, size=(6, 4)) / 64.0          # means over 64 PEs: exact sums
    nz = rng.random((6, 50)) < 0.5
    z = np.zeros((4, 50))
    _masked_product(wc, nz, z)
    assert np.array_equal(z, wc.T @ nz.astype(np.float64))
    assert _sums_exact(wc.ravel())
    assert not _sums_exact(np.array([1.0, 1 / 3]))          # means over 3 PEs: the matrix product decides
    assert not _sums_exact(np.array([1.0, -0.5])) and not _sums_exact(np.array([2.0 ** 40]))


@pytest.mark.parametrize("act_density, padding", [(1.0, 1), (0.3, 1), (0.9, 2), (1.0, 0)])
def test_unit_classes_rank_the_packed_patterns(act_density, padding):
    """EIEPixels.unit_classes: np.unique's inverse over the packed im2col non-zero patterns, whether the layer
    has a few classes (dense input: the border pixels) or nearly one per pixel (sparse input)."""
    from accelsim.engine import make_model
    from accelsim.models.eie.sampling import EIEPixels
    L = Layer("x", "conv", C=11, K=8, H=12, W=15, R=3, S=3, padding=padding, weight_density=0.5,
              act_density=act_density, out_density=0.8)
    inst = LayerInstance(L, 0).materialize(1)
    space = EIEPixels(make_model("eie"), inst)
    k = np.packbits(space.vecs(0, space.n_units) != 0, axis=1)
    want = np.unique(k.view(np.dtype((np.void, k.shape[1]))).ravel(), return_inverse=True)[1].reshape(-1)
    assert np.array_equal(space.unit_classes(), want)


@pytest.mark.parametrize("bias", [False, True])
def test_augmented_rows_write_the_chunk_in_place(bias):
    """augmented_rows: a conv layer's PixelVectors written into the reused buffer equal augmented(m, vecs(a, b))
    (bias column 1.0); any other source goes through augmented; a length mismatch is refused."""
    from accelsim.errors import AccelsimError
    from accelsim.models.eie.mapping import augmented, augmented_rows, lowered_weights
    L = Layer("x", "conv", C=5, K=7, H=9, W=8, R=3, S=3, padding=1, stride=2, weight_density=0.6, act_density=0.5)
    inst = LayerInstance(L, 0).materialize(2)
    W = lowered_weights(inst)
    m = matrix_from_dense(W, 4, np.arange(1.0, 8.0) if bias else None)
    v = PixelVectors(inst)
    buf = np.full((6, m.n_cols), np.nan)
    for a, b in ((0, 6), (3, 5), (v.n - 2, v.n)):
        assert np.array_equal(augmented_rows(m, v, a, b, buf), augmented(m, v(a, b)))
    arr = v(0, v.n)
    assert np.array_equal(augmented_rows(m, arr, 1, 4, buf), augmented(m, arr[1:4]))
    with pytest.raises(AccelsimError, match="activation vector length"):
        augmented_rows(matrix_from_dense(W[:, :-1], 4), v, 0, 2, buf)
