"""Bad command-line input and interrupted writes (issue 18): sweep specs, Dask addresses, CLI values,
atomic output sets.

Every bad input must give exit 2, one stderr line naming the file or flag and the field, no traceback and
nothing left behind; an interrupted command must leave the previous output set whole and no hidden
temporary file.  Most cases call ``accelsim.cli.main`` in this process (``run_main``); the few that need
a separate process (memory caps, signals) use ``run_cli``.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import FULL, assert_no_leftovers, assert_one_line_error, run_cli, run_main, snapshot

from accelsim.outset import MANIFEST, OutputSet, check_member


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder (the default output paths land in it) holding a file and a folder to misuse."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCELSIM_JOBS", "1")
    monkeypatch.delenv("ACCELSIM_LIMITS", raising=False)
    (tmp_path / "afile.txt").write_text("not a folder\n")
    for d in ("adir", "adir.npz", "adir.csv", "adir.json"):
        (tmp_path / d).mkdir()
    return tmp_path


def _spec(folder: Path, tiny: Path, **upd) -> Path:
    d = {"name": "t", "arch": "systolic", "workload": str(tiny), "parameters": {"array.height": [2, 4]}}
    d.update(upd)
    p = folder / "spec.yaml"
    p.write_text(yaml.safe_dump({k: v for k, v in d.items() if v is not _DROP}, allow_unicode=True))
    return p


_DROP = object()


def _fill(args, **kw):
    return [str(a).format(**kw) for a in args]


# ================================================================== 1. sweep specs
BAD_NAMES = ["../../x", "../x", "a/b", "a\\b", "ABS", "", " ", ".", "..", "x\x00y", "x\ny", "x" * 101,
             [1, 2], {"a": 1}, 5, 3.5, True]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:20] for n in BAD_NAMES])
def test_sweep_name_is_one_path_component(work, tiny_npz, capsys, name):
    if name == "ABS":
        name = str(work / "abs_out")  # an absolute name would write anywhere
    spec = _spec(work, tiny_npz, name=name)
    before = snapshot(work)
    r = run_main(capsys, "sweep", spec, "--no-plots")  # no --out: the name would pick the folder
    assert_one_line_error(r, "spec.yaml", "field 'name'")
    assert_no_leftovers(work, before)
    assert not (work / "x").exists() and not (work / "abs_out").exists()


_OK = "arch: systolic\nworkload: alexnet\nparameters: {array.height: [2, 4]}\n"  # the rest of a valid spec
YAML_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")) + "description: *i\n"
BAD_SPEC_TEXT = {  # case -> (text, what the error line says)
    "duplicate key": ("name: a\nname: b\n" + _OK, "duplicate key 'name'"),
    "duplicate nested key": ("name: a\narch: systolic\nworkload: alexnet\n"
                             "parameters: {array.height: [2], array.height: [4]}\n", "duplicate key 'array.height'"),
    "alias bomb": (_OK + YAML_BOMB.replace("a: &a", "z: &a"), "alias"),
    "recursive alias": ("description: &n [a, *n]\n" + _OK, "recursive alias"),
    "python tag": ("name: !!python/object/apply:os.system ['echo pwned']\n" + _OK, "constructor"),
    "top-level list": ("- name: a\n- arch: systolic\n", "top level must be a mapping"),
    "top-level scalar": ("just a string\n", "top level must be a mapping"),
    "empty": ("", "top level must be a mapping"),
    "tab indent": (_OK + "sampling:\n\tmethod: grid\n", "malformed YAML"),
    "unclosed flow": ("name: [a, b\n" + _OK, "malformed YAML"),
    "too deep": (_OK + "description: " + "[" * 40 + "]" * 40 + "\n", "nested deeper"),
    "unhashable key": (_OK + "? [a, b]\n: 1\n", "unhashable"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPEC_TEXT))
def test_sweep_spec_yaml_is_hardened(work, capsys, case):
    text, why = BAD_SPEC_TEXT[case]
    spec = work / "spec.yaml"
    spec.write_text(text)
    before = snapshot(work)
    t0 = time.perf_counter()
    r = run_main(capsys, "sweep", spec, "--dry-run")
    assert_one_line_error(r, "spec.yaml", why)
    assert time.perf_counter() - t0 < 10
    assert_no_leftovers(work, before)


@pytest.mark.parametrize("case", ["non-utf8", "directory", "over 1 MiB"])
def test_sweep_spec_file_kind(work, capsys, case):
    spec = work / "spec.yaml"
    if case == "non-utf8":
        spec.write_bytes(b"name: \xff\xfe\narch: systolic\n")
    elif case == "directory":
        spec.mkdir()
    else:
        spec.write_text(_OK + "description: '" + "x" * (1 << 20) + "'\n")
    before = snapshot(work)
    why = {"non-utf8": "not UTF-8", "directory": "is a directory", "over 1 MiB": "limit"}[case]
    assert_one_line_error(run_main(capsys, "sweep", spec, "--dry-run"), "spec.yaml", why)
    assert_no_leftovers(work, before)


# sizes that allocate gigabytes if expanded: refused by counting first (subprocess with a memory cap)
_HUGE = {
    "steps 1e9": {"parameters": {"array.height": {"min": 1, "max": 64, "steps": 10 ** 9}}},
    "steps 1e9 random": {"sampling": {"method": "random", "samples": 4},
                         "parameters": {"clock_hz": {"min": 1e8, "max": 1e9, "steps": 10 ** 9}}},
    "samples 1e9 random": {"sampling": {"method": "random", "samples": 10 ** 9},
                           "parameters": {"clock_hz": {"min": 1e8, "max": 1e9}}},
    "samples 1e9 lhs": {"sampling": {"method": "lhs", "samples": 10 ** 9},
                        "parameters": {"array.height": {"min": 1, "max": 64}}},
    "1e6-point grid": {"parameters": {k: list(range(1, 17)) for k in
                                      ("array.height", "array.width", "sram.ifmap_kb", "sram.filter_kb",
                                       "sram.ofmap_kb")}},
}


@pytest.mark.slow  # a subprocess each (a memory cap guards the machine): CI runs three, ACCELSIM_FULL all
@pytest.mark.parametrize("case", sorted(_HUGE) if FULL else ["1e6-point grid", "samples 1e9 random", "steps 1e9"])
def test_sweep_size_refused_before_expansion(work, tiny_npz, case):
    spec = _spec(work, tiny_npz, **_HUGE[case])
    before = snapshot(work)
    r = run_cli("sweep", spec, "--dry-run", cwd=work, timeout=60, mem_limit_mb=3000)
    assert_one_line_error(r, "spec.yaml", "max_grid_points")
    assert r.wall_s < 30 and r.maxrss_mb < 1000, r
    assert_no_leftovers(work, before)


def test_grid_cap_counts_workloads_and_is_configurable(work, tiny_npz, capsys, monkeypatch):
    # 3 heights x 2 workloads = 6 points: over a cap of 5, within a cap of 6
    spec = _spec(work, tiny_npz, workload=_DROP, workloads={"a": str(tiny_npz), "b": str(tiny_npz)},
                 parameters={"array.height": [2, 4, 8]})
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_grid_points=5")
    assert_one_line_error(run_main(capsys, "sweep", spec, "--dry-run"), "spec.yaml", "field 'parameters'",
                          "6 points")
    monkeypatch.setenv("ACCELSIM_LIMITS", "max_grid_points=6")
    r = run_main(capsys, "sweep", spec, "--dry-run")
    assert r.returncode == 0 and "6 point(s)" in r.stdout, r


@pytest.mark.parametrize("case", ["garbage npz", "unknown zoo name", "image out of range", "unknown layer",
                                  "garbage csv", "missing checkpoint", "unknown shipped checkpoint"])
def test_sweep_dry_run_loads_the_workloads(work, tiny_npz, capsys, case):
    (work / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (work / "bad.csv").write_text("Layer name, IFMAP Height\nconv1, twelve, 3, 4, 5, 6, 7, 8\n")
    w = {"garbage npz": "bad.npz", "unknown zoo name": "no-such-network",
         "image out of range": {"source": str(tiny_npz), "images": [99]},
         "unknown layer": {"source": str(tiny_npz), "layers": ["nope"]}, "garbage csv": "bad.csv",
         "missing checkpoint": {"source": {"dynhead": {"checkpoint": "no_such.pt"}}},
         "unknown shipped checkpoint": {"source": {"dynhead": {"checkpoint": "medium"}}}}[case]
    spec = _spec(work, tiny_npz, workload=_DROP, workloads={"w": w})
    before = snapshot(work)
    r = run_main(capsys, "sweep", spec, "--dry-run")
    assert_one_line_error(r, "spec.yaml", "field 'workloads.w")
    assert_no_leftovers(work, before)


@pytest.mark.parametrize("args,flag", [
    (["--out", "afile.txt"], "--out"),
    (["--out", "afile.txt/sub"], "--out"),
    (["--out", "/proc/accelsim-robustness"], "--out"),
    (["--out", "o", "--cache", "afile.txt/c"], "--cache"),
    (["--out", "o2"], "--out"),  # o2/cache is a file
])
def test_sweep_unwritable_out_fails_before_any_point(work, tiny_npz, capsys, monkeypatch, args, flag):
    (work / "o2").mkdir()
    (work / "o2" / "cache").write_text("a file where the point cache goes")
    spec = _spec(work, tiny_npz)

    def must_not_run(*a, **k):
        raise AssertionError("a point was simulated before the output folder was checked")
    monkeypatch.setattr(importlib.import_module("accelsim.sweep.execute"), "evaluate", must_not_run)
    before = snapshot(work)
    line = assert_one_line_error(run_main(capsys, "sweep", spec, "-j", "1", *args), flag)
    assert "cache/" not in line.replace(flag, "")
    assert_no_leftovers(work, before)


def test_sweep_out_error_comes_before_loading_workloads(work, tiny_npz, capsys):
    spec = _spec(work, tiny_npz, workload="no-such-network")
    assert_one_line_error(run_main(capsys, "sweep", spec, "--out", "afile.txt"), "--out", "afile.txt")


# ================================================================== 2. Dask scheduler addresses
BAD_ADDRESSES = ["tcp://", "tcp://host", "tcp://host:port", "tcp://host:0", "tcp://host:70000", "tcp://:8786",
                 "tcp://a b:1", "tcp://[::1:8786", "tcp://host:-1", "tcp://host:1/path", "http://host:8786",
                 "localhost:8786", "", "tls://", "inproc://", "tcp://h\x00:1"]


@pytest.mark.parametrize("addr", BAD_ADDRESSES, ids=[repr(a) for a in BAD_ADDRESSES])
def test_malformed_scheduler_address(work, tiny_npz, capsys, addr):
    spec = _spec(work, tiny_npz)
    before = snapshot(work)
    assert_one_line_error(run_main(capsys, "sweep", spec, "--out", "o", "--scheduler", addr), "--scheduler")
    assert_no_leftovers(work, before)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e9", "abc"])
def test_bad_scheduler_timeout(work, tiny_npz, capsys, value):
    spec = _spec(work, tiny_npz)
    r = run_main(capsys, "sweep", spec, "--out", "o", "--scheduler", "tcp://127.0.0.1:8786",
                 "--scheduler-timeout", value)
    assert_one_line_error(r, "--scheduler-timeout")
    assert not (work / "o").exists()


class _Listener:
    """A TCP server on 127.0.0.1 that accepts connections and then: stays silent, closes at once, or
    answers in HTTP; stopped at the end of the test."""

    def __init__(self, mode: str):
        self.mode, self.conns = mode, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "close":
                c.close()
                continue
            if self.mode == "http":
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.conns.append(c)

    def stop(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("mode", ["silent", "close", "http", "refused"])
def test_scheduler_that_does_not_speak_dask(work, tiny_npz, capsys, mode):
    pytest.importorskip("distributed")
    spec = _spec(work, tiny_npz)
    if mode == "refused":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        s.close()
        lst = None
    else:
        lst = _Listener(mode)
        address = lst.address
    try:
        t0 = time.perf_counter()
        r = run_main(capsys, "sweep", spec, "--out", "o", "--scheduler", address, "--scheduler-timeout", "1")
        wall = time.perf_counter() - t0
    finally:
        if lst:
            lst.stop()
    line = assert_one_line_error(r, "--scheduler", address)
    assert wall < 15, f"took {wall:.1f} s with a 1 s timeout"
    if mode == "silent":
        assert "handshake" in line
    assert not (work / "o" / "points.csv").exists()


def test_readme_says_the_scheduler_must_be_trusted():
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    i = text.index("Trust the Dask cluster")
    assert "unpickle" in text[i:i + 600] and "run any code" in text[i:i + 600]


# ================================================================== 3. CLI values
_SIM = ["simulate", "-w", "{tiny}", "-a", "systolic", "-j", "1"]
_SWEEP = ["sweep", "{spec}", "-j", "1", "--no-plots"]
CLI_VALUES = [
    # file outputs naming a folder, folder outputs naming a file
    (["workload", "convert", "{tiny}", "--out", "adir.npz"], "--out"),
    (["workload", "convert", "{tiny}", "--out", "adir.csv"], "--out"),
    (["workload", "convert", "{tiny}", "--out", "afile.txt/x.npz"], "--out"),
    (["workload", "import-torch", "resnet18", "--out", "adir.npz"], "--out"),
    ([*_SIM, "--chrome-trace", "adir"], "--chrome-trace"),
    ([*_SIM, "--chrome-trace", "adir.json"], "--chrome-trace"),
    ([*_SIM, "--chrome-trace", "new/"], "--chrome-trace"),
    ([*_SIM, "--chrome-trace", "afile.txt/t.json"], "--chrome-trace"),
    ([*_SIM, "--out", "afile.txt"], "--out"),
    ([*_SIM, "--out", "afile.txt/o"], "--out"),
    (["plot", "{report}", "--out", "afile.txt"], "--out"),
    ([*_SWEEP, "--out", "afile.txt"], "--out"),
    # empty values are errors, not defaults
    ([*_SIM, "--out", ""], "--out"),
    ([*_SIM, "--chrome-trace", ""], "--chrome-trace"),
    ([*_SIM, "--shared", ""], "--shared"),
    ([*_SIM, "--layers", ""], "--layers"),
    ([*_SIM, "--images", ""], "--images"),
    ([*_SWEEP, "--out", ""], "--out"),
    ([*_SWEEP, "--cache", ""], "--cache"),
    (["plot", "{report}", "--out", ""], "--out"),
    (["workload", "convert", "{tiny}", "--out", ""], "--out"),
    (["workload", "import-torch", "resnet18", "--out", ""], "--out"),
    # --shared that is no folder
    ([*_SIM, "--shared", "/nonexistent"], "--shared"),
    ([*_SIM, "--shared", "afile.txt"], "--shared"),
    (["validate", "eie", "--shared", "/nonexistent"], "--shared"),
    (["workload", "show", "alexnet", "--shared", "/nonexistent"], "--shared"),
    (["workload", "convert", "alexnet", "--out", "x.npz", "--shared", "/nonexistent"], "--shared"),
    ([*_SWEEP, "--shared", "/nonexistent"], "--shared"),
    # seeds
    ([*_SIM, "--seed", "-5"], "--seed"),
    ([*_SIM, "--seed", "abc"], "--seed"),
    ([*_SIM, "--seed", "1.5"], "--seed"),
    (["workload", "show", "alexnet", "--seed", "-5"], "--seed"),
    (["workload", "convert", "alexnet", "--out", "x.npz", "--seed", "-5"], "--seed"),
    (["workload", "import-torch", "resnet18", "--out", "x.npz", "--seed", "-5"], "--seed"),
    # worker counts
    ([*_SIM, "--jobs", "0"], "--jobs"),
    ([*_SIM, "--jobs", "-1"], "--jobs"),
    ([*_SIM, "--jobs", "1000000000"], "--jobs"),
    (["sweep", "{spec}", "--jobs", "0"], "--jobs"),
    (["sweep", "{spec}", "--jobs", "1000000000"], "--jobs"),
    (["sweep", "{spec}", "--dask-local", "1000000000"], "--dask-local"),
    (["sweep", "{spec}", "--limit", "-1"], "--limit"),
    (["plot", "{report}", "--out", "p", "--top", "0"], "--top"),
]


@pytest.mark.parametrize("args,flag", CLI_VALUES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CLI_VALUES])
def test_bad_cli_value(work, tiny_npz, capsys, args, flag):
    spec = _spec(work, tiny_npz)
    (work / "report.json").write_text("{}")
    before = snapshot(work)
    r = run_main(capsys, *_fill(args, tiny=tiny_npz, spec=spec, report=work / "report.json"))
    assert_one_line_error(r, flag)
    assert_no_leftovers(work, before)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1000000000", "1.5", "2 3", "0x10"])
@pytest.mark.parametrize("cmd", ["simulate", "sweep"])
def test_bad_accelsim_jobs(work, tiny_npz, capsys, monkeypatch, cmd, value):
    monkeypatch.setenv("ACCELSIM_JOBS", value)
    args = ["simulate", "-w", tiny_npz, "-a", "systolic", "--out", "o"] if cmd == "simulate" else \
        ["sweep", _spec(work, tiny_npz), "--out", "o"]
    before = snapshot(work)
    assert_one_line_error(run_main(capsys, *args), "$ACCELSIM_JOBS", repr(value))
    assert_no_leftovers(work, before)


@pytest.mark.parametrize("value,must", [("max_jobs=abc", "max_jobs"), ("nosuch=3", "nosuch"),
                                        ("max_grid_points=0", "max_grid_points"), ("max_jobs=1e30", "max_jobs")])
def test_bad_accelsim_limits(work, tiny_npz, capsys, monkeypatch, value, must):
    spec = _spec(work, tiny_npz)
    monkeypatch.setenv("ACCELSIM_LIMITS", value)
    before = snapshot(work)
    r = run_main(capsys, "sweep", spec, "--out", "o", "-j", "2")
    assert_one_line_error(r, "$ACCELSIM_LIMITS", must)
    assert_no_leftovers(work, before)


def test_out_error_comes_before_loading_anything(work, capsys):
    # the workload does not exist either: the --out error is reported first, before any work
    r = run_main(capsys, "simulate", "-w", "no-such.npz", "-a", "systolic", "--out", "afile.txt/o")
    assert_one_line_error(r, "--out", "afile.txt")


# ================================================================== 4. atomic output sets
def _files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def _simulate_args(tiny, out, *extra):
    return ["simulate", "-w", tiny, "-a", "systolic", "-j", "1", "--out", out, *extra]


def _previous_set(folder: Path) -> dict:
    """An earlier run's output set in ``folder`` (made directly: quicker than simulating)."""
    with OutputSet(folder, "simulate") as stage:
        (stage / "report.json").write_text('{"previous run": true}')
        (stage / "cycle_breakdown.png").write_bytes(b"an earlier run's plot")
    return _files(folder)


def test_simulate_out_is_one_complete_set(work, tiny_npz, capsys):
    r = run_main(capsys, *_simulate_args(tiny_npz, "o", "--plots"))
    assert r.returncode == 0, r
    m = json.loads((work / "o" / MANIFEST).read_text())
    assert m["complete"] and set(m["files"]) == {p.name for p in (work / "o").iterdir()} - {MANIFEST}
    assert {"report.json", "COMPUTE_REPORT.csv", "summary.md", "per_image.png"} <= set(m["files"])
    check_member(work / "o" / "report.json")
    assert not [p for p in work.iterdir() if p.name.startswith(".")]
    # a rerun without plots replaces the set: no PNG of the earlier run stays beside the new report
    r = run_main(capsys, *_simulate_args(tiny_npz, "o", "--set", "array.height=8"))
    assert r.returncode == 0, r
    assert not list((work / "o").glob("*.png"))
    assert set(json.loads((work / "o" / MANIFEST).read_text())["files"]) == {"report.json", "COMPUTE_REPORT.csv",
                                                                            "summary.md"}


@pytest.mark.parametrize("previous", [False, True])
@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_interrupted_simulate_plots_leave_the_previous_set(work, tiny_npz, capsys, monkeypatch, previous, exc):
    old = _previous_set(work / "o") if previous else {}
    before = snapshot(work)

    def boom(*a, **k):  # the first plots are written by now
        raise exc("cut short while writing the plots")
    monkeypatch.setattr("accelsim.report_plots.per_image_plot", boom)
    if exc is KeyboardInterrupt:
        assert run_main(capsys, *_simulate_args(tiny_npz, "o", "--plots", "--set", "array.height=8")).returncode \
            == 130
    else:
        with pytest.raises(RuntimeError):
            run_main(capsys, *_simulate_args(tiny_npz, "o", "--plots", "--set", "array.height=8"))
    assert _files(work / "o") == old  # the previous set, whole (or still nothing)
    assert_no_leftovers(work, before)


_KILLER = '''
import os, signal, sys, time
import accelsim.report_plots as rp
SIG = getattr(signal, os.environ["KILL_WITH"])
def boom(*a, **k):
    os.kill(os.getpid(), SIG)
    time.sleep(30)
rp.energy_breakdown_plot = boom  # cycle_breakdown.png is written by now
from accelsim.cli import main
sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow  # a subprocess each: CI runs SIGTERM and SIGKILL, ACCELSIM_FULL all four
@pytest.mark.parametrize("sig,rc", [("SIGTERM", 143), ("SIGKILL", -9)] + ([("SIGINT", 130), ("SIGHUP", 129)]
                                                                         if FULL else []))
def test_killed_simulate_plots_leave_the_previous_set(work, tiny_npz, capsys, sig, rc):
    old = _previous_set(work / "o")
    (work / "killer.py").write_text(_KILLER)
    before = snapshot(work)
    r = run_cli(*_simulate_args(tiny_npz, "o", "--plots", "--set", "array.height=8"), module="killer", cwd=work,
                env={"KILL_WITH": sig}, timeout=120)
    assert r.returncode == rc, r
    assert "Traceback" not in r.stderr, r
    assert _files(work / "o") == old  # never one run's report beside another run's PNGs
    check_member(work / "o" / "report.json")
    if sig != "SIGKILL":
        assert_no_leftovers(work, before)
    else:  # nothing can clean up after SIGKILL: the next command writing beside it does
        assert [p for p in snapshot(work) - before if p.startswith(".o.accelsim-")]
        assert run_main(capsys, *_simulate_args(tiny_npz, "o")).returncode == 0
        assert not [p for p in work.iterdir() if p.name.startswith(".")]


def test_interrupted_sweep_outputs_leave_no_partial_set(work, tiny_npz, capsys, monkeypatch):
    spec = _spec(work, tiny_npz, parameters={"array.height": [2, 4, 8]})

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(importlib.import_module("accelsim.sweep.outputs"), "plot_pair", boom)
    assert run_main(capsys, "sweep", spec, "--out", "o", "-j", "1", "--json").returncode == 130
    assert sorted(p.name for p in (work / "o").iterdir()) == ["cache"]  # the points are kept for a rerun
    assert not [p for p in work.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    os.chdir(work)
    r = run_main(capsys, "sweep", spec, "--out", "o", "-j", "1", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["cached"] == 3, r
    m = json.loads((work / "o" / MANIFEST).read_text())
    assert m["complete"] and "points.csv" in m["files"] and "summary.json" in m["files"]
    assert json.loads((work / "o" / "summary.json").read_text())["files"]["csv"] == str(Path("o") / "points.csv")


def test_plot_refuses_a_report_of_an_unfinished_or_mixed_set(work, tiny_npz, capsys):
    assert run_main(capsys, *_simulate_args(tiny_npz, "o")).returncode == 0
    rep = work / "o" / "report.json"
    assert run_main(capsys, "plot", rep, "--out", "p").returncode == 0
    m = json.loads((work / "o" / MANIFEST).read_text())
    # a report of another run beside this set's manifest
    good = rep.read_bytes()
    rep.write_bytes(good.replace(b'"seed": 0', b'"seed": 1'))
    assert_one_line_error(run_main(capsys, "plot", rep, "--out", "p2"), "report.json", MANIFEST)
    rep.write_bytes(good)
    (work / "o" / MANIFEST).write_text(json.dumps({**m, "complete": False}))
    assert_one_line_error(run_main(capsys, "plot", rep, "--out", "p2"), "report.json", "incomplete")
    (work / "o" / MANIFEST).write_text("{")
    assert_one_line_error(run_main(capsys, "plot", rep, "--out", "p2"), "report.json", MANIFEST)
    assert not (work / "p2").exists()


def test_atomic_write_cleans_up_on_interrupt_and_after_a_kill(tmp_path, monkeypatch):
    from workloads.errors import WorkloadError
    from workloads.storage import atomic_write_bytes
    target = tmp_path / "report.json"
    atomic_write_bytes(target, b"old")

    def boom(*a, **k):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(os, "replace", boom)
        with pytest.raises(KeyboardInterrupt):
            atomic_write_bytes(target, b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"] and target.read_bytes() == b"old"
    # a writer killed outright (its pid is gone) left its temp file: the next write beside it removes it
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".report.json.{dead.pid}.x1.tmp").write_bytes(b"half")
    (tmp_path / f".report.json.{os.getppid()}.x2.tmp").write_bytes(b"a live writer's")
    atomic_write_bytes(target, b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".report.json.{os.getppid()}.x2.tmp", "report.json"]
    with pytest.raises(WorkloadError, match="is a folder"):
        atomic_write_bytes(tmp_path, b"x")


def test_output_set_removes_stale_staging_and_parents_it_made(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".o.accelsim-{dead.pid}-abc.tmp"
    stale.mkdir()
    (stale / "report.json").write_text("{}")
    with OutputSet(tmp_path / "o", "test") as stage:
        (stage / "a.txt").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    with pytest.raises(KeyboardInterrupt):
        with OutputSet(tmp_path / "new" / "deeper" / "o", "test") as stage:
            (stage / "a.txt").write_text("a")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
