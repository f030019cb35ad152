"""TXM-XANES figure: xy / yz / xz slices through the centre of a white-line energy volume
(shared colour scale, colourbar in eV, lab axes in micrometres centred on the particle) and its histogram with mean and
standard deviation marked. Works for a synthetic result of cm.observables.xanes and for a
measured white-line volume or 2-D map."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError
from chemomech.plotting import save_figure
from chemomech.plotting.slices import MICROMETRE, axis_label, centred_extent


def centre_slices(volume: np.ndarray) -> dict[str, np.ndarray]:
    """Slices through the centre of a (z, y, x) volume, each (vertical, horizontal):
    xy = volume[z_c] (y, x), yz = volume[:, :, x_c] (z, y), xz = volume[:, y_c] (z, x)."""
    nz, ny, nx = volume.shape
    return {"xy": volume[nz // 2], "yz": volume[:, :, nx // 2], "xz": volume[:, ny // 2, :]}


def _axes_um(data, volume: np.ndarray, voxel_nm: float | None) -> tuple[dict[str, np.ndarray], str, str]:
    """Voxel-centre coordinates of each axis of `volume` ((z, y, x) or (y, x)), the unit and
    where the origin is: the lab coordinates of an xarray result with coordinates z, y, x in
    m (the particle centre is the lab origin); otherwise the voxel index times voxel_nm,
    centred on the particle (the centroid of the finite voxels), in um (in voxels without
    voxel_nm)."""
    names = "zyx"[3 - volume.ndim:]
    if isinstance(data, (xr.Dataset, xr.DataArray)) and all(n in data.coords for n in names):
        return {n: 1e6 * np.asarray(data[n].values, dtype=float) for n in names}, MICROMETRE, "the particle centre"
    inside = np.argwhere(np.isfinite(volume))
    centre = inside.mean(axis=0) if inside.size else 0.5 * (np.array(volume.shape) - 1)
    scale = 1e-3 * voxel_nm if voxel_nm else 1.0
    axes = {n: (np.arange(size) - c) * scale for n, size, c in zip(names, volume.shape, centre)}
    return axes, (MICROMETRE if voxel_nm else "voxel"), "the particle centre (centroid of the finite voxels)"


def white_line_figure(data, voxel_nm: float | None = None, title: str = "", bin_eV: float | None = None):
    """The figure of plot_white_line (matplotlib Figure), not saved."""
    from chemomech.observables.txm_xanes import HISTOGRAM_BIN_EV, white_line_histogram

    if isinstance(data, xr.Dataset):
        volume = np.asarray(data["white_line_energy"].values, dtype=float)
        voxel_nm = voxel_nm or float(data.attrs.get("voxel_nm", 0)) or None
        bin_eV = bin_eV or float(data.attrs.get("histogram_bin_eV", HISTOGRAM_BIN_EV))
        if not title:
            title = f"{data.attrs.get('material', '')} TXM-XANES, snapshot {data.attrs.get('snapshot', '')}".strip()
            if "snapshot_time_s" in data.attrs:
                title += f" ({float(data.attrs['snapshot_time_s']) / 3600.0:.2f} h)"
            if voxel_nm:
                title += f", {voxel_nm:g} nm voxels"
        coords_from = data["white_line_energy"]
    else:
        volume = np.asarray(data.values if isinstance(data, xr.DataArray) else data, dtype=float)
        bin_eV = bin_eV or HISTOGRAM_BIN_EV
        coords_from = data
    if volume.ndim not in (2, 3):
        raise ChemomechError(f"a white-line map must be 2-D (y, x) or 3-D (z, y, x); got shape {volume.shape}")
    finite = volume[np.isfinite(volume)]
    if finite.size == 0:
        raise ChemomechError("the white-line map has no finite values to plot")
    mean, std = float(finite.mean()), float(finite.std())
    low, high = np.percentile(finite, [1, 99])
    if high - low < 1e-3:
        low, high = mean - 0.05, mean + 0.05
    panels = centre_slices(volume) if volume.ndim == 3 else {"xy": volume}
    coordinates, unit, origin = _axes_um(coords_from, volume, voxel_nm)

    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(3.4 * (len(panels) + 1), 3.6), constrained_layout=True)
    image = None
    for ax, (plane, values) in zip(axes, panels.items()):
        extent = centred_extent(coordinates[plane[0]], coordinates[plane[1]], scale=1.0)
        cmap = plt.get_cmap("plasma").with_extremes(bad="white")
        image = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        ax.set_xlabel(axis_label(plane[0], unit))
        ax.set_ylabel(axis_label(plane[1], unit))
        ax.set_title(f"lab {plane[0]}-{plane[1]} centre slice" if volume.ndim == 3 else "map", fontsize=9)
    colourbar = fig.colorbar(image, ax=axes[: len(panels)], shrink=0.85)
    colourbar.set_label("white-line energy (eV)")
    colourbar.formatter.set_useOffset(False)
    colourbar.update_ticks()

    counts, centres, _ = white_line_histogram(finite, bin_eV)
    hist_ax = axes[-1]
    hist_ax.bar(centres, counts / counts.sum(), width=bin_eV, color="0.35")
    hist_ax.axvline(mean, color="C3", label=f"mean {mean:.3f} eV")
    hist_ax.axvspan(mean - std, mean + std, color="C3", alpha=0.15, label=f"std {std:.3f} eV")
    hist_ax.set_xlabel("white-line energy (eV)")
    hist_ax.set_ylabel(f"fraction of voxels per {bin_eV:g} eV")
    hist_ax.legend(fontsize=7, framealpha=0.8)
    hist_ax.ticklabel_format(axis="x", useOffset=False)
    hist_ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    hist_ax.tick_params(axis="x", labelrotation=30)
    caption = f"origin at {origin}" if unit == MICROMETRE or unit == "voxel" else ""
    fig.suptitle("\n".join(line for line in (title, caption) if line), fontsize=9)
    return fig


def plot_white_line(data, path: str | Path, voxel_nm: float | None = None, title: str = "",
                    bin_eV: float | None = None) -> Path:
    """Save the white-line figure to `path`.

    data: an xarray Dataset from cm.observables.xanes (white_line_energy, histogram), or a
    white-line volume (z, y, x) / map (y, x) in eV as a numpy array or DataArray
    (voxel_nm sets the axes in micrometres; without it the axes are in voxels). Maps are in
    lab axes centred on the particle, as the slices and SXDM figures."""
    return save_figure(white_line_figure(data, voxel_nm, title, bin_eV), path)
