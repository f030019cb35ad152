"""Mid-plane slices of a voxel run: x_Li, (003) d-spacing deviation and lattice tilt.

Map convention shared by every map figure (slices, SXDM, TXM-XANES): plain lab axes x, y,
z of result.nc in micrometres, origin at the particle centre (the voxel box centre), pixel
edges at the voxel faces, and every colour bar labelled with its quantity and unit."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError
from chemomech.plotting import save_figure

PLANES = {"xz": "y", "xy": "z", "yz": "x"}  # slice plane: the axis cut at its middle
TILT_COMPONENT = {"xz": "y", "xy": "z", "yz": "x"}  # rotation about the plane normal
MICROMETRE = "µm"
ELASTIC_CAVEAT = "linear elastic; no fracture or plasticity in the model"


def axis_label(axis: str, unit: str = MICROMETRE) -> str:
    """Plain lab-axis label of a map, e.g. 'x (µm)'."""
    return f"{axis} ({unit})"


def centred_extent(horizontal: np.ndarray, vertical: np.ndarray, scale: float = 1e6) -> list[float]:
    """imshow extent [left, right, bottom, top] of a map whose pixel centres lie at the
    coordinates `horizontal`, `vertical` (times `scale`; m -> um by default), the pixel
    edges half a spacing outside the first and last centre."""
    edges = []
    for values in (horizontal, vertical):
        values = scale * np.asarray(values, dtype=float)
        half = 0.5 * abs(values[1] - values[0]) if values.size > 1 else 0.5
        edges += [values[0] - half, values[-1] + half] if values[-1] >= values[0] else [values[0] + half, values[-1] - half]
    return edges


def mid_plane(field: xr.DataArray, plane: str) -> xr.DataArray:
    """The slice of a (z, y, x) field through the middle of the axis normal to `plane`,
    returned with dims (vertical, horizontal) = (second, first letter of `plane`)."""
    normal = PLANES[plane]
    cut = field.isel({normal: field.sizes[normal] // 2})
    return cut.transpose(plane[1], plane[0])


def slices_figure(results: dict[str, xr.Dataset], snapshot: int = -1, plane: str = "xz"):
    """The figure of plot_slices (matplotlib Figure), not saved."""
    if plane not in PLANES:
        raise ChemomechError(f"plane {plane!r} not allowed; allowed: {', '.join(PLANES)}")
    rows = len(results)
    fig, axes = plt.subplots(rows, 3, figsize=(10.5, 3.2 * rows + 0.5), squeeze=False, constrained_layout=True)
    h, v = plane[0], plane[1]
    normal = PLANES[plane]
    for row, (label, ds) in enumerate(results.items()):
        if "d_spacing_003" not in ds or "lattice_rotation" not in ds:
            raise ChemomechError(f"{label}: the run has no mechanics fields (voxel run with output.mechanics = true needed)")
        snap = ds.isel(snapshot=snapshot)
        d = snap["d_spacing_003"]
        d_rel = 100.0 * (d - float(d.mean())) / float(d.mean())
        tilt = np.degrees(snap["lattice_rotation"].sel(component=TILT_COMPONENT[plane]))
        panels = [  # field, colour map, colour-bar label (quantity and unit), symmetric limits
            (mid_plane(snap["x_li"], plane), "viridis", r"Li fraction $x_{Li}$ (-)", False),
            (mid_plane(d_rel, plane), "RdBu_r", r"$(d_{003} - \bar d)/\bar d$ (%)", True),
            (mid_plane(tilt, plane), "PuOr", f"lattice tilt about {TILT_COMPONENT[plane]} (deg)", True),
        ]
        extent = centred_extent(ds[h].values, ds[v].values)
        for col, (data, cmap, quantity, symmetric) in enumerate(panels):
            ax = axes[row, col]
            values = data.values
            kwargs = {}
            if symmetric:
                limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
                kwargs = {"vmin": -(limit or 1.0), "vmax": limit or 1.0}
            image = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, interpolation="nearest", **kwargs)
            fig.colorbar(image, ax=ax, shrink=0.85, label=quantity)
            ax.set_xlabel(axis_label(h))
            ax.set_ylabel(axis_label(v))
            ax.set_aspect("equal")
        soc = float(ds["snapshot_soc"].isel(snapshot=snapshot))
        volts = float(ds["snapshot_voltage"].isel(snapshot=snapshot))
        axes[row, 0].set_title(f"{label}: SoC {100 * soc:.0f} %, {volts:.2f} V", fontsize=9)
        axes[row, 1].set_title("(003) spacing, incl. elastic strain", fontsize=9)
        axes[row, 2].set_title(f"lattice tilt about {TILT_COMPONENT[plane]} (plane normal)", fontsize=9)
    first = next(iter(results.values()))
    cut = 1e6 * float(first[normal][first.sizes[normal] // 2])
    fig.suptitle(f"lab {h}-{v} plane through the particle centre ({normal} = {cut:.2f} {MICROMETRE}); origin at the "
                 f"particle centre\n(003) spacing and tilt from the elastic solution: {ELASTIC_CAVEAT}", fontsize=9)
    return fig


def plot_slices(results: dict[str, xr.Dataset], path: str | Path, snapshot: int = -1,
                plane: str = "xz") -> Path:
    """One row per run: x_Li, d_003 deviation from the particle mean (%) and the lattice
    tilt about the plane normal (degrees) on the mid-plane `plane` of snapshot
    `snapshot`, in lab coordinates centred on the particle (um); saved to `path`."""
    return save_figure(slices_figure(results, snapshot, plane), path)
