"""Checkpoint saving/loading by key names (spec §7).

Official cvpods checkpoints are ``torch.save``d dicts with the weights under ``"model"``; our own
checkpoints add ``"config"`` (a :class:`~dynhead.model.ModelConfig` dict) and ``"train"`` metadata.
Loading is strict by name: any missing key, unexpected key or shape mismatch raises a
:class:`DynheadError` that lists them (one line).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import torch

from workloads.limits import check as check_cap

from .errors import DynheadError

# keys that may appear in a checkpoint but have no parameter here (BN step counters, cvpods
# normaliser buffers): skipped, never reported
_IGNORED = re.compile(r"(num_batches_tracked$|^pixel_mean$|^pixel_std$)")


def _short(keys, n=6) -> str:
    keys = sorted(keys)
    s = ", ".join(keys[:n])
    return s + (f", ... (+{len(keys) - n} more)" if len(keys) > n else "")


def extract_state_dict(obj, source: str | None = None) -> dict:
    """The weights dict of a checkpoint object (``obj["model"]`` or a bare state_dict);
    strips a ``module.`` (DataParallel) prefix."""
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) for k in obj):
        raise DynheadError("not a checkpoint: expected a dict of tensors or a dict with a 'model' entry",
                           file=source)
    sd = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            try:
                import numpy as np
                v = torch.as_tensor(np.asarray(v))
            except Exception:
                raise DynheadError(f"entry {k!r} is not a tensor", file=source) from None
        sd[k[7:] if k.startswith("module.") else k] = v
    return sd


def check_state_dict(module: torch.nn.Module, sd: dict, prefix: str = "") -> tuple[list, list, list]:
    """(missing, unexpected, mismatched) comparing ``sd`` (keys optionally under ``prefix``) to ``module``."""
    own = {k: v for k, v in module.state_dict().items() if not _IGNORED.search(k)}
    theirs = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix) and not _IGNORED.search(k)}
    missing = [k for k in own if k not in theirs]
    unexpected = [prefix + k for k in theirs if k not in own]
    mismatched = [f"{prefix + k} {tuple(theirs[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in own if k in theirs and tuple(theirs[k].shape) != tuple(own[k].shape)]
    return missing, unexpected, mismatched


def _require_fit(missing, unexpected, mismatched, prefix: str, source) -> None:
    """The strict load's error listing every missing, unexpected and mismatched key (none: no error)."""
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatch(es): {_short(mismatched, 4)}")
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_short([prefix + k for k in missing])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_short(unexpected)}")
        raise DynheadError("checkpoint does not fit the model; " + "; ".join(parts), file=source)


def load_state_dict(module: torch.nn.Module, sd: dict, prefix: str = "", strict: bool = True,
                    source: str | None = None) -> dict:
    """Copy ``sd`` into ``module`` by name.  Strict: any missing/unexpected/mismatched key is an error
    listing them.  Non-strict: loads the matching keys and returns the three lists."""
    missing, unexpected, mismatched = check_state_dict(module, sd, prefix)
    if strict:
        _require_fit(missing, unexpected, mismatched, prefix, source)
    bad = {m.split(" ")[0] for m in mismatched}
    own = module.state_dict()
    with torch.no_grad():
        for k, v in own.items():
            full = prefix + k
            if full in sd and full not in bad:
                v.copy_(sd[full].to(dtype=v.dtype))
    return {"missing": missing, "unexpected": unexpected, "mismatched": mismatched}


def infer_config(sd: dict) -> dict:
    """Model config fields implied by official key names and shapes (spec §7.2)."""
    cfg: dict = {}
    keys = set(sd)
    if "head.cls_score.weight" not in keys:
        raise DynheadError("no 'head.cls_score.weight': not an FCOS checkpoint", field="model")
    w = sd["head.cls_score.weight"]
    cfg["num_classes"], cfg["channels"] = int(w.shape[0]), int(w.shape[1])
    stages = {int(m.group(1)) for k in keys for m in [re.match(r"head\.cls_subnet\.(\d+)\.", k)] if m}
    if any(".dynamic_convs." in k for k in keys):
        cfg["head"], cfg["depth"] = "dynamic", len(stages)
    elif any(re.match(r"head\.cls_subnet\.\d+\.convs\.", k) for k in keys):
        cfg["head"], cfg["depth"] = "fix", len(stages)
    else:
        convs = [i for i in stages if f"head.cls_subnet.{i}.weight" in keys
                 and sd[f"head.cls_subnet.{i}.weight"].dim() == 4]
        cfg["head"], cfg["depth"] = "fcos", max(1, len(convs) // 2)
    stem = sd.get("backbone.bottom_up.stem.conv1.weight")
    if stem is not None:
        cfg["backbone_width"] = int(stem.shape[0])
        cfg["backbone_depth"] = 50 if "backbone.bottom_up.res2.0.conv3.weight" in keys else 18
        if "backbone.bottom_up.stem.conv1.norm.running_mean" in keys:
            cfg["backbone_norm"] = ("BN" if "backbone.bottom_up.stem.conv1.norm.num_batches_tracked" in keys
                                    else "FrozenBN")
        else:
            cfg["backbone_norm"] = "GN"
    return cfg


def save_checkpoint(model, path, dtype: torch.dtype | None = None, **extra) -> Path:
    """``{"model": state_dict, "config": cfg dict, **extra}``; floating weights cast to ``dtype`` if given
    (float16 halves the file; loading casts back to the model's float32)."""
    path = Path(path)
    from workloads.storage import ensure_dir
    ensure_dir(path.parent)

    def cast(v):
        v = v.detach().cpu().clone()
        return v.to(dtype) if dtype is not None and v.is_floating_point() else v

    obj = {"model": {k: cast(v) for k, v in model.state_dict().items()},
           "config": model.cfg.to_dict()}
    obj.update(extra)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        torch.save(obj, tmp)
        tmp.replace(path)
    except BaseException:  # an interrupted or failed write leaves nothing behind
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextmanager
def _shapes_only():
    """Build modules on the meta device (shapes, no memory) without their random initialisers: torch's
    ``normal_`` on meta runs through ``torch._refs``, whose first use imports ``torch._dynamo`` (5 s)."""
    names = ("normal_", "kaiming_normal_", "xavier_normal_", "trunc_normal_")
    saved = {n: getattr(torch.nn.init, n) for n in names}
    try:
        for n in names:
            setattr(torch.nn.init, n, lambda t, *a, **k: t)
        with torch.device("meta"):
            yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def read_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DynheadError("checkpoint file not found", file=str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncated files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DynheadError(f"cannot read checkpoint ({first[:160]})", file=str(path)) from None
    if not isinstance(obj, dict):
        raise DynheadError("not a checkpoint: expected a dict", file=str(path))
    return obj


def load_model(path_or_obj, strict: bool = True, **overrides):
    """Build an :class:`~dynhead.model.FCOS` from a checkpoint (our config, or one inferred from
    official key names) and load its weights strictly.  Returns the model in eval mode."""
    from .model import FCOS, ModelConfig

    source = None
    if isinstance(path_or_obj, (str, Path)):
        source = str(path_or_obj)
        obj = read_checkpoint(path_or_obj)
    else:
        obj = path_or_obj
    sd = extract_state_dict(obj, source)
    cfgd = obj.get("config") if isinstance(obj, dict) else None
    try:
        if cfgd is None:
            cfgd = infer_config(sd)
        elif not isinstance(cfgd, dict):
            raise DynheadError(f"expected a dict of model config fields, got {type(cfgd).__name__}", field="config")
        cfg = ModelConfig.from_dict({**cfgd, **overrides})
        # a lower bound first, in closed form (every head kind runs at least 2 * depth 3x3 C -> C convs per
        # tower, two towers): a hostile depth would make even the meta-device model below slow to build
        check_cap("max_model_parameters", 36 * cfg.depth * cfg.channels ** 2,
                  "parameters of the model the config describes (head convs alone, at least)", field="config",
                  error=DynheadError)
        # then the exact size and the fit on a meta-device model (no memory), before the real one is allocated
        with _shapes_only():
            shape_only = FCOS(cfg)
        n = sum(t.numel() for t in (*shape_only.parameters(), *shape_only.buffers()))
        check_cap("max_model_parameters", n, "parameters of the model the config describes", field="config",
                  error=DynheadError)
        if strict:
            _require_fit(*check_state_dict(shape_only, sd), "", source)
    except DynheadError as e:
        raise DynheadError(e.reason, file=e.file or source, field=e.field) from None
    model = FCOS(cfg)
    load_state_dict(model, sd, strict=strict, source=source)
    model.eval()
    model.checkpoint_meta = {k: v for k, v in obj.items() if k not in ("model",)} if isinstance(obj, dict) else {}
    model.checkpoint_path = source
    return model
