"""Workload IR shared by dynhead (producer) and accelsim (consumer). No torch import."""

from . import storage  # noqa: F401  (installs Workload.content_hash / save / load into workloads.ir)
from .effectual import effectual_counts, effectual_macs, per_channel_nnz, workload_summary
from .errors import WorkloadError
from .ir import KINDS, Layer, LayerData, LayerInstance, SparseTensor, Workload, as_dense, nonzero_mask

__all__ = ["KINDS", "Layer", "LayerData", "LayerInstance", "SparseTensor", "Workload", "WorkloadError",
           "as_dense", "nonzero_mask", "effectual_counts", "effectual_macs", "per_channel_nnz",
           "workload_summary"]
