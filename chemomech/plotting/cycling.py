"""Figures of cycling runs (protocol kind "experiment"): voltage vs capacity per cycle,
capacity and coulombic efficiency vs cycle number, and rate tests.

A cycling result holds, over `time` [s]: `voltage` [V], `capacity` [mAh/g] (net charge
passed since the start, positive on charge = delithiation), `current_density` [A/m2],
`step_index` and `cycle_index` (from 1); over `cycle`: `charge_capacity`,
`discharge_capacity` [mAh/g], `coulombic_efficiency` [-], `cycle_discharge_c_rate` [1/h]
and the other per-cycle figures.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import LogNorm, Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from chemomech.analysis.curves import voltage_capacity_curves
from chemomech.errors import ChemomechError
from chemomech.io.results import rate_label
from chemomech.plotting import save_figure

MAX_CURVES = 12  # cycles drawn in full in a voltage-capacity panel; more are thinned
FIRST_CYCLES = 3  # always drawn when thinning
VOLTAGE_LABEL = "voltage vs Li/Li$^+$ (V)"
CAPACITY_COLOUR = "#1f4e9c"  # as plotting/voltage.py
EFFICIENCY_COLOUR = "#c0392b"


def is_cycling_run(ds: xr.Dataset) -> bool:
    """True when `ds` has a `cycle` dimension with more than one cycle, or any discharge
    (discharge_capacity > 0); a single charge is not a cycling run."""
    if "cycle" not in ds.dims:
        return False
    if ds.sizes["cycle"] > 1:
        return True
    return "discharge_capacity" in ds and bool((ds["discharge_capacity"] > 0).any())


def cycles_to_draw(cycles: list[int], limit: int = MAX_CURVES) -> tuple[list[int], str | None]:
    """All `cycles` when there are at most `limit`; otherwise the first FIRST_CYCLES, then
    every k-th (k the smallest of 2, 5, 10, 20, 50, ... that keeps at most `limit` curves)
    and the last. Returns (cycles, a note saying which are drawn, or None when all are)."""
    cycles = [int(c) for c in cycles]
    if len(cycles) <= limit:
        return cycles, None
    head, rest = cycles[:FIRST_CYCLES], cycles[FIRST_CYCLES:]
    for k in (m * 10**e for e in range(12) for m in (2, 5, 10)):
        chosen = head + [c for c in rest[:-1] if c % k == 0] + [rest[-1]]
        if len(chosen) <= limit:
            break
    note = (f"cycles {head[0]}-{head[-1]}, every {k}{'nd' if k == 2 else 'th'}"
            f"{'' if rest[-1] % k == 0 else f' and {rest[-1]}'} ({len(chosen)} of {len(cycles)} shown)")
    return chosen, note


def plot_cycling(ds: xr.Dataset, out_path: str | Path, title: str | None = None) -> Path:
    """Two panels saved to `out_path`: (a) voltage [V] vs capacity [mAh/g] of each cycle,
    coloured by cycle number (charge solid, discharge dashed; thinned beyond MAX_CURVES
    cycles); (b) discharge capacity [mAh/g] and coulombic efficiency [%] vs cycle number.
    The title defaults to the material name."""
    fig, (ax_v, ax_q) = plt.subplots(1, 2, figsize=(10, 4.0), constrained_layout=True)
    _draw_voltage_capacity(fig, ax_v, voltage_capacity_curves(ds))
    _draw_capacity_efficiency(ax_q, ds)
    fig.suptitle(title if title is not None else f"{ds.attrs.get('material', '')} cycling".strip())
    return save_figure(fig, out_path, dpi=200)


def _draw_voltage_capacity(fig, ax, curves: list[dict]) -> None:
    """Panel (a): the charge (solid) and discharge (dashed) branches, viridis by cycle."""
    cycles = [curve["cycle"] for curve in curves]
    drawn, note = cycles_to_draw(cycles)
    norm = Normalize(vmin=min(cycles), vmax=max(max(cycles), min(cycles) + 1))
    cmap = plt.get_cmap("viridis")
    for curve in curves:
        if curve["cycle"] not in drawn:
            continue
        colour = cmap(norm(curve["cycle"]))
        for branch, style in (("charge", "-"), ("discharge", "--")):
            if curve[branch] is not None:
                ax.plot(*curve[branch], color=colour, linestyle=style, lw=1.3)
    colorbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02)
    colorbar.set_label("cycle")
    colorbar.locator = MaxNLocator(integer=True)
    colorbar.update_ticks()
    handles = [Line2D([], [], color="0.3", linestyle="-", label="charge"),
               Line2D([], [], color="0.3", linestyle="--", label="discharge")]
    ax.legend(handles=handles, title=note, title_fontsize=7, fontsize=8, frameon=False,
              ncol=2, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    ax.set_xlabel("capacity (mAh/g)")
    ax.set_ylabel(VOLTAGE_LABEL)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)


def _draw_capacity_efficiency(ax, ds: xr.Dataset) -> None:
    """Panel (b): discharge capacity (left axis) and coulombic efficiency (right) per cycle."""
    cycle = ds["cycle"].values
    capacity_line, = ax.plot(cycle, ds["discharge_capacity"].values, "o-", ms=4, lw=1.0,
                             color=CAPACITY_COLOUR, label="discharge capacity")
    ax.set_xlabel("cycle number")
    ax.set_ylabel("discharge capacity (mAh/g)", color=CAPACITY_COLOUR)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax_ce = ax.twinx()
    efficiency_line, = ax_ce.plot(cycle, 100 * ds["coulombic_efficiency"].values, "s--", ms=4,
                                  mfc="none", lw=1.0, color=EFFICIENCY_COLOUR,
                                  label="coulombic efficiency")
    ax_ce.set_ylabel("coulombic efficiency (%)", color=EFFICIENCY_COLOUR)
    ax.legend(handles=[capacity_line, efficiency_line], fontsize=8, frameon=False, ncol=2,
              loc="lower center", bbox_to_anchor=(0.5, 1.0))


def plot_rate_test(ds: xr.Dataset, out_path: str | Path) -> Path:
    """Two panels saved to `out_path`: (a) discharge voltage [V] vs discharge capacity
    [mAh/g] of each cycle, coloured and labelled by the cycle's discharge C-rate;
    (b) discharge capacity [mAh/g] vs discharge C-rate [1/h] (log axis), every cycle as a
    marker and the mean at each rate as a line. Cycles without a discharge are left out."""
    rates = dict(zip(ds["cycle"].values.tolist(), ds["cycle_discharge_c_rate"].values.tolist()))
    measured = sorted({r for r in rates.values() if np.isfinite(r) and r > 0})
    if not measured:
        raise ChemomechError("no cycle of this run has a discharge C-rate "
                             "(cycle_discharge_c_rate is NaN throughout): not a rate test")
    norm = LogNorm(vmin=min(measured), vmax=max(max(measured), 1.01 * min(measured)))
    colour = {rate: plt.get_cmap("plasma")(0.85 * norm(rate)) for rate in measured}
    fig, (ax_v, ax_q) = plt.subplots(1, 2, figsize=(10, 4.0), constrained_layout=True)
    labelled = set()
    for curve in voltage_capacity_curves(ds):
        rate = rates.get(curve["cycle"], np.nan)
        if curve["discharge"] is None or rate not in colour:
            continue
        label = None if rate in labelled else rate_label(rate)
        labelled.add(rate)
        ax_v.plot(*curve["discharge"], color=colour[rate], lw=1.3, label=label)
    ax_v.set_xlabel("discharge capacity (mAh/g)")
    ax_v.set_ylabel(VOLTAGE_LABEL)
    ax_v.set_xlim(left=0)
    ax_v.grid(alpha=0.3)
    ax_v.legend(title="discharge rate", fontsize=8, title_fontsize=8, frameon=False,
                loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _draw_capacity_vs_rate(ax_q, ds, colour)
    fig.suptitle(f"{ds.attrs.get('material', '')} rate test".strip())
    return save_figure(fig, out_path, dpi=200)


def _draw_capacity_vs_rate(ax, ds: xr.Dataset, colour: dict[float, tuple]) -> None:
    """Panel (b) of plot_rate_test: discharge capacity of every cycle at its C-rate."""
    rate = ds["cycle_discharge_c_rate"].values
    capacity = ds["discharge_capacity"].values
    means = [np.nanmean(capacity[rate == r]) for r in colour]
    ax.plot(list(colour), means, "-", color="0.5", lw=1.0, zorder=1)
    for r in colour:
        ax.plot(rate[rate == r], capacity[rate == r], "o", ms=5, color=colour[r], zorder=2)
    ax.set_xscale("log")
    ax.set_xticks(list(colour), [rate_label(r) for r in colour])
    ax.minorticks_off()
    ax.set_xlabel("discharge C-rate")
    ax.set_ylabel("discharge capacity (mAh/g)")
    ax.grid(alpha=0.3)
