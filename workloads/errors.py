"""Errors raised for bad input.

:class:`InputError` is the common base of every bad-input error in the toolkit
(workload files, configs, checkpoints, images): it carries the file (when there
is one), the field and the reason, formatted on one line, so that the CLIs can
print it and exit with code 2.
"""


class InputError(ValueError):
    """Bad user input: ``file: field 'x': reason`` on one line."""

    def __init__(self, reason: str, *, file: str | None = None, field: str | None = None):
        self.reason = reason
        self.file = file
        self.field = field
        parts = []
        if file:
            parts.append(str(file))
        if field:
            parts.append(f"field '{field}'")
        prefix = ": ".join(parts)
        msg = f"{prefix}: {reason}" if prefix else reason
        super().__init__(" ".join(str(msg).split()))  # always one line


class WorkloadError(InputError):
    """A workload file, table or layer description is invalid."""
