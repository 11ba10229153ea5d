"""Architecture configs: YAML presets validated against each model's field schema.

A preset is ``accelsim/presets/<name>.yaml``::

    model: scnn                 # which model class reads it
    description: SCNN, ISCA 2017 Table 2
    clock_hz: {value: 1.0e9, unit: Hz, source: "SCNN Sec. V"}
    energy_table: scnn_16nm     # accelsim/energy_tables/<table>.yaml
    pe_rows: {value: 8, unit: PEs, source: "SCNN Table 2"}
    multipliers: {F: 4, I: 4}   # nested fields are addressed as multipliers.F

Every value may be a plain scalar or ``{value, unit, source}``; the unit, when
given, must match the schema's.  Unknown keys, wrong types and out-of-range
values are rejected with the file, the dotted key and the reason.  Users pass
``--arch scnn`` or ``--arch my.yaml`` and ``--set pe_rows=4 --set multipliers.F=8``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, SettingsError

PRESET_DIR = Path(__file__).parent / "presets"


#: no config quantity of these designs is this large (the largest are bytes/s ~1e11 and Hz ~1e9)
MAX_MAGNITUDE = 1e15
#: unit -> (min, max) a physical chip can have; catches typos such as 1e-30 bytes/s that would make the
#: models divide their way to infinite cycles
PLAUSIBLE = {"Hz": (1e3, 1e12), "bytes/s": (1.0, 1e15), "bytes/cycle": (1e-3, 1e9), "nm": (1.0, 1000.0),
             "V": (0.1, 5.0)}


@dataclass(frozen=True)
class Field:
    """Schema of one config field: type, unit, default, bounds, provenance."""

    type: type
    unit: str = ""
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    doc: str = ""
    source: str = "assumed"
    positive: bool = True  # numbers must be > 0 unless min is given

    def check(self, value: Any, key: str, file: str | None) -> Any:
        t = self.type
        if t is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                value = value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise ConfigError(f"must be true or false, got {value!r}", file=file, field=key)
            return value
        if t in (int, float):
            if isinstance(value, str):
                try:
                    value = float(value) if (t is float or any(c in value for c in ".eE")) else int(value)
                except ValueError:
                    raise ConfigError(f"must be a number ({self.unit or 'no unit'}), got {value!r}", file=file,
                                      field=key) from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"must be {'an integer' if t is int else 'a number'}, got {value!r}", file=file,
                                  field=key)
            if not math.isfinite(value):
                raise ConfigError(f"must be a finite number, got {value!r}", file=file, field=key)
            if abs(value) > MAX_MAGNITUDE:
                raise ConfigError(f"magnitude over {MAX_MAGNITUDE:g}, got {value!r}", file=file, field=key)
            plaus = PLAUSIBLE.get(self.unit)
            if plaus and value != 0 and not plaus[0] <= abs(value) <= plaus[1]:
                raise ConfigError(f"outside the plausible range {plaus[0]:g}..{plaus[1]:g} {self.unit} for any "
                                  f"chip, got {value!r}", file=file, field=key)
            if t is int:
                if float(value) != int(value):
                    raise ConfigError(f"must be an integer, got {value!r}", file=file, field=key)
                value = int(value)
            else:
                value = float(value)
            lo = self.min
            if lo is None and self.positive and value <= 0:
                raise ConfigError(f"must be > 0, got {value}", file=file, field=key)
            if lo is not None and value < lo:
                raise ConfigError(f"must be >= {lo}, got {value}", file=file, field=key)
            if self.max is not None and value > self.max:
                raise ConfigError(f"must be <= {self.max}, got {value}", file=file, field=key)
        elif t is str:
            if not isinstance(value, str):
                raise ConfigError(f"must be a string, got {value!r}", file=file, field=key)
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"must be one of {', '.join(map(str, self.choices))}, got {value!r}", file=file,
                              field=key)
        return value


COMMON_FIELDS: dict[str, Field] = {
    "clock_hz": Field(float, "Hz", doc="clock frequency"),
    "energy_table": Field(str, "", doc="name of accelsim/energy_tables/<name>.yaml"),
    "tech_node_nm": Field(float, "nm", doc="technology node the energy/area tables are scaled to"),
    "voltage_v": Field(float, "V", doc="supply voltage the energy table is scaled to (None: table's own)"),
}


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> dotted keys; a dict holding 'value' is a leaf with metadata."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and "value" not in v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


class ArchConfig:
    """A validated architecture config: dotted field name -> value, plus provenance.

    ``cfg["pe_rows"]``, ``cfg.get("multipliers.F")``, ``cfg.clock_hz``, ``cfg.model``,
    ``cfg.name``; ``cfg.sources[key]`` / ``cfg.units[key]``; ``cfg.hash`` (sha256
    of the canonical values) identifies the config in reports and sweep caches.
    """

    def __init__(self, model: str, name: str, values: dict, units: dict, sources: dict, file: str | None,
                 description: str = ""):
        self.model, self.name, self.values = model, name, values
        self.units, self.sources, self.file, self.description = units, sources, file, description

    def __getitem__(self, key):
        return self.values[key]

    def get(self, key, default=None):
        return self.values.get(key, default)

    def __contains__(self, key):
        return key in self.values

    @property
    def clock_hz(self) -> float:
        return float(self.values["clock_hz"])

    @property
    def hash(self) -> str:
        blob = json.dumps({"model": self.model, "values": self.values}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def replace(self, **overrides) -> "ArchConfig":
        """A copy with dotted-key overrides, re-validated (keys with dots: pass a dict via ``with_overrides``)."""
        return self.with_overrides(overrides)

    def with_overrides(self, overrides: dict[str, Any]) -> "ArchConfig":
        raw = {k: {"value": v, "unit": self.units.get(k, ""), "source": self.sources.get(k, "")}
               for k, v in self.values.items()}
        for k, v in overrides.items():
            raw[k] = v
        return build_config(self.model, self.name, raw, file=self.file, description=self.description,
                            overridden=set(overrides))

    def to_dict(self) -> dict:
        return {"model": self.model, "name": self.name, "file": self.file, "hash": self.hash,
                "fields": {k: {"value": v, "unit": self.units.get(k, ""), "source": self.sources.get(k, "")}
                           for k, v in sorted(self.values.items())}}

    def __repr__(self):
        return f"ArchConfig({self.name!r}, model={self.model!r})"


def build_config(model: str, name: str, raw: dict[str, Any], file: str | None = None, description: str = "",
                 overridden: set | None = None) -> ArchConfig:
    """Validate flattened ``raw`` values against the model's schema."""
    from .registry import get_model_class

    cls = get_model_class(model, file=file)
    schema = {**COMMON_FIELDS, **cls.FIELDS}
    values, units, sources = {}, {}, {}
    for key, v in raw.items():
        # an error in a command-line override names --set, not the preset file
        file_k = "--set" if overridden and key in overridden else file
        if key not in schema:
            close = [k for k in schema if k.split(".")[-1] == key.split(".")[-1]]
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown key for model '{model}'{hint}", file=file_k, field=key)
        f = schema[key]
        src = f.source
        if isinstance(v, dict):
            extra = set(v) - {"value", "unit", "source"}
            if extra:
                raise ConfigError(f"unexpected entries {sorted(extra)} (allowed: value, unit, source)", file=file_k,
                                  field=key)
            unit = v.get("unit")
            if unit and f.unit and unit != f.unit:
                raise ConfigError(f"unit {unit!r} does not match the schema's {f.unit!r}", file=file_k, field=key)
            src = v.get("source") or src
            v = v.get("value")
        if overridden and key in overridden:
            src = "command-line override"
        values[key] = f.check(v, key, file_k)
        units[key] = f.unit
        sources[key] = src
    for key, f in schema.items():
        if key not in values:
            if f.default is None:
                if key in ("voltage_v",):
                    continue
                raise ConfigError("required field is missing", file=file, field=key)
            values[key] = f.default
            units[key] = f.unit
            sources[key] = f.source + " (default)"
    cfg = ArchConfig(model, name, values, units, sources, file, description)
    cls.check_config(cfg)
    return cfg


def list_presets() -> list[str]:
    """Every preset: accelsim's own and each model package's ``presets/`` (see :mod:`accelsim.registry`)."""
    from .registry import preset_files
    return sorted(preset_files())


def _read_yaml(path: Path) -> dict:
    from .yamlio import load_yaml_file
    data = load_yaml_file(path)
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping", file=str(path))
    return data


def resolve_relative(ref: str, file: str | None, field: str) -> Path:
    """A file named inside a config (``base:``, ``energy_table:``), resolved relative to the folder of
    the file that names it, which it may not climb out of (``../`` or an absolute path elsewhere)."""
    root = Path(file).resolve().parent if file else Path.cwd().resolve()
    p = (root / ref).resolve()
    if not p.is_relative_to(root):
        raise ConfigError(f"{ref!r} points outside {root} (files named in a config must sit beside it or below)",
                          file=file, field=field)
    return p


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from ``--set``; the value is parsed as YAML (numbers, booleans, strings)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}", field="--set")
    k, v = text.split("=", 1)
    k = k.strip()
    if not k:
        raise ConfigError(f"--set expects key=value, got {text!r}", field="--set")
    try:
        val = yaml.safe_load(v)
    except yaml.YAMLError:
        val = v
    return k, val


def check_overrides(field_name: str, v) -> tuple[str, ...]:
    """``v`` (a settings field) as a tuple of ``"KEY=VALUE"`` strings, the ``--set`` syntax; else SettingsError."""
    if isinstance(v, str) or not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise SettingsError(field_name, f"must be a sequence of 'KEY=VALUE' strings, got {v!r}")
    for item in v:
        try:
            parse_override(item)
        except ConfigError:
            raise SettingsError(field_name, f"expected KEY=VALUE, got {item!r}") from None
    return tuple(v)


MAX_BASE_DEPTH = 8


def _load_file(path: Path, chain: tuple) -> ArchConfig:
    """One YAML config file, following ``base:`` (a preset name, or a file beside this one)."""
    key = str(Path(path).resolve())
    if key in chain:
        raise ConfigError("base: inheritance cycle (" + " -> ".join(Path(c).name for c in chain + (key,)) + ")",
                          file=str(path), field="base")
    if len(chain) >= MAX_BASE_DEPTH:
        raise ConfigError(f"base: more than {MAX_BASE_DEPTH} levels of inheritance", file=str(path), field="base")
    data = copy.deepcopy(_read_yaml(path))
    model = data.pop("model", None)
    if not isinstance(model, str):
        raise ConfigError("missing 'model:' (which accelerator model reads this file)", file=str(path),
                          field="model")
    name = data.pop("name", path.stem)
    desc = data.pop("description", "")
    for k, v in (("name", name), ("description", desc)):
        if not isinstance(v, str):
            raise ConfigError(f"must be a string, got {type(v).__name__}", file=str(path), field=k)
    # which presets `accelsim compare` runs by default (registry.compare_default_presets): metadata, not a
    # field of the design, so it stays out of the config (and out of the report hash)
    data.pop("compare_default", None)
    data.pop("compare_order", None)
    base = data.pop("base", None)
    raw = flatten(data)
    if base is not None:  # a user file may start from a preset and change a few fields
        if not isinstance(base, str) or not base:
            raise ConfigError("must be a preset name or a YAML file name", file=str(path), field="base")
        if base.endswith((".yaml", ".yml")) or "/" in base or "\\" in base:
            bpath = resolve_relative(base, str(path), "base")
            if not bpath.is_file():
                raise ConfigError(f"base file {base!r} not found", file=str(path), field="base")
        else:
            from .registry import preset_files
            bpath = preset_files().get(base)
            if bpath is None:
                raise ConfigError(f"unknown base preset {base!r}", file=str(path), field="base")
        parent = _load_file(bpath, chain + (key,))
        if parent.model != model:
            raise ConfigError(f"base preset {base!r} is model {parent.model!r}, not {model!r}", file=str(path),
                              field="base")
        merged = {k: {"value": v, "unit": parent.units.get(k, ""), "source": parent.sources.get(k, "")}
                  for k, v in parent.values.items()}
        merged.update(raw)
        raw = merged
    return build_config(model, name, raw, file=str(path), description=desc)


def load_arch(arch: str | Path | ArchConfig, overrides: list[str] | dict | None = None) -> ArchConfig:
    """Load a preset by name or a YAML file by path, apply ``--set`` overrides, validate."""
    if isinstance(arch, ArchConfig):
        cfg = arch
    else:
        s = str(arch)
        path = Path(s)
        if s.endswith((".yaml", ".yml")) or path.exists():
            if not path.exists():
                raise ConfigError("no such file", file=s)
        else:
            from .registry import preset_files
            path = preset_files().get(s, PRESET_DIR / f"{s}.yaml")
            if not path.exists():
                raise ConfigError(f"unknown accelerator {s!r} (presets: {', '.join(list_presets())}; or pass a .yaml file)",
                                  field="--arch")
        cfg = _load_file(path, ())
    if overrides:
        items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
        cfg = cfg.with_overrides(dict(items))
    return cfg
