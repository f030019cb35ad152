"""GITT self-consistency: the model's own GITT run, analysed the way the study analysed
its cells (Weppner & Huggins, J. Electrochem. Soc. 124 (1977) 1569, for a sphere:
D = 4/(pi tau) (R/3)^2 (dE_s/dE_t)^2, cm.analysis.gitt_diffusivity), must give back the
diffusivity the model was given, within a factor 2, in the solid-solution range (SoC 0.1-0.7; NM91 0.1-0.5, see SOC_RANGES).

The reference is the 1-D sphere's effective D: the orientation average of the material's
tensor, D_ab (2 + ratio)/3, at the Li fraction x = x_initial - SoC * nominal / theoretical
capacity of each pulse. Outside the compared SoC range the formula departs from its input
by construction: near the pristine state the OCV is steep and the first pulses are not in
the short-time (t << R^2/D) regime, and on the H2-H3 plateau (SoC > ~0.7, x 0.3-0.15, flat OCV, D
falling fast) dE_s/dE_t is small and the depth of one pulse spans a large change of D.
The figure shows the whole curve so users see where.

The case is skipped, with the reason, when the GITT protocol or chemomech.analysis is not
available in this installation.
"""

from __future__ import annotations

import numpy as np

from chemomech.validation.core import Outcome, Row, new_figure, reported, skipped

SOC_RANGE = (0.1, 0.7)  # solid-solution range compared (sloping OCV, before H2-H3), as tests/test_gitt.py
# NM91's D falls 25x between SoC 0.5 and 0.7 (models/README.md): a pulse's surface
# excursion spans a large change of D there, which Weppner-Huggins (D constant over the
# pulse) cannot follow (chemomech/analysis/gitt.py docstring), so NM91 is checked up to 0.5
# and its 0.5-0.7 values are reported.
SOC_RANGES = {"nc91": SOC_RANGE, "nm91": (0.1, 0.5)}
FACTOR = 2.0  # the bound
CONFIG = {  # runs/gitt.toml, the project's GITT example (the study's style of titration)
    "particle": {"geometry": "sphere-1d", "radius_um": 5.0, "cells": 100},
    # C/10 pulses of 600 s (1.7 % SoC each) are short against R^2/D ~ 2 h at mid SoC
    # (Weppner-Huggins' t << R^2/D); 3600 s rests exceed the slowest relaxation R^2/(20 D).
    "protocol": {"kind": "gitt", "c_rate": 0.1, "pulse_s": 600.0, "rest_s": 3600.0, "v_max": 4.5},
    "output": {"snapshots": 10},
}
MATERIALS = ("nc91", "nm91")
SOURCE = "self-consistency: Weppner-Huggins on the model's own GITT run, within x2 of the input D"


def _analysis():
    """cm.analysis.gitt_diffusivity, or None with the reason."""
    try:
        from chemomech.analysis import gitt_diffusivity
    except ImportError as exc:
        return None, f"chemomech.analysis.gitt_diffusivity not importable ({exc})"
    return gitt_diffusivity, ""


def gitt_case() -> Outcome:
    from chemomech.errors import ChemomechError
    from chemomech.materials import load_material
    from chemomech.simulation.run import simulate

    gitt_diffusivity, reason = _analysis()
    if gitt_diffusivity is None:
        return Outcome([skipped(f"GITT D / input D, SoC {SOC_RANGE[0]:g}-{SOC_RANGE[1]:g}", reason, SOURCE)], {},
                       f"Skipped: {reason}.")
    rows: list[Row] = []
    curves = {}
    for key in MATERIALS:
        try:
            ds = simulate({"material": key, **CONFIG})
        except ChemomechError as exc:  # e.g. protocol.kind = "gitt" not known here
            return Outcome([skipped("GITT D / input D", f"GITT run not possible ({exc})", SOURCE)], {},
                           f"Skipped: the GITT run is not available ({exc}).")
        result = gitt_diffusivity(ds)
        soc = np.asarray(result["soc"], dtype=float)
        d_gitt = np.asarray(result["diffusivity"], dtype=float)
        material = load_material(key)
        x = np.asarray(result["x_li"], dtype=float)  # the uniform x at each pulse's mean SoC
        d_input = np.asarray(material.diffusivity_orientation_average(x), dtype=float)
        ratio = d_gitt / d_input
        curves[key] = (soc, d_gitt, d_input)
        low, high = SOC_RANGES[key]
        inside = (soc >= low) & (soc <= high) & np.isfinite(ratio)
        if not inside.any():
            rows.append(Row(f"{material.name}: GITT D / input D, SoC {low:g}-{high:g}",
                            f"within x{FACTOR:g}", SOURCE, None, f"x{FACTOR:g}", "fail", "no pulse in the range"))
            continue
        worst = float(np.max(np.abs(np.log(ratio[inside]))))
        lo, hi = float(np.min(ratio[inside])), float(np.max(ratio[inside]))
        rows.append(Row(f"{material.name}: GITT D / input D, SoC {low:g}-{high:g} ({int(inside.sum())} pulses)",
                        f"1 (within x{FACTOR:g})", SOURCE, float(np.exp(worst)), f"x{FACTOR:g}",
                        "pass" if worst <= np.log(FACTOR) else "fail", f"{lo:.2f}-{hi:.2f}"))
        for lo, hi, why in ((high, SOC_RANGE[1], "departs (D falls fast over a pulse)"),
                            (SOC_RANGE[1], 1.0, "departs (flat H2-H3 OCV, fast-changing D)")):
            beyond = (soc > lo) & (soc <= hi) & np.isfinite(ratio)
            if beyond.any():  # known departures of the formula: reported, not checked
                rows.append(reported(f"{material.name}: GITT D / input D, SoC {lo:g}-{hi:g} ({int(beyond.sum())} pulses)",
                                     None, why, "chemomech/analysis/gitt.py docstring",
                                     f"{np.min(ratio[beyond]):.2f}-{np.max(ratio[beyond]):.2f}"))
    figures = {"gitt_diffusivity.png": _figure(curves)}
    text = ("runs/gitt.toml: sphere-1d, R = 5 um, 100 cells; GITT 600 s pulses at C/10 with 3600 s rests to 4.5 V; "
            f"compared in SoC {SOC_RANGE[0]:g}-{SOC_RANGE[1]:g} (solid solution; NM91 to {SOC_RANGES['nm91'][1]:g}, before its "
            "fast D fall, which one pulse cannot resolve). The model column gives the "
            "range of D_GITT / D_input over the compared pulses. Outside that range the formula departs from "
            "its input (see the figure): steep OCV near the pristine state, flat H2-H3 plateau at high SoC.")
    return Outcome(rows, figures, text)


def _figure(curves: dict):
    fig, ax = new_figure((5.5, 4.0))
    for key, (soc, d_gitt, d_input) in curves.items():
        order = np.argsort(soc)
        line, = ax.semilogy(soc[order], d_gitt[order], "o", ms=3, label=f"{key.upper()} GITT (Weppner-Huggins)")
        ax.semilogy(soc[order], d_input[order], "-", color=line.get_color(), label=f"{key.upper()} input D (1-D average)")
    ax.axvspan(*SOC_RANGE, color="0.9", zorder=0, label=f"compared range (NM91 to {SOC_RANGES['nm91'][1]:g})")
    ax.set_xlabel("state of charge (270 mAh/g basis)")
    ax.set_ylabel("Li diffusivity [m$^2$/s]")
    ax.set_title("GITT of the model vs its input diffusivity", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
