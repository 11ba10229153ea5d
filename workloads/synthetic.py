"""Seeded synthetic data of exact densities, for density-only studies.

``random_tensor`` places exactly round(density * size) non-zeros uniformly at
random (it and ``random_mask`` are defined in :mod:`workloads.ir`, whose
``LayerInstance.materialize`` uses them); ``clustered_mask`` grows them as blobs
(Gaussian bumps thresholded to the exact count), which is closer to the spatial
gates of the dynamic head.
"""

from __future__ import annotations

import numpy as np

from .ir import exact_count, random_mask, random_tensor

__all__ = ["exact_count", "random_mask", "random_tensor", "clustered_mask"]


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
