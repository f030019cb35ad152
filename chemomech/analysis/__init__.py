"""Analyses of simulated runs and measured curves, as an experimenter would do them:
GITT (gitt.gitt_diffusivity), differential capacity dQ/dV (differential_capacity.dqdv for
a curve, run_dqdv for every cycle of a run). Imported on first use (module __getattr__)."""

from importlib import import_module

LAZY = {
    "gitt_diffusivity": "chemomech.analysis.gitt",
    "dqdv": "chemomech.analysis.differential_capacity",
    "run_dqdv": "chemomech.analysis.differential_capacity",
}
__all__ = list(LAZY)


def __getattr__(name: str):
    if name not in LAZY:
        raise AttributeError(f"module 'chemomech.analysis' has no attribute {name!r}")
    value = getattr(import_module(LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
