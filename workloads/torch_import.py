"""Import any PyTorch ``nn.Module`` into a :class:`~workloads.ir.Workload` by running it.

Every ``conv2d`` and ``linear`` call made during a forward pass becomes a layer, with the
real input activations of each image, the module's weights and bias, and data-dependency
edges.  The calls are caught with a ``torch.overrides.TorchFunctionMode``, so functional
calls inside ``forward`` (``F.conv2d(x, self.weight)``), control flow and modules called
several times (a detection head shared across FPN levels) all work; nothing is traced
symbolically.

* **Names** come from the innermost module running when the call is made (the module's
  qualified name, e.g. ``backbone.res2.0.conv1``).  A module called again in the same
  forward gets ``#2``, ``#3``, ... (the FCOS head on P4, P5, ...); a module that makes
  several calls in one invocation gets ``.call2``, ...
* **Dependencies:** every tensor produced during the forward carries the set of layers
  whose outputs reached it through any chain of ops (elementwise, pooling, normalisation,
  reshapes, concatenation, ...).  A layer depends on the layers its input tensor carries.
* **Mapping:** ``conv2d`` with groups 1 -> ``conv``; groups = C = K -> ``depthwise``;
  other groups -> ``conv`` with ``groups``.  ``linear`` on a vector (``(C,)``, ``(1, C)``) -> ``fc``;
  on tokens (``(1, T, C)``, ``(T, 1, C)``, ``(N, C)``: every leading axis counts, as the image runs
  alone) -> a 1x1 ``conv`` over a T x 1 plane (same MACs, activations per token).
  Strides, paddings and dilations must be the same in both directions (the IR's
  convention); a call that breaks this is reported, not imported.
* **Report** (:class:`ImportReport`, also stored in ``workload.meta["torch_import"]``):
  the imported layers and their MACs, the MAC-bearing ops that were *not* imported
  (``conv1d/3d``, transposed convs, ``matmul``/``bmm``/``einsum``, attention, RNNs ...)
  with their call counts and MACs where they can be counted, and the count of ops that
  carry no MACs (activations, norms, pooling, reshapes).  ``mac_coverage`` = imported
  MACs / (imported + unsupported MACs).

The model's output masks are unknown to a generic importer (every output is computed); the
dynamic head's real masks come from :mod:`dynhead.trace`.  Images are run one at a time
(batch 1) in ``eval()`` mode under ``torch.no_grad()``; all images must give the same layer
sequence and shapes (one workload = one set of shapes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from .errors import WorkloadError
from .ir import Layer, SparseTensor, Workload
from .limits import check as check_cap

#: ops that become layers
LAYER_OPS = ("conv2d", "linear")
#: MAC-bearing ops that are not imported (reported with their MACs where countable)
UNSUPPORTED_MAC_OPS = frozenset({
    "conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc",
    "matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "addmm", "baddbmm", "addbmm", "addmv", "mv",
    "einsum", "tensordot", "bilinear", "scaled_dot_product_attention", "multi_head_attention_forward",
    "lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
    "embedding_bag", "_convolution", "convolution",
})
#: tensor metadata queries, not compute
_META_OPS = frozenset({"size", "dim", "numel", "__get__", "__set__", "__len__", "__repr__", "__format__",
                       "__bool__", "__index__", "__int__", "__float__", "__hash__", "__eq__", "__ne__",
                       "is_floating_point", "is_contiguous", "data_ptr", "element_size", "stride",
                       "storage_offset", "requires_grad_", "detach", "cpu", "numpy", "tolist", "item"})
_ARITH_DUNDERS = frozenset({"__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__", "__mul__",
                            "__rmul__", "__imul__", "__truediv__", "__rtruediv__", "__itruediv__"})
_SRC = "_accelsim_src"


@dataclass
class ImportReport:
    """What the importer found: per-op counts, MACs imported and not imported."""

    layers: int = 0
    macs_imported: int = 0
    unsupported: dict = field(default_factory=dict)   # op -> {"calls", "macs", "where", "reason"}
    other_ops: dict = field(default_factory=dict)     # op -> calls (no MACs modelled)

    @property
    def macs_unsupported(self) -> int:
        return sum(v["macs"] or 0 for v in self.unsupported.values())

    @property
    def mac_coverage(self) -> float:
        tot = self.macs_imported + self.macs_unsupported
        return self.macs_imported / tot if tot else 1.0

    def to_dict(self) -> dict:
        return {"layers": self.layers, "macs_imported": self.macs_imported,
                "macs_unsupported": self.macs_unsupported, "mac_coverage": self.mac_coverage,
                "unsupported": {k: dict(v) for k, v in sorted(self.unsupported.items())},
                "other_ops": dict(sorted(self.other_ops.items()))}

    def lines(self) -> list[str]:
        """Human-readable summary, one line per fact."""
        out = [f"imported {self.layers} layers, {self.macs_imported:,} MACs per image "
               f"({100 * self.mac_coverage:.1f} % of the counted MACs)"]
        for op, v in sorted(self.unsupported.items()):
            macs = "MACs not counted" if v["macs"] is None else f"{v['macs']:,} MACs"
            out.append(f"not imported: {op} x{v['calls']} ({macs}; {v['reason']}; first in {v['where']})")
        if self.other_ops:
            n = sum(self.other_ops.values())
            out.append(f"ops without modelled MACs: {n} calls of {len(self.other_ops)} kinds "
                       f"({', '.join(sorted(self.other_ops)[:8])}{', ...' if len(self.other_ops) > 8 else ''})")
        return out


# ------------------------------------------------------------------ helpers
def _walk(obj, fn):
    """Apply ``fn`` to every tensor in a nested structure."""
    if isinstance(obj, torch.Tensor):
        fn(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _walk(o, fn)
    elif isinstance(obj, dict):
        for o in obj.values():
            _walk(o, fn)


def _sources(args, kwargs) -> frozenset:
    acc: set = set()

    def take(t):
        s = t.__dict__.get(_SRC) if hasattr(t, "__dict__") else None
        if s:
            acc.update(s)
    _walk(args, take)
    _walk(kwargs, take)
    return frozenset(acc)


def _tag(result, src: frozenset, keep: frozenset = frozenset()):
    """Set the dependency tag on every tensor of ``result`` except those whose id is in ``keep``
    (the model's parameters and buffers: they outlive the forward, and a no-op op such as
    ``w.to(x.dtype)`` returns them unchanged, which would carry one image's tag into the next)."""
    def put(t):
        if id(t) in keep:
            return
        try:
            t.__dict__[_SRC] = src
        except (AttributeError, TypeError):  # pragma: no cover - exotic tensor types
            pass
    _walk(result, put)


def _inplace_target(op: str, args, kwargs):
    """The tensor an op writes into (``x.add_(y)``, ``x += y``, ``x[i] = y``, ``out=x``), else None."""
    out = kwargs.get("out")
    if isinstance(out, torch.Tensor):
        return out
    inplace = (op == "__setitem__" or (op.startswith("__i") and op in _ARITH_DUNDERS)
               or (op.endswith("_") and not op.endswith("__")))
    return args[0] if inplace and args and isinstance(args[0], torch.Tensor) else None


def _tag_written(t: torch.Tensor, src: frozenset, keep: frozenset = frozenset()):
    """``t`` was written in place with data of ``src``'s layers: so was the tensor it views (a write
    into ``buf[:, :4]`` changes ``buf``), and ``__setitem__`` returns nothing to tag."""
    while isinstance(t, torch.Tensor):
        _tag(t, t.__dict__.get(_SRC, frozenset()) | src, keep)
        t = t._base


def _op_name(func) -> str:
    return getattr(func, "__name__", None) or str(func)


def _arg(args, kwargs, i, name, default):
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _square(v, what: str):
    """An int, or a tuple with equal entries -> int; else None (with the reason)."""
    if not isinstance(v, (tuple, list, torch.Size)):  # int, numpy or SymInt scalar: torch takes any of them
        return int(v), None
    v = tuple(int(x) for x in v)
    if len(set(v)) == 1:
        return v[0], None
    return None, f"{what} {v} differs between the two axes"


def _unsupported_macs(op: str, args, kwargs, result) -> int | None:
    """MACs of a not-imported op where the shapes make them unambiguous, else None."""
    try:
        a = args[0] if args else None
        if op in ("matmul", "__matmul__", "mm", "bmm", "mv") and isinstance(result, torch.Tensor):
            return int(result.numel() * a.shape[-1])
        if op == "__rmatmul__" and isinstance(result, torch.Tensor):
            return int(result.numel() * a.shape[0] if a.dim() == 1 else result.numel() * a.shape[-2])
        if op in ("addmm", "baddbmm", "addbmm", "addmv") and isinstance(result, torch.Tensor):
            b = args[1]
            return int(result.numel() * b.shape[-1]) if op != "addbmm" else int(result.numel() * b.shape[0]
                                                                                   * b.shape[-1])
        if op in ("conv1d", "conv3d") and isinstance(result, torch.Tensor):
            w = args[1]
            return int(result.numel() * w[0].numel())
        if op.startswith("conv_transpose"):
            w = args[1]
            return int(a.numel() * w[0].numel())
        if op == "multi_head_attention_forward":  # query (L, N, E), key/value (S, N, E)
            L, N, E = a.shape
            S = args[1].shape[0]
            return int(N * (2 * L * E * E + 2 * S * E * E + 2 * L * S * E))
        if op == "scaled_dot_product_attention":
            q, k, v = args[0], args[1], args[2]
            L, S = q.shape[-2], k.shape[-2]
            heads = q.numel() // (L * q.shape[-1])
            return int(heads * L * S * (q.shape[-1] + v.shape[-1]))
    except Exception:  # noqa: BLE001 - counting is best effort; the call is still reported
        return None
    return None


# --------------------------------------------------------------- the recorder
class _Recorder(TorchFunctionMode):
    def __init__(self, report: ImportReport, root_name: str, keep: frozenset = frozenset()):
        super().__init__()
        self.keep = keep                      # ids of the model's parameters and buffers (never tagged)
        self.report = report
        self.root = root_name
        self.stack: list[str] = []
        self.calls: list[dict] = []          # layer calls of the current image, in order
        self.invocations: dict[str, int] = {}
        self.per_invocation: dict[tuple, int] = {}
        self.frame: list[tuple[str, int]] = []
        self.counting = True  # the report counts the ops of the first image

    # module context (forward pre/post hooks)
    def enter(self, name: str):
        n = self.invocations.get(name, 0) + 1
        self.invocations[name] = n
        self.frame.append((name, n))

    def leave(self):
        if self.frame:
            self.frame.pop()

    def _where(self) -> tuple[str, int]:
        return self.frame[-1] if self.frame else (self.root, 1)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        # torch disables the mode while this runs, so ops inside a composite op (the linears
        # inside multi_head_attention_forward) are not seen twice
        kwargs = kwargs or {}
        op = _op_name(func)
        src = _sources(args, kwargs)
        result = func(*args, **kwargs)
        if op in LAYER_OPS:
            name = self._layer_call(op, args, kwargs, result, src)
            _tag(result, frozenset({name}) if name else src, self.keep)
            return result
        if self.counting:
            if op in UNSUPPORTED_MAC_OPS:
                self._unsupported(op, "no accelerator mapping for this op", _unsupported_macs(op, args, kwargs, result))
            elif op not in _META_OPS and (not op.startswith("__") or op in _ARITH_DUNDERS):
                self.report.other_ops[op] = self.report.other_ops.get(op, 0) + 1
        _tag(result, src, self.keep)
        written = _inplace_target(op, args, kwargs)
        if written is not None:
            _tag_written(written, src, self.keep)
        return result

    def _unsupported(self, key: str, reason: str, macs: int | None):
        v = self.report.unsupported.setdefault(key, {"calls": 0, "macs": 0, "where": self._where()[0],
                                                     "reason": reason})
        v["calls"] += 1
        v["macs"] = None if (macs is None or v["macs"] is None) else v["macs"] + macs

    def _layer_call(self, op, args, kwargs, result, src) -> str | None:
        mod, inv = self._where()
        k = self.per_invocation.get((mod, inv), 0) + 1
        self.per_invocation[(mod, inv)] = k
        name = mod + ("" if inv == 1 else f"#{inv}") + ("" if k == 1 else f".call{k}")
        x = _arg(args, kwargs, 0, "input", None)
        w = _arg(args, kwargs, 1, "weight", None)
        b = _arg(args, kwargs, 2, "bias", None)
        if op == "conv2d" and x.dim() == 3:  # conv2d also takes one unbatched (C, H, W) image
            x = x[None]
        rec = {"name": name, "op": op, "src": src, "where": mod}
        reason = None
        if op == "conv2d" and x.shape[0] != 1:
            reason = f"batch {x.shape[0]} (the importer runs images one at a time)"
        elif op == "conv2d":
            stride, r1 = _square(_arg(args, kwargs, 3, "stride", 1), "stride")
            pad = _arg(args, kwargs, 4, "padding", 0)
            dil, r3 = _square(_arg(args, kwargs, 5, "dilation", 1), "dilation")
            groups = int(_arg(args, kwargs, 6, "groups", 1))
            R, S = int(w.shape[2]), int(w.shape[3])
            r2 = None
            if isinstance(pad, str):
                if pad == "valid":
                    pad = 0
                elif dil is not None and (dil * (R - 1)) % 2 == 0 and (dil * (S - 1)) % 2 == 0 and R == S:
                    pad = dil * (R - 1) // 2
                else:
                    r2 = "padding='same' with an even or non-square kernel is asymmetric"
            if r2 is None and not isinstance(pad, int):
                pad, r2 = _square(pad, "padding")
            reason = r1 or r2 or r3
            if reason is None:
                C, K = int(x.shape[1]), int(w.shape[0])
                kind = "depthwise" if (groups > 1 and groups == C == K) else "conv"
                rec.update(kind=kind, C=C, K=K, H=int(x.shape[2]), W=int(x.shape[3]), R=R, S=S,
                           stride=stride, padding=pad, dilation=dil, groups=groups,
                           acts=x[0].detach(), weights=w.detach(), bias=None if b is None else b.detach())
        else:  # linear
            # every leading axis is a token axis: the image runs alone, so (T, 1, C) of a seq-first
            # transformer, (N_rois, C) or a flattened (C,) vector all belong to this one image
            K, C = int(w.shape[0]), int(w.shape[1])
            T = int(math.prod(x.shape[:-1]))
            if x.dim() <= 2 and T == 1:
                rec.update(kind="fc", C=C, K=K, H=1, W=1, R=1, S=1, stride=1, padding=0, dilation=1, groups=1,
                           acts=x.detach().reshape(C, 1, 1))
            else:
                rec.update(kind="conv", C=C, K=K, H=T, W=1, R=1, S=1, stride=1, padding=0, dilation=1, groups=1,
                           acts=x.detach().reshape(T, C).t().reshape(C, T, 1), tokens=T)
            rec.update(weights=w.detach().reshape(K, C, 1, 1), bias=None if b is None else b.detach())
        if reason is not None:
            if self.counting:
                m = int(result.numel() * w[0].numel()) if op == "conv2d" else int(result.numel() * w.shape[1])
                self._unsupported(op, reason, m)
            return None
        self.calls.append(rec)
        return name


# --------------------------------------------------------------- the importer
def _images(inputs) -> list[torch.Tensor]:
    if isinstance(inputs, torch.Tensor):
        if inputs.dim() < 2 or inputs.shape[0] == 0:
            raise WorkloadError(f"input tensor of shape {tuple(inputs.shape)} has no batch axis or no images",
                                field="inputs")
        return [inputs[i:i + 1] for i in range(inputs.shape[0])]
    out = []
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise WorkloadError(f"input {i} is a {type(x).__name__}, not a tensor", field="inputs")
        out.append(x if (x.dim() >= 2 and x.shape[0] == 1) else x[None])
    if not out:
        raise WorkloadError("no inputs to run the model on", field="inputs")
    return out


def import_torch(model: torch.nn.Module, inputs, name: str = "torch", *, store_acts: bool = True,
                 store_weights: bool = True, act_dtype=np.float32, meta: dict | None = None,
                 forward=None) -> tuple[Workload, ImportReport]:
    """Run ``model`` on each image of ``inputs`` and return ``(workload, report)``.

    ``inputs``: a tensor ``(N, ...)`` (N images) or a list of tensors (one image each, with or
    without the batch axis).  ``forward(model, x)`` overrides how an image is run (default
    ``model(x)``).  ``store_acts=False`` keeps only per-image activation densities;
    ``store_weights=False`` keeps only the weight densities.
    """
    xs = _images(inputs)
    report = ImportReport()
    root = type(model).__name__
    rec = _Recorder(report, root, frozenset(id(t) for t in (*model.parameters(), *model.buffers())))
    hooks = []
    for mname, mod in model.named_modules():
        qn = mname or root
        hooks.append(mod.register_forward_pre_hook(lambda m, a, qn=qn: rec.enter(qn)))
        hooks.append(mod.register_forward_hook(lambda m, a, o: rec.leave()))
    # per module: a training model often keeps parts in eval (frozen BatchNorm), which
    # model.train(True) afterwards would undo
    was_training = {m: m.training for m in model.modules()}
    model.eval()
    per_image: list[list[dict]] = []
    try:
        for i, x in enumerate(xs):
            rec.calls, rec.invocations, rec.per_invocation, rec.frame = [], {}, {}, []
            rec.counting = i == 0
            with torch.no_grad(), rec:
                (forward or (lambda m, t: m(t)))(model, x)
            per_image.append(rec.calls)
    finally:
        for h in hooks:
            h.remove()
        for m, t in was_training.items():
            m.training = t
    first = per_image[0]
    if not first:
        raise WorkloadError(f"{root} made no conv2d or linear call on the inputs: nothing to import", field="model")
    wl = Workload(name, meta={**(meta or {}), "source": f"PyTorch module {root} (accelsim torch importer)",
                              "n_images": len(xs), "input_shape": list(xs[0].shape[1:])})
    for c in first:
        w = c["weights"].double().cpu().numpy().astype(np.float32)
        kw = dict(name=c["name"], kind=c["kind"], C=c["C"], K=c["K"], H=c["H"], W=c["W"], R=c["R"], S=c["S"],
                  stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=c["groups"],
                  weight_density=float((w != 0).mean()),
                  meta={"torch_op": c["op"], "module": c["where"], **({"tokens": c["tokens"]} if "tokens" in c
                                                                       else {})})
        if store_weights:
            kw["weights"] = w
            kw["bias"] = None if c["bias"] is None else c["bias"].double().cpu().numpy().astype(np.float32)
        wl.add_layer(Layer(**kw), deps=sorted(s for s in c["src"] if s in wl.layers))
        report.layers += 1
        report.macs_imported += wl.layers[c["name"]].macs_dense
    for i, calls in enumerate(per_image):
        sig = [(c["name"], c["C"], c["K"], c["H"], c["W"]) for c in calls]
        if sig != [(c["name"], c["C"], c["K"], c["H"], c["W"]) for c in first]:
            raise WorkloadError(f"image {i} runs a different layer sequence or shapes than image 0 "
                                f"(inputs of different sizes, or data-dependent control flow)", field="inputs")
        for c in calls:
            a = c["acts"].double().cpu().numpy()
            dens = float((a != 0).mean())
            acts = None
            if store_acts:
                m = a != 0
                acts = SparseTensor(m, a[m].astype(act_dtype))
            wl.set_image_data(i, c["name"], acts=acts, act_density=dens)
    wl.meta["torch_import"] = report.to_dict()
    return wl, report


# ------------------------------------------------------- models and inputs (CLI)
class _Classifier(torch.nn.Module):
    """ResNet trunk (dynhead's, torchvision layout) + global average pool + 1000-way fc."""

    def __init__(self, depth: int):
        super().__init__()
        from dynhead.backbone import ResNet
        self.backbone = ResNet(depth=depth, width=64, norm="BN")
        self.fc = torch.nn.Linear(self.backbone.out_channels[-1], 1000)

    def forward(self, x):
        c5 = self.backbone(x)[-1]
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(c5, 1), 1))


#: built-in model names -> (description, default input C x H x W)
BUILTIN_MODELS = {
    "resnet18": ("ResNet-18 classifier, seeded random weights (BN)", (3, 224, 224)),
    "resnet50": ("ResNet-50 classifier, seeded random weights (BN)", (3, 224, 224)),
    "fcos-dynamic-large": ("FCOS detector (ResNet-18 + FPN + dynamic head), shipped lambda 0.1 checkpoint; "
                           "the shipped sample images", (3, 160, 160)),
    "fcos-dynamic-small": ("as fcos-dynamic-large with the lambda 0.8 checkpoint", (3, 160, 160)),
}


def resolve_model(spec: str, seed: int = 0) -> torch.nn.Module:
    """A built-in name (:data:`BUILTIN_MODELS`) or ``package.module:callable`` (called with no
    arguments, must return an ``nn.Module``).  Random initialisation is seeded."""
    torch.manual_seed(seed)
    if spec in ("resnet18", "resnet50"):
        return _Classifier(int(spec[6:]))
    if spec.startswith("fcos-dynamic-"):
        from dynhead import load_shipped
        return load_shipped(spec.rsplit("-", 1)[1])
    if ":" not in spec:
        raise WorkloadError(f"{spec!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) nor "
                            "'package.module:callable'", field="MODEL")
    import importlib
    mod_name, attr = spec.split(":", 1)
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's spec
        raise WorkloadError(f"cannot import module {mod_name!r}: {type(e).__name__}: {e}", field="MODEL") from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise WorkloadError(f"module {mod_name!r} has no attribute {attr!r}", field="MODEL")
        obj = getattr(obj, part)
    if callable(obj) and not isinstance(obj, torch.nn.Module):
        try:
            model = obj()
        except Exception as e:  # noqa: BLE001 - the user's factory failed
            msg = str(e).strip().splitlines()
            raise WorkloadError(f"{spec}() failed: {type(e).__name__}{': ' + msg[0] if msg else ''}",
                                field="MODEL") from None
    else:
        model = obj
    if not isinstance(model, torch.nn.Module):
        raise WorkloadError(f"{spec} gave a {type(model).__name__}, not a torch.nn.Module", field="MODEL")
    return model


def load_weights(model: torch.nn.Module, path) -> None:
    """Load a state_dict (or a dict holding one under ``state_dict``/``model``) strictly."""
    from pathlib import Path
    p = Path(path)
    if not p.is_file():
        raise WorkloadError("checkpoint not found", file=str(p))
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise WorkloadError(f"not a readable torch checkpoint ({type(e).__name__})", file=str(p)) from None
    if isinstance(obj, dict):
        for k in ("state_dict", "model"):
            if isinstance(obj.get(k), dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict):
        raise WorkloadError("checkpoint holds no state_dict", file=str(p))
    try:
        res = model.load_state_dict(obj, strict=False)
    except RuntimeError as e:  # shape mismatches
        first = next((ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()), str(e))
        raise WorkloadError(f"state_dict does not match the model: {first}", file=str(p)) from None
    bad = [*res.missing_keys[:3], *res.unexpected_keys[:3]]
    if res.missing_keys or res.unexpected_keys:
        raise WorkloadError(f"state_dict does not match the model: {len(res.missing_keys)} missing, "
                            f"{len(res.unexpected_keys)} unexpected keys (e.g. {', '.join(bad)})", file=str(p))


def parse_shape(text: str) -> tuple[int, ...]:
    """``"3x224x224"`` -> (3, 224, 224)."""
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(v < 1 for v in shape):
        raise WorkloadError(f"{text[:40]!r} is not a shape like 3x224x224", field="--input")
    check_cap("max_tensor_elements", math.prod(shape), "input elements", field="--input")
    return shape


def make_inputs(spec: str, model, shape: tuple[int, ...], n_images: int, image_dir=None, seed: int = 0):
    """Model inputs, one per image: the shipped sample images for the FCOS built-ins, RGB files of
    ``image_dir`` (resized to H x W, 0..1, ImageNet mean/std) or seeded N(0, 1) tensors."""
    import torch.nn.functional as F
    check_cap("max_images", n_images, "images", field="--images")
    if spec.startswith("fcos-dynamic-") and image_dir is None:
        from dynhead import sample_images
        from dynhead.trace import prepare_images
        xs, _ = prepare_images(model, sample_images()[:n_images], shape[-2:])
        return xs
    if image_dir is not None:
        if len(shape) != 3 or shape[0] != 3:
            raise WorkloadError(f"images need an input of 3 x H x W, got {shape}", field="--input")
        from dynhead.data import load_image_folder
        xs = []
        mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
        std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
        for _, img in load_image_folder(image_dir, limit=n_images):
            t = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
            t = F.interpolate(t, size=shape[1:], mode="bilinear", align_corners=False)
            if spec.startswith("fcos-dynamic-"):
                xs.append(model.preprocess(t * 255.0)[0])
            else:
                xs.append((t - mean) / std)
        return xs
    g = torch.Generator().manual_seed(seed)
    return [torch.randn((1, *shape), generator=g) for _ in range(n_images)]
