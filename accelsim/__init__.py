"""accelsim: cycle-level, data-driven sparse-accelerator models fed by real dynamic-head workloads.

Python API (each name is imported on first use, so ``import accelsim`` stays cheap)::

    from accelsim import SimulateSettings, run_simulate
    rep = run_simulate(SimulateSettings(workload="alexnet", arch="systolic", jobs=1))

    from accelsim import SweepSettings, run_sweep
    res = run_sweep("examples/sweeps/systolic_lhs.yaml", SweepSettings(out="runs/lhs", limit=3))
"""

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "simulate": "accelsim.engine", "make_model": "accelsim.engine",
    "SimulateSettings": "accelsim.simulate_api", "run_simulate": "accelsim.simulate_api",
    "SweepSettings": "accelsim.sweep", "SweepResult": "accelsim.sweep", "run_sweep": "accelsim.sweep",
    "CompareSettings": "accelsim.compare", "CompareResult": "accelsim.compare", "run_compare": "accelsim.compare",
    "area_of": "accelsim.area",
    "register_model": "accelsim.registry", "load_plugin": "accelsim.registry", "model_names": "accelsim.registry",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
