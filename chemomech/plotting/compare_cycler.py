"""Figure of a run against a cycler file (observables.compare_cycler): voltage vs capacity
per paired cycle (simulated solid, measured dashed, one colour per cycle), charge and
discharge capacity and coulombic efficiency vs cycle (both), and the dQ/dV of the first
paired cycle (both; charge above the axis, discharge below, labelled peaks marked)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from chemomech.plotting import save_figure
from chemomech.plotting.cycling import CAPACITY_COLOUR, EFFICIENCY_COLOUR, VOLTAGE_LABEL

CAPACITY_LABEL = "capacity (mAh g$^{-1}$)"
SIMULATED_COLOUR = "#1f4e9c"
MEASURED_COLOUR = "#c0392b"


def plot_cycler_comparison(figure: dict, path: str | Path, title: str = "") -> Path:
    """Three panels saved to `path` from the `figure` arrays of compare_cycler:
    (a) voltage [V] vs capacity [mAh/g] of each drawn paired cycle, (b) capacities
    [mAh/g] and coulombic efficiency [%] vs the run's cycle number, (c) dQ/dV
    [mAh/(g V)] vs voltage [V] of the first paired cycle."""
    fig, (ax_v, ax_q, ax_d) = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True)
    _draw_curves(ax_v, figure)
    _draw_cycle_table(ax_q, figure)
    _draw_dqdv(ax_d, figure["dqdv"])
    fig.suptitle(title or f"run vs {figure['file']}", fontsize=10)
    return save_figure(fig, path, dpi=200)


def _draw_curves(ax, figure: dict) -> None:
    curves = figure["curves"]
    cmap = plt.get_cmap("viridis")
    handles = []
    for i, curve in enumerate(curves):
        colour = cmap(0.9 * i / max(len(curves) - 1, 1))
        for side, style in (("simulated", "-"), ("measured", "--")):
            for direction in ("charge", "discharge"):
                branch = curve[side][direction]
                if branch is not None:
                    ax.plot(*branch, color=colour, linestyle=style, lw=1.2)
        label = (f"cycle {curve['run_cycle']}" if curve["run_cycle"] == curve["file_cycle"] else
                 f"run {curve['run_cycle']} / file {curve['file_cycle']}")
        handles.append(Line2D([], [], color=colour, lw=2, label=label))
    handles += [Line2D([], [], color="0.3", linestyle="-", label="simulated"),
                Line2D([], [], color="0.3", linestyle="--", label="measured")]
    ax.legend(handles=handles, fontsize=7, frameon=False, ncol=2)
    ax.set_xlabel(CAPACITY_LABEL)
    ax.set_ylabel(VOLTAGE_LABEL)
    ax.set_xlim(left=0)
    ax.set_title(f"voltage vs capacity; pairing {figure['pairing'].split(' (')[0]}", fontsize=9)
    ax.grid(alpha=0.3)


def _draw_cycle_table(ax, figure: dict) -> None:
    table = figure["table"]
    cycle = table["run_cycle"]
    lines = []
    for side, style, fill in (("simulated", "-", None), ("measured", "--", "none")):
        lines += ax.plot(cycle, table[f"{side}_discharge"], "o" + style, ms=4, lw=1.0, mfc=fill,
                         color=CAPACITY_COLOUR, label=f"{side} discharge")
        lines += ax.plot(cycle, table[f"{side}_charge"], "^" + style, ms=4, lw=0.8, mfc=fill,
                         color="#7f9fd1", label=f"{side} charge")
    ax.set_xlabel("cycle number (run)")
    ax.set_ylabel(CAPACITY_LABEL, color=CAPACITY_COLOUR)
    if cycle.size <= 12:
        ax.set_xticks(cycle)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(cycle.min() - 0.5, cycle.max() + 0.5)
    ax.grid(alpha=0.3)
    ax_ce = ax.twinx()
    efficiency = {side: 100 * table[f"{side}_ce"] for side in ("simulated", "measured")}
    for side, style, fill in (("simulated", "-", None), ("measured", "--", "none")):
        lines += ax_ce.plot(cycle, efficiency[side], "s" + style, ms=4, lw=1.0, mfc=fill,
                            color=EFFICIENCY_COLOUR, label=f"{side} CE")
    finite = np.concatenate(list(efficiency.values()))
    finite = finite[np.isfinite(finite)]
    if finite.size and np.ptp(finite) < 1.0:  # equal or nearly: a 1 % window, not an axis of round-off
        ax_ce.set_ylim(finite.mean() - 0.5, finite.mean() + 0.5)
    ax_ce.yaxis.get_major_formatter().set_useOffset(False)
    ax_ce.set_ylabel("coulombic efficiency (%)", color=EFFICIENCY_COLOUR)
    ax.legend(handles=lines, fontsize=7, frameon=False, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))


def _draw_dqdv(ax, dqdv: dict | None) -> None:
    ax.set_xlabel(VOLTAGE_LABEL)
    ax.set_ylabel("dQ/dV (mAh g$^{-1}$ V$^{-1}$); discharge < 0")
    ax.grid(alpha=0.3)
    if dqdv is None:
        ax.text(0.5, 0.5, "no constant-current branch\nto differentiate in both", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
        return
    voltages = []
    for side, colour, style in (("simulated", SIMULATED_COLOUR, "-"), ("measured", MEASURED_COLOUR, "--")):
        for direction, sign in (("charge", 1.0), ("discharge", -1.0)):
            curve = dqdv[side][direction]
            if curve is None:
                continue
            ax.plot(curve.voltage, sign * curve.dqdv, color=colour, linestyle=style, lw=1.2,
                    label=side if direction == "charge" or dqdv[side]["charge"] is None else None)
            top = float(np.max(np.abs(curve.dqdv))) if curve.dqdv.size else 0.0
            voltages.append(curve.voltage[np.abs(curve.dqdv) > 0.01 * top])
            for peak in curve.peaks:
                if peak.label:
                    ax.plot(peak.voltage, sign * peak.height, "v" if sign > 0 else "^", color=colour, ms=5)
                    if side == "simulated":
                        ax.annotate(peak.label, (peak.voltage, sign * peak.height), textcoords="offset points",
                                    xytext=(0, 7 if sign > 0 else -14), ha="center", fontsize=7)
    ax.axhline(0.0, color="0.6", lw=0.6)
    active = np.concatenate(voltages) if voltages else np.empty(0)
    if active.size:
        ax.set_xlim(active.min() - 0.05, active.max() + 0.05)
    ax.margins(y=0.15)
    ax.legend(fontsize=7, frameon=False)
    same = dqdv["run_cycle"] == dqdv["file_cycle"]
    ax.set_title(f"dQ/dV, cycle {dqdv['run_cycle']}" if same else
                 f"dQ/dV, run cycle {dqdv['run_cycle']} / file cycle {dqdv['file_cycle']}", fontsize=9)
