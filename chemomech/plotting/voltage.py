"""Figures of charge curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from chemomech.plotting import save_figure


def plot_voltage_vs_soc(results: dict[str, xr.Dataset], path: str | Path) -> Path:
    """Voltage [V] vs nominal SoC [%] of several runs on one axis, saved to `path`.
    `results` maps a legend label to a result Dataset. Runs of the same material share a
    colour; C-rates are told apart by line style."""
    materials = sorted({ds.attrs["material"] for ds in results.values()})
    colours = dict(zip(materials, ["#1f4e9c", "#c0392b", "#2e8b57", "#8e44ad", "#d35400"] * 4))
    rates = sorted({_c_rate(ds) for ds in results.values()})
    styles = dict(zip(rates, ["-", "--", ":", "-."] * 4))
    fig, ax = plt.subplots(figsize=(5.2, 3.8), constrained_layout=True)
    for label, ds in results.items():
        ax.plot(100 * ds["soc"], ds["voltage"], color=colours[ds.attrs["material"]],
                linestyle=styles[_c_rate(ds)], lw=1.6, label=label)
    ax.set_xlabel("state of charge (% of 270 mAh/g)")
    ax.set_ylabel("voltage vs Li/Li$^+$ (V)")
    ax.set_xlim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return save_figure(fig, path, dpi=200)


def _c_rate(ds: xr.Dataset) -> float:
    """The C-rate of a run's first current step."""
    from chemomech.io.results import run_c_rate

    return run_c_rate(ds)
