"""The study's qualitative findings (../shared/physics-brief.md, "The study"), reported
as measured. Nothing in the material files was tuned to them; they are never a failure.

1. Polycrystals: "NC91 changes volume more than NM91, so PC-NC91 cracks" - the grain
   boundaries of NC91 should carry more traction than those of NM91 (C/10 to 4.5 V).
2. Single crystals: "NM91 has sluggish Li transport at high state of charge, so
   delithiation inside a big crystal becomes heterogeneous ... two lattices with very
   different c spacing coexist" - NM91 should show the wider spread of x and of d(003)
   at 4.5 V, more so at 1C than at C/10.

3. The C-rate study of the model variants (validation/rate_heterogeneity.py, whose full
   table with the voxel crystals is docs/rate_heterogeneity.md): on the grid-converged 1-D
   sphere (2 um, 200 cells graded to a 1 nm surface cell), at C/10, C/2, 1C and 2C, for the
   Fickian model, each coupling option of [physics] alone and all three: NM91 should show
   the wider spread of x at 4.5 V, and - its outer shell over-charging first - the larger
   volume charged beyond 91 % SoC.

The small cases (the default) use particles that run in seconds; the full-size polycrystal
(runs/polycrystal.toml: 5 um radius, 0.4 um grains, 100 nm voxels, 15,625 grains; 601 s
for NC91 and 1026 s for NM91 on the shared development machine) is the case
"finding-polycrystal-full", run only when named with --case. Measured here (2 shared
cores): the small polycrystal (2 um, 1000 grains) 27-36 s for both materials, the single
crystals (1.6 um, 32 voxels across, four runs) 10 s.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from chemomech.validation.core import Outcome, new_figure, reported

POLY_SMALL = {"radius_um": 2.0, "grain_size_um": 0.4, "voxel_nm": 100.0, "seed": 1}
POLY_FULL = {"radius_um": 5.0, "grain_size_um": 0.4, "voxel_nm": 100.0, "seed": 1}  # runs/polycrystal.toml
CRYSTAL = {"radius_um": 1.6, "voxel_nm": 100.0}  # 32 voxels across
SOURCE_PC = "the study: PC-NC91 changes volume more, its grain boundaries crack"
SOURCE_SC = "the study: NM91's slow high-SoC transport -> heterogeneous SC delithiation"
MATERIALS = ("nc91", "nm91")


@lru_cache(maxsize=None)
def _summary(config_json: str) -> dict:
    """summary.json figures of one run (cached by its config as canonical JSON)."""
    from chemomech.simulation.run import simulate, summary_of

    return summary_of(simulate(json.loads(config_json)))


def run_summary(config: dict) -> dict:
    return _summary(json.dumps(config, sort_keys=True))


def polycrystal_config(material: str, particle: dict) -> dict:
    return {"material": material,
            "particle": {"geometry": "polycrystal", **particle},
            "protocol": {"kind": "cc-charge", "c_rate": 0.1, "v_max": 4.5},
            "output": {"snapshots": 3}}


def crystal_config(material: str, c_rate: float) -> dict:
    return {"material": material,
            "particle": {"geometry": "single-crystal", "shape": "sphere", "c_axis": [0, 0, 1], **CRYSTAL},
            "protocol": {"kind": "cc-charge", "c_rate": c_rate, "v_max": 4.5},
            "output": {"snapshots": 3, "mechanics": True}}


def _bars(groups: dict, ylabel: str, title: str):
    """Grouped bar chart: groups = {quantity label: {series label: value}}."""
    labels = list(groups)
    series = list(next(iter(groups.values())))
    fig, ax = new_figure((6.0, 3.8))
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        ax.bar(np.arange(len(labels)) + (i - (len(series) - 1) / 2) * width, [groups[q][name] for q in labels],
               width, label=name)
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def polycrystal_case(particle: dict = POLY_SMALL, figure: str = "finding_polycrystal.png") -> Outcome:
    s = {m: run_summary(polycrystal_config(m, particle)) for m in MATERIALS}
    rows = []
    for key, label in (("gb_traction_mean_mpa", "mean"), ("gb_traction_p95_mpa", "95th percentile"),
                       ("gb_traction_max_mpa", "max")):
        ratio = s["nc91"][key] / s["nm91"][key]
        rows.append(reported(f"GB traction {label}, NC91 / NM91 (C/10, 4.5 V)", ratio, "> 1 (NC91 more)", SOURCE_PC,
                             f"{ratio:.2f} ({s['nc91'][key]:.0f} / {s['nm91'][key]:.0f} MPa)"))
    vol = {m: -s[m]["cell_volume_change_pct"] for m in MATERIALS}
    rows.append(reported("cell volume shrinkage at 4.5 V, NC91 / NM91 [%]", vol["nc91"] / vol["nm91"], "> 1 (NC91 more)",
                         SOURCE_PC, f"{vol['nc91']:.2f} / {vol['nm91']:.2f}"))
    groups = {lab: {m.upper(): s[m][k] for m in MATERIALS}
              for k, lab in (("gb_traction_mean_mpa", "mean"), ("gb_traction_p95_mpa", "p95"), ("gb_traction_max_mpa", "max"))}
    fig = _bars(groups, "grain-boundary traction [MPa]",
                f"Polycrystal R = {particle['radius_um']:g} um, grains {particle['grain_size_um']:g} um, C/10 to 4.5 V")
    text = (f"Voronoi polycrystal, radius {particle['radius_um']:g} um, grains {particle['grain_size_um']:g} um, "
            f"{particle['voxel_nm']:g} nm voxels, seed {particle['seed']} ({s['nc91'].get('grains', '?')} grains), "
            f"CC C/10 to 4.5 V; SoC at the end NC91 {s['nc91']['soc_end']:.3f}, NM91 {s['nm91']['soc_end']:.3f}.")
    return Outcome(rows, {figure: fig}, text)


def polycrystal_full_case() -> Outcome:
    return polycrystal_case(POLY_FULL, "finding_polycrystal_full.png")


def single_crystal_case() -> Outcome:
    s = {(m, rate): run_summary(crystal_config(m, rate)) for m in MATERIALS for rate in (0.1, 1.0)}
    rows = []
    for key, label in (("x_std_end", "std of x"), ("d_spacing_003_rel_std_end", "rel. std of d(003)")):
        for rate, rate_label in ((0.1, "C/10"), (1.0, "1C")):
            nc, nm = s[("nc91", rate)][key], s[("nm91", rate)][key]
            rows.append(reported(f"{label} at 4.5 V, {rate_label}: NM91 / NC91", nm / nc, "> 1 (NM91 more heterogeneous)",
                                 SOURCE_SC, f"{nm / nc:.2f} ({nm:.3g} / {nc:.3g})"))
        for m in MATERIALS:
            slow, fast = s[(m, 0.1)][key], s[(m, 1.0)][key]
            rows.append(reported(f"{label} at 4.5 V, {m.upper()}: 1C / C/10", fast / slow, "> 1 (more at 1C)",
                                 SOURCE_SC, f"{fast / slow:.2f} ({fast:.3g} / {slow:.3g})"))
    groups = {f"{lab}\n{'C/10' if rate < 1 else '1C'}": {m.upper(): s[(m, rate)][key] * scale for m in MATERIALS}
              for key, lab, scale in (("x_std_end", "std x [x100]", 100.0), ("d_spacing_003_rel_std_end", "std d003 [%]", 100.0))
              for rate in (0.1, 1.0)}
    fig = _bars(groups, "spread at 4.5 V",
                f"Single crystals R = {CRYSTAL['radius_um']:g} um ({CRYSTAL['voxel_nm']:g} nm voxels), c axis z")
    socs = ", ".join(f"{m.upper()} {'C/10' if r < 1 else '1C'} {s[(m, r)]['soc_end']:.3f}" for m, r in s)
    text = (f"Spherical single crystals, radius {CRYSTAL['radius_um']:g} um, {CRYSTAL['voxel_nm']:g} nm voxels, "
            f"CC to 4.5 V. SoC at the end: {socs}.")
    return Outcome(rows, {"finding_single_crystal.png": fig}, text)


# ---- 3. the C-rate study of the model variants on the 1-D sphere ------------------------------
RATE_STUDY_RATES = (0.1, 0.5, 1.0, 2.0)
RATE_STUDY_PARTICLE = {"radius_um": 2.0, "cells": 200, "surface_cell_nm": 1.0}  # converged (README "Validation")
SOURCE_RATES = "the study: SC-NM91 more heterogeneous; its outer shell over-charges first"


def rate_heterogeneity_case() -> Outcome:
    """x statistics at 4.5 V (heterogeneity.x_statistics) of both materials at every rate
    and model variant (heterogeneity.OPTIONS), reported as NM91 / NC91 ratios."""
    from chemomech.simulation.run import simulate, summary_of
    from chemomech.validation import heterogeneity as het

    figures = {}
    for m in MATERIALS:
        for rate in RATE_STUDY_RATES:
            for option in het.OPTIONS:
                config = het.run_config(m, rate, option, cells=RATE_STUDY_PARTICLE["cells"], snapshots=2,
                                        radius_um=RATE_STUDY_PARTICLE["radius_um"],
                                        surface_cell_nm=RATE_STUDY_PARTICLE["surface_cell_nm"])
                ds = simulate(config)
                figures[(m, rate, option)] = {"soc": summary_of(ds)["soc_end"], **het.snapshot_x_statistics(ds)}
    rows = []
    rate_text = {0.1: "C/10", 0.5: "C/2", 1.0: "1C", 2.0: "2C"}
    for option in het.OPTIONS:
        for rate in RATE_STUDY_RATES:
            nc, nm = figures[("nc91", rate, option)], figures[("nm91", rate, option)]
            rows.append(reported(f"std of x at 4.5 V, NM91 / NC91, {option}, {rate_text[rate]}",
                                 nm["x_std"] / nc["x_std"], "> 1 (NM91 more heterogeneous)", SOURCE_RATES,
                                 f"{nm['x_std'] / nc['x_std']:.2f} ({nm['x_std']:.3f} / {nc['x_std']:.3f})"))
            shell = (nm["fraction_beyond_91"], nc["fraction_beyond_91"])
            rows.append(reported(f"volume beyond 91 % SoC, NM91 vs NC91, {option}, {rate_text[rate]}",
                                 shell[0] - shell[1], "> 0 (NM91's shell over-charges first)", SOURCE_RATES,
                                 f"{shell[0]:.3f} vs {shell[1]:.3f}"))
    fig, axes = new_figure((9.0, 3.4), ncols=len(RATE_STUDY_RATES), sharey=True)
    width = 0.38
    for ax, rate in zip(axes, RATE_STUDY_RATES):
        for i, m in enumerate(MATERIALS):
            ax.bar(np.arange(len(het.OPTIONS)) + (i - 0.5) * width,
                   [figures[(m, rate, o)]["x_std"] for o in het.OPTIONS], width, label=m.upper())
        ax.set_xticks(np.arange(len(het.OPTIONS)), ["Fickian", "stress", "slab", "phase", "all"], fontsize=7,
                      rotation=45)
        ax.set_title(rate_text[rate], fontsize=9)
    axes[0].set_ylabel("std of x at 4.5 V (-)")
    axes[0].legend(fontsize=7)
    fig.suptitle("1-D sphere R = 2 um (200 cells graded to 1 nm), CC to 4.5 V: model variants", fontsize=9)
    fig.tight_layout()
    socs = "; ".join(f"{m.upper()} {rate_text[r]} {min(figures[(m, r, o)]['soc'] for o in het.OPTIONS):.3f}-"
                     f"{max(figures[(m, r, o)]['soc'] for o in het.OPTIONS):.3f}" for m in MATERIALS for r in (0.1, 1.0))
    text = ("The 1-D sphere (radius 2 um, 200 radial cells graded to a 1 nm surface cell: grid-converged), "
            "charged at constant current to 4.5 V, for the Fickian model, each [physics] option alone (with its "
            "re-calibration) and all three. SoC at 4.5 V over the variants (calibration rows C/10 and 1C): "
            f"{socs}. The voxel crystals and the (003), SXDM and XANES figures: docs/rate_heterogeneity.md.")
    return Outcome(rows, {"finding_rate_heterogeneity.png": fig}, text)
