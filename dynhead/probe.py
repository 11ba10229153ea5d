"""Which convolutions of a dynamic (or Fix) head a call actually runs, named as ``dynhead.trace`` names
the traced layers (``{tower}.s{d}.l{level}.{op}``, ``pred.l{level}.{cls,box,ctr}``).

:func:`executed_convs` puts a torch forward hook on every ``nn.Conv2d`` of the head and a
:func:`dynhead.masked_conv.register_masked_conv_hook` hook on the masked depth path (which uses the
conv weights without calling the module), runs the call once and returns the layer names in the
order they ran.  A shared conv module runs once per FPN level, in level order, so its k-th call is
level k; the input's spatial size is checked against that level's.  :func:`conv_list_mismatch` says
how two such lists differ.  Used by ``accelsim compare`` to assert that the timed forward runs
exactly the convolutions the simulators are given, on the CPU and on CUDA.  Needs only torch.
"""

from __future__ import annotations

from collections import Counter

import torch.nn as nn

from .errors import DynheadError
from .masked_conv import register_masked_conv_hook
from .trace import layer_name


def conv_ops(head) -> dict:
    """``{conv module: (tower, stage, op)}`` of every conv of a dynamic or Fix head (stage None for
    the predictors), ops as in ``dynhead.trace.OPS_STAGE``."""
    if getattr(head, "kind", None) not in ("dynamic", "fix"):
        raise DynheadError(f"conv probe needs a dynamic or fix head, got {getattr(head, 'kind', None)!r}",
                           field="head")
    ops = {head.cls_score: ("pred", None, "cls"), head.bbox_pred: ("pred", None, "box"),
           head.centerness: ("pred", None, "ctr")}
    for tower, net in (("cls", head.cls_subnet), ("reg", head.bbox_subnet)):
        for d, st in enumerate(net):
            if st.gated:
                for s, path in enumerate(st.dynamic_convs):
                    ops[path.convs[0]] = (tower, d, f"scale{s}")
                    ops[path.gate.gate_conv] = (tower, d, f"gate_scale{s}")
                ops[st.depth_module.gate.gate_conv] = (tower, d, "gate_depth")
            else:
                for s, seq in enumerate(st.convs):
                    ops[seq[0]] = (tower, d, f"scale{s}")
            bn = st.depth_module.bottleneck
            ops[bn.conv1] = (tower, d, "conv1")
            ops[bn.conv2] = (tower, d, "conv2")
    return ops


def executed_convs(head, fn, level_sizes=None) -> list[str]:
    """Run ``fn()`` once and return the layer names of the convs of ``head`` it ran, in order.

    ``level_sizes``: the (H, W) of each FPN level; a conv whose k-th call does not see level k's size
    is reported as ``<name>@HxW``.  A conv the mapping does not know is reported by its module path
    (``?<path>``), so an extra conv can never go unseen."""
    ops = conv_ops(head)
    paths = {m: p for p, m in head.named_modules()}
    calls = Counter()
    names: list[str] = []

    def seen(module, x):
        if module not in ops:
            names.append(f"?{paths.get(module, type(module).__name__)}")
            return
        level = calls[module]
        calls[module] += 1
        tower, stage, op = ops[module]
        name = layer_name(tower, stage, level, op)
        hw = tuple(x.shape[-2:])
        if level_sizes is not None and (level >= len(level_sizes) or hw != tuple(level_sizes[level])):
            name += f"@{hw[0]}x{hw[1]}"
        names.append(name)

    handles = [m.register_forward_hook(lambda mod, inp, out: seen(mod, inp[0]))
               for m in head.modules() if isinstance(m, nn.Conv2d)]
    handles.append(register_masked_conv_hook(lambda conv, x, mask: seen(conv, x)))
    try:
        fn()
    finally:
        for h in handles:
            h.remove()
    return names


def conv_list_mismatch(executed, expected) -> str | None:
    """None when ``executed`` runs every name of ``expected`` exactly once and nothing else, else a
    one-line account (how many are missing, extra or repeated, with the first few names)."""
    ran, want = Counter(executed), set(expected)
    missing = sorted(want - set(ran))
    extra = sorted(set(ran) - want)
    repeated = sorted(n for n, c in ran.items() if c > 1)
    if not (missing or extra or repeated):
        return None

    def few(xs):
        return ", ".join(xs[:4]) + (f", ... ({len(xs)} in all)" if len(xs) > 4 else "")
    parts = [f"{len(missing)} not run ({few(missing)})" if missing else "",
             f"{len(extra)} not expected ({few(extra)})" if extra else "",
             f"{len(repeated)} run more than once ({few(repeated)})" if repeated else ""]
    return "; ".join(p for p in parts if p)
