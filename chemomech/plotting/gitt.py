"""Figure of a GITT titration: voltage vs time, and the Weppner-Huggins D vs SoC against
the model's input D (cm.analysis.gitt_diffusivity)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from chemomech.plotting import save_figure

COLOURS = ["#1f4e9c", "#c0392b", "#2e8b57", "#8e44ad"]


def plot_gitt(results: dict[str, xr.Dataset], path: str | Path) -> Path:
    """Left: voltage [V] vs time [h] of each GITT run. Right: D [m2/s] vs SoC [%], log
    axis: extracted (sqrt(t) fit, dots; two-point, open circles) and the input of the 1-D
    model, tr(D)/3 at the same x (line). `results` maps a label to a GITT result."""
    from chemomech.analysis import gitt_diffusivity
    from chemomech.io.results import run_material

    fig, (ax_v, ax_d) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for colour, (label, ds) in zip(COLOURS * 4, results.items()):
        ax_v.plot(ds["time"] / 3600.0, ds["voltage"], color=colour, lw=0.8, label=label)
        g = gitt_diffusivity(ds)
        mat = run_material(ds)
        x = np.linspace(float(g.x_li.min()), float(g.x_li.max()), 200)
        soc = mat.soc_of_x(x)
        ax_d.plot(100 * soc, mat.diffusivity_orientation_average(x), color=colour, lw=1.4,
                  label=f"{label} input tr(D)/3")
        ax_d.plot(100 * g.soc, g.diffusivity, "o", ms=3.5, color=colour, label=f"{label} GITT, sqrt(t) fit")
        ax_d.plot(100 * g.soc, g.diffusivity_two_point, "o", ms=5, mfc="none", mew=0.7, color=colour,
                  label=f"{label} GITT, two-point")
    ax_v.set_xlabel("time (h)")
    ax_v.set_ylabel("voltage vs Li/Li$^+$ (V)")
    ax_v.grid(alpha=0.3)
    ax_v.legend(frameon=False, fontsize=8, loc="lower right")
    ax_d.set_yscale("log")
    ax_d.set_xlabel("state of charge (% of 270 mAh/g)")
    ax_d.set_ylabel("Li diffusivity (m$^2$/s)")
    ax_d.set_xlim(0, 100)
    ax_d.grid(alpha=0.3, which="both")
    ax_d.legend(frameon=False, fontsize=7, loc="lower left")
    return save_figure(fig, path, dpi=200)
