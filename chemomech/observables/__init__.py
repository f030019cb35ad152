"""Synthetic measurements of a run, and the analysis that reads measured data alike.

    cm.observables.xrd(ds, wavelength_A=0.1173)     operando powder XRD (powder_xrd.py, xrd_analysis.py)
    cm.observables.sxdm(ds, snapshot=-1)            SXDM maps (sxdm_scan.py)
    cm.observables.xanes(ds, snapshot=-1)           TXM-XANES white-line volume (txm_xanes.py)

`compare.py` holds the figures of merit between simulated and measured data. The names
xrd, sxdm and xanes here are the functions; their modules are imported as
chemomech.observables.powder_xrd etc.
"""

from chemomech.observables.sxdm_scan import sxdm
from chemomech.observables.txm_xanes import xanes
from chemomech.observables.powder_xrd import xrd

__all__ = ["sxdm", "xanes", "xrd"]
