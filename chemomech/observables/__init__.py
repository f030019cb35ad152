"""Synthetic measurements of a run, and the analysis that reads measured data alike.

    cm.observables.xrd(ds, wavelength_A=0.1173)     operando powder XRD (powder_xrd.py, xrd_analysis.py)
    cm.observables.sxdm(ds, snapshot=-1)            SXDM maps (sxdm_scan.py)
    cm.observables.xanes(ds, snapshot=-1)           TXM-XANES white-line volume (txm_xanes.py)

`compare.py` holds the figures of merit between simulated and measured data. The names
xrd, sxdm and xanes here are the functions; their modules are imported as
chemomech.observables.powder_xrd etc. The functions are imported on first use (module
__getattr__), so that importing one module of this package does not load the others
(xraydb, the XRD and SXDM kernels).
"""

from importlib import import_module

_LAZY = {
    "sxdm": "chemomech.observables.sxdm_scan",
    "xanes": "chemomech.observables.txm_xanes",
    "xrd": "chemomech.observables.powder_xrd",
}

__all__ = ["sxdm", "xanes", "xrd"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'chemomech.observables' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
