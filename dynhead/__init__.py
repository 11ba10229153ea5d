"""dynhead: FCOS with the Fine-Grained Dynamic Head (Song et al., NeurIPS 2020) in plain PyTorch.

Modules: ``model`` (ResNet + FPN + FCOS/Fix/Dynamic heads), ``gates``, ``masked_conv``
(gather-GEMM-scatter sparse inference), ``cost`` (official FLOPs accounting), ``checkpoint``,
``data`` (synthetic detection set), ``train``, ``trace`` (to ``workloads.Workload``).
CLI: ``python -m dynhead {flops,train,trace,eval}``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DynheadError

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKPOINT_DIR = PACKAGE_DIR / "checkpoints"
IMAGE_DIR = PACKAGE_DIR / "images"

# shipped checkpoints: name -> file (see checkpoints/MODEL_CARD.md): the paper's depths, one recipe and budget
SHIPPED = {"small": "dynamic_r18n_c32_d8_lam0.8.pt",   # dynamic D8, larger lambda: smaller compute budget
           "large": "dynamic_r18n_c32_d8_lam0.1.pt",   # dynamic D8, lambda 0.1
           "baseline": "fix_r18n_c32_d6.pt"}           # gate-free ("fix") D6: rebuttal Table 5's baseline


def shipped_path(name: str) -> Path:
    if name not in SHIPPED:
        raise DynheadError(f"unknown shipped model {name!r} (expected one of {', '.join(SHIPPED)})", field="name")
    p = CHECKPOINT_DIR / SHIPPED[name]
    if not p.is_file():
        raise DynheadError("shipped checkpoint is missing from the package", file=str(p))
    return p


def load_shipped(name: str = "small"):
    """A shipped synthetic-data model, eval mode: ``"small"`` (dynamic D8, lambda 0.8), ``"large"`` (dynamic
    D8, lambda 0.1) or ``"baseline"`` (gate-free "fix" D6), all trained with one recipe and CPU budget."""
    from .checkpoint import load_model
    return load_model(shipped_path(name))


def sample_images() -> list:
    """The shipped sample images (uint8 RGB arrays, H x W x 3), sorted by file name."""
    from .data import load_image_folder
    return [img for _, img in load_image_folder(IMAGE_DIR)]


__all__ = ["DynheadError", "load_shipped", "sample_images", "shipped_path", "SHIPPED"]
