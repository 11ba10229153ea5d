import os

import pytest
from hypothesis import settings

# Deterministic property tests: the same examples on every machine and in CI (project rule: seeds in
# every random path).  HYPOTHESIS_PROFILE=explore searches with fresh random examples instead.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

from accelsim.paths import shared_dir

FULL = bool(os.environ.get("ACCELSIM_FULL"))


@pytest.fixture(scope="session")
def shared():
    """Folder holding ``validation/<set>/``: ../shared or $ACCELSIM_SHARED when present, else the packaged
    reference data (``ACCELSIM_SHARED=none`` runs these tests on the packaged copy only)."""
    return shared_dir()


def pytest_collection_modifyitems(config, items):
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
