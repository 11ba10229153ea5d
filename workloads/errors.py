"""Errors raised for bad workload input.

Every error carries the file (when there is one), the field and the reason so
that the CLI can print one line and exit with code 2.
"""


class WorkloadError(ValueError):
    """A workload file, table or layer description is invalid."""

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
        super().__init__(f"{prefix}: {reason}" if prefix else reason)
