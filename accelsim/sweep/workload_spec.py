"""The workloads of a sweep specification (``workload`` / ``workloads``): zoo names, workload files, or traces
of the dynamic head generated from ``{dynhead: {...}}`` options; and the integer checks the spec shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError


@dataclass
class WorkloadSpec:
    key: str
    source: str  # zoo name or resolved path ("dynhead-trace" when ``trace`` is set)
    images: list[int] | None = None
    layers: list[str] | None = None
    trace: dict | None = None  # options of ``python -m dynhead trace`` (generated once, cached by options)


#: options of a ``source: {dynhead: {...}}`` workload -> (type, ``python -m dynhead trace`` flag)
TRACE_OPTIONS = {"checkpoint": (str, "--checkpoint"), "images": (str, "--images"), "size": (str, "--size"),
                 "max_images": (int, "--max-images"), "prune": (float, "--prune"), "width": (int, "--width"),
                 "seed": (int, "--seed"), "dense": (bool, "--dense")}


def spec_int(v, file, fld, lo=None) -> int:
    """An integer spec value (a float with an integral value is taken), at least ``lo``; else a ConfigError
    naming the file and field."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or float(v) != int(v):
        raise ConfigError(f"must be an integer, got {v!r}", file=file, field=fld)
    if lo is not None and v < lo:
        raise ConfigError(f"must be >= {lo}, got {v}", file=file, field=fld)
    return int(v)


def spec_int_list(v, file, fld):
    """None, or a non-empty list of integers >= 0."""
    if v is None:
        return None
    if not isinstance(v, list) or not v:
        raise ConfigError("must be a non-empty list of integers", file=file, field=fld)
    return [spec_int(x, file, f"{fld}[{i}]", lo=0) for i, x in enumerate(v)]


def parse_workloads(data, file, base_dir: Path) -> dict[str, WorkloadSpec]:
    """The spec's ``workload`` / ``workloads`` entry: key -> :class:`WorkloadSpec` (sources resolved against
    ``base_dir``, trace options checked)."""
    if "workload" in data and "workloads" in data:
        raise ConfigError("give either 'workload' or 'workloads', not both", file=file, field="workloads")
    raw = data.get("workloads")
    if raw is None:
        w = data.get("workload")
        if w is None:
            raise ConfigError("required: a zoo name or .npz file (or a 'workloads' mapping)", file=file,
                              field="workload")
        raw = {"default": w}
    if isinstance(raw, list):  # list of sources: keys are their stems
        raw = {Path(str(s if not isinstance(s, dict) else s.get("source", i))).stem: s for i, s in enumerate(raw)}
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("must be a non-empty mapping name -> source", file=file, field="workloads")
    out = {}
    for key, v in raw.items():
        fld = f"workloads.{key}"
        if isinstance(v, str):
            v = {"source": v}
        if isinstance(v, dict) and isinstance(v.get("source"), dict):
            extra = set(v) - {"source", "images", "layers"}
            if extra:
                raise ConfigError(f"unknown key {sorted(extra)[0]!r} (allowed: source, images, layers)", file=file,
                                  field=fld)
            trace = _trace_options(v["source"], file, f"{fld}.source")
            layers = v.get("layers")
            if layers is not None and (not isinstance(layers, list) or not all(isinstance(x, str) for x in layers)):
                raise ConfigError("must be a list of layer names", file=file, field=f"{fld}.layers")
            out[str(key)] = WorkloadSpec(str(key), "dynhead-trace", spec_int_list(v.get("images"), file, f"{fld}.images"),
                                         layers, trace)
            continue
        if not isinstance(v, dict) or not isinstance(v.get("source"), str):
            raise ConfigError("needs 'source': a zoo name, a .npz file or {dynhead: {trace options}}", file=file,
                              field=fld)
        extra = set(v) - {"source", "images", "layers"}
        if extra:
            raise ConfigError(f"unknown key {sorted(extra)[0]!r} (allowed: source, images, layers)", file=file,
                              field=fld)
        src = v["source"]
        if src.endswith((".npz", ".csv")):
            cand = Path(src) if Path(src).is_absolute() else base_dir / src
            if cand.exists():
                src = str(cand)
            elif not Path(src).exists():
                raise ConfigError(f"workload file not found: {src} (looked in {base_dir})", file=file,
                                  field=f"{fld}.source")
        layers = v.get("layers")
        if layers is not None and (not isinstance(layers, list) or not all(isinstance(x, str) for x in layers)):
            raise ConfigError("must be a list of layer names", file=file, field=f"{fld}.layers")
        out[str(key)] = WorkloadSpec(str(key), src, spec_int_list(v.get("images"), file, f"{fld}.images"), layers)
    return out


def _trace_options(src: dict, file, fld) -> dict:
    if set(src) != {"dynhead"} or not isinstance(src["dynhead"], dict):
        raise ConfigError("a generated source is {dynhead: {checkpoint: ..., size: ..., ...}}", file=file, field=fld)
    opts = src["dynhead"]
    out = {}
    for k, v in opts.items():
        if k not in TRACE_OPTIONS:
            raise ConfigError(f"unknown trace option (allowed: {', '.join(TRACE_OPTIONS)})", file=file,
                              field=f"{fld}.dynhead.{k}")
        t = TRACE_OPTIONS[k][0]
        if t is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if t is str and isinstance(v, int) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, t) or (t is not bool and isinstance(v, bool)):
            raise ConfigError(f"must be {t.__name__}, got {v!r}", file=file, field=f"{fld}.dynhead.{k}")
        if k == "prune" and not 0 < v <= 1:
            raise ConfigError(f"must be in (0, 1], got {v}", file=file, field=f"{fld}.dynhead.{k}")
        if k in ("max_images", "width") and v < 1:
            raise ConfigError(f"must be >= 1, got {v}", file=file, field=f"{fld}.dynhead.{k}")
        out[k] = v
    if "checkpoint" not in out:
        raise ConfigError("needs 'checkpoint' (a path or a shipped name: small, large)", file=file,
                          field=f"{fld}.dynhead.checkpoint")
    return out
