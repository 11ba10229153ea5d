"""Command line of ``accelsim compare``: flags -> :class:`accelsim.compare.CompareSettings` ->
:func:`accelsim.compare.run_compare` -> compare.md (or the JSON result with ``--json``) on stdout.

Errors of a settings field are reported under the field's flag (``size`` -> ``--size``,
``overrides`` -> ``--set``, ``plots`` -> ``--no-plots``)."""

from __future__ import annotations

import sys

from .cli_cluster import add_cluster_arguments
from .errors import SettingsError
from .jsonio import print_json

#: fields whose flag is not ``--`` + the field name with dashes
FLAGS = {"overrides": "--set", "measure": "--no-measure", "plots": "--no-plots"}


def add_arguments(p):
    p.add_argument("--device", default="auto", help="auto | cuda | cpu (measured, not simulated)")
    p.add_argument("--paper", action="store_true",
                   help="the paper's setting: --width 256 --baseline-depth 6 --size 800x1333, dynamic heads at the "
                        "shipped depth, every default target (other flags still apply; long on a CPU, see the "
                        "README: --dask-local / --scheduler)")
    p.add_argument("--size", default=None, help="input size HxW (padded to a multiple of 32; default 256x256); "
                                                "the paper: 800x1333")
    p.add_argument("--images", type=int, default=3, help="number of images (bundled sample images, cycled)")
    p.add_argument("--image-dir", help="folder of RGB images instead of the bundled ones")
    p.add_argument("--checkpoint-large", help="dynamic checkpoint for the 'Large' row (default: shipped D8 lambda 0.1)")
    p.add_argument("--checkpoint-small", help="dynamic checkpoint for the 'Small' row (default: shipped D8 lambda 0.8)")
    p.add_argument("--checkpoint-baseline",
                   help="gate-free (fix) checkpoint for the baseline row (default: the shipped trained D6 one)")
    p.add_argument("--width", type=int, default=None,
                   help="trace/measure a head of this channel width C (random seeded weights) driven by the "
                        "trained model's gates (default: the checkpoint's width)")
    p.add_argument("--baseline-depth", type=int, default=None,
                   help="depth D of the gate-free baseline, checked against its checkpoint (default: the "
                        "checkpoint's, 6 for the shipped one)")
    p.add_argument("--targets", default=None,
                   help="comma-separated accelerator presets to simulate (missing presets are skipped and listed; "
                        "default: the presets marked compare_default, see `accelsim list`)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PRESET:KEY=VALUE",
                   help="override a field of one target, e.g. --set scnn:pe_rows=4")
    p.add_argument("--prune", type=float, default=None,
                   help="magnitude-prune head weights to this density for all targets (default: dense weights)")
    p.add_argument("--batch", type=int, default=4, help="batch size N of the batch-N measurement")
    p.add_argument("--reps", type=int, default=20, help="timed repetitions per measurement")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--gpu-peak-tmacs", type=float, default=None,
                   help="peak TMAC/s for the iso-throughput columns (default: from the measured GPU's name, "
                        "else the paper's V100, 7.85 TMAC/s FP32)")
    p.add_argument("--iso-resimulate", action="store_true",
                   help="also re-simulate every target with its PE count scaled to the GPU's peak MAC rate "
                        "(targets '<preset>@iso'; buffers and bandwidths unchanged)")
    p.add_argument("--normalize", default="45nm", metavar="NODE",
                   help="also give every target's energy and area at one node: NODE (45nm) or NODE@VOLTS "
                        "(45nm@0.9V; default supply 0.9 V), Stillmaker & Baas 2017 scaling, one DRAM energy per "
                        "byte, 16-bit variants <preset>@16b of other-width targets; 'none': published nodes "
                        "only (default 45nm)")
    p.add_argument("--no-measure", action="store_true", help="skip the latency measurement")
    p.add_argument("--measured", metavar="COMPARE_JSON",
                   help="take the measured rows from a compare.json written elsewhere (e.g. on a GPU machine by "
                        "`accelsim compare --targets '' --device cuda`) instead of measuring here; its settings "
                        "must match this run's")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--jobs", "-j", type=int, default=None, help="simulation worker processes")
    add_cluster_arguments(p, "the simulations (image x model x target, large layers alone)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample", default=None, metavar="off|auto|FRACTION",
                   help="statistical sampling of the simulated layers' work units (scnn, eie, eyeriss-v2): auto "
                        "= each sampled layer within +-1%% at 95%%, or a fraction in (0, 1]; latencies then read "
                        "avg +- 95%% half-width (default: off, every MAC walked; --paper: auto)")
    p.add_argument("--out", default="runs/compare", help="output folder (default runs/compare)")
    p.add_argument("--json", action="store_true", help="print the JSON result to stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")


def settings_from_args(a):
    """The CompareSettings of parsed ``accelsim compare`` arguments."""
    from .compare import CompareSettings
    given = (("targets", a.targets), ("size", a.size), ("width", a.width), ("baseline_depth", a.baseline_depth),
             ("sample", a.sample))
    kw = {k: v for k, v in given if v is not None}  # the rest: the defaults (or --paper's)
    return (CompareSettings.paper if a.paper else CompareSettings)(
        device=a.device, images=a.images, image_dir=a.image_dir, checkpoint_large=a.checkpoint_large,
        checkpoint_small=a.checkpoint_small, checkpoint_baseline=a.checkpoint_baseline,
        overrides=tuple(a.overrides), prune=a.prune, batch=a.batch,
        reps=a.reps, warmup=a.warmup, gpu_peak_tmacs=a.gpu_peak_tmacs, iso_resimulate=a.iso_resimulate,
        normalize=a.normalize,
        measure=not a.no_measure, measured=a.measured, plots=not a.no_plots, jobs=a.jobs, scheduler=a.scheduler,
        dask_local=a.dask_local, seed=a.seed, out=a.out, quiet=a.quiet, **kw)


def run(a) -> int:
    from .compare import run_compare
    try:
        res = run_compare(settings_from_args(a))
    except SettingsError as e:  # name the flag, not the field
        raise e.for_flag(FLAGS) from None
    if a.json:
        print_json(res.data)
    else:
        with open(res.files["md"], encoding="utf-8") as f:
            sys.stdout.write(f.read())
        sys.stdout.write(f"\nwrote {', '.join(res.files.values())}\n")
    return 0
