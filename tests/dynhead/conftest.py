import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # the machine is shared: keep each test on one core
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)



def _gn_active(x, mask, gn):
    """GroupNorm of one image x (C, H, W) with statistics over the ``mask`` pixels only (float64);
    zero outside the mask.  ``gn`` is a torch GroupNorm (for groups, eps, affine)."""
    x = np.asarray(x, np.float64)
    mask = np.asarray(mask, bool)
    C = x.shape[0]
    G = gn.num_groups
    v = x[:, mask].reshape(G, C // G, -1)
    mu = v.mean(axis=(1, 2), keepdims=True)
    var = ((v - mu) ** 2).mean(axis=(1, 2), keepdims=True)
    y = ((v - mu) / np.sqrt(var + gn.eps)).reshape(C, -1) * gn.weight.detach().double().numpy()[:, None] \
        + gn.bias.detach().double().numpy()[:, None]
    out = np.zeros_like(x)
    out[:, mask] = y
    return out


@pytest.fixture
def gn_ref():
    """Independent float64 numpy reference: GroupNorm over the active pixels only."""
    return _gn_active
