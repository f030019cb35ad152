"""Cycle life: the two calibration rows (held) and the untuned predictions (reported).

The study's protocol (physics brief, "Cycling and cycle life"): 3 formation cycles at
C/10, then 100 cycles at 0.5C (a second series at 1C), 2.8-4.5 V; retention is the
discharge capacity of the last cycle over that of the first cycle after formation.

    architecture  particle (the runs/cycle_life_*.toml examples)
    SC            single-crystal sphere, R = 2 um (4 um across, within the study's 3-5 um),
                  100 nm voxels (40 across); surface layer + lattice inactivation
    PC            polycrystal, R = 2 um, 0.4 um grains (seed 1), 100 nm voxels; the same
                  plus grain-boundary fatigue

Calibration rows (the only retention numbers a model may be fitted to, both NC91 at
0.5C): SC 89.2 % and PC 59.7 %. One rate constant is fitted per mechanism family, in this
order (validation/cycle_life.py --fit): the rate k_in of intragranular inactivation to
SC-NC91 (a single crystal has no grain boundaries), then the Paris-law prefactor k_cr of
boundary fatigue to PC-NC91 with k_in fixed. Everything else (NM91 at
0.5C, all four at 1C) is a prediction of the same parameters.
"""

from __future__ import annotations

import copy

TARGETS = {("SC", "nc91"): 0.892, ("PC", "nc91"): 0.597}  # retention after 100 cycles at 0.5C
TOLERANCE = 0.01  # how close the fit brings a calibration row (1 % points)
SOURCE = "the study (physics brief, 'Cycling and cycle life')"
ARCHITECTURES = ("SC", "PC")
MATERIALS = ("nc91", "nm91")
RATES = (0.5, 1.0)
FITTED = {"SC": "inactivation_rate_per_s", "PC": "paris_prefactor"}  # [degradation] key fitted on each row

PARTICLES = {
    "SC": {"geometry": "single-crystal", "shape": "sphere", "radius_um": 2.0, "voxel_nm": 100.0,
           "c_axis": [0.0, 0.0, 1.0]},
    "PC": {"geometry": "polycrystal", "radius_um": 2.0, "grain_size_um": 0.4, "voxel_nm": 100.0, "seed": 1},
}
MECHANISMS = {
    "SC": ["surface_layer", "lattice_inactivation"],
    "PC": ["surface_layer", "lattice_inactivation", "boundary_fatigue"],
}


def rate_text(c_rate: float) -> str:
    """0.5 -> '0.5C', 1.0 -> '1C'."""
    return f"{c_rate:g}C"


def cycle_life_config(architecture: str, material: str, c_rate: float = 0.5, overrides: dict | None = None,
                      snapshots: bool = False) -> dict:
    """The run configuration of one row: the study's protocol at `c_rate` after three C/10
    formation cycles on the architecture's particle; overrides: [degradation] values of
    the material (e.g. a fitted rate); snapshots: keep fields of the first and last cycle
    (else only the last cycle's end, no mechanics: what a fit needs)."""
    ageing = rate_text(c_rate)
    config = {
        "material": material,
        "particle": copy.deepcopy(PARTICLES[architecture]),
        "protocol": {"kind": "experiment", "blocks": [
            {"repeat": 3, "steps": ["Charge at C/10 until 4.5 V", "Discharge at C/10 until 2.8 V"]},
            {"repeat": 100, "steps": [f"Charge at {ageing} until 4.5 V", f"Discharge at {ageing} until 2.8 V"]},
        ]},
        "output": ({"snapshot_cycles": [1, 103], "snapshots": 3} if snapshots
                   else {"snapshot_cycles": [103], "snapshots": 2, "mechanics": False}),
        "degradation": {"mechanisms": list(MECHANISMS[architecture])},
    }
    if overrides:
        config["material_overrides"] = {f"degradation.{key}": value for key, value in overrides.items()}
    return config


def retention(ds) -> float:
    """Discharge capacity retention of the last cycle (against the first after formation)."""
    return float(ds["capacity_retention"].values[-1])


def table_row(architecture: str, material: str, c_rate: float, progress: bool = False) -> tuple[dict, object]:
    """One row: the run of (architecture, material, C-rate), its retention after 100
    cycles, role, damage at the end, cycles simulated and wall time; and the result."""
    from chemomech.simulation.run import simulate

    ds = simulate(cycle_life_config(architecture, material, c_rate), progress=progress)
    target = TARGETS.get((architecture, material)) if c_rate == 0.5 else None

    def final(name):  # a per-cycle figure at the last cycle, None when the run has none
        return float(ds[name][-1]) if name in ds else None

    row = {"label": f"{architecture}-{material.upper()} {rate_text(c_rate)}", "architecture": architecture,
           "material": material, "c_rate": c_rate, "retention": retention(ds), "target": target,
           "role": "calibration" if target is not None else "prediction",
           "cycles_simulated": int(ds.attrs["cycles_simulated"]), "wall_s": float(ds.attrs["wall_s"]),
           "active_fraction_end": final("active_fraction_mean"),
           "cracked_boundary_fraction_end": final("cracked_boundary_fraction"),
           "wired_lattice_fraction_end": final("wired_lattice_fraction")}
    return row, ds


def cycle_life_table(progress: bool = False) -> tuple[list[dict], dict]:
    """Every row (architecture x material x C-rate, table_row; each a run of minutes to
    tens of minutes here), and the results by row label."""
    rows, results = [], {}
    for architecture in ARCHITECTURES:
        for material in MATERIALS:
            for c_rate in RATES:
                row, results_ds = table_row(architecture, material, c_rate, progress)
                rows.append(row)
                results[row["label"]] = results_ds
    return rows, results


def cycle_life_case():
    """`chemomech validate --case cycle-life`: the calibration rows (held within
    TOLERANCE) and the predictions (reported), with the retention curves."""
    from chemomech.plotting.cycle_life import retention_figure
    from chemomech.validation.core import Outcome, reported, within

    table, results = cycle_life_table()
    rows = []
    for row in table:
        name = f"retention after 100 cycles, {row['label']}"
        if row["target"] is not None:
            rows.append(within(name, row["retention"], row["target"], TOLERANCE, SOURCE))
        else:
            rows.append(reported(name, row["retention"], "prediction (not fitted)", SOURCE))
    text = ("SC: 2 um single-crystal sphere, 100 nm voxels; PC: 2 um polycrystal of 0.4 um grains, 100 nm voxels; "
            "3 formation cycles at C/10, then 100 cycles, 2.8-4.5 V. k_in was fitted to SC-NC91 0.5C and k_cr to "
            "PC-NC91 0.5C (validation/cycle_life.py); every other row is a prediction.")
    return Outcome(rows, {"cycle_life_retention.png": retention_figure(results)}, text)


def sphere_case():
    """`chemomech validate --case cycle-life-sphere`: the single-crystal damage on the 1-D
    calibration sphere (R = 2 um, 100 cells), NC91 and NM91 at 0.5C and 1C: reported only
    (the calibration rows are fitted on the voxel particles), a quick view of the same model."""
    from chemomech.plotting.cycle_life import retention_figure
    from chemomech.simulation.run import simulate
    from chemomech.validation.core import Outcome, reported

    rows, results = [], {}
    for material in MATERIALS:
        for c_rate in RATES:
            config = cycle_life_config("SC", material, c_rate)
            config["particle"] = {"geometry": "sphere-1d", "radius_um": 2.0, "cells": 100}
            config["output"] = {"snapshot_cycles": [103], "snapshots": 2}
            ds = results[f"1-D {material.upper()} {rate_text(c_rate)}"] = simulate(config)
            rows.append(reported(f"retention after 100 cycles, 1-D sphere {material.upper()}, {rate_text(c_rate)}",
                                 retention(ds), "single-crystal damage on the calibration sphere", SOURCE))
    text = ("The single-crystal mechanisms (surface layer, lattice inactivation) on the 2 um calibration sphere "
            "(radial, no crystal axes): a quick view of the model, not the architecture the rows are fitted on.")
    return Outcome(rows, {"cycle_life_sphere_retention.png": retention_figure(results)}, text)
