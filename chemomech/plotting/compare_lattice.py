"""Figure of `chemomech compare RUN --lattice FILE`: the simulated lattice (line) against a
refined lattice table (markers with the esds as error bars), c/c0 and a/a0 over the table's
axis, the c maximum of each marked. The arrays come from
chemomech.observables.compare_lattice.compare_lattice; nothing is computed here."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from chemomech.plotting import save_figure


def plot_lattice_comparison(figure: dict, path: str | Path, title: str = "") -> Path:
    """Two panels over the table's axis (figure["axis_label"], with its unit): c/c0 and
    a/a0 [-], simulated as a line, measured as markers with error bars (esd / the first
    row's value) when the table gives esds; the c maximum of each marked by a star and a
    dotted vertical line; the RMS differences in the legend. Saved with save_figure."""
    fig, (ax_c, ax_a) = plt.subplots(1, 2, figsize=(9.0, 3.8), constrained_layout=True)
    panels = ((ax_c, "c", r"$c/c_0$ (-)"), (ax_a, "a", r"$a/a_0$ (-)"))
    for ax, name, label in panels:
        ax.plot(figure["simulated_x"], figure[f"simulated_{name}_rel"], "-", color="C3", lw=1.4,
                label=f"{figure['simulated_label']}")
        ax.errorbar(figure["measured_x"], figure[f"measured_{name}_rel"], yerr=figure[f"measured_{name}_err_rel"],
                    fmt="o", ms=3.5, color="0.2", ecolor="0.5", elinewidth=0.8, capsize=1.5,
                    label=f"{figure['measured_label']}")
        ax.plot([], [], " ", label=f"RMS difference {figure[f'rms_{name}_rel']:.2e}")
        ax.set_xlabel(figure["axis_label"])
        ax.set_ylabel(label)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.grid(alpha=0.3)
    unit = "" if figure["axis_unit"] == "1" else f" {figure['axis_unit']}"
    for key, colour, what in (("simulated_c_max", "C3", "simulated"), ("measured_c_max", "0.2", "measured")):
        x, c_rel = figure[key]
        ax_c.plot([x], [c_rel], "*", ms=11, color=colour, markeredgecolor="k", markeredgewidth=0.5,
                  label=f"c max, {what}: {x:.4g}{unit}")
        ax_c.axvline(x, color=colour, ls=":", lw=0.9)
    ax_c.legend(fontsize=7, framealpha=0.8)
    ax_a.legend(fontsize=7, framealpha=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
