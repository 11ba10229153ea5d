"""Bad architecture configs, energy tables and ``--set`` values (issue 18), by hand and generated.

The YAML loader (:mod:`accelsim.yamlio`), the field schema (:mod:`accelsim.config`), the energy tables
(:mod:`accelsim.energy`) and the resource caps (:mod:`accelsim.limits`) must turn every bad input into
exit 2 and one stderr line naming the file and the field -- never a traceback, a hang, a NaN in a
report or gigabytes of memory.  Configs are run through ``accelsim simulate`` in this process on a
two-layer workload; generated ones (hypothesis) either load and simulate to finite numbers or give
that one line.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from conftest import assert_no_leftovers, assert_one_line_error, one_line, robust_settings, run_main, snapshot
from hypothesis import given
from hypothesis import strategies as st

from accelsim.config import load_arch
from accelsim.energy import load_table
from accelsim.errors import AccelsimError, ConfigError
from accelsim.yamlio import MAX_DEPTH, MAX_YAML_BYTES, load_yaml_file, loads

VALID = {"model": "systolic", "clock_hz": 1.0e9, "energy_table": "horowitz_45nm", "tech_node_nm": 45,
         "array": {"height": 4, "width": 4}}
TABLE = {"name": "t", "node_nm": 45, "voltage_v": 0.9,
         "actions": {a: {"energy_pJ": 1.0, "source": "test"} for a in
                     ("int_mult_8b", "int_add_32b", "sram_32kb_64b", "dram_64b", "int_mult_16b", "int_add_16b",
                      "int_mult_32b", "mac_16b")},
         "area": {"int_mult_8b": {"area_mm2": 0.0003, "source": "test"}}}


class _Drop:
    """A marker: delete this key.  Its repr is fixed, so test ids are the same in every process (pytest-xdist
    compares the collections of its workers)."""

    def __repr__(self):
        return "DROP"


DROP = _Drop()


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCELSIM_JOBS", "1")
    monkeypatch.delenv("ACCELSIM_LIMITS", raising=False)
    return tmp_path


def _merge(base: dict, upd: dict) -> dict:
    out = dict(base)
    for k, v in upd.items():
        if v is DROP:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and "value" not in v:
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _dump(d) -> str:
    return yaml.safe_dump(d, sort_keys=False, allow_unicode=True)


def _simulate(capsys, tiny, arch, *extra):
    return run_main(capsys, "simulate", "-w", tiny, "-a", arch, "-j", "1", "--json", *extra)


def _expect_error(capsys, work, tiny, arch, *must):
    before = snapshot(work)
    line = assert_one_line_error(_simulate(capsys, tiny, arch), *must)
    assert_no_leftovers(work, before)
    return line


# ================================================================== YAML files (accelsim.yamlio)
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
BAD_YAML = {  # case -> (text, what the error line says)
    "duplicate key": (_dump(VALID) + "clock_hz: 2.0e9\n", "duplicate key 'clock_hz'"),
    "duplicate nested key": (_dump(VALID).replace("  height: 4\n", "  height: 4\n  height: 8\n"),
                             "duplicate key 'height'"),
    "alias bomb in description": (_dump(VALID) + BOMB.replace("a: &a", "z: &a") + "description: *i\n", "alias"),
    "too many aliases": (_dump(VALID) + "x: &x 1\ny: [" + ", ".join(["*x"] * 70) + "]\n", "alias"),
    "recursive alias": (_dump(VALID) + "description: &d [a, *d]\n", "recursive alias"),
    "python object tag": ("model: !!python/object/apply:os.system ['echo pwned']\n", "constructor"),
    "python name tag": ("model: !!python/name:os.system\n", "constructor"),
    "top-level list": ("- model: systolic\n", "top level must be a mapping"),
    "top-level scalar": ("systolic\n", "top level must be a mapping"),
    "empty file": ("", "top level must be a mapping"),
    "tab indent": (_dump(VALID) + "sram:\n\tifmap_kb: 4\n", "malformed YAML"),
    "unclosed flow": (_dump(VALID) + "sram: {ifmap_kb: 4\n", "malformed YAML"),
    "too deep": (_dump(VALID) + "x: " + "[" * (MAX_DEPTH + 8) + "]" * (MAX_DEPTH + 8) + "\n", "nested deeper"),
    "unhashable key": (_dump(VALID) + "? [a, b]\n: 1\n", "unhashable"),
    "bad escape": ('model: "sys\\qtolic"\n', "escape"),
    "two documents": (_dump(VALID) + "---\n" + _dump(VALID), "another document"),
}


@pytest.mark.parametrize("case", sorted(BAD_YAML))
def test_bad_yaml_text(work, tiny_npz, capsys, case):
    text, why = BAD_YAML[case]
    (work / "bad.yaml").write_text(text)
    _expect_error(capsys, work, tiny_npz, "bad.yaml", "bad.yaml", why)


@pytest.mark.parametrize("case", ["non-utf8", "utf16 with BOM", "directory", "over the size limit", "missing"])
def test_bad_yaml_file(work, tiny_npz, capsys, case):
    p = work / "bad.yaml"
    if case == "non-utf8":
        p.write_bytes(b"model: syst\xe9lic\n")
    elif case == "utf16 with BOM":
        p.write_bytes("model: systolic\n".encode("utf-16"))
    elif case == "directory":
        p.mkdir()
    elif case == "over the size limit":
        p.write_text(_dump(VALID) + "description: '" + "x" * MAX_YAML_BYTES + "'\n")
    why = {"non-utf8": "not UTF-8", "utf16 with BOM": "not UTF-8", "directory": "is a directory",
           "over the size limit": "limit", "missing": "no such file"}[case]
    _expect_error(capsys, work, tiny_npz, "bad.yaml", "bad.yaml", why)


# ================================================================== config values (accelsim.config)
BAD_VALUES = [
    ({"clock_hz": float("nan")}, "clock_hz"), ({"clock_hz": float("inf")}, "clock_hz"),
    ({"clock_hz": float("-inf")}, "clock_hz"), ({"clock_hz": 1e308}, "clock_hz"), ({"clock_hz": -1.0}, "clock_hz"),
    ({"clock_hz": 0}, "clock_hz"), ({"clock_hz": "abc"}, "clock_hz"), ({"clock_hz": True}, "clock_hz"),
    ({"clock_hz": None}, "clock_hz"), ({"clock_hz": [1e9]}, "clock_hz"), ({"clock_hz": 1e-30}, "clock_hz"),
    ({"clock_hz": 1e13}, "clock_hz"), ({"clock_hz": {"value": 1e9, "unit": "MHz"}}, "clock_hz"),
    ({"clock_hz": {"value": 1e9, "extra": 1}}, "clock_hz"), ({"clock_hz": {"unit": "Hz"}}, "clock_hz"),
    ({"array": {"height": 0}}, "array.height"), ({"array": {"height": -3}}, "array.height"),
    ({"array": {"height": 2.5}}, "array.height"), ({"array": {"height": "x"}}, "array.height"),
    ({"array": {"height": True}}, "array.height"), ({"array": {"height": 1e16}}, "array.height"),
    ({"array": {"height": float("nan")}}, "array.height"),
    ({"array": {"height": {"value": 4, "unit": "m"}}}, "array.height"),
    ({"dram": {"bandwidth_bytes_per_cycle": 1e-30}}, "dram.bandwidth_bytes_per_cycle"),
    ({"dram": {"bandwidth_bytes_per_cycle": float("nan")}}, "dram.bandwidth_bytes_per_cycle"),
    ({"dram": {"bandwidth_bytes_per_cycle": 0}}, "dram.bandwidth_bytes_per_cycle"),
    ({"dram": {"bandwidth_bytes_per_cycle": -10}}, "dram.bandwidth_bytes_per_cycle"),
    ({"tech_node_nm": 0}, "tech_node_nm"), ({"tech_node_nm": -45}, "tech_node_nm"),
    ({"tech_node_nm": 1e6}, "tech_node_nm"), ({"voltage_v": 100}, "voltage_v"),
    ({"voltage_v": float("nan")}, "voltage_v"), ({"voltage_v": -1}, "voltage_v"),
    ({"word_bytes": 3}, "word_bytes"), ({"dataflow": "zz"}, "dataflow"), ({"dataflow": 5}, "dataflow"),
    ({"sram": {"ifmap_kb": float("inf")}}, "sram.ifmap_kb"), ({"memory": {"model": "perfect"}}, "memory.model"),
    ({"sparsity": {"enabled": "maybe"}}, "sparsity.enabled"), ({"foo": 1}, "foo"),
    ({"array": {"depth": 4}}, "array.depth"), ({"model": "nosuch"}, "model"), ({"model": DROP}, "model"),
    ({"model": [1]}, "model"), ({"name": [1, 2]}, "name"), ({"description": {"a": 1}}, "description"),
    ({"energy_table": 5}, "energy_table"), ({"energy_table": "nosuch_table"}, "energy_table"),
]


@pytest.mark.parametrize("upd,field", BAD_VALUES, ids=[f"{f}={str(u)[:30]}" for u, f in BAD_VALUES])
def test_bad_config_value(work, tiny_npz, capsys, upd, field):
    (work / "bad.yaml").write_text(_dump(_merge(VALID, upd)))
    _expect_error(capsys, work, tiny_npz, "bad.yaml", "bad.yaml", field)


def test_huge_array_is_refused_before_allocation(work, tiny_npz, capsys):
    (work / "bad.yaml").write_text(_dump(_merge(VALID, {"array": {"height": 10 ** 9, "width": 10 ** 9}})))
    _expect_error(capsys, work, tiny_npz, "bad.yaml", "bad.yaml", "max_macs_per_cycle")


# ================================================================== base: inheritance
def _write(work, name, d):
    (work / name).write_text(d if isinstance(d, str) else _dump(d))


BAD_BASES = {
    "self": ({"bad.yaml": {"model": "systolic", "base": "bad.yaml"}}, "inheritance cycle"),
    "two-cycle": ({"bad.yaml": {"model": "systolic", "base": "b.yaml"},
                   "b.yaml": {"model": "systolic", "base": "bad.yaml"}}, "inheritance cycle"),
    "too deep": ({"bad.yaml": {"model": "systolic", "base": "l0.yaml"},
                  **{f"l{i}.yaml": {"model": "systolic", "base": f"l{i + 1}.yaml"} for i in range(11)},
                  "l11.yaml": {"model": "systolic", "base": "systolic"}}, "levels"),
    "climbs out": ({"bad.yaml": {"model": "systolic", "base": "../outside.yaml"}}, "outside"),
    "absolute elsewhere": ({"bad.yaml": {"model": "systolic", "base": "/etc/accelsim-x.yaml"}}, "outside"),
    "missing file": ({"bad.yaml": {"model": "systolic", "base": "nope.yaml"}}, "not found"),
    "unknown preset": ({"bad.yaml": {"model": "systolic", "base": "nosuch-preset"}}, "unknown base"),
    "other model": ({"bad.yaml": {"model": "systolic", "base": "scnn"}}, "model"),
    "not a string": ({"bad.yaml": {"model": "systolic", "base": 5}}, "base"),
    "empty": ({"bad.yaml": {"model": "systolic", "base": ""}}, "base"),
    "bad value in base": ({"bad.yaml": {"model": "systolic", "base": "b.yaml"},
                           "b.yaml": {**VALID, "clock_hz": float("nan")}}, "clock_hz"),
}


@pytest.mark.parametrize("case", sorted(BAD_BASES))
def test_bad_base(work, tiny_npz, capsys, case):
    (work / "sub").mkdir()
    files, must = BAD_BASES[case]
    (work / "outside.yaml").write_text(_dump(VALID))
    for name, d in files.items():
        _write(work / "sub", name, d)
    line = _expect_error(capsys, work, tiny_npz, "sub/bad.yaml", must)
    assert ".yaml" in line and "field '" in line


# ================================================================== energy tables (accelsim.energy)
BAD_TABLES = [
    ({"node_nm": 0}, "node_nm"), ({"node_nm": float("nan")}, "node_nm"), ({"node_nm": "45nm"}, "node_nm"),
    ({"node_nm": -45}, "node_nm"), ({"voltage_v": -1}, "voltage_v"), ({"voltage_v": float("inf")}, "voltage_v"),
    ({"voltage_v": DROP}, "voltage_v"), ({"actions": DROP}, "actions"), ({"actions": ["mac_16b"]}, "actions"),
    ({"actions": {"int_mult_8b": {"energy_pJ": float("nan"), "source": "x"}}}, "actions.int_mult_8b"),
    ({"actions": {"int_mult_8b": {"energy_pJ": float("inf"), "source": "x"}}}, "actions.int_mult_8b"),
    ({"actions": {"int_mult_8b": {"energy_pJ": -1, "source": "x"}}}, "actions.int_mult_8b"),
    ({"actions": {"int_mult_8b": {"energy_pJ": "x", "source": "x"}}}, "actions.int_mult_8b"),
    ({"actions": {"int_mult_8b": {"energy_pJ": 1.0}}}, "actions.int_mult_8b"),
    ({"actions": {"int_mult_8b": {"energy_pJ": 1.0, "source": "x", "node_scaled": "yes"}}}, "actions.int_mult_8b"),
    ({"actions": {"int_mult_8b": 1.0}}, "actions.int_mult_8b"),
    ({"area": {"int_mult_8b": {"area_mm2": float("nan"), "source": "x"}}}, "area.int_mult_8b"),
    ({"area": {"int_mult_8b": {"area_mm2": -1, "source": "x"}}}, "area.int_mult_8b"),
]


@pytest.mark.parametrize("upd,field", BAD_TABLES, ids=[f"{f}={str(u)[:40]}" for u, f in BAD_TABLES])
def test_bad_energy_table(work, tiny_npz, capsys, upd, field):
    table = _merge(TABLE, {k: v for k, v in upd.items() if k != "actions" or not isinstance(v, dict)})
    if isinstance(upd.get("actions"), dict):
        table["actions"] = {**TABLE["actions"], **upd["actions"]}
    _write(work, "t.yaml", table)
    _write(work, "bad.yaml", {**VALID, "energy_table": "t.yaml"})
    _expect_error(capsys, work, tiny_npz, "bad.yaml", "t.yaml", field)


@pytest.mark.parametrize("ref", ["../t.yaml", "/etc/accelsim-t.yaml", "nope.yaml", "sub/../../t.yaml"])
def test_energy_table_path(work, tiny_npz, capsys, ref):
    (work / "cfg").mkdir()
    _write(work, "t.yaml", TABLE)
    _write(work / "cfg", "bad.yaml", {**VALID, "energy_table": ref})
    _expect_error(capsys, work, tiny_npz, "cfg/bad.yaml", "energy_table")


def test_energy_table_duplicate_action(work, tiny_npz, capsys):
    text = _dump(TABLE).replace("actions:\n", "actions:\n  int_mult_8b: {energy_pJ: 9.0, source: dup}\n", 1)
    _write(work, "t.yaml", text)
    _write(work, "bad.yaml", {**VALID, "energy_table": "t.yaml"})
    _expect_error(capsys, work, tiny_npz, "bad.yaml", "t.yaml", "duplicate key")


# ================================================================== --set overrides
BAD_SETS = ["clock_hz=.nan", "clock_hz=inf", "clock_hz=-1", "clock_hz=1e-30", "array.height=1000000000",
            "array.height=0", "array.height=[1, 2]", "array.height={value: 4, unit: m}", "nokey=1", "=3", "array.height",
            "dataflow=zz", "word_bytes=3", "energy_table=../../x.yaml", "tech_node_nm=0"]


@pytest.mark.parametrize("item", BAD_SETS)
def test_bad_set_override(work, tiny_npz, capsys, item):
    before = snapshot(work)
    r = _simulate(capsys, tiny_npz, "systolic", "--set", item)
    line = assert_one_line_error(r)
    assert "--set" in line or "max_macs_per_cycle" in line or "energy_table" in line, line
    assert_no_leftovers(work, before)


# ================================================================== generated (hypothesis)
FIELDS = ["clock_hz", "tech_node_nm", "voltage_v", "array.height", "array.width", "word_bytes", "dataflow",
          "sram.ifmap_kb", "sram.ofmap_kb", "dram.bandwidth_bytes_per_cycle", "memory.model", "sparsity.enabled",
          "sparsity.N", "sparsity.M", "energy_table", "nonexistent.field"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, 1, 2, 4, 1e-30, 1e308, -0.0, "os", "ws", "ideal", "", "1e9", ".nan"]),
                    st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda c: st.one_of(st.lists(c, max_size=3),
                                                   st.dictionaries(st.sampled_from(["value", "unit", "source", "x"]),
                                                                   c, max_size=3)), max_leaves=6)


def _nest(key: str, value) -> dict:
    parts = key.split(".")
    d = value
    for p in reversed(parts):
        d = {p: d}
    return d


def _check_outcome(r, name: str):
    if r.returncode == 0:
        total = json.loads(r.stdout)["total"]
        assert math.isfinite(total["energy_j"]) and total["cycles"] > 0, total
    else:
        assert_one_line_error(r, name)


@robust_settings
@given(st.lists(st.tuples(st.sampled_from(FIELDS), VALUES), min_size=1, max_size=3))
def test_generated_config_values(tmp_path_factory, tiny_npz, capsys, items):
    folder = tmp_path_factory.mktemp("gen")
    d = dict(VALID)
    for k, v in items:
        d = _merge(d, _nest(k, v))
    p = folder / "gen.yaml"
    p.write_text(_dump(d))
    _check_outcome(_simulate(capsys, tiny_npz, p), "gen.yaml")
    assert sorted(x.name for x in folder.iterdir()) == ["gen.yaml"]


@robust_settings
@given(st.sampled_from(FIELDS), st.one_of(SCALARS.map(str), st.text(max_size=20)))
def test_generated_set_overrides(tiny_npz, capsys, key, text):
    if "\x00" in text or "\n" in text or "\r" in text:  # argv cannot hold NUL; one-line values only
        text = text.replace("\x00", "").replace("\n", " ").replace("\r", " ")
    r = _simulate(capsys, tiny_npz, "systolic", "--set", f"{key}={text}")
    if r.returncode == 0:
        _check_outcome(r, "")
    else:
        assert_one_line_error(r)


@robust_settings
@given(st.recursive(SCALARS, lambda c: st.one_of(st.lists(c, max_size=4),
                                                 st.dictionaries(st.text(max_size=6), c, max_size=4)), max_leaves=20))
def test_generated_yaml_documents_load_or_fail_in_one_line(tmp_path_factory, doc):
    text = yaml.safe_dump(doc)
    try:
        back = loads(text, "doc.yaml")
    except ConfigError as e:
        assert one_line(e).startswith("doc.yaml")
    else:
        assert back == doc or _has_nan(doc)
    try:
        f = tmp_path_factory.mktemp("doc") / "doc.yaml"
        f.write_text(text)
        cfg = load_arch(f)
    except AccelsimError as e:
        one_line(e)
    else:  # only a document that is a valid config loads
        assert cfg.model and all(not isinstance(v, float) or math.isfinite(v) for v in cfg.values.values())


def _has_nan(x) -> bool:
    if isinstance(x, float):
        return math.isnan(x)
    if isinstance(x, dict):
        return any(_has_nan(k) or _has_nan(v) for k, v in x.items())
    if isinstance(x, list):
        return any(_has_nan(v) for v in x)
    return False


@robust_settings
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_generated_yaml_text(text):
    try:
        loads(text, "text.yaml")
    except ConfigError as e:
        assert one_line(e).startswith("text.yaml")


@robust_settings
@given(st.binary(max_size=300))
def test_generated_yaml_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("bytes") / "b.yaml"
    p.write_bytes(data)
    try:
        load_yaml_file(p)
    except ConfigError as e:
        assert one_line(e).startswith(str(p))


@robust_settings
@given(st.dictionaries(st.sampled_from(["node_nm", "voltage_v", "int_mult_8b", "dram_64b", "area"]), SCALARS,
                       min_size=1, max_size=4))
def test_generated_energy_tables(tmp_path_factory, upd):
    t = {**TABLE, "actions": dict(TABLE["actions"])}
    for k, v in upd.items():
        if k in ("node_nm", "voltage_v"):
            t[k] = v
        elif k == "area":
            t["area"] = {"int_mult_8b": {"area_mm2": v, "source": "gen"}}
        else:
            t["actions"][k] = {"energy_pJ": v, "source": "gen"}
    p = tmp_path_factory.mktemp("tab") / "gen_table.yaml"
    p.write_text(_dump(t))
    try:
        tab = load_table(str(p))
    except ConfigError as e:
        assert one_line(e).startswith(str(p))
    else:  # an accepted table has finite, non-negative energies and a positive node and voltage
        assert tab.table_node_nm > 0 and tab.table_voltage_v > 0 and math.isfinite(tab.scale_e)
        assert all(math.isfinite(tab.energy_pJ(a)) and tab.energy_pJ(a) >= 0 for a in tab.rows)
