"""Mid-plane slices of a voxel run: x_Li, (003) d-spacing deviation and lattice tilt."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError
from chemomech.plotting import save_figure

PLANES = {"xz": "y", "xy": "z", "yz": "x"}  # slice plane: the axis cut at its middle
TILT_COMPONENT = {"xz": "y", "xy": "z", "yz": "x"}  # rotation about the plane normal


def mid_plane(field: xr.DataArray, plane: str) -> xr.DataArray:
    """The slice of a (z, y, x) field through the middle of the axis normal to `plane`,
    returned with dims (vertical, horizontal) = (second, first letter of `plane`)."""
    normal = PLANES[plane]
    cut = field.isel({normal: field.sizes[normal] // 2})
    return cut.transpose(plane[1], plane[0])


def plot_slices(results: dict[str, xr.Dataset], path: str | Path, snapshot: int = -1,
                plane: str = "xz") -> Path:
    """One row per run: x_Li, d_003 deviation from the particle mean (%) and the lattice
    tilt about the plane normal (degrees) on the mid-plane `plane` of snapshot
    `snapshot`; saved to `path`."""
    if plane not in PLANES:
        raise ChemomechError(f"plane {plane!r} not allowed; allowed: {', '.join(PLANES)}")
    rows = len(results)
    fig, axes = plt.subplots(rows, 3, figsize=(10.5, 3.2 * rows), squeeze=False, constrained_layout=True)
    for row, (label, ds) in enumerate(results.items()):
        if "d_spacing_003" not in ds or "lattice_rotation" not in ds:
            raise ChemomechError(f"{label}: the run has no mechanics fields (voxel run with output.mechanics = true needed)")
        snap = ds.isel(snapshot=snapshot)
        d = snap["d_spacing_003"]
        d_rel = 100.0 * (d - float(d.mean())) / float(d.mean())
        tilt = np.degrees(snap["lattice_rotation"].sel(component=TILT_COMPONENT[plane]))
        panels = [
            (mid_plane(snap["x_li"], plane), "viridis", "$x_{Li}$", None),
            (mid_plane(d_rel, plane), "RdBu_r", r"$(d_{003} - \bar d)/\bar d$ (%)", "sym"),
            (mid_plane(tilt, plane), "PuOr", f"tilt about {TILT_COMPONENT[plane]} (deg)", "sym"),
        ]
        h, v = plane[0], plane[1]
        extent = [1e6 * float(ds[h][0]), 1e6 * float(ds[h][-1]), 1e6 * float(ds[v][0]), 1e6 * float(ds[v][-1])]
        for col, (data, cmap, title, scale) in enumerate(panels):
            ax = axes[row, col]
            values = data.values
            kwargs = {}
            if scale == "sym":
                limit = float(np.nanmax(np.abs(values))) or 1.0
                kwargs = {"vmin": -limit, "vmax": limit}
            image = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, interpolation="nearest", **kwargs)
            fig.colorbar(image, ax=ax, shrink=0.85)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(f"{h} (µm)")
            ax.set_ylabel(f"{v} (µm)")
            ax.set_aspect("equal")
        soc = float(ds["snapshot_soc"].isel(snapshot=snapshot))
        volts = float(ds["snapshot_voltage"].isel(snapshot=snapshot))
        axes[row, 0].set_title(f"{label}, SoC {100 * soc:.0f} %, {volts:.2f} V: " + "$x_{Li}$", fontsize=9)
    return save_figure(fig, path)
