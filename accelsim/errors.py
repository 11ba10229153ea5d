"""Errors the CLI turns into one line and exit code 2, and the field checks of the settings objects."""

import os

from workloads.errors import InputError, WorkloadError  # noqa: F401 - re-exported


class AccelsimError(ValueError):
    """Bad user input (arguments, unsupported layer for a model, ...)."""


class ConfigError(AccelsimError, InputError):
    """An architecture config, preset or override is invalid (file, field, reason on one line)."""


class UnsupportedLayer(AccelsimError):
    """The model cannot run this layer (e.g. depthwise on SCNN) and has no documented fallback."""


class SettingsError(AccelsimError):
    """A bad value of one field of a settings object (``SweepSettings``, ``SimulateSettings``, ...):
    the one-line message is ``field: reason``; the CLI reports it under the field's flag instead.

    ``refs``: other fields the reason names as ``{field}`` (e.g. ``"needs {out} DIR"``), written as
    field names here and as flags by :meth:`for_flag`."""

    def __init__(self, field_name: str, reason: str, refs: tuple[str, ...] = ()):
        self.field = field_name
        self.refs = tuple(refs)
        self._template = reason
        self.reason = reason.format(**{r: r for r in self.refs}) if self.refs else reason
        super().__init__(f"{field_name}: {self.reason}")

    def for_flag(self, flags: dict[str, str]) -> AccelsimError:
        """The same error named by command-line flags: ``flags[field]``, else ``--field-name``."""
        def flag(name):
            return flags.get(name, "--" + name.replace("_", "-"))
        reason = self._template.format(**{r: flag(r) for r in self.refs}) if self.refs else self.reason
        return AccelsimError(f"{flag(self.field)}: {reason}")


# ------------------------------------------------------------------ field checks of settings objects
def check_int(field_name: str, v, lo: int | None = None, optional: bool = False, hi: int | None = None
              ) -> int | None:
    """``v`` if it is an int (not a bool) in [``lo``, ``hi``] (None allowed when ``optional``), else
    SettingsError."""
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise SettingsError(field_name, f"must be an integer, got {v!r}")
    if lo is not None and v < lo:
        raise SettingsError(field_name, f"must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise SettingsError(field_name, f"must be <= {hi:,}, got {v:,}")
    return v


def check_bool(field_name: str, v) -> bool:
    if not isinstance(v, bool):
        raise SettingsError(field_name, f"must be True or False, got {v!r}")
    return v


def check_path(field_name: str, v, optional: bool = True) -> str | None:
    """``v`` as a path string (``os.fspath``); None allowed when ``optional``."""
    if v is None and optional:
        return None
    if not isinstance(v, (str, os.PathLike)) or not os.fspath(v):
        raise SettingsError(field_name, f"must be a path, got {v!r}")
    return os.fspath(v)


def check_shared(field_name: str, v) -> str | None:
    """A shared data folder given by the user: None (default lookup), ``none`` (packaged data only) or an
    existing folder; a path that is not a folder is an error rather than silently ignored."""
    v = check_path(field_name, v)
    if v is None or v.lower() == "none":
        return v
    if not os.path.isdir(v):
        raise SettingsError(field_name, f"{v}: {'not a folder' if os.path.lexists(v) else 'no such folder'}")
    return v


def check_choice(field_name: str, v, choices) -> str:
    if v not in choices:
        raise SettingsError(field_name, f"expected one of {', '.join(map(str, choices))}, got {v!r}")
    return v


USER_ERRORS = (AccelsimError, InputError)  # InputError covers WorkloadError and dynhead's DynheadError
