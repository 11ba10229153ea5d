"""One compare run end to end: :func:`run_compare` (settings in, :class:`CompareResult` out).

Steps: load the rows' heads -> per image, backbone+FPN features (untimed) -> head GFLOPs from the
official hard-gate tally -> per-image traces (``dynhead.trace``) -> measured head latency (dense /
masked, batch 1 / batch N; each timed forward checked with hooks to run exactly the traced convs), or
the measured rows of another run's compare.json -> every target simulated on every trace -> table,
JSON, CSV, plots in ``settings.out``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SettingsError
from ..jsonio import dumps
from .measure import load_measured, measure_rows
from .rows import image_hashes, image_tensors, load_rows, prepare, raw_images, rows_record
from .settings import CompareSettings
from .simulate import Simulations, check_imports, gpu_peak, simulate_targets
from .tables import assemble, csv_text, markdown
from .trace import timed_layer_names, trace_row


@dataclass(frozen=True)
class CompareResult:
    """What :func:`run_compare` returns."""

    settings: CompareSettings
    data: dict
    """the result as written to compare.json: settings, device, entries (one per model x target), ..."""
    files: dict[str, str]
    """``{"json"|"md"|"csv"|"plot_*": path}`` of the files written"""

    @property
    def entries(self) -> list[dict]:
        """One dict per (model, target[, batch]): kind measured / simulated / reference / accounting."""
        return self.data["entries"]

    @property
    def simulated(self) -> list[dict]:
        return [e for e in self.entries if e["kind"] == "simulated"]

    @property
    def measured(self) -> list[dict]:
        return [e for e in self.entries if e["kind"] == "measured"]

    @property
    def markdown(self) -> str:
        """The table of compare.md."""
        return markdown(self.data)

    def entry(self, model: str, target: str, batch: int = 1) -> dict:
        """The entry of one model (baseline / large / small) on one target; KeyError if there is none."""
        for e in self.entries:
            if e["model"] == model and e["target"] == target and e.get("batch", 1) == batch:
                return e
        raise KeyError((model, target, batch))


class ProgressLog:
    """Progress lines on stderr (stdout stays clean for --json), with elapsed time."""

    def __init__(self, quiet=False):
        self.t0, self.quiet, self.err = time.perf_counter(), quiet, sys.stderr

    def __call__(self, msg):
        if not self.quiet:
            self.err.write(f"[compare {time.perf_counter() - self.t0:6.1f} s] {msg}\n")
            self.err.flush()


def run_compare(settings: CompareSettings) -> CompareResult:
    """Measure and simulate the rows as ``settings`` say, write compare.json/.md/.csv (and plots) into
    ``settings.out``.  Bad input raises an ``AccelsimError`` (a :class:`SettingsError` naming the field
    where one is to blame)."""
    import torch

    from ..gpu import device_info, pick_device

    t0 = time.perf_counter()
    check_imports(settings)
    try:
        device = pick_device(settings.device)
    except ValueError as e:
        raise SettingsError("device", str(e).split(": ", 1)[-1]) from None
    torch.manual_seed(settings.seed)

    log = ProgressLog(quiet=settings.quiet)
    size = settings.size
    rows, cfg = load_rows(settings)
    raw = raw_images(settings)
    images = image_tensors(raw, size)
    prepare(rows, images, settings.seed)
    log(f"{len(images)} image(s) at {size[0]}x{size[1]}, head C={rows['small'].width} D={cfg.depth}; features and "
        f"gates ready")
    record = rows_record(settings, rows, cfg)
    traces = {}
    for name, row in (rows.items() if settings.targets else ()):  # no targets: GFLOPs and measurement only
        traces[name] = trace_row(name, row, settings, raw)
        log(f"traced {name}: {len(traces[name].layers)} layers x {traces[name].n_images} image(s)")
    convs = timed_layer_names(rows, traces)  # what the timed forward must run: the simulated convs
    dev = device_info(device)
    if settings.measured:
        measured, dev = load_measured(settings.measured, record, raw, convs)
        log(f"measured head latency taken from {settings.measured} ({dev.get('name')})")
    else:
        measured = measure_rows(rows, settings, device, convs) if settings.measure else {}
        log(f"measured head latency on {dev.get('name')}")
    peak, peak_src = gpu_peak(dev, settings.gpu_peak_tmacs)
    sims = simulate_targets(traces, settings, log, peak)

    res = assemble(settings, record, rows, traces, measured, sims, dev, peak, peak_src)
    res["measured_raw"] = measured
    res["image_hashes"] = image_hashes(raw)
    res["wall_s"] = time.perf_counter() - t0
    files = write_outputs(res, rows, traces, sims, settings, images)
    return CompareResult(settings=settings, data=res, files=files)


#: the files one compare run owns in its ``--out`` folder (an earlier run's that this one lacks are removed)
COMPARE_FILES = ("compare.json", "compare.md", "compare.csv", "latency.png", "energy.png", "scatter.png",
                 "gate_masks.png")


def write_outputs(res: dict, rows, traces, sims: Simulations, settings: CompareSettings, images) -> dict:
    """compare.md, compare.csv, the plots (``settings.plots``) and compare.json (with the list of files, in
    ``res["files"]``) into ``settings.out`` as one output set (:class:`~accelsim.outset.OutputSet`: staged,
    then published together with a manifest, so an interrupted run leaves no mixed folder); returns
    ``{key: path}``."""
    from ..outset import OutputSet

    out = Path(settings.out)
    with OutputSet(out, "compare", owns=COMPARE_FILES) as stage:
        staged = {"json": stage / "compare.json", "md": stage / "compare.md", "csv": stage / "compare.csv"}
        staged["md"].write_text(markdown(res))
        staged["csv"].write_text(csv_text(res))
        if settings.plots:
            from .plots import write_plots
            staged.update(write_plots(res, rows, traces, sims.reports, stage, images))
        res["files"] = {k: str(out / Path(v).name) for k, v in staged.items()}
        staged["json"].write_text(dumps(res))
    return dict(res["files"])
