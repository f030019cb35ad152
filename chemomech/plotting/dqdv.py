"""Figure of the differential capacity dQ/dV of a run (analysis.differential_capacity):
charge above the axis, discharge below (the cycler convention, dQ/dV < 0 on discharge),
one colour per cycle, and the labelled phase-transition peaks of the first cycle drawn."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import Normalize

from chemomech.analysis.differential_capacity import run_dqdv
from chemomech.errors import ChemomechError
from chemomech.io.results import run_label
from chemomech.plotting import save_figure
from chemomech.plotting.cycling import VOLTAGE_LABEL, cycles_to_draw


def plot_dqdv(ds: xr.Dataset, out_path: str | Path) -> Path:
    """dQ/dV [mAh/(g V)] vs voltage [V] of every drawn cycle (plotting.cycling.cycles_to_draw)
    of run `ds`, saved to `out_path`; the peaks of the first drawn cycle marked with their
    transition and voltage."""
    curves = [c for c in run_dqdv(ds) if c["charge"] is not None or c["discharge"] is not None]
    if not curves:
        raise ChemomechError("this run has no constant-current branch spanning more than a few mV: "
                             "nothing to differentiate")
    drawn, note = cycles_to_draw([c["cycle"] for c in curves])
    norm = Normalize(vmin=min(drawn), vmax=max(max(drawn), min(drawn) + 1))
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    first = True
    for curve in curves:
        if curve["cycle"] not in drawn:
            continue
        colour = cmap(0.9 * norm(curve["cycle"])) if len(drawn) > 1 else "#1f4e9c"
        for direction, sign in (("charge", 1.0), ("discharge", -1.0)):
            branch = curve[direction]
            if branch is None:
                continue
            ax.plot(branch.voltage, sign * branch.dqdv, color=colour, lw=1.2,
                    label=f"cycle {curve['cycle']}" if direction == "charge" or curve["charge"] is None else None)
            if first:
                for peak in branch.peaks:
                    if peak.label:
                        ax.plot(peak.voltage, sign * peak.height, "v" if sign > 0 else "^", color="k", ms=5)
                        ax.annotate(f"{peak.label}\n{peak.voltage:.3f} V", (peak.voltage, sign * peak.height),
                                    textcoords="offset points", xytext=(0, 8 if sign > 0 else -22),
                                    ha="center", fontsize=7)
        first = False
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.margins(y=0.18)  # room for the peak labels
    shown = [b for c in curves if c["cycle"] in drawn for b in (c["charge"], c["discharge"]) if b is not None]
    top = max(float(np.max(np.abs(b.dqdv))) for b in shown)
    active = np.concatenate([b.voltage[np.abs(b.dqdv) > 0.01 * top] for b in shown])
    if active.size:
        ax.set_xlim(active.min() - 0.05, active.max() + 0.05)
    ax.set_xlabel(VOLTAGE_LABEL)
    ax.set_ylabel("dQ/dV (mAh g$^{-1}$ V$^{-1}$); discharge < 0")
    some = next(c for c in curves if c["cycle"] in drawn)
    branch = some["charge"] if some["charge"] is not None else some["discharge"]
    title = (f"{run_label(ds)}: differential capacity ({branch.bin_V * 1e3:g} mV bins, "
             f"Savitzky-Golay {branch.smooth_V * 1e3:g} mV)")
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=9)
    if len(drawn) > 1:
        ax.legend(fontsize=7, frameon=False, ncol=2)
    ax.grid(alpha=0.3)
    return save_figure(fig, out_path)
