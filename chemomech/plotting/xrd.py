"""Figures of operando powder XRD, laid out like the study's: contour maps of intensity vs
2 theta and time next to the voltage curve, the (003) deconvolution of chosen snapshots,
c/c0 vs (a/a0)^2 and the unit-cell volume change vs charge.

Each function takes the Datasets of `chemomech.observables.powder_xrd.xrd` (pattern) and
`xrd_analysis.refine_lattice_series` (lattice) and a path, saves the figure and returns the
path. Nothing is computed here beyond evaluating the stored fit curves for display.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from chemomech.observables.xrd_analysis import pseudo_voigt
from chemomech.plotting import save_figure

PHASE_COLOURS = ["#1f4e9c", "#c0392b", "#2e8b57"]


def _time_h(pattern: xr.Dataset) -> np.ndarray:
    if "snapshot_time" in pattern.coords:
        return pattern["snapshot_time"].values / 3600.0
    return np.arange(pattern.sizes["snapshot"], dtype=float)


def _window(pattern: xr.Dataset, labels, pad=0.06):
    """2 theta range spanning the mean positions of the reflections `labels` over all
    snapshots, padded by `pad` deg."""
    positions = pattern["reflection_two_theta_mean"].sel(reflection=list(labels)).values
    return float(np.nanmin(positions)) - pad, float(np.nanmax(positions)) + pad


def voltage_series(pattern: xr.Dataset, run: xr.Dataset | None = None) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(time [h], voltage [V], full) for the voltage panel: the run's full time series
    (run["time"], run["voltage"], or the same variables carried by `pattern`), full = True;
    otherwise the snapshot points (snapshot_time, snapshot_voltage), full = False; None if
    neither is there."""
    for source in (run, pattern):
        if source is not None and "voltage" in source and "time" in source["voltage"].dims:
            return source["time"].values / 3600.0, source["voltage"].values, True
    if "snapshot_voltage" in pattern.coords:
        return _time_h(pattern), pattern["snapshot_voltage"].values, False
    return None


def xrd_contour_figure(pattern: xr.Dataset, groups=(("003",), ("104",), ("018", "110")), run: xr.Dataset | None = None):
    """The figure of plot_xrd_contour (matplotlib Figure), not saved."""
    time_h = _time_h(pattern)
    voltage = voltage_series(pattern, run)
    n = len(groups) + int(voltage is not None)
    widths = [3] * len(groups) + ([1.4] if voltage is not None else [])
    fig, axes = plt.subplots(1, n, figsize=(2.6 * len(groups) + 1.8, 4.2), sharey=True,
                             gridspec_kw={"width_ratios": widths}, constrained_layout=True)
    axes = np.atleast_1d(axes)
    tt = pattern["two_theta"].values
    for ax, labels in zip(axes, groups):
        lo, hi = _window(pattern, labels)
        inside = (tt >= lo) & (tt <= hi)
        z = pattern["intensity"].values[:, inside]
        if time_h.size > 1:
            mesh = ax.contourf(tt[inside], time_h, z / z.max(), levels=30, cmap="inferno")
        else:
            mesh = ax.pcolormesh(tt[inside], [0, 1], np.repeat(z / z.max(), 2, axis=0), cmap="inferno")
        ax.set_xlabel(r"2$\theta$ (deg)")
        ax.set_title("(" + ")/(".join(labels) + ")", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.colorbar(mesh, ax=axes[: len(groups)], label="intensity (normalised per panel)", shrink=0.8)
    axes[0].set_ylabel("time (h)")
    if voltage is not None:
        ax = axes[-1]
        hours, volts, full = voltage
        ax.plot(volts, hours, "k-", lw=1.2, label="cell voltage" if full else "snapshots")
        if full and "snapshot_voltage" in pattern.coords:
            ax.plot(pattern["snapshot_voltage"].values, time_h, "o", color="C1", ms=2.5, label="XRD patterns")
        ax.set_xlabel("voltage (V)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), borderaxespad=0.2)
    wavelength = pattern.attrs.get("wavelength_A")
    fig.suptitle(f"{pattern.attrs.get('material', '')} operando XRD, $\\lambda$ = {wavelength} $\\AA$", fontsize=10)
    return fig


def plot_xrd_contour(pattern: xr.Dataset, path, groups=(("003",), ("104",), ("018", "110")),
                     run: xr.Dataset | None = None) -> Path:
    """Contour maps of intensity vs 2 theta (x) and time (y) around each group of
    reflections (default (003); (104); (108)/(110), indexed 018/110), with the voltage vs
    time on the right, sharing the time axis (the study's operando maps). The voltage is
    the full time series of `run` (its time, voltage; or of `pattern` if it carries them),
    the patterns marked on it; without either, the snapshot points only."""
    return save_figure(xrd_contour_figure(pattern, groups, run), path, dpi=200)


def plot_deconvolution_003(pattern: xr.Dataset, lattice: xr.Dataset, path, snapshots=None) -> Path:
    """The (003) region of chosen snapshots (default: four spread over the charge, always
    the last) with the fitted pseudo-Voigt components (ordered by 2 theta), background and
    sum; the number of components chosen by BIC is in each title."""
    n_snap = pattern.sizes["snapshot"]
    if snapshots is None:
        snapshots = sorted(set(np.linspace(0, n_snap - 1, min(4, n_snap)).round().astype(int).tolist()))
    fig, axes = plt.subplots(1, len(snapshots), figsize=(2.7 * len(snapshots), 3.0), constrained_layout=True, squeeze=False)
    lo, hi = (float(v) for v in lattice.attrs["window_003_deg"].split())
    tt = pattern["two_theta"].values
    inside = (tt >= lo) & (tt <= hi)
    t = tt[inside]
    for ax, s in zip(axes[0], snapshots):
        y = pattern["intensity"].values[s, inside]
        peak = y.max()
        ax.plot(t, y / peak, "k.", ms=1.5, label="pattern")
        k = int(lattice["n_components"].values[s])
        eta = float(lattice["dec_eta"].values[s])
        b0, b1, centre = lattice["dec_background"].values[s]
        background = b0 + b1 * (t - centre)
        total = background.copy()
        for i in range(k):
            comp = lattice["dec_area"].values[s, i] * pseudo_voigt(t, lattice["dec_position"].values[s, i],
                                                                   lattice["dec_fwhm"].values[s, i], eta)
            total += comp
            ax.fill_between(t, background / peak, (background + comp) / peak, color=PHASE_COLOURS[i], alpha=0.35,
                            label=f"component {i + 1}")
        ax.plot(t, total / peak, color="0.3", lw=1.0, label="fit")
        title = f"snapshot {s}: {k} component{'s' if k > 1 else ''}"
        if "snapshot_soc" in pattern.coords:
            title = f"SoC {100 * float(pattern['snapshot_soc'].values[s]):.0f} %: {k} comp."
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(r"2$\theta$ (deg)")
        ax.set_ylim(top=1.45 * max(1.0, float(np.max(total)) / peak))  # headroom for the legend
        ax.legend(frameon=False, fontsize=6, loc="upper center", ncol=2)
        mask = y > 0.02 * peak
        if mask.any():
            ax.set_xlim(t[mask].min() - 0.03, t[mask].max() + 0.03)
    axes[0][0].set_ylabel("intensity (normalised)")
    fig.suptitle("(003) deconvolution (pseudo-Voigt components, number by BIC)", fontsize=10)
    return save_figure(fig, path, dpi=200)


def plot_lattice_ratio(lattice: xr.Dataset, path) -> Path:
    """c/c0 vs (a/a0)^2 of every refined phase (a0, c0 the pristine cell), coloured by
    phase; a grey line joins the patterns of the first phase in order."""
    a0, c0 = lattice.attrs["a0_A"], lattice.attrs["c0_A"]
    fig, ax = plt.subplots(figsize=(4.4, 3.8), constrained_layout=True)
    for p in range(lattice.sizes["phase"]):
        a = lattice["a"].values[:, p]
        c = lattice["c"].values[:, p]
        ok = np.isfinite(a)
        if ok.any():
            ax.plot((a[ok] / a0) ** 2, c[ok] / c0, "o", color=PHASE_COLOURS[p % 3], ms=4, label=f"phase {p + 1}")
    ax.plot((lattice["a"].values[:, 0] / a0) ** 2, lattice["c"].values[:, 0] / c0, "-", color="0.6", lw=0.8, zorder=0)
    ax.set_xlabel(r"$(a/a_0)^2$")
    ax.set_ylabel(r"$c/c_0$")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("phases ordered by decreasing c", fontsize=9)
    return save_figure(fig, path, dpi=200)


def plot_volume_change(lattice: xr.Dataset, path, pattern: xr.Dataset | None = None) -> Path:
    """Unit-cell volume change (V - V0)/V0 [%] of each refined phase vs charge (nominal SoC
    in % if the pattern Dataset carries snapshot_soc, else pattern index), with the
    intensity-weighted mean over phases and, if given, the volume of the volume-mean cell
    of the simulation (from lattice_a_mean, lattice_c_mean) for comparison."""
    a0, c0 = lattice.attrs["a0_A"], lattice.attrs["c0_A"]
    v0 = np.sqrt(3.0) / 2.0 * a0 * a0 * c0
    if pattern is not None and "snapshot_soc" in pattern.coords:
        charge = 100.0 * pattern["snapshot_soc"].values
        label = "state of charge (% of 270 mAh/g)"
    else:
        charge = lattice["pattern"].values.astype(float)
        label = "pattern"
    change = 100.0 * (lattice["volume"].values - v0) / v0
    fig, ax = plt.subplots(figsize=(4.8, 3.6), constrained_layout=True)
    for p in range(lattice.sizes["phase"]):
        ok = np.isfinite(change[:, p])
        if ok.any():
            ax.plot(charge[ok], change[ok, p], "o", color=PHASE_COLOURS[p % 3], ms=4, label=f"phase {p + 1}")
    weight = np.nan_to_num(lattice["phase_weight"].values)
    mean = np.nansum(np.nan_to_num(change) * weight, axis=1) / np.maximum(weight.sum(axis=1), 1e-300)
    ax.plot(charge, mean, "k-", lw=1.2, label="intensity-weighted mean")
    if pattern is not None and "lattice_a_mean" in pattern:
        v_sim = np.sqrt(3.0) / 2.0 * pattern["lattice_a_mean"].values ** 2 * pattern["lattice_c_mean"].values
        ax.plot(charge, 100.0 * (v_sim - v0) / v0, "--", color="0.5", lw=1.0, label="simulation, mean cell")
    ax.set_xlabel(label)
    ax.set_ylabel(r"$\Delta V / V_0$ (%)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    return save_figure(fig, path, dpi=200)
