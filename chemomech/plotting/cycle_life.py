"""Figures of cycle-life runs ([degradation] on): retention vs cycle for several runs, and
the damage of one cycled particle.

A cycle-life result holds, over `cycle`: `capacity_retention` [-] (discharge capacity over
that of the reference cycle), `cycle_simulated` (False where cycle jumping skipped the
cycle and the figures are interpolated), `active_fraction_mean` [-], and for polycrystals
`cracked_boundary_fraction`, `wired_lattice_fraction` and `isolated_grain_fraction` [-]; over `snapshot` the damage
fields (`active_fraction`, `inactive_x_li`, `x_li_active`; voxel runs on (z, y, x)).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError
from chemomech.io.results import rate_label
from chemomech.plotting import save_figure
from chemomech.plotting.slices import axis_label, centred_extent, mid_plane

COLOURS = plt.get_cmap("tab10").colors


def is_cycle_life_run(ds: xr.Dataset) -> bool:
    """True for the result of a run with damage mechanisms (it has `cycle_simulated`)."""
    return "cycle_simulated" in ds


def retention_label(ds: xr.Dataset) -> str:
    """'NC91, ageing at 0.5C': the material and the C-rate of the last cycle's discharge
    (the ageing rate; the formation cycles before it may be slower)."""
    rate = float(ds["cycle_discharge_c_rate"].values[-1]) if "cycle_discharge_c_rate" in ds else float("nan")
    text = rate_label(rate) if not rate >= 0.5 else f"{rate:g}C"  # 0.5C, as the study writes it, not C/2
    return f"{ds.attrs.get('material', '?')}, ageing at {text}"


def retention_figure(results: dict[str, xr.Dataset]):
    """Capacity retention [%] vs cycle of each run (a line through every cycle, markers on
    the cycles simulated in full), and the mean active lattice fraction [%] below it."""
    damage = any("active_fraction_mean" in ds for ds in results.values())
    if damage:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6.0), sharex=True, constrained_layout=True,
                                          gridspec_kw={"height_ratios": (3, 2)})
    else:  # cycling runs without damage: retention alone
        fig, top = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
        bottom = None
    for k, (label, ds) in enumerate(results.items()):
        colour = COLOURS[k % len(COLOURS)]
        cycle = ds["cycle"].values
        retention = 100.0 * ds["capacity_retention"].values
        simulated = ds["cycle_simulated"].values if "cycle_simulated" in ds else np.ones(cycle.size, dtype=bool)
        # the reference cycle: from the attrs, else the first cycle whose retention is exactly 1
        ones = np.flatnonzero(retention == 100.0)
        reference = int(ds["capacity_retention"].attrs.get("reference_cycle", cycle[ones[0]] if ones.size else 1))
        after = cycle >= reference
        top.plot(cycle[after], retention[after], color=colour, lw=1.6,
                 label=f"{label}: {retention[-1]:.1f} % at cycle {cycle[-1]}")
        top.plot(cycle[after & simulated], retention[after & simulated], "o", color=colour, ms=3.5, mfc="white")
        if bottom is not None and "active_fraction_mean" in ds:
            bottom.plot(cycle, 100.0 * ds["active_fraction_mean"].values, color=colour, lw=1.6)
    top.set_ylabel("discharge capacity retention (%)")
    top.legend(fontsize=8, frameon=False, loc="lower left")
    top.set_title("open markers: cycles simulated in full; lines through the jumped cycles", fontsize=8)
    (bottom if bottom is not None else top).set_xlabel("cycle")
    for ax in (top, bottom):
        if ax is not None:
            ax.grid(alpha=0.3)
    if bottom is not None:
        bottom.set_ylabel("active lattice (%)")
    return fig


def sweep_retention_results(summary: xr.Dataset) -> dict[str, xr.Dataset]:
    """A sweep's summary (DIR/summary.nc) as {label: per-cycle figures of one point} for
    retention_figure: every complete point, labelled by its axis values."""
    axes = [name for name in summary["status"].dims]
    results = {}
    for index in np.ndindex(*summary["status"].shape):
        point = summary.isel(dict(zip(axes, index)))
        if str(point["status"].values) != "ok":
            continue
        label = ", ".join(f"{axis}={point[axis].values}" for axis in axes)
        table = xr.Dataset({name: ("cycle", point[name].values) for name in point.data_vars
                            if point[name].dims == ("cycle",)}, coords={"cycle": summary["cycle"].values})
        kept = np.isfinite(table["capacity_retention"].values)
        table = table.isel(cycle=np.flatnonzero(kept))
        if "cycle_simulated" in table:
            table["cycle_simulated"] = ("cycle", table["cycle_simulated"].values.astype(bool))
        results[label] = table
    return results


def plot_retention(results: dict[str, xr.Dataset], path: str | Path) -> Path:
    """Save retention_figure of the cycle-life runs `results` (label -> result)."""
    for label, ds in results.items():
        if "capacity_retention" not in ds:
            raise ChemomechError(f"{label}: not a cycling run (no capacity_retention); retention plots need "
                                 f"protocol kind = \"experiment\" with cycles")
    return save_figure(retention_figure(results), path)


def damage_figure(ds: xr.Dataset, snapshot: int = -1, plane: str = "xz"):
    """The damage of a cycled particle at one snapshot: for voxel runs mid-plane slices of
    x_Li of the lattice, the active fraction and the Li fraction the inactive lattice kept
    (polycrystals: also each grain's electronic wiring); for the 1-D sphere their radial profiles."""
    if "active_fraction" not in ds:
        raise ChemomechError("the run has no damage fields (a run with [degradation] mechanisms needed)")
    snap = ds.isel(snapshot=snapshot)
    cycle = int(snap["snapshot_cycle"]) if "snapshot_cycle" in snap else -1
    title = (f"{ds.attrs.get('material', '')} after cycle {cycle}, {float(snap['snapshot_voltage']):.2f} V; "
             f"rock-salt layer {1e9 * float(snap['rock_salt_thickness']):.1f} nm")
    if "r" in ds.dims:
        return _profiles(snap, title)
    panels = [("x_li", "x in Li$_x$MO$_2$ (lattice)", "viridis", (0.0, 1.0)),
              ("active_fraction", "active lattice fraction", "magma", (0.0, 1.0)),
              ("inactive_x_li", "x kept by inactive lattice", "viridis", (0.0, 1.0))]
    if "wiring_voxel" in ds:
        panels.append(("wiring_voxel", "electronic wiring of the grain", "cividis", (0.0, 1.0)))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.4), constrained_layout=True)
    for ax, (name, label, cmap, limits) in zip(axes, panels):
        cut = mid_plane(snap[name], plane)
        extent = centred_extent(cut[plane[0]].values, cut[plane[1]].values)
        image = ax.imshow(cut.values, origin="lower", extent=extent, cmap=cmap, vmin=limits[0], vmax=limits[1])
        ax.set_xlabel(axis_label(plane[0]))
        ax.set_ylabel(axis_label(plane[1]))
        fig.colorbar(image, ax=ax, shrink=0.8, label=label)
    fig.suptitle(title, fontsize=9)
    return fig


def _profiles(snap: xr.Dataset, title: str):
    """Radial profiles of the 1-D sphere's damage at one snapshot."""
    r = 1e6 * snap["r"].values
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.4), constrained_layout=True)
    left.plot(r, snap["x_li"].values, label="lattice (active + inactive)", color="k")
    left.plot(r, snap["x_li_active"].values, label="active lattice", color=COLOURS[0], ls="--")
    left.plot(r, snap["inactive_x_li"].values, label="kept by inactive lattice", color=COLOURS[3], ls=":")
    left.set_ylabel("x in Li$_x$MO$_2$")
    left.legend(fontsize=8, frameon=False)
    right.plot(r, 100.0 * snap["active_fraction"].values, color=COLOURS[1])
    right.set_ylabel("active lattice (%)")
    for ax in (left, right):
        ax.set_xlabel("radius (µm)")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return fig


def plot_damage(ds: xr.Dataset, path: str | Path, snapshot: int = -1, plane: str = "xz") -> Path:
    """Save damage_figure of one cycle-life run."""
    return save_figure(damage_figure(ds, snapshot, plane), path)
