"""``--scheduler`` / ``--dask-local``: the Dask flags of ``accelsim simulate`` and ``accelsim compare``
(fields ``scheduler`` and ``dask_local`` of their settings; see :mod:`accelsim.distributed`)."""

from __future__ import annotations


def add_cluster_arguments(p, what: str) -> None:
    """Add the two mutually exclusive flags to parser ``p``; ``what`` names the work that runs there."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help=f"run {what} on this Dask scheduler (same results as locally; trust it: results come "
                        f"back as pickles)")
    g.add_argument("--dask-local", type=int, metavar="N",
                   help=f"run {what} on a local Dask cluster of N worker processes")
