"""Seeded synthetic data of exact densities, for density-only studies.

``random_tensor`` places exactly round(density * size) non-zeros uniformly at
random; ``clustered_mask`` grows them as blobs (Gaussian bumps thresholded to
the exact count), which is closer to the spatial gates of the dynamic head.
"""

from __future__ import annotations

import numpy as np


def exact_count(size: int, density: float) -> int:
    return int(min(size, max(0, round(density * size))))


def random_mask(shape, density: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask with exactly round(density * size) True entries, uniformly placed."""
    size = int(np.prod(shape))
    k = exact_count(size, density)
    flat = np.zeros(size, dtype=bool)
    if k:
        flat[rng.choice(size, size=k, replace=False)] = True
    return flat.reshape(shape)


def random_tensor(shape, density: float, rng: np.random.Generator, nonneg: bool = False) -> np.ndarray:
    """float64 array with exactly round(density * size) non-zeros.

    Values are drawn away from zero (|v| in [0.1, 1.1)) so no non-zero rounds to 0;
    ``nonneg`` gives post-ReLU-like activations.
    """
    mask = random_mask(shape, density, rng)
    vals = rng.random(int(mask.sum())) + 0.1
    if not nonneg:
        vals *= rng.choice([-1.0, 1.0], size=vals.shape)
    out = np.zeros(shape, dtype=np.float64)
    out[mask] = vals
    return out


def clustered_mask(shape, density: float, rng: np.random.Generator, n_blobs: int = 4,
                   sigma: float | None = None) -> np.ndarray:
    """2-D (or leading-dims x 2-D) mask of exact density made of blobs.

    A sum of ``n_blobs`` Gaussian bumps at random centres is ranked and the top
    round(density * H * W) pixels are kept, so the count is exact per plane.
    """
    shape = tuple(shape)
    H, W = shape[-2:]
    lead = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    sigma = sigma or max(1.0, 0.15 * min(H, W))
    yy, xx = np.mgrid[0:H, 0:W]
    planes = []
    k = exact_count(H * W, density)
    for _ in range(lead):
        field = np.zeros((H, W))
        for _ in range(n_blobs):
            cy, cx = rng.uniform(0, H), rng.uniform(0, W)
            amp = rng.uniform(0.5, 1.5)
            field += amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
        field += 1e-9 * rng.random((H, W))  # tie-break
        m = np.zeros(H * W, dtype=bool)
        if k:
            m[np.argsort(-field, axis=None, kind="stable")[:k]] = True
        planes.append(m.reshape(H, W))
    out = np.stack(planes).reshape(shape)
    return out
