"""accelsim-toy: a worked out-of-tree accelsim model (see ``docs/adding-a-model.md``).

Importing this package registers the model ``toy`` (``@register_model`` in :mod:`toy_accel.model`);
the registry then also finds ``presets/toy.yaml`` and ``energy_tables/toy_45nm.yaml`` beside it.
accelsim imports it through the entry point ``[project.entry-points."accelsim.models"] toy =
"toy_accel"`` once the distribution is installed, or by name with ``--plugin toy_accel`` /
``ACCELSIM_PLUGINS=toy_accel``.
"""

from .model import Toy, validate

__all__ = ["Toy", "validate"]
