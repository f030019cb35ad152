"""Figure of `chemomech compare --xas`: measured electrode XAS against the run's simulated
electrode spectra (observables/xas_electrode.compare_xas)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from chemomech.plotting import save_figure


def plot_xas_comparison(figure: dict, path: str | Path, title: str = "") -> Path:
    """Three panels: the white-line energy [eV] and E0 [eV] against SoC [%] (or voltage [V]
    when the spectra are labelled by voltage), simulated per snapshot (line) and measured
    (points, at their placement on the run); and the normalised spectra [-] against energy
    [eV] of up to four measured spectra (points) with the simulated spectrum of the
    matching snapshot (line), offset by 0.5 each for legibility, from E0 - 30 eV to
    E0 + 60 eV."""
    by_voltage = figure["axis"] == "voltage"
    sim, meas = figure["simulated"], figure["measured"]
    if by_voltage:
        x_sim, x_meas, x_label = sim["voltage"], meas["voltage"], "cell voltage (V)"
    else:
        x_sim, x_meas, x_label = 100 * np.asarray(sim["soc"]), 100 * np.asarray(meas["soc"]), "state of charge (%)"
    fig, axes = plt.subplots(1, 3, figsize=(14.0, 4.2), constrained_layout=True)
    for ax, key, label in ((axes[0], "white_line", "white-line energy (eV)"), (axes[1], "e0", "edge energy E0 (eV)")):
        ax.plot(x_sim, sim[key], "-", color="C3", lw=1.5, marker=".", ms=4, label="simulated (per snapshot)")
        ax.plot(x_meas, meas[key], "o", color="0.2", ms=5, mfc="none", label="measured")
        ax.set_xlabel(x_label)
        ax.set_ylabel(label)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.legend(fontsize=8, framealpha=0.8)
    ax = axes[2]
    for j, item in enumerate(figure["spectra"]):
        offset = 0.5 * j
        colour = f"C{j}"
        ax.plot(item["measured_energy"], np.asarray(item["measured_norm"]) + offset, ".", ms=2.5, color=colour,
                label=f"{item['name']}")
        ax.plot(item["simulated_energy"], np.asarray(item["simulated_norm"]) + offset, "-", lw=1.0, color=colour,
                label=f"simulated, snapshot {item['snapshot']}")
    edges = [item["e0"] for item in figure["spectra"] if np.isfinite(item["e0"])]
    if edges:
        ax.set_xlim(min(edges) - 30.0, max(edges) + 60.0)  # the XANES region
    ax.set_xlabel("X-ray energy (eV)")
    ax.set_ylabel("normalised absorption (-), offset 0.5 per spectrum")
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.legend(fontsize=6, framealpha=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
