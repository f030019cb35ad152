"""Figures of a sweep (DIR/summary.nc): a summary figure against each numeric axis; a
sweep with no numeric axis but per-cycle figures (a cycle-life sweep) draws retention vs
cycle of every point (plotting/cycle_life.py).

One panel per numeric axis with more than one value (C-rate on a log axis, radius and
other keys linear), one line per combination of the other axes (one per material in the
example sweeps), failed or missing points left as gaps. For the capacity, a right-hand
axis gives the same values as state of charge at cutoff (% of the nominal capacity, read
from the points' own capacity/soc_end ratio).
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError
from chemomech.io.results import rate_label
from chemomech.plotting import save_figure

COLOURS = ["#1f4e9c", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#7f8c8d"]  # as plotting/voltage.py
LINE_STYLES = ["-", "--", ":", "-."]
AXIS_LABELS = {
    "protocol.c_rate": "C-rate (1/h)",
    "particle.radius_um": "particle radius (um)",
}
FIGURE_LABELS = {
    "capacity_mAh_g": "capacity at cutoff (mAh/g)",
    "soc_end": "state of charge at cutoff",
    "discharge_capacity_last_mAh_g": "discharge capacity, last cycle (mAh/g)",
}


def plot_sweep(ds: xr.Dataset, path: str | Path, figure: str = "capacity_mAh_g") -> Path:
    """`figure` (a variable of the summary Dataset) against every numeric sweep axis,
    one panel per axis, saved to `path`."""
    if figure not in ds:
        raise ChemomechError(f"the sweep summary has no {figure!r}; it has: {', '.join(ds.data_vars)}")
    x_axes = [dim for dim in ds[figure].dims if ds.sizes[dim] > 1 and np.issubdtype(ds[dim].dtype, np.number)]
    if not x_axes:
        raise ChemomechError("the sweep has no numeric axis with more than one value to plot against "
                             f"(axes: {', '.join(f'{d} ({ds.sizes[d]})' for d in ds[figure].dims)})")
    base = _base_config(ds)
    nominal = _nominal_capacity(ds) if figure == "capacity_mAh_g" else None
    fig, axes = plt.subplots(1, len(x_axes), figsize=(4.6 * len(x_axes), 3.8), squeeze=False,
                             constrained_layout=True)
    for ax, x_dim in zip(axes[0], x_axes):
        others = [d for d in ds[figure].dims if d != x_dim]
        combos = list(itertools.product(*(range(ds.sizes[d]) for d in others)))
        # colour by material (when swept), line style by the other axes' values
        colour_dim = next((d for d in others if ds[d].attrs.get("config_key") == "material"), None)
        rest = [d for d in others if d != colour_dim]
        for n, combo in enumerate(combos):
            selection = {d: i for d, i in zip(others, combo)}
            line = ds[figure].isel(selection)
            label = ", ".join(_value_label(ds, d, i) for d, i in selection.items()) or None
            if colour_dim is None:
                colour, style = COLOURS[n % len(COLOURS)], "-"
            else:
                colour = COLOURS[selection[colour_dim] % len(COLOURS)]
                style_index = int(np.ravel_multi_index([selection[d] for d in rest], [ds.sizes[d] for d in rest])) if rest else 0
                style = LINE_STYLES[style_index % len(LINE_STYLES)]
            ax.plot(ds[x_dim].values, line.values, marker="o", ms=4, lw=1.6, color=colour, linestyle=style, label=label)
        key = ds[x_dim].attrs.get("config_key", x_dim)
        units = ds[x_dim].attrs.get("units")
        if key.startswith("material.blend."):
            label = f"fraction of {key.rsplit('.', 1)[-1].upper()} in the blend (-)"
        else:
            label = AXIS_LABELS.get(key, f"{key} ({units})" if units else key)
        ax.set_xlabel(label)
        if key == "protocol.c_rate":
            ax.set_xscale("log")
            ticks = ds[x_dim].values
            ax.set_xticks(ticks, [rate_label(float(c)) for c in ticks], minor=False)
            ax.minorticks_off()
        units = ds[figure].attrs.get("units")
        ax.set_ylabel(FIGURE_LABELS.get(figure, f"{figure} ({units})" if units else figure))
        ax.set_title(_fixed_conditions(base, ds, exclude=key), fontsize=9)
        ax.grid(alpha=0.3)
        if others:
            ax.legend(frameon=False, fontsize=8)
        if nominal is not None:
            secondary = ax.secondary_yaxis("right", functions=(lambda c: 100 * c / nominal,
                                                                lambda s: s * nominal / 100))
            secondary.set_ylabel(f"SoC at cutoff (% of {nominal:g} mAh/g)")
    return save_figure(fig, path, dpi=200)


def _nominal_capacity(ds: xr.Dataset) -> float | None:
    """The nominal capacity [mAh/g] behind soc_end, when every point has the same one."""
    if "soc_end" not in ds or "capacity_mAh_g" not in ds:
        return None
    ratio = (ds["capacity_mAh_g"] / ds["soc_end"]).values
    ratio = ratio[np.isfinite(ratio)]
    if ratio.size == 0 or np.ptp(ratio) > 1e-6 * ratio.mean():
        return None
    return float(np.round(ratio.mean(), 6))


def _value_label(ds: xr.Dataset, dim: str, index: int) -> str:
    value = ds[dim].values[index]
    key = ds[dim].attrs.get("config_key", dim)
    if key == "material":
        return str(value).upper()
    if key == "protocol.c_rate":
        return rate_label(float(value))
    units = ds[dim].attrs.get("units", "")
    if key == "particle.radius_um":
        return f"R = {float(value):g} um"
    return f"{dim} = {value:g} {units}".strip() if isinstance(value, (float, np.floating)) else f"{dim} = {value}"


def _base_config(ds: xr.Dataset) -> dict:
    try:
        return tomllib.loads(ds.attrs.get("sweep", "")).get("base", {})
    except tomllib.TOMLDecodeError:
        return {}


def _fixed_conditions(base: dict, ds: xr.Dataset, exclude: str) -> str:
    """"R = 2 um, 1C to 4.5 V": the radius and protocol the panel holds fixed (base config,
    defaults from chemomech.io.config.SCHEMA), without the swept keys."""
    from chemomech.io.config import SCHEMA

    swept = {ds[d].attrs.get("config_key") for d in ds.dims} | {exclude}

    def value(section, name):
        return base.get(section, {}).get(name, SCHEMA[section][name].default)

    parts = []
    if "particle.radius_um" not in swept:
        parts.append(f"R = {value('particle', 'radius_um'):g} um")
    if base.get("protocol", {}).get("kind") == "experiment":
        blocks = base["protocol"].get("blocks", [])
        parts.append(f"{sum(b.get('repeat', 1) for b in blocks)} cycles")
        return ", ".join(parts)
    protocol = "" if "protocol.c_rate" in swept else f"{rate_label(float(value('protocol', 'c_rate')))} "
    if "protocol.v_max" not in swept:
        protocol += f"to {value('protocol', 'v_max'):g} V"
    parts.append(protocol.strip())
    if "particle.geometry" not in swept:
        parts.append(str(value("particle", "geometry")))
    return ", ".join(p for p in parts if p)


def plot_sweep_directory(sweep_dir: str | Path, path: str | Path) -> Path:
    """plot_sweep of DIR/summary.nc."""
    from chemomech.sweep.summary import open_summary

    ds = open_summary(sweep_dir)
    numeric = [name for name in ds["status"].dims if ds.sizes[name] > 1 and np.issubdtype(ds[name].dtype, np.number)]
    if not numeric and "capacity_retention" in ds:  # a cycle-life sweep: retention vs cycle of every point
        from chemomech.plotting.cycle_life import plot_retention, sweep_retention_results

        return plot_retention(sweep_retention_results(ds), path)
    figure = "discharge_capacity_last_mAh_g" if "discharge_capacity_last_mAh_g" in ds else "capacity_mAh_g"
    return plot_sweep(ds, path, figure)
