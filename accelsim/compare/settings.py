"""What one ``accelsim compare`` run does: :class:`CompareSettings`, validated once on construction.

The defaults are the CLI's (``accelsim compare`` with no arguments); the CLI builds this object from
its flags (``--no-measure`` is ``measure=False``, ``--no-plots`` is ``plots=False``, ``--set`` is
``overrides``).  A bad value raises :class:`accelsim.errors.SettingsError` (an ``AccelsimError``)
whose one-line message starts with the field's name (the CLI names the flag instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..distributed import check_cluster
from ..errors import SettingsError, check_bool, check_int, check_path
from .constants import TORCH_NUMPY_ONLY


def default_targets() -> tuple[str, ...]:
    """The presets simulated when no targets are given: those whose YAML says ``compare_default: true``."""
    try:
        from ..registry import compare_default_presets
        return tuple(compare_default_presets())
    except ImportError as e:  # yaml: a machine with torch + numpy only
        raise SettingsError("targets", f"the default targets need {e.name or e}, which is not importable here; "
                                       f"{TORCH_NUMPY_ONLY}") from None


def parse_override(item: str) -> tuple[str, str]:
    """``"PRESET:KEY=VALUE"`` -> ``("PRESET", "KEY=VALUE")``; ValueError on another shape."""
    preset, sep, kv = item.partition(":")
    if not sep or "=" not in kv or not preset or kv.startswith("="):
        raise ValueError(f"expected PRESET:KEY=VALUE, got {item!r}")
    return preset, kv


@dataclass(frozen=True)
class CompareSettings:
    """Settings of one compare run (see :func:`accelsim.compare.run_compare`)."""

    device: str = "auto"
    """where the head is measured: ``auto`` (CUDA when available), ``cuda``, ``cuda:N`` or ``cpu``"""
    size: tuple[int, int] | str = (256, 256)
    """input size (height, width) in pixels, or ``"HxW"``; padded to a multiple of 32 (the paper: 800x1333)"""
    images: int = 3
    """number of images (the bundled sample images, or ``image_dir``'s, cycled)"""
    image_dir: str | None = None
    """folder of RGB images instead of the bundled ones"""
    checkpoint_large: str | None = None
    """dynamic checkpoint (file) of the 'Large' row; None: the shipped lambda 0.1 D8 model"""
    checkpoint_small: str | None = None
    """dynamic checkpoint (file) of the 'Small' row; None: the shipped lambda 0.8 D8 model"""
    checkpoint_baseline: str | None = None
    """gate-free ("fix") checkpoint (file) of the baseline row; None: the shipped D6 model, trained with the
    same recipe, data and CPU budget as the dynamic ones"""
    width: int | None = None
    """channel width C of the measured/traced head (random seeded weights, driven by the trained gates);
    a multiple of 32 (GroupNorm groups); None: the checkpoints' width"""
    baseline_depth: int | None = None
    """depth D (conv stages per tower) of the gate-free baseline: a check against the baseline checkpoint's
    depth (another depth needs another checkpoint); None: the checkpoint's (the shipped one: 6)"""
    targets: tuple[str, ...] | str = field(default_factory=default_targets)
    """accelerator presets to simulate (a tuple, or one comma-separated string); missing presets are
    skipped and listed; empty: GFLOPs and measurement only.  Default: :func:`default_targets`"""
    overrides: tuple[str, ...] = ()
    """``"PRESET:KEY=VALUE"`` field overrides of single targets, e.g. ``"scnn:pe_rows=4"``"""
    prune: float | None = None
    """magnitude-prune the head weights to this density in (0, 1] for all targets; None: dense weights"""
    batch: int = 4
    """batch size N of the batch-N measurement (images)"""
    reps: int = 20
    """timed repetitions per measurement"""
    warmup: int = 5
    """untimed repetitions before each measurement"""
    gpu_peak_tmacs: float | None = None
    """peak rate of the GPU for the iso-throughput columns, in TMAC/s; None: from the measured GPU's
    name, else the paper's V100 (7.85 TMAC/s FP32)"""
    iso_resimulate: bool = False
    """also re-simulate every target with its PE count scaled to the GPU's peak (targets ``<preset>@iso``)"""
    normalize: str = "45nm"
    """one technology for every target: ``NODE`` (``45nm``) or ``NODE@VOLTS`` (``45nm@0.9V``; default supply
    0.9 V) rescales each target's per-action energies and area to that node with the Stillmaker & Baas
    model, gives every target one DRAM energy per byte, and adds a 16-bit variant ``<preset>@16b`` of
    each target with another datapath width (:mod:`accelsim.compare.technology`); ``none``: the published
    nodes only.  Stored in canonical form (``45nm@0.9V`` or ``none``)"""
    measure: bool = True
    """measure the head's latency on ``device`` (False: GFLOPs and simulation only)"""
    measured: str | None = None
    """a compare.json written elsewhere whose measured rows are taken instead of measuring here; its
    settings must match this run's"""
    plots: bool = True
    """write the PNG plots (needs matplotlib)"""
    jobs: int | None = None
    """simulation worker processes; None: the engine's default"""
    scheduler: str | None = None
    """simulate on this Dask scheduler (``tcp://HOST:PORT``): image x model x target units, large layers
    alone; the same numbers as a local run"""
    dask_local: int | None = None
    """simulate on a local Dask cluster of this many worker processes"""
    seed: int = 0
    """seed of the random weights/features and of the simulation's synthetic data"""
    sample: str = "off"
    """statistical sampling of the simulated layers' work units: ``"off"``, ``"auto"`` (each sampled layer's
    cycles within +-1 % at 95 %) or a fraction in (0, 1] (:mod:`accelsim.sampling`); seeded by ``seed``"""
    out: Path | str = Path("runs/compare")
    """output folder (compare.json, compare.md, compare.csv, plots)"""
    quiet: bool = False
    """no progress lines on stderr"""

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        def number(name, ok, what):
            v = getattr(self, name)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(float(v)):
                    raise SettingsError(name, f"must be {what}, got {v!r}")
                put(name, float(v))

        for name in ("image_dir", "checkpoint_large", "checkpoint_small", "checkpoint_baseline", "measured"):
            put(name, check_path(name, getattr(self, name)))
        put("out", Path(check_path("out", self.out, optional=False)))
        dev = self.device
        if not isinstance(dev, str) or not (dev in ("auto", "cpu") or dev.startswith("cuda")):
            raise SettingsError("device", f"expected auto, cuda or cpu, got {dev!r}")
        put("size", _size(self.size))
        for name, lo in (("images", 1), ("batch", 1), ("reps", 1), ("warmup", 0), ("seed", None)):
            check_int(name, getattr(self, name), lo)
        check_int("width", self.width, 32, optional=True)
        if self.width is not None and self.width % 32:
            raise SettingsError("width", f"must be a multiple of 32 (GroupNorm groups), got {self.width}")
        check_int("baseline_depth", self.baseline_depth, 1, optional=True)
        check_int("jobs", self.jobs, 1, optional=True)
        check_cluster(self.scheduler, self.dask_local, self.jobs)
        from ..sampling import SampleSpec
        put("sample", SampleSpec.canonical(self.sample))
        number("prune", lambda x: 0.0 < x <= 1.0, "a density in (0, 1]")
        number("gpu_peak_tmacs", lambda x: 0.0 < x < float("inf"), "a positive number of TMAC/s")
        for name in ("iso_resimulate", "measure", "plots", "quiet"):
            check_bool(name, getattr(self, name))
        put("normalize", _normalize(self.normalize))
        put("targets", _names(self.targets))
        ov = self.overrides
        if isinstance(ov, str) or not all(isinstance(x, str) for x in ov):
            raise SettingsError("overrides", f"must be a sequence of 'PRESET:KEY=VALUE' strings, got {ov!r}")
        put("overrides", tuple(ov))
        for item in self.overrides:
            try:
                preset, _ = parse_override(item)
            except ValueError as e:
                raise SettingsError("overrides", str(e)) from None
            if preset not in self.targets:
                raise SettingsError("overrides", f"{preset!r} is not one of the targets "
                                                 f"({', '.join(self.targets)})")

    #: what :meth:`paper` fixes: C = 256, a D6 gate-free baseline, 800x1333 inputs
    PAPER = {"width": 256, "baseline_depth": 6, "size": (800, 1333)}

    @classmethod
    def paper(cls, **fields) -> "CompareSettings":
        """The paper's setting (``accelsim compare --paper``): head width C = 256, the gate-free baseline at
        depth 6, the dynamic heads at the shipped checkpoints' depth, 800x1333 inputs, every default target
        (:func:`default_targets`), simulation sampled (``sample="auto"``: exhaustive takes hours per image
        here).  ``fields`` set the rest (images, targets, measure, ``sample="off"``, ...); a ``width``,
        ``baseline_depth`` or ``size`` other than the paper's is a SettingsError."""
        s = cls(**{**cls.PAPER, "sample": "auto", **fields})
        for name, want in cls.PAPER.items():
            got = getattr(s, name)
            if got != want:
                def text(v):
                    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
                raise SettingsError(name, f"{text(got)} is not the paper's setting ({text(want)}); leave it out "
                                          f"with the paper preset")
        return s

    @property
    def overrides_by_target(self) -> dict[str, list[str]]:
        """``{target: ["KEY=VALUE", ...]}`` for every target (empty lists where nothing is overridden)."""
        out = {t: [] for t in self.targets}
        for item in self.overrides:
            preset, kv = parse_override(item)
            out[preset].append(kv)
        return out

    @property
    def normalization(self):
        """The :class:`accelsim.energy.Normalization` of ``normalize``; None for ``none``."""
        from ..energy import parse_normalize
        return parse_normalize(self.normalize)

    def checkpoint(self, row: str) -> str | None:
        """The checkpoint file of a row (``"baseline"``, ``"large"`` or ``"small"``); None: the shipped one."""
        return {"baseline": self.checkpoint_baseline, "large": self.checkpoint_large,
                "small": self.checkpoint_small}[row]


def _size(v) -> tuple[int, int]:
    from dynhead.cost import level_sizes, parse_size
    from dynhead.errors import DynheadError
    if isinstance(v, str):
        try:
            v = parse_size(v)
        except DynheadError as e:
            raise SettingsError("size", e.reason) from None
    if (not isinstance(v, (tuple, list)) or len(v) != 2
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in v)):
        raise SettingsError("size", f"expected 'HxW' or (height, width) in positive pixels, got {v!r}")
    h, w = v
    p7 = level_sizes((h, w), pad=True)[-1]
    if p7[0] * p7[1] < 2:  # GroupNorm over one pixel x one channel per group is undefined
        raise SettingsError("size", f"{h}x{w} is too small, P7 would be {p7[0]}x{p7[1]} (need at least "
                                    f"2 pixels, e.g. 128x192 or 256x256)")
    return (h, w)


def _normalize(v) -> str:
    from ..energy import parse_normalize
    if not isinstance(v, str):
        raise SettingsError("normalize", f"expected NODE (45nm), NODE@VOLTS (45nm@0.9V) or none, got {v!r}")
    try:
        n = parse_normalize(v)
    except ValueError as e:
        raise SettingsError("normalize", str(e)) from None
    return "none" if n is None else n.label


def _names(v) -> tuple[str, ...]:
    if isinstance(v, str):
        v = v.split(",")
    try:
        names = tuple(v)
    except TypeError:
        raise SettingsError("targets", f"expected preset names, got {v!r}") from None
    if not all(isinstance(t, str) and "," not in t for t in names):
        raise SettingsError("targets", f"expected preset names, got {v!r}")
    return tuple(t.strip() for t in names if t.strip())
