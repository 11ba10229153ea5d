"""The out-of-tree example model (examples/toy_model) installed for real and driven through the CLI.

The distribution is installed with pip into a temporary folder (``--target``, offline, no build
isolation: the main environment is not touched) and every command runs in a subprocess with only
that folder on ``PYTHONPATH``: accelsim must find the model through the installed dist-info's entry
point (group ``accelsim.models``), never by name.  One fast case loads the source tree by name
instead (``ACCELSIM_PLUGINS`` / ``--plugin``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workloads import Layer, Workload

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "toy_model"


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ACCELSIM_PLUGINS", "PYTHONPATH")}
    # one thread / process each: the suite runs on small shared machines
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", ACCELSIM_JOBS="1")
    env.update(extra)
    return env


def _accelsim(args, env, cwd, timeout=300) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "accelsim", *args], env=env, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, f"accelsim {' '.join(args)} -> {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(env, work folder): the toy distribution pip-installed into a fresh --target folder."""
    src = tmp_path_factory.mktemp("src") / "toy_model"  # build from a copy: pip writes build/ beside the sources
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*"))
    site = tmp_path_factory.mktemp("site")
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                        "--no-cache-dir", "--disable-pip-version-check", "-q", "--target", str(site), str(src)],
                       capture_output=True, text=True, timeout=300, env=_env())
    assert p.returncode == 0, f"pip install of examples/toy_model failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    eps = list(site.glob("accelsim_toy-*.dist-info/entry_points.txt"))
    assert eps and "toy = toy_accel" in eps[0].read_text()
    assert (site / "toy_accel" / "presets" / "toy.yaml").is_file()
    assert (site / "toy_accel" / "energy_tables" / "toy_45nm.yaml").is_file()

    work = tmp_path_factory.mktemp("work")  # cwd of every command: the repository is not on the path
    rng = np.random.default_rng(0)
    wl = Workload("toy-small")
    wl.add_layer(Layer("conv", "conv", C=4, K=8, H=8, W=8, R=3, S=3, padding=1,
                       weights=rng.standard_normal((8, 4, 3, 3)) * (rng.random((8, 4, 3, 3)) < 0.5)))
    wl.add_layer(Layer("fc", "fc", C=32, K=10, weights=rng.standard_normal((10, 32))), deps=["conv"])
    wl.set_image_data(0, "conv", acts=np.maximum(0, rng.standard_normal((4, 8, 8))), out_mask=rng.random((8, 8)) < 0.5)
    wl.set_image_data(0, "fc", acts=np.maximum(0, rng.standard_normal(32)))
    wl.save(work / "small.npz")
    return _env(PYTHONPATH=str(site)), work


def test_list_finds_the_entry_point(installed):
    env, work = installed
    d = json.loads(_accelsim(["list", "--json"], env, work).stdout)
    assert "toy" in d["models"] and d["presets"]["toy"]["model"] == "toy" and "toy_45nm" in d["energy_tables"]


def test_simulate(installed):
    env, work = installed
    d = json.loads(_accelsim(["simulate", "-w", "small.npz", "-a", "toy", "--json", "-j", "1"], env, work).stdout)
    assert d["model"] == "toy" and [r["name"] for r in d["layers"]] == ["conv", "fc"]
    t = d["total"]
    assert t["cycles"] == sum(r["cycles"] for r in d["layers"]) > 0
    assert sum(t["breakdown"].values()) == t["cycles"] and t["energy_j"] > 0
    assert t["dram_bytes_per_s"] == 16e9  # DRAM_BANDWIDTH: 16 bytes/cycle x 1 GHz


def test_validate(installed):
    env, work = installed
    d = json.loads(_accelsim(["validate", "toy", "--json"], env, work).stdout)
    kinds = {c["kind"] for c in d["checks"]}
    assert kinds == {"validation", "consistency"} and all(c["pass"] is True for c in d["checks"])


def test_area(installed):
    env, work = installed
    code = "import json; from accelsim.area import area_of; print(json.dumps(area_of('toy').to_dict()))"
    p = subprocess.run([sys.executable, "-c", code], env=env, cwd=work, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    a = json.loads(p.stdout)
    assert a["method"] == "model" and a["total_mm2"] > 0 and all(c["source"] for c in a["components"])


def test_sweep_over_a_toy_field(installed):
    env, work = installed
    (work / "lanes.yaml").write_text("name: toy_lanes\narch: toy\nworkloads:\n  small: {source: small.npz}\n"
                                     "parameters:\n  pe.lanes: [2, 4]\nobjectives: [latency_s, energy_j, area_mm2]\n")
    d = json.loads(_accelsim(["sweep", "lanes.yaml", "--out", "sweep", "-j", "1", "--no-plots", "--json"], env,
                             work).stdout)
    assert (d["model"], d["points"], d["simulated"], d["errors"]) == ("toy", 2, 2, 0)
    import csv
    rows = list(csv.DictReader(open(work / "sweep" / "points.csv")))
    by = {int(r["pe.lanes"]): r for r in rows}
    # more lanes: fewer cycles, more multiplier area
    assert float(by[4]["cycles"]) < float(by[2]["cycles"]) and float(by[4]["area_mm2"]) > float(by[2]["area_mm2"])


def test_compare(installed):
    env, work = installed
    _accelsim(["compare", "--targets", "toy", "--size", "128x192", "--images", "1", "--no-measure", "--no-plots",
               "-j", "1", "--quiet", "--out", "cmp"], env, work, timeout=600)
    d = json.loads((work / "cmp" / "compare.json").read_text())
    text = json.dumps(d)
    assert '"toy"' in text
    # one simulated row per head (baseline, Large, Small) in the main table; compare.md's technology table
    # lists the target once more
    md = (work / "cmp" / "compare.md").read_text()
    assert md.count("| toy | simulated |") == 3, md


def test_plugin_by_name_from_the_source_tree(tmp_path):
    """No install: ``ACCELSIM_PLUGINS=toy_accel`` (and ``--plugin``) with examples/toy_model on PYTHONPATH."""
    env = _env(PYTHONPATH=str(EXAMPLE), ACCELSIM_PLUGINS="toy_accel")
    d = json.loads(_accelsim(["list", "--json"], env, tmp_path).stdout)
    assert "toy" in d["models"] and "toy" in d["presets"]
    env = _env(PYTHONPATH=str(EXAMPLE))
    d = json.loads(_accelsim(["--plugin", "toy_accel", "validate", "toy", "--json"], env, tmp_path).stdout)
    assert d["checks"] and all(c["pass"] is True for c in d["checks"])
