"""``--sample`` on simulate, compare and sweep: a bad value is one line naming the flag, exit 2."""

from __future__ import annotations

import pytest
from conftest import assert_one_line_error, run_cli

BAD = ["0", "1.5", "-0.2", "half", "nan", ""]


@pytest.mark.parametrize("value", BAD)
def test_simulate_bad_sample(value):
    r = run_cli("simulate", "-w", "alexnet", "-a", "systolic", "--sample", value, "--jobs", "1")
    assert_one_line_error(r, "--sample", "off, auto or a fraction")


def test_simulate_sample_with_functional():
    r = run_cli("simulate", "-w", "alexnet", "-a", "scnn", "--sample", "auto", "--functional", "--jobs", "1")
    assert_one_line_error(r, "--sample", "--functional")


@pytest.mark.parametrize("cmd", [("compare", "--no-measure", "--no-plots", "--targets", "systolic"),
                                 ("sweep", "examples/sweeps/scnn_small.yaml", "--dry-run")])
def test_compare_sweep_bad_sample(cmd):
    r = run_cli(*cmd, "--sample", "2")
    assert_one_line_error(r, "--sample", "off, auto or a fraction")
