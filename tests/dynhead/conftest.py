import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # the machine is shared: keep each test on one core
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
