"""Tables printed to a pipe are complete (issue 18: rich cut every cell to 'c…' at 80 columns)."""

import csv
import io
import json
import subprocess
import sys

import pytest

COLS = ["name", "kind", "C", "K", "H", "W", "R", "S", "stride", "P", "Q", "macs_dense", "act_density",
        "weight_density", "out_density", "macs_effectual"]


def _run(*args):
    # stdout is a pipe here, as in `accelsim workload show alexnet | cat`
    r = subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_piped_table_is_markdown_in_full():
    out = _run("workload", "show", "alexnet", "--no-effectual")
    assert "…" not in out
    header = next(line for line in out.splitlines() if line.startswith("| name"))
    assert [c.strip() for c in header.strip("|").split("|")] == COLS
    assert "| conv1 | conv | 3 | 96 | 227 | 227 | 11 | 11 | 4 | 55 | 55 | 105415200 |" in out
    assert "total dense MACs" in out


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_machine_formats(fmt):
    out = _run("workload", "show", "alexnet", "--no-effectual", "--format", fmt)
    rows = list(csv.DictReader(io.StringIO(out))) if fmt == "csv" else json.loads(out)
    assert [r["name"] for r in rows][:2] == ["conv1", "conv2"] and set(rows[0]) == set(COLS)


def test_list_formats():
    rows = json.loads(_run("list", "--format", "json"))
    assert {"scnn", "eie"} <= {r["preset"] for r in rows}
    assert "…" not in _run("workload", "list", "--format", "markdown")
