"""Errors raised for bad input.

:class:`InputError` is the common base of every bad-input error in the toolkit
(workload files, configs, checkpoints, images): it carries the file (when there
is one), the field and the reason, formatted on one line, so that the CLIs can
print it and exit with code 2.  Both are defined in :mod:`workloads.ir` (the base of the package,
which imports no other module of it) and re-exported here.
"""

from .ir import InputError, WorkloadError  # defined in ir (which imports no other module of the project)

__all__ = ["InputError", "WorkloadError"]
