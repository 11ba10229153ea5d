"""Errors the CLI turns into one line and exit code 2."""

from workloads.errors import WorkloadError


class AccelsimError(ValueError):
    """Bad user input (arguments, unsupported layer for a model, ...)."""


class ConfigError(AccelsimError):
    """An architecture config, preset or override is invalid."""

    def __init__(self, reason: str, *, file: str | None = None, field: str | None = None):
        self.reason, self.file, self.field = reason, file, field
        parts = [p for p in (str(file) if file else None, f"field '{field}'" if field else None) if p]
        super().__init__(f"{': '.join(parts)}: {reason}" if parts else reason)


class UnsupportedLayer(AccelsimError):
    """The model cannot run this layer (e.g. depthwise on SCNN) and has no documented fallback."""


USER_ERRORS = (AccelsimError, WorkloadError)
