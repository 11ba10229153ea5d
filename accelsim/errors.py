"""Errors the CLI turns into one line and exit code 2."""

from workloads.errors import InputError, WorkloadError


class AccelsimError(ValueError):
    """Bad user input (arguments, unsupported layer for a model, ...)."""


class ConfigError(AccelsimError, InputError):
    """An architecture config, preset or override is invalid (file, field, reason on one line)."""


class UnsupportedLayer(AccelsimError):
    """The model cannot run this layer (e.g. depthwise on SCNN) and has no documented fallback."""


USER_ERRORS = (AccelsimError, InputError)  # InputError covers WorkloadError and dynhead's DynheadError
