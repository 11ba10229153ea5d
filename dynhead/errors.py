"""Errors for bad dynhead input (checkpoints, images, sizes, CLI arguments).

``python -m dynhead`` turns a :class:`DynheadError` into one line on stderr and exit code 2.
"""


class DynheadError(ValueError):
    """Bad input to dynhead: the message names the file/field and the reason on one line."""

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
