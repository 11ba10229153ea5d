"""Sweep specification (YAML): what to vary, on which workloads, under which constraints.

Example (``examples/sweeps/scnn_small.yaml`` is a complete one)::

    name: scnn_small
    arch: scnn                        # preset name or .yaml file (relative to this file)
    overrides: {clock_hz: 1.0e9}      # fixed changes applied to every point
    workloads:                        # name -> zoo name / .npz path, or {source, images, layers}
      small: {source: dynhead_small.npz, images: [0, 1]}
    seed: 0                           # seed for synthetic data of density-only layers
    sampling: {method: grid}          # grid | list | random | lhs  (random/lhs: samples, seed)
    parameters:
      "multipliers.F,multipliers.I": [[2, 2], [4, 4], [8, 8]]   # tied keys vary together
      accumulator.banks: [16, 32, 64]                           # plain list of values
      clock_hz: {min: 5.0e8, max: 1.0e9, steps: 3, log: false}  # a range (grid needs steps)
      workload: [small, large]        # algorithm knob: which trace (lambda, pruning) to run
    constraints: ["area_mm2 <= 10", "utilization >= 0.1"]
    objectives: [latency_s, energy_j, area_mm2]      # or {maximize: utilization}

Every parameter path is checked against the model's schema (``FIELDS`` plus
``COMMON_FIELDS``) and every value against the field's type and bounds; errors
name the spec file and the field.  Points are enumerated deterministically:
grid in the order the parameters are written, random / Latin-hypercube from
``numpy.random.default_rng(sampling.seed)``.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import COMMON_FIELDS, ArchConfig, Field, flatten, load_arch
from ..errors import ConfigError
from ..limits import ENV as LIMITS_ENV
from ..limits import limit
from .workload_spec import TRACE_OPTIONS, WorkloadSpec, parse_workloads, spec_int  # noqa: F401 - re-exported

#: columns a constraint or objective may name besides the parameters (see ``execute.METRICS``)
METRIC_COLUMNS = ("cycles", "latency_s", "energy_j", "area_mm2", "utilization", "latency_p50_s", "latency_p99_s",
                  "energy_p50_j", "energy_p99_j", "total_cycles", "total_latency_s", "total_energy_j",
                  "macs_effectual", "macs_actual", "macs_dense", "edp_js", "power_w", "images",
                  "total_cycles_half_width", "total_energy_j_half_width", "sampled_layers")
PRE_SIM_COLUMNS = ("area_mm2",)  # known before simulating: constraints on them skip the simulation
METHODS = ("grid", "list", "random", "lhs")
DEFAULT_OBJECTIVES = ("latency_s", "energy_j", "area_mm2")
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>)\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s*$")
_OPS = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, ">": lambda a, b: a > b,
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


@dataclass
class Param:
    """One swept dimension: ``keys`` (several when tied) and either categorical ``values`` or a range."""

    name: str
    keys: tuple[str, ...]
    values: list | None = None  # list of tuples (one entry per key)
    lo: float | None = None
    hi: float | None = None
    steps: int | None = None
    log: bool = False
    is_int: bool = False

    def grid_values(self) -> list[tuple]:
        if self.values is not None:
            return self.values
        if self.log:
            v = np.geomspace(self.lo, self.hi, self.steps)
        else:
            v = np.linspace(self.lo, self.hi, self.steps)
        return _dedupe([(self._cast(x),) for x in v])

    def from_unit(self, u: float) -> tuple:
        """Map u in [0, 1) to a value (stratified sampling uses this)."""
        if self.values is not None:
            return self.values[min(len(self.values) - 1, int(u * len(self.values)))]
        if self.is_int:  # equal-probability integers in [lo, hi]
            lo, hi = int(math.ceil(self.lo)), int(math.floor(self.hi))
            if self.log:
                x = math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo)))
                return (min(hi, int(math.floor(x))),)
            return (min(hi, lo + int(u * (hi - lo + 1))),)
        if self.log:
            return (float(math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))),)
        return (float(self.lo + u * (self.hi - self.lo)),)

    def _cast(self, x):
        return int(round(float(x))) if self.is_int else float(x)


@dataclass
class Constraint:
    column: str
    op: str
    bound: float
    text: str

    def holds(self, row: dict) -> bool:
        v = row.get(self.column)
        try:
            return bool(_OPS[self.op](float(v), self.bound))
        except (TypeError, ValueError):
            return False


@dataclass
class SweepSpec:
    name: str
    file: str | None
    base: ArchConfig
    arch_ref: str
    workloads: dict[str, WorkloadSpec]
    params: list[Param]
    method: str = "grid"
    samples: int | None = None
    sample_seed: int = 0
    points_list: list[dict] | None = None
    constraints: list[Constraint] = field(default_factory=list)
    objectives: list[tuple[str, str]] = field(default_factory=list)  # (column, "min"|"max")
    seed: int = 0
    on_unsupported: str = "error"
    raw: dict = field(default_factory=dict)

    @property
    def param_keys(self) -> list[str]:
        """Column names of the swept parameters, in spec order (tied keys expanded)."""
        out = []
        for p in self.params:
            out.extend(p.keys)
        if self.points_list:
            for pt in self.points_list:
                for k in pt:
                    if k not in out:
                        out.append(k)
        if "workload" not in out and len(self.workloads) > 1:
            out.append("workload")
        return out

    def points(self) -> list[dict[str, Any]]:
        """Every point as {dotted key or 'workload': value}, deterministic order, duplicates removed."""
        if self.method == "list":
            pts = [dict(p) for p in self.points_list]
        elif self.method == "grid":
            pts = []
            for combo in itertools.product(*[p.grid_values() for p in self.params]):
                pts.append({k: v for p, vals in zip(self.params, combo) for k, v in zip(p.keys, vals)})
        else:
            rng = np.random.default_rng(self.sample_seed)
            n, d = self.samples, len(self.params)
            if self.method == "random":
                u = rng.random((n, d))
            else:  # Latin hypercube: one sample per stratum of every dimension
                u = np.empty((n, d))
                for j in range(d):
                    u[:, j] = (rng.permutation(n) + rng.random(n)) / n
            pts = [{k: v for j, p in enumerate(self.params) for k, v in zip(p.keys, p.from_unit(u[i, j]))}
                   for i in range(n)]
        wl_keys = list(self.workloads)
        # a point that does not choose a workload runs on every declared one (co-sweep)
        pts = [p if "workload" in p else {**p, "workload": w} for p in pts
               for w in (wl_keys if "workload" not in p else [None])]
        out, seen = [], set()
        for p in pts:
            sig = tuple(sorted((k, repr(v)) for k, v in p.items()))
            if sig not in seen:
                seen.add(sig)
                out.append(p)
        return out

    def arch_for(self, point: dict) -> ArchConfig:
        ov = {k: v for k, v in point.items() if k != "workload"}
        return self.base.with_overrides(ov) if ov else self.base


def _dedupe(vals):
    out = []
    for v in vals:
        if v not in out:
            out.append(v)
    return out


# ------------------------------------------------------------------ loading
def load_spec(path: str | Path, arch_overrides: list[str] | None = None) -> SweepSpec:
    """Read and validate a sweep spec; raises ConfigError naming the file and field."""
    from ..yamlio import load_yaml_file
    p = Path(path)
    f = str(p)
    if not p.exists():
        raise ConfigError("no such file", file=f)
    data = load_yaml_file(p)  # duplicate keys, alias bombs, size, encoding: one-line errors naming the file
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping", file=f)
    return spec_from_dict(data, file=f, base_dir=p.parent, arch_overrides=arch_overrides)


_TOP = {"name", "description", "arch", "overrides", "workload", "workloads", "seed", "sampling", "parameters",
        "points", "constraints", "objectives", "on_unsupported"}


def spec_from_dict(data: dict, file: str | None = None, base_dir: Path | None = None,
                   arch_overrides: list[str] | None = None) -> SweepSpec:
    base_dir = Path(base_dir or ".")
    unknown = set(data) - _TOP
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"unknown top-level key (allowed: {', '.join(sorted(_TOP))})", file=file, field=k)
    name = data.get("name")
    if name is None:
        name = Path(file).stem if file else "sweep"
    elif not isinstance(name, str):
        raise ConfigError(f"must be a string (quote it), got {type(name).__name__} {name!r}", file=file,
                          field="name")
    check_name(name, file)
    arch = data.get("arch")
    if not isinstance(arch, str) or not arch:
        raise ConfigError("required: a preset name or an arch .yaml file", file=file, field="arch")
    arch_ref = arch
    if arch.endswith((".yaml", ".yml")) and not Path(arch).is_absolute() and (base_dir / arch).exists():
        arch_ref = str(base_dir / arch)
    ov = data.get("overrides") or {}
    if not isinstance(ov, dict):
        raise ConfigError("must be a mapping of dotted field -> value", file=file, field="overrides")
    try:
        base = load_arch(arch_ref)
    except ConfigError as e:
        raise ConfigError(f"cannot load arch: {e}", file=file, field="arch") from None
    schema = _schema(base.model)
    flat_ov = {}
    for k, v in _flatten_overrides(ov).items():
        _check_key(k, schema, base.model, file, f"overrides.{k}")
        flat_ov[k] = _check_value(schema[k], v, file, f"overrides.{k}")
    if flat_ov:
        base = _with(base, flat_ov, file, "overrides")
    if arch_overrides:
        try:
            base = load_arch(base, arch_overrides)
        except ConfigError as e:
            raise ConfigError(str(e), field="--set") from None

    workloads = parse_workloads(data, file, base_dir)
    seed = spec_int(data.get("seed", 0), file, "seed", lo=0)
    on_uns = data.get("on_unsupported", "error")
    if on_uns not in ("error", "skip"):
        raise ConfigError(f"must be 'error' or 'skip', got {on_uns!r}", file=file, field="on_unsupported")

    samp = data.get("sampling") or {"method": "grid"}
    if isinstance(samp, str):
        samp = {"method": samp}
    if not isinstance(samp, dict):
        raise ConfigError("must be a mapping {method, samples, seed} or a method name", file=file, field="sampling")
    extra = set(samp) - {"method", "samples", "seed"}
    if extra:
        raise ConfigError(f"unknown key {sorted(extra)[0]!r} (allowed: method, samples, seed)", file=file,
                          field="sampling")
    method = samp.get("method", "grid")
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}", file=file,
                          field="sampling.method")
    samples = None
    if method in ("random", "lhs"):
        if "samples" not in samp:
            raise ConfigError(f"{method} sampling needs 'samples' (number of points)", file=file,
                              field="sampling.samples")
        samples = spec_int(samp["samples"], file, "sampling.samples", lo=1)
    sample_seed = spec_int(samp.get("seed", 0), file, "sampling.seed", lo=0)

    params = _params(data.get("parameters"), schema, base, workloads, file, method)
    pts_list = None
    if method == "list":
        pts_list = _points(data.get("points"), schema, base, workloads, file)
    elif data.get("points") is not None:
        raise ConfigError("explicit points need sampling method 'list'", file=file, field="points")
    if method != "list" and not params and len(workloads) < 2:
        raise ConfigError("nothing to sweep: give at least one parameter", file=file, field="parameters")
    _check_point_count(method, params, samples, pts_list, workloads, file)

    pkeys = [k for p in params for k in p.keys] + [k for pt in (pts_list or []) for k in pt]
    columns = set(METRIC_COLUMNS) | set(pkeys)
    constraints = []
    cons = data.get("constraints") or []
    if isinstance(cons, str):
        cons = [cons]
    if not isinstance(cons, list):
        raise ConfigError("must be a list of 'column OP number' strings", file=file, field="constraints")
    for i, c in enumerate(cons):
        m = _CONSTRAINT.match(str(c))
        if not m:
            raise ConfigError(f"cannot parse {c!r} (expected e.g. 'area_mm2 <= 10')", file=file,
                              field=f"constraints[{i}]")
        col, op, num = m.groups()
        if col not in columns:
            raise ConfigError(f"unknown column {col!r} (metrics: {', '.join(METRIC_COLUMNS)}; or a swept parameter)",
                              file=file, field=f"constraints[{i}]")
        constraints.append(Constraint(col, op, float(num), str(c).strip()))
    objectives = _objectives(data.get("objectives"), columns, file)
    spec = SweepSpec(name=name, file=file, base=base, arch_ref=arch_ref, workloads=workloads, params=params,
                     method=method, samples=samples, sample_seed=sample_seed, points_list=pts_list,
                     constraints=constraints, objectives=objectives, seed=seed, on_unsupported=on_uns, raw=data)
    # every point must be a valid config: catches cross-field errors (check_config) before any simulation
    for pt in spec.points():
        try:
            spec.arch_for(pt)
        except ConfigError as e:
            desc = ", ".join(f"{k}={v}" for k, v in pt.items())
            raise ConfigError(f"point {{{desc}}} is not a valid config: {e.reason}", file=file,
                              field=f"parameters.{e.field}" if e.field else "parameters") from None
    return spec


#: longest sweep name (it names the default output folder runs/sweeps/<name>)
MAX_NAME = 100


def check_name(name: str, file=None) -> str:
    """A sweep name is one path component (it names the folder runs/sweeps/<name>): not empty, not ``.``
    or ``..``, no path separator, no control character, at most :data:`MAX_NAME` characters."""
    bad = None
    if not name.strip():
        bad = "is empty"
    elif name in (".", ".."):
        bad = f"{name!r} is not a folder name"
    elif any(c in name for c in "/\\") or Path(name).is_absolute():
        bad = f"{name!r} holds a path separator (a name is one folder name, not a path)"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        bad = f"{name!r} holds a control character"
    elif len(name) > MAX_NAME:
        bad = f"is {len(name)} characters long (at most {MAX_NAME})"
    if bad:
        raise ConfigError(f"sweep name {bad}", file=file, field="name")
    return name


def _check_cap(n: int, file, fld: str, what: str) -> None:
    cap = limit("max_grid_points")
    if n > cap:
        raise ConfigError(f"{n:,} {what} exceed the cap max_grid_points={cap:,} (raise it with "
                          f"{LIMITS_ENV}='max_grid_points=N' if you mean it)", file=file, field=fld)


def _check_point_count(method, params, samples, pts_list, workloads, file) -> None:
    """The number of points, counted before any is made (a 10^6-point grid is refused in microseconds,
    not after minutes and gigabytes of expansion)."""
    each = max(1, len(workloads))  # a point that does not choose a workload runs on each declared one
    if method == "list":
        n, fld = sum(1 if "workload" in q else each for q in pts_list), "points"
    else:
        if method == "grid":
            n, fld = 1, "parameters"
            for p in params:
                n *= len(p.values) if p.values is not None else p.steps
        else:
            n, fld = samples, "sampling.samples"
        if not any("workload" in p.keys for p in params):
            n *= each
    _check_cap(n, file, fld, "points")


def _schema(model: str) -> dict[str, Field]:
    from ..models import get_model_class
    return {**COMMON_FIELDS, **get_model_class(model).FIELDS}


def _flatten_overrides(d: dict) -> dict:
    """Nested mapping -> dotted keys (config.flatten), with ``{value: x, ...}`` leaves reduced to x."""
    return {k: (v["value"] if isinstance(v, dict) else v) for k, v in flatten(d).items()}


def _check_key(key: str, schema: dict, model: str, file, fld: str):
    if key not in schema:
        close = [k for k in schema if k.split(".")[-1] == key.split(".")[-1]]
        hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(schema))})"
        raise ConfigError(f"unknown parameter path {key!r} for model '{model}'{hint}", file=file, field=fld)


def _check_value(f: Field, v, file, fld: str):
    try:
        return f.check(v, fld, file)
    except ConfigError as e:
        raise ConfigError(e.reason, file=file, field=fld) from None


def _with(base: ArchConfig, ov: dict, file, fld: str) -> ArchConfig:
    try:
        return base.with_overrides(ov)
    except ConfigError as e:
        raise ConfigError(e.reason, file=file, field=f"{fld}.{e.field}" if e.field else fld) from None


def _params(raw, schema, base, workloads, file, method) -> list[Param]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping of dotted config key -> values", file=file, field="parameters")
    out = []
    for name, v in raw.items():
        name = str(name)
        fld = f"parameters.{name}"
        keys = tuple(k.strip() for k in name.split(","))
        for k in keys:
            if k == "workload":
                continue
            _check_key(k, schema, base.model, file, fld if len(keys) == 1 else f"{fld} ({k})")
        if isinstance(v, list):
            v = {"values": v}
        if not isinstance(v, dict):
            raise ConfigError("must be a list of values or a mapping {values} / {min, max, steps, log}", file=file,
                              field=fld)
        if "values" in v:
            extra = set(v) - {"values"}
            if extra:
                raise ConfigError(f"'values' cannot be combined with {sorted(extra)}", file=file, field=fld)
            vals = v["values"]
            if not isinstance(vals, list):
                raise ConfigError(f"values must be a list, got {type(vals).__name__}", file=file, field=fld)
            if not vals:
                raise ConfigError("empty list of values", file=file, field=fld)
            tuples = []
            for i, x in enumerate(vals):
                if len(keys) > 1:
                    if not isinstance(x, (list, tuple)) or len(x) != len(keys):
                        raise ConfigError(f"tied keys need a list of {len(keys)} values per entry, got {x!r}",
                                          file=file, field=f"{fld}[{i}]")
                    xs = tuple(x)
                else:
                    xs = (x,)
                tuples.append(tuple(_param_value(k, xv, schema, workloads, file, f"{fld}[{i}]")
                                    for k, xv in zip(keys, xs)))
            out.append(Param(name, keys, values=_dedupe(tuples)))
            continue
        if len(keys) > 1 or keys[0] == "workload":
            raise ConfigError("tied keys and 'workload' take a list of values, not a range", file=file, field=fld)
        allowed = {"min", "max", "steps", "log"}
        extra = set(v) - allowed
        if extra:
            raise ConfigError(f"unknown key {sorted(extra)[0]!r} (allowed: values, or {', '.join(sorted(allowed))})",
                              file=file, field=fld)
        f = schema[keys[0]]
        if f.type not in (int, float):
            raise ConfigError(f"a range needs a numeric field; {keys[0]} is {f.type.__name__}: give 'values'",
                              file=file, field=fld)
        if "min" not in v or "max" not in v:
            raise ConfigError("a range needs both 'min' and 'max'", file=file, field=fld)
        lo = _check_value(f, v["min"], file, f"{fld}.min")
        hi = _check_value(f, v["max"], file, f"{fld}.max")
        if hi < lo:
            raise ConfigError(f"empty range: max {hi} < min {lo}", file=file, field=fld)
        log = v.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"must be true or false, got {log!r}", file=file, field=f"{fld}.log")
        if log and lo <= 0:
            raise ConfigError("a log range needs min > 0", file=file, field=fld)
        steps = None
        if "steps" in v:
            steps = spec_int(v["steps"], file, f"{fld}.steps", lo=1)
            _check_cap(steps, file, f"{fld}.steps", "steps")
        elif method == "grid":
            raise ConfigError("a range in a grid sweep needs 'steps'", file=file, field=fld)
        if f.type is int and int(math.floor(hi)) < int(math.ceil(lo)):
            raise ConfigError(f"empty range: no integer in [{lo}, {hi}]", file=file, field=fld)
        out.append(Param(name, keys, lo=float(lo), hi=float(hi), steps=steps, log=log, is_int=f.type is int))
    return out


def _param_value(key, x, schema, workloads, file, fld):
    if key == "workload":
        if x not in workloads:
            raise ConfigError(f"unknown workload {x!r} (declared: {', '.join(workloads)})", file=file, field=fld)
        return x
    return _check_value(schema[key], x, file, fld)


def _points(raw, schema, base, workloads, file) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("sampling method 'list' needs a non-empty list of points (mappings)", file=file,
                          field="points")
    out = []
    for i, pt in enumerate(raw):
        fld = f"points[{i}]"
        if not isinstance(pt, dict) or not pt:
            raise ConfigError("each point must be a non-empty mapping key -> value", file=file, field=fld)
        d = {}
        for k, x in _flatten_overrides(pt).items():
            if k != "workload":
                _check_key(k, schema, base.model, file, f"{fld}.{k}")
            d[k] = _param_value(k, x, schema, workloads, file, f"{fld}.{k}")
        out.append(d)
    return out


def _objectives(raw, columns, file) -> list[tuple[str, str]]:
    if raw is None:
        raw = list(DEFAULT_OBJECTIVES)
    if isinstance(raw, (str, dict)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("must be a non-empty list of columns (or {minimize|maximize: column})", file=file,
                          field="objectives")
    out = []
    for i, o in enumerate(raw):
        fld = f"objectives[{i}]"
        if isinstance(o, str):
            col, sense = o, "min"
        elif isinstance(o, dict) and len(o) == 1:
            (k, col), = o.items()
            sense = {"minimize": "min", "minimise": "min", "min": "min", "maximize": "max", "maximise": "max",
                     "max": "max"}.get(k)
            if sense is None:
                raise ConfigError(f"expected 'minimize' or 'maximize', got {k!r}", file=file, field=fld)
        else:
            raise ConfigError(f"expected a column name or {{minimize|maximize: column}}, got {o!r}", file=file,
                              field=fld)
        if col not in columns:
            raise ConfigError(f"unknown column {col!r} (metrics: {', '.join(METRIC_COLUMNS)})", file=file, field=fld)
        out.append((str(col), sense))
    return out
