"""Analyses of simulated runs, as an experimenter would do them on measured data
(GITT: gitt.gitt_diffusivity). Imported on first use (module __getattr__)."""

from importlib import import_module

__all__ = ["gitt_diffusivity"]


def __getattr__(name: str):
    if name != "gitt_diffusivity":
        raise AttributeError(f"module 'chemomech.analysis' has no attribute {name!r}")
    value = import_module("chemomech.analysis.gitt").gitt_diffusivity
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
