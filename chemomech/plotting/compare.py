"""Side-by-side figures of simulated vs measured data for `chemomech compare`: powder
patterns overlaid around the compared reflections, SXDM maps in two rows, and XANES
white-line histograms overlaid."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from chemomech.observables.compare import SXDM_MAPS
from chemomech.plotting import save_figure
from chemomech.plotting.sxdm import PANELS, lab_oriented, map_frame

MAX_XRD_ROWS = 4  # patterns shown (evenly picked from the series)


def plot_xrd_comparison(figure: dict, path: str | Path, title: str = "") -> Path:
    """Measured (dots) and scaled synthetic (line) patterns in the window of each compared
    reflection, for up to MAX_XRD_ROWS patterns of the series; residual below each."""
    count = len(figure["measured"])
    rows = np.unique(np.linspace(0, count - 1, min(count, MAX_XRD_ROWS)).round().astype(int))
    windows = figure["windows"] or {"pattern": (min(a.min() for a in figure["two_theta"]),
                                                max(a.max() for a in figure["two_theta"]))}
    fig, axes = plt.subplots(len(rows), len(windows), figsize=(3.6 * len(windows), 2.4 * len(rows)),
                             squeeze=False, constrained_layout=True)
    for r, i in enumerate(rows):
        t, measured, simulated = figure["two_theta"][i], figure["measured"][i], figure["simulated"][i]
        for c, (label, (low, high)) in enumerate(windows.items()):
            ax = axes[r, c]
            inside = (t >= low) & (t <= high)
            ax.plot(t[inside], measured[inside], ".", ms=2.5, color="0.2", label="measured")
            ax.plot(t[inside], simulated[inside], "-", lw=1.2, color="C3", label="simulated (scale + background)")
            ax.plot(t[inside], measured[inside] - simulated[inside], "-", lw=0.8, color="C0", label="difference")
            ax.set_title(f"{label}: {figure['label'][i]}", fontsize=8)
            if r == len(rows) - 1:
                ax.set_xlabel(r"2$\theta$ (deg)")
            if c == 0:
                ax.set_ylabel("intensity (counts)")
    axes[0, 0].legend(fontsize=7, framealpha=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


SXDM_PANELS = tuple(panel for panel in PANELS if panel[0] in dict(SXDM_MAPS))  # the maps compared


def sxdm_comparison_figure(simulated, measured, title: str = ""):
    """The figure of plot_sxdm_comparison (matplotlib Figure), not saved."""
    # the synthetic maps are made on the measured raster, so one frame (the simulated map's
    # lab axes, where it has them) draws both rows the same way round
    frame = map_frame(simulated)
    fig, axes = plt.subplots(2, 3, figsize=(11.5, 7.4), constrained_layout=True)
    for c, (name, factor, cmap, label, _) in enumerate(SXDM_PANELS):
        oriented = [lab_oriented(maps, name, frame) for maps in (simulated, measured)]
        values = [factor * data for data, _ in oriented]
        finite = np.concatenate([v[np.isfinite(v)] for v in values])
        limit = float(np.percentile(np.abs(finite), 99.5)) if finite.size else 1.0
        if name in frame["tilt_axes"]:
            label = label.replace(" (deg)", f" = {frame['tilt_axes'][name]} (deg)")
        for r, (data, (_, extent), row_name) in enumerate(zip(values, oriented, ("simulated", "measured"))):
            ax = axes[r, c]
            image = ax.imshow(data, origin="lower", extent=extent, cmap=cmap,
                              vmin=-(limit or 1.0), vmax=limit or 1.0, interpolation="nearest")
            ax.set_facecolor("0.85")
            ax.set_title(f"{row_name}", fontsize=9)
            ax.set_xlabel(frame["xlabel"])
            ax.set_ylabel(frame["ylabel"])
            ax.set_aspect("equal")
        fig.colorbar(image, ax=axes[:, c], shrink=0.8, label=label)
    lines = [line for line in (title, frame["caption"]) if line]
    if lines:
        fig.suptitle("\n".join(lines), fontsize=9)
    return fig


def plot_sxdm_comparison(simulated, measured, path: str | Path, title: str = "") -> Path:
    """Rows: simulated, measured SXDM maps; columns: d_rel [%], tilt Y, tilt Z [deg], each
    column on one symmetric colour scale (99.5th percentile of |value| over both); lab axes
    centred on the particle as in plot_sxdm (raster axes for maps without geometry)."""
    return save_figure(sxdm_comparison_figure(simulated, measured, title), path)


def plot_xanes_comparison(simulated_values, measured_values, metrics: dict, path: str | Path,
                          bin_eV: float = 0.02, title: str = "") -> Path:
    """Normalised histograms of simulated and measured white-line energies [eV] on common
    bins, with the means, W1 and KS statistic in the legend."""
    a = np.asarray(simulated_values, dtype=float).ravel()
    b = np.asarray(measured_values, dtype=float).ravel()
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    low = min(np.percentile(a, 0.5), np.percentile(b, 0.5))
    high = max(np.percentile(a, 99.5), np.percentile(b, 99.5))
    step = max(bin_eV, (high - low) / 200.0)
    edges = np.arange(low - step, high + 2 * step, step)
    fig, ax = plt.subplots(figsize=(5.6, 3.8), constrained_layout=True)
    for values, colour, name in ((a, "C3", "simulated"), (b, "0.25", "measured")):
        counts, _ = np.histogram(values, edges)
        ax.stairs(counts / counts.sum(), edges, color=colour, lw=1.4,
                  label=f"{name}: {values.mean():.3f} ± {values.std():.3f} eV")
    ax.plot([], [], " ", label=f"W1 {metrics['wasserstein_distance']:.3f} eV, KS {metrics['ks_statistic']:.3f}")
    ax.set_xlabel("white-line energy (eV)")
    ax.set_ylabel(f"fraction of voxels per {step:.3g} eV")
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.legend(fontsize=8, framealpha=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
