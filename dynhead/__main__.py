"""``python -m dynhead {flops,train,trace,eval}``; bad input prints one line and exits 2."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import DynheadError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own code, made explicit)
        sys.stderr.write(f"dynhead: error: {message}\n")
        raise SystemExit(2)


def _cmd_flops(a) -> int:
    from .cost import flops_report, parse_size
    if a.depth < 1:
        raise DynheadError(f"--depth must be >= 1, got {a.depth}", field="depth")
    if a.channels < 1:
        raise DynheadError(f"--channels must be >= 1, got {a.channels}", field="channels")
    rep = flops_report(a.head, a.depth, parse_size(a.size), a.channels, pad=a.pad)
    if a.json:
        print(json.dumps(rep))
    else:
        h, w = rep["size"]
        print(f"{a.head} D{a.depth} C={a.channels} at {h}x{w}{' (padded to 32)' if a.pad else ''}: "
              f"{rep['positions']} positions, full cost {rep['full_macs']} MACs = {rep['gflops']:.2f} GFLOPs "
              f"(MACs/2^30, head only)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dynhead", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    f = sub.add_parser("flops", help="full-cost head GFLOPs (official accounting, spec §4)")
    f.add_argument("--head", choices=["fcos", "fix", "dynamic"], required=True)
    f.add_argument("--depth", type=int, required=True, help="D (fcos: 2*D plain convs per tower)")
    f.add_argument("--size", required=True, help="HxW input size, e.g. 800x1333")
    f.add_argument("--channels", type=int, default=256)
    f.add_argument("--pad", action="store_true", help="pad H, W up to a multiple of 32 first")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=_cmd_flops)

    try:
        from .train import add_eval_args, add_train_args
        add_train_args(sub)
        add_eval_args(sub)
    except ImportError:  # pragma: no cover
        pass
    try:
        from .trace import add_trace_args
        add_trace_args(sub)
    except ImportError:  # pragma: no cover
        pass
    return p


def main(argv=None) -> int:
    try:
        p = build_parser()  # imports torch: Ctrl-C may come here already
        a = p.parse_args(argv)
        return a.func(a) or 0
    except DynheadError as e:
        sys.stderr.write(f"dynhead: error: {e}\n")
        return 2
    except ValueError as e:  # workloads.WorkloadError and similar bad-input errors
        sys.stderr.write(f"dynhead: error: {' '.join(str(e).split())}\n")
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's code for SIGINT (outputs are written atomically)
        sys.stderr.write("dynhead: interrupted\n")
        return 130
    except BrokenPipeError:  # `python -m dynhead ... | head`: quiet, and no second error at exit's flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
