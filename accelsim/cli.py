"""Command line: ``accelsim {simulate,validate,compare,sweep,workload,list}``.

``--json`` prints machine-readable results to stdout; otherwise rich tables.
Bad input prints one line ``accelsim: error: ...`` to stderr and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from pathlib import Path

from .cli_cluster import add_cluster_arguments
from .cli_tables import add_format_argument, emit, resolve_format
from .errors import USER_ERRORS, AccelsimError, SettingsError
from .jsonio import print_json as _print_json


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _seed(text: str) -> int:
    """argparse type of ``--seed``: a whole number >= 0 (numpy's generators take no negative seed)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _flag_error(e: SettingsError, flag: str) -> AccelsimError:
    return e.for_flag({e.field: flag})


def _check_shared(a) -> None:
    """``--shared``: an existing folder (or ``none``), never silently ignored."""
    from .errors import check_shared
    try:
        check_shared("shared", a.shared)
    except SettingsError as e:
        raise _flag_error(e, "--shared") from None


def _check_out(a, kind: str = "file", flag: str = "--out") -> None:
    """``--out`` checked before any work: a file name that is no folder, or a folder that is no file, in
    a place that can be written."""
    from .outset import check_output_dir, check_output_file
    try:
        (check_output_file if kind == "file" else check_output_dir)("out", a.out)
    except SettingsError as e:
        raise _flag_error(e, flag) from None


def _console():
    from rich.console import Console
    return Console()


# ------------------------------------------------------------------ simulate
def _add_simulate(sub):
    p = sub.add_parser("simulate", help="simulate a workload on an accelerator model")
    p.add_argument("--workload", "-w", required=True, help="zoo name, .npz workload file or SCALE-Sim topology .csv")
    p.add_argument("--arch", "-a", required=True, help="preset name (see `accelsim list`) or a .yaml file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config field, e.g. --set pe_rows=4 --set multipliers.F=8")
    p.add_argument("--images", help="comma-separated image indices (default: all)")
    p.add_argument("--layers", help="comma-separated layer names or shell patterns, e.g. 'head.*' (default: all)")
    p.add_argument("--functional", action="store_true", help="also compute and check the layer outputs")
    p.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: all cores)")
    add_cluster_arguments(p, "the (layer, image) work")
    p.add_argument("--seed", type=_seed, default=0, help="seed for synthetic data of density-only layers and "
                                                          "of --sample's draws")
    p.add_argument("--sample", default="off", metavar="off|auto|FRACTION",
                   help="statistical sampling of each layer's work units (models that name them: scnn, eie, "
                        "eyeriss-v2): auto = each sampled layer within +-1%% at 95%%, or a fraction in (0, 1]; "
                        "reports carry 95%% intervals (default: off, every MAC walked)")
    p.add_argument("--skip-unsupported", action="store_true", help="skip layers the model cannot run (listed)")
    p.add_argument("--shared", help="shared data folder (default: $ACCELSIM_SHARED or ../shared)")
    p.add_argument("--json", action="store_true", help="print the JSON report to stdout")
    p.add_argument("--out", help="write report.json, COMPUTE_REPORT.csv and summary.md to this folder")
    p.add_argument("--chrome-trace", metavar="FILE",
                   help="write a layer timeline in Chrome trace-event JSON (open in Perfetto)")
    p.add_argument("--pe-tracks", action="store_true",
                   help="with --chrome-trace: one track per PE (compute / barrier wait per round) for models "
                        "that record it (scnn and dcnn presets)")
    p.add_argument("--plots", action="store_true", help="with --out: also write the report's plots "
                                                        "(cycle/energy breakdown, utilisation, per-image, roofline)")
    p.set_defaults(func=_cmd_simulate)


#: SimulateSettings fields whose flag is not ``--`` + the field name with dashes
_SIMULATE_FLAGS = {"overrides": "--set", "on_unsupported": "--skip-unsupported"}


def _cmd_simulate(a):
    from .simulate_api import SimulateSettings, run_simulate
    try:
        rep = run_simulate(SimulateSettings(
            workload=a.workload, arch=a.arch, overrides=tuple(a.overrides), images=a.images,
            layers=a.layers, functional=a.functional, jobs=a.jobs, seed=a.seed,
            on_unsupported="skip" if a.skip_unsupported else "error", shared=a.shared, out=a.out,
            chrome_trace=a.chrome_trace, pe_tracks=a.pe_tracks, plots=a.plots, scheduler=a.scheduler,
            dask_local=a.dask_local, sample=a.sample))
    except SettingsError as e:  # name the flag, not the field
        raise e.for_flag(_SIMULATE_FLAGS) from None
    if a.plots and not rep.results:  # every layer skipped: empty axes would pass for a result
        sys.stderr.write("accelsim: note: --plots: no layer was simulated, no plots written\n")
    if a.json:
        _print_json(rep.to_dict())
        return 0
    from rich.table import Table
    t = rep.total()
    tab = Table(title=f"{rep.cfg.name} on {rep.workload.name} @ {rep.cfg.clock_hz / 1e6:g} MHz")
    for col in ("layer", "image", "cycles", "latency (us)", "energy (uJ)", "util %", "effectual MACs"):
        tab.add_column(col, justify="right" if col != "layer" else "left")
    for r in rep.results:
        tab.add_row(r.name, str(r.image), f"{r.cycles:,}", f"{r.latency_s * 1e6:.3f}", f"{r.energy_j * 1e6:.4f}",
                    f"{100 * (r.utilization or 0):.1f}", f"{r.macs_effectual:,}")
    ci = t.get("sampling") or {}
    pm = lambda v, k: f"{v:,} +- {ci[k]:,.0f}" if ci.get(k) else f"{v:,}"  # noqa: E731
    tab.add_row("total", "", pm(t["cycles"], "cycles_half_width"), f"{t['latency_s'] * 1e6:.3f}",
                f"{t['energy_j'] * 1e6:.4f}", f"{100 * (t['utilization'] or 0):.1f}", f"{t['macs_effectual']:,}",
                style="bold")
    c = _console()
    c.print(tab)
    if ci:
        c.print(f"sampling: {ci['mode']}; {ci['sampled_layers']} of {ci['layers']} layer(s) sampled, 95 % "
                f"interval on total cycles +- {ci['cycles_half_width']:,.0f} "
                f"({100 * ci['cycles_half_width'] / max(1, t['cycles']):.2f} %)")
    c.print("cycle breakdown: " + ", ".join(f"{k} {v:,}" for k, v in sorted(t["breakdown"].items())))
    if rep.skipped:
        c.print(f"skipped {len(rep.skipped)} unsupported layer(s): " + ", ".join(s["name"] for s in rep.skipped))
    if a.out:
        c.print(f"wrote {a.out}/report.json, COMPUTE_REPORT.csv, summary.md"
                + (" and plots" if a.plots and rep.results else ""))
    return 0


# ------------------------------------------------------------------ plot
def _add_plot(sub):
    p = sub.add_parser("plot", help="plots of a saved simulation report (report.json)")
    p.add_argument("report", help="report.json written by `accelsim simulate --out`")
    p.add_argument("--out", required=True, help="folder for the PNG files")
    p.add_argument("--top", type=int, default=30, help="layers drawn per bar chart (largest by cycles; "
                                                       "the rest merged into one bar)")
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(a):
    from .outset import OutputSet, check_member
    from .paths import read_json
    from .report_plots import PLOTS, check_report, write_report_plots
    _check_out(a, "folder")
    if a.top < 1:
        raise AccelsimError(f"--top: must be >= 1, got {a.top}")
    path = Path(a.report)
    rep = read_json(path, "", "JSON report")
    check_member(path)
    try:
        check_report(rep)
    except AccelsimError as e:
        raise AccelsimError(f"{path}: {e}") from None
    try:
        with OutputSet(a.out, "plot", owns=tuple(f"{n}.png" for n in PLOTS)) as stage:
            files = write_report_plots(rep, stage, top=a.top)
    except SettingsError as e:
        raise _flag_error(e, "--out") from None
    for f in files.values():
        print(f"wrote {Path(a.out) / Path(f).name}")
    return 0


# ------------------------------------------------------------------ validate
def _add_validate(sub):
    p = sub.add_parser("validate", help="check a model against the shared reference data / the paper")
    p.add_argument("model", help="model name (scnn, eie, cambricon-x, eyeriss-v2, systolic, ...)")
    p.add_argument("--full", action="store_true", help="run the full (slow) set of checks")
    p.add_argument("--shared", help="shared data folder (default: $ACCELSIM_SHARED or ../shared)")
    p.add_argument("--json", action="store_true", help="the whole result as JSON")
    add_format_argument(p)
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(a):
    from .paths import shared_dir
    from .registry import get_model_class, model_names
    name = a.model
    _check_shared(a)
    try:
        suite = get_model_class(name).validation_suite()
    except AccelsimError:
        raise AccelsimError(f"unknown model {name!r} (known: {', '.join(model_names())})") from None
    if suite is None:
        raise AccelsimError(f"model {name!r} has no validation suite")
    res = suite(shared_dir(a.shared), full=a.full)
    if a.json:
        _print_json(res)
        return 0
    rows = []
    for ch in res.get("checks", []):
        re_ = ch.get("rel_error")
        rows.append((ch.get("name"), ch.get("kind", ""), _fmt(ch.get("simulated")), _fmt(ch.get("reference")),
                     f"{100 * re_:+.2f} %" if isinstance(re_, (int, float)) else "", ch.get("unit", ""),
                     {True: "yes", False: "NO"}.get(ch.get("pass"), "-"), ch.get("note", "")))
    emit(("check", "kind", "simulated", "reference", "rel. error", "unit", "pass", "note"), rows,
         resolve_format(a.format), title=f"validation: {name}")
    return 0


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


# ------------------------------------------------------------------ workload
def _add_workload(sub):
    p = sub.add_parser("workload", help="inspect, list or convert workloads")
    ws = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    s = ws.add_parser("show", help="shapes, densities and MACs of a workload")
    s.add_argument("workload")
    s.add_argument("--json", action="store_true", help="the whole summary as JSON")
    add_format_argument(s)
    s.add_argument("--no-effectual", action="store_true", help="skip counting effectual MACs (fast)")
    s.add_argument("--seed", type=_seed, default=0)
    s.add_argument("--shared")
    s.set_defaults(func=_cmd_workload_show)
    c = ws.add_parser("convert", help="convert to .npz (workload file) or .csv (SCALE-Sim topology)")
    c.add_argument("workload")
    c.add_argument("--out", required=True)
    c.add_argument("--seed", type=_seed, default=0)
    c.add_argument("--shared")
    c.set_defaults(func=_cmd_workload_convert)
    ls = ws.add_parser("list", help="built-in workload names")
    ls.add_argument("--json", action="store_true")
    add_format_argument(ls)
    ls.set_defaults(func=_cmd_workload_list)
    t = ws.add_parser("import-torch", help="run a PyTorch model and import every conv2d/linear call with its "
                                           "real activations and weights")
    t.add_argument("model", metavar="MODEL", help="built-in (resnet18, resnet50, fcos-dynamic-large, "
                                                  "fcos-dynamic-small) or package.module:callable")
    t.add_argument("--out", required=True, help="workload file to write (.npz)")
    t.add_argument("--input", help="input shape C x H x W, e.g. 3x224x224 (default: the built-in's)")
    t.add_argument("--images", type=int, default=1, help="number of images (default 1)")
    t.add_argument("--image-dir", help="RGB images to run (default: seeded random inputs; the FCOS built-ins "
                                       "use the shipped sample images)")
    t.add_argument("--checkpoint", help="state_dict to load into the model (strict)")
    t.add_argument("--name", help="workload name (default: MODEL)")
    t.add_argument("--no-acts", action="store_true", help="store activation densities only")
    t.add_argument("--seed", type=_seed, default=0, help="seed of the weights' init and of random inputs")
    t.add_argument("--json", action="store_true", help="print the import report as JSON")
    t.set_defaults(func=_cmd_workload_import_torch)


def _cmd_workload_show(a):
    from workloads.effectual import workload_summary
    from workloads.zoo import resolve
    _check_shared(a)
    wl = resolve(a.workload, shared=a.shared, seed=a.seed)
    summ = workload_summary(wl, effectual=not a.no_effectual)
    extra = getattr(wl, "extra_summary", None)
    if extra:
        summ.update(extra)
    if a.json:
        _print_json(summ)
        return 0
    cols = ["name", "kind", "C", "K", "H", "W", "R", "S", "stride", "P", "Q", "macs_dense", "act_density",
            "weight_density", "out_density", "macs_effectual"]
    rows = [[_fmt(r.get(col)) if not isinstance(r.get(col), float) else f"{r[col]:.3f}" for col in cols]
            for r in summ["layers"]]
    fmt = resolve_format(a.format)
    foot = [f"total dense MACs: {summ['total']['macs_dense']:,}"] if fmt in ("table", "markdown") else []
    emit(cols, rows, fmt, title=f"{wl.name}  ({wl.n_images} image(s), hash {summ['hash'][:12]})", footer=foot)
    return 0


def _cmd_workload_convert(a):
    from workloads.importers import export_topology_csv
    from workloads.zoo import resolve
    if not a.out.endswith((".csv", ".npz")):
        raise AccelsimError(f"--out: {a.out}: expected a .npz or .csv file name")
    _check_out(a)
    _check_shared(a)
    wl = resolve(a.workload, shared=a.shared, seed=a.seed)
    if a.out.endswith(".csv"):
        export_topology_csv(wl, a.out)
    else:
        wl.save(a.out)
    print(f"wrote {a.out}")
    return 0


def _cmd_workload_import_torch(a):
    from workloads.torch_import import (
        BUILTIN_MODELS,
        import_torch,
        load_weights,
        make_inputs,
        parse_shape,
        resolve_model,
    )
    if not a.out.endswith(".npz"):
        raise AccelsimError(f"--out: {a.out}: expected a .npz file name")
    _check_out(a)
    if a.images < 1:
        raise AccelsimError(f"--images: must be >= 1, got {a.images}")
    model = resolve_model(a.model, seed=a.seed)
    shape = parse_shape(a.input) if a.input else BUILTIN_MODELS.get(a.model, (None, None))[1]
    if shape is None:
        raise AccelsimError(f"--input: needed for {a.model} (e.g. --input 3x224x224)")
    if a.checkpoint:
        load_weights(model, a.checkpoint)
    xs = make_inputs(a.model, model, shape, a.images, a.image_dir, seed=a.seed)
    if len(xs) < a.images:  # a workload of fewer images than asked for would pass unnoticed downstream
        raise AccelsimError(f"--images: {a.images} asked for, but only {len(xs)} image(s) available "
                            f"({a.image_dir or 'the shipped sample images'})")
    meta = {"model": a.model, "checkpoint": a.checkpoint, "seed": a.seed,
            "inputs": "image folder" if a.image_dir else ("shipped sample images" if a.model.startswith("fcos-")
                                                         else "seeded N(0,1)")}
    try:
        wl, rep = import_torch(model, xs, a.name or a.model.replace(":", "."), store_acts=not a.no_acts, meta=meta)
    except USER_ERRORS:
        raise
    except Exception as e:  # noqa: BLE001 - the user's model failed on these inputs (any exception type)
        msg = str(e).strip().splitlines()
        raise AccelsimError(f"MODEL: {a.model} failed on inputs of shape {tuple(xs[0].shape)}: "
                            f"{type(e).__name__}{': ' + msg[0] if msg else ''}") from None
    wl.save(a.out)
    if a.json:
        _print_json({"out": a.out, "hash": wl.content_hash, **rep.to_dict()})
    else:
        for line in rep.lines():
            print(line)
        print(f"wrote {a.out} ({len(wl.layers)} layers, {wl.n_images} image(s))")
    return 0


def _cmd_workload_list(a):
    from workloads.zoo import list_workloads
    names = list_workloads()
    if a.json:
        _print_json(names)
    elif a.format:
        emit(("workload", "description"), list(names.items()), a.format)
    else:
        for n, d in names.items():
            print(f"{n:32s} {d}")
    return 0


# ------------------------------------------------------------------ list
def _add_list(sub):
    p = sub.add_parser("list", help="accelerator presets, models and energy tables")
    p.add_argument("--json", action="store_true")
    add_format_argument(p)
    p.set_defaults(func=_cmd_list)


def _cmd_list(a):
    from .config import list_presets, load_arch
    from .energy import list_tables
    from .registry import model_names
    presets = {}
    for n in list_presets():
        cfg = load_arch(n)
        presets[n] = {"model": cfg.model, "clock_hz": cfg.clock_hz, "description": cfg.description}
    out = {"presets": presets, "models": model_names(), "energy_tables": list_tables()}
    if a.json:
        _print_json(out)
    elif a.format:
        emit(("preset", "model", "clock_hz", "description"),
             [(n, d["model"], d["clock_hz"], d["description"]) for n, d in presets.items()], a.format)
    else:
        for n, d in presets.items():
            print(f"{n:20s} model={d['model']:14s} {d['clock_hz'] / 1e6:8g} MHz  {d['description']}")
        print("energy tables:", ", ".join(out["energy_tables"]))
    return 0


# ------------------------------------------------------------------ delegated commands
_DELEGATED = {"compare": ("accelsim.cli_compare", "GPU/CPU-measured head latency beside simulated accelerators"),
              "sweep": ("accelsim.cli_sweep", "design-space sweeps (local or Dask) with Pareto output")}


def _add_delegated(sub):
    for name, (modname, helptext) in _DELEGATED.items():
        p = sub.add_parser(name, help=helptext)
        try:
            mod = importlib.import_module(modname)
        except ImportError as e:
            p.set_defaults(func=lambda a, n=name, e=e: (_ for _ in ()).throw(
                AccelsimError(f"'{n}' is unavailable: {e}")))
            continue
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="accelsim", description=__doc__.splitlines()[0])
    from . import __version__
    p.add_argument("--version", action="version", version=f"accelsim {__version__}")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import a third-party model module first (repeatable; also $ACCELSIM_PLUGINS; installed "
                        "packages with an 'accelsim.models' entry point are found without it)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_simulate(sub)
    _add_plot(sub)
    _add_validate(sub)
    _add_delegated(sub)
    _add_workload(sub)
    _add_list(sub)
    return p


def _load_plugins(argv):
    """Import ``--plugin MODULE`` models before the parser is built (compare's default targets and the
    preset list then include theirs); returns argv without those options."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugin", action="append", default=[])
    known, rest = pre.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    from .registry import load_plugin
    for mod in known.plugin:
        load_plugin(mod)
    return rest


class Terminated(KeyboardInterrupt):
    """SIGTERM / SIGHUP as an exception, so what is being written is cleaned up as for Ctrl-C."""


def _terminate_handler(main_pid: int):
    def handler(signum, frame):
        if os.getpid() != main_pid:  # a forked worker: die as the signal says, quietly
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(signum)
    return handler


def _install_signal_handlers() -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}
    h = _terminate_handler(os.getpid())
    return {sig: signal.signal(sig, h) for sig in (signal.SIGTERM, signal.SIGHUP)}


def main(argv=None) -> int:
    try:
        argv = _load_plugins(argv)
    except USER_ERRORS as e:
        sys.stderr.write(f"accelsim: error: {e}\n")
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = _install_signal_handlers()
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as e:
        sys.stderr.write(f"accelsim: error: {' '.join(str(e).split())}\n")  # always one line
        return 2
    except BrokenPipeError:
        return 0
    except Terminated as e:
        sys.stderr.write("accelsim: terminated\n")
        return 128 + int(e.args[0])
    except KeyboardInterrupt:
        sys.stderr.write("accelsim: interrupted\n")
        return 130
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


if __name__ == "__main__":
    sys.exit(main())
