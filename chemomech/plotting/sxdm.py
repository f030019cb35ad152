"""SXDM maps as published: relative d-spacing, the two lattice tilts and the diffracted
intensity over the raster, in micrometres, with labelled colourbars."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError
from chemomech.plotting import save_figure

PANELS = (  # variable, scale to the shown unit, colour map, colourbar label, symmetric limits
    ("d_rel", 100.0, "RdBu_r", r"$(d - \bar d)/\bar d$ (%)", True),
    ("tilt_y", 1.0, "PuOr", "tilt Y, twisting (deg)", True),
    ("tilt_z", 1.0, "PuOr", "tilt Z, bending (deg)", True),
    ("total_intensity", 1.0, "magma", "total intensity", False),
)


def _lab_axis(maps: xr.Dataset, key: str) -> str:
    """' ~ particle +z'-style note naming the particle lab axis nearest a raster axis."""
    if key not in maps.attrs:
        return ""
    vector = np.asarray(maps.attrs[key], dtype=float)
    index = int(np.argmax(np.abs(vector)))
    sign = "+" if vector[index] > 0 else "-"
    near = "=" if abs(abs(vector[index]) - 1.0) < 1e-9 else "≈"
    return f" {near} particle {sign}{'xyz'[index]}"


def plot_sxdm(maps: xr.Dataset, path: str | Path, title: str | None = None) -> Path:
    """2 x 2 figure of the SXDM maps Dataset (reduce_frames / sxdm): d_rel [%], tilt Y,
    tilt Z [deg] and total intensity over the raster (x, y in um); saved to `path`."""
    missing = [name for name, *_ in PANELS if name not in maps]
    if missing:
        raise ChemomechError(f"the SXDM maps have no {', '.join(missing)}; pass the result of sxdm() or reduce_frames()")
    in_metres = maps["x"].attrs.get("units", "m") == "m"
    scale = 1e6 if in_metres else 1.0
    unit = "µm" if in_metres else "step"
    x = scale * maps["x"].values
    y = scale * maps["y"].values
    half_x = 0.5 * (x[1] - x[0]) if x.size > 1 else 0.5
    half_y = 0.5 * (y[1] - y[0]) if y.size > 1 else 0.5
    extent = [x[0] - half_x, x[-1] + half_x, y[0] - half_y, y[-1] + half_y]
    fig, axes = plt.subplots(2, 2, figsize=(8.6, 7.4), constrained_layout=True)
    for ax, (name, factor, cmap, label, symmetric) in zip(axes.flat, PANELS):
        values = factor * maps[name].transpose("y", "x").values
        kwargs = {}
        finite = values[np.isfinite(values)]
        if symmetric and finite.size:
            limit = float(np.percentile(np.abs(finite), 99.5)) or 1.0
            kwargs = {"vmin": -limit, "vmax": limit}
        if name == "total_intensity":
            label = f"total intensity ({maps[name].attrs.get('units', 'a.u.')})"
        image = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, interpolation="nearest", **kwargs)
        ax.set_facecolor("0.85")
        fig.colorbar(image, ax=ax, shrink=0.85, label=label)
        ax.set_xlabel(f"x{_lab_axis(maps, 'raster_x_axis_lab')} ({unit})")
        ax.set_ylabel(f"y{_lab_axis(maps, 'raster_y_axis_lab')}, rocking axis ({unit})")
        ax.set_aspect("equal")
    if title is None:
        title = f"SXDM ({maps.attrs.get('reflection', '')})"
        if "material" in maps.attrs:
            title = f"{maps.attrs['material']} " + title
        if "snapshot_voltage" in maps.attrs:
            title += f", {maps.attrs['snapshot_voltage']:.2f} V"
        if "beam_nm" in maps.attrs and "step_nm" in maps.attrs:
            title += f"; beam {maps.attrs['beam_nm']:g} nm, step {maps.attrs['step_nm']:g} nm"
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
