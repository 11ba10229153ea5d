"""Errors for bad dynhead input (checkpoints, images, sizes, CLI arguments).

``python -m dynhead`` turns a :class:`DynheadError` into one line on stderr and exit code 2.
"""

from workloads.errors import InputError


class DynheadError(InputError):
    """Bad input to dynhead: the message names the file/field and the reason on one line."""
