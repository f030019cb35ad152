"""SXDM maps as published: relative d-spacing, the two lattice tilts and the diffracted
intensity over the raster, with labelled colour bars.

The maps follow the convention of the other map figures (plotting/slices.py): plain lab
axes of the particle (x, y, z of result.nc) in micrometres, origin at the particle centre.
A simulated raster axis is named after the lab axis it is nearest (flipped if it points
along the negative lab axis); the caption states the lab plane, that the map is a
projection along the beam, and how far the raster axes are from the lab axes (the beam
meets the planes at the Bragg angle, so the raster axis in the scattering plane is theta_B
off the lab axis). Maps without that geometry (measured) keep the raster axes."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError
from chemomech.plotting import save_figure
from chemomech.plotting.slices import MICROMETRE, axis_label, centred_extent

PANELS = (  # variable, scale to the shown unit, colour map, colourbar label, symmetric limits
    ("d_rel", 100.0, "RdBu_r", r"$(d - \bar d)/\bar d$ (%)", True),
    ("tilt_y", 1.0, "PuOr", "tilt Y, about the rocking axis (deg)", True),
    ("tilt_z", 1.0, "PuOr", "tilt Z, about the third axis (deg)", True),
    ("total_intensity", 1.0, "magma", "total intensity", False),
)
ALIGNED_DEG = 0.5  # a raster axis within this angle of a lab axis is called that axis without comment
# the tilt-Y pattern was checked unchanged by the raster step (25-100 nm) and the beam (30-100 nm),
# and finer and weaker at 50 nm than at 100 nm voxels: a discretisation of the particle, not of the raster
VOXEL_ALIASING_NOTE = (
    "tilt Y nearly cancels along each beam path; its fine periodic structure is the voxel staircase of the model "
    "particle\n(it shrinks with the voxel size, and does not follow the raster step or beam), not a feature of the sample")


def _nearest_lab_axis(maps: xr.Dataset, key: str) -> tuple[str, float, float] | None:
    """(lab axis name, sign +-1, angle [deg] between them) of the lab axis nearest the raster
    direction attrs[key] of a simulated map, or None for maps without it."""
    if key not in maps.attrs:
        return None
    vector = np.asarray(maps.attrs[key], dtype=float)
    vector = vector / np.linalg.norm(vector)
    index = int(np.argmax(np.abs(vector)))
    angle = float(np.degrees(np.arccos(min(1.0, abs(vector[index])))))
    return "xyz"[index], float(np.sign(vector[index]) or 1.0), angle


def map_frame(maps: xr.Dataset) -> dict:
    """How to draw SXDM maps in lab axes: horizontal and vertical axis labels, the signs that
    turn raster coordinates into lab coordinates (+-1; -1 flips the map), the scale to the
    shown unit, a caption naming the lab plane (empty for maps without geometry) and the lab
    axis (with sign) each tilt is about, where known."""
    in_metres = maps["x"].attrs.get("units", "m") == "m"
    scale, unit = (1e6, MICROMETRE) if in_metres else (1.0, "step")
    horizontal = _nearest_lab_axis(maps, "raster_x_axis_lab")
    vertical = _nearest_lab_axis(maps, "raster_y_axis_lab")
    if horizontal is None or vertical is None or horizontal[0] == vertical[0]:
        return {"xlabel": f"raster x ({unit})", "ylabel": f"raster y, rocking axis ({unit})", "sign_x": 1.0,
                "sign_y": 1.0, "scale": scale, "caption": "",
                "tilt_axes": {}}
    normal = ({"x", "y", "z"} - {horizontal[0], vertical[0]}).pop()
    caption = (f"lab {horizontal[0]}-{vertical[0]} plane, projection along the beam (~{normal}); origin at the "
               f"particle centre; rocking axis {vertical[0]}")
    off = [f"{axis} axis {angle:.1f} deg" for axis, _, angle in (horizontal, vertical) if angle > ALIGNED_DEG]
    if off:
        caption += f"\nraster {', '.join(off)} off the lab axis (the beam meets the planes at the Bragg angle)"
    third = _nearest_lab_axis(maps, "third_axis_lab")
    tilt_axes = {"tilt_y": f"{'+' if vertical[1] > 0 else '-'}{vertical[0]}"}
    if third is not None:
        tilt_axes["tilt_z"] = f"{'+' if third[1] > 0 else '-'}{third[0]}"
    return {"xlabel": axis_label(horizontal[0], unit), "ylabel": axis_label(vertical[0], unit),
            "sign_x": horizontal[1], "sign_y": vertical[1], "scale": scale, "caption": caption,
            "tilt_axes": tilt_axes}


def lab_oriented(maps: xr.Dataset, name: str, frame: dict) -> tuple[np.ndarray, list[float]]:
    """The map `name` as (y, x) values and imshow extent with both axes increasing along the
    lab axes of `frame` (map_frame)."""
    values = maps[name].transpose("y", "x").values
    x = frame["sign_x"] * maps["x"].values
    y = frame["sign_y"] * maps["y"].values
    if x.size > 1 and x[-1] < x[0]:
        x, values = x[::-1], values[:, ::-1]
    if y.size > 1 and y[-1] < y[0]:
        y, values = y[::-1], values[::-1]
    return values, centred_extent(x, y, frame["scale"])


def sxdm_figure(maps: xr.Dataset, title: str | None = None):
    """The figure of plot_sxdm (matplotlib Figure), not saved."""
    missing = [name for name, *_ in PANELS if name not in maps]
    if missing:
        raise ChemomechError(f"the SXDM maps have no {', '.join(missing)}; pass the result of sxdm() or reduce_frames()")
    frame = map_frame(maps)
    fig, axes = plt.subplots(2, 2, figsize=(8.6, 8.4), constrained_layout=True)
    for ax, (name, factor, cmap, label, symmetric) in zip(axes.flat, PANELS):
        values, extent = lab_oriented(maps, name, frame)
        values = factor * values
        kwargs = {}
        finite = values[np.isfinite(values)]
        if symmetric and finite.size:
            limit = float(np.percentile(np.abs(finite), 99.5)) or 1.0
            kwargs = {"vmin": -limit, "vmax": limit}
        if name in frame["tilt_axes"]:
            label = label.replace(" (deg)", f" = {frame['tilt_axes'][name]} (deg)")
        if name == "total_intensity":
            units = re.sub(r"\bum\b", MICROMETRE, str(maps[name].attrs.get("units", "a.u.")))
            label = f"total intensity ({units})"
        image = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, interpolation="nearest", **kwargs)
        ax.set_facecolor("0.85")
        fig.colorbar(image, ax=ax, shrink=0.85, label=label)
        ax.set_xlabel(frame["xlabel"])
        ax.set_ylabel(frame["ylabel"])
        ax.set_aspect("equal")
    if title is None:
        title = f"SXDM ({maps.attrs.get('reflection', '')})"
        if "material" in maps.attrs:
            title = f"{maps.attrs['material']} " + title
        if "snapshot_voltage" in maps.attrs:
            title += f", {maps.attrs['snapshot_voltage']:.2f} V"
        if "beam_nm" in maps.attrs and "step_nm" in maps.attrs:
            title += f"; beam {maps.attrs['beam_nm']:g} nm, step {maps.attrs['step_nm']:g} nm"
    lines = [title] + ([frame["caption"]] if frame["caption"] else [])
    if "frames_shape" in maps.attrs:  # a simulated map: say what its fine tilt-Y structure is
        lines.append(VOXEL_ALIASING_NOTE)
    fig.suptitle("\n".join(lines), fontsize=9)
    return fig


def plot_sxdm(maps: xr.Dataset, path: str | Path, title: str | None = None) -> Path:
    """2 x 2 figure of the SXDM maps Dataset (reduce_frames / sxdm): d_rel [%], tilt Y,
    tilt Z [deg] and total intensity over the raster, in lab axes (um) centred on the
    particle; saved to `path`."""
    return save_figure(sxdm_figure(maps, title), path)
