"""Five cycles written as a cycler user writes them, and the bookkeeping that must hold.

The 2 um NC91 sphere (1-D, 100 cells) runs two formation cycles at C/10 between 4.5 and
2.8 V - the first block of runs/cycling.toml - then three cycles at 0.5C with a
constant-voltage hold and a rest before each discharge (README, "Protocols"):

    python docs/examples/cycling.py        # ~2 s; figure in runs/out/examples/

    ds = run()
    ds.discharge_capacity, ds.coulombic_efficiency       # over `cycle`
    ds.step_text, ds.step_end_reason                     # over `step`

What is checked (tests/test_examples.py), and why it must hold:
- Li balance (a conservation law): the Li left in the particle at the end - x(r) of the
  last snapshot integrated over exact shell volumes (r_out^3 - r_in^3)/3 - equals the
  initial x_initial minus the net charge passed, Q_net / (F c_max / rho), to 1e-10 in x; the
  run's own li_balance_error is below 1e-12.
- Coulombic efficiency bounds: a discharge can put back only the Li the charge before it
  removed plus the vacancies the cycle started with, so for every cycle
  0 < CE <= 1 + (1 - x_start) (F c_max / rho) / Q_charge; a cycle that repeats the one
  before it at the same rates returns what it took, CE = 1 within 1e-6 (cycles 2, 4, 5).
- Cycles 1 and 2 are the C/10 rows of the README's cycle table of runs/cycling.toml
  (NC91: 239.09 mAh/g, CE 0.9731 then 1.0000).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import chemomech as cm
from chemomech.geometry import SphereMesh
from chemomech.plotting import save_figure

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    "material": "nc91",
    "particle": {"geometry": "sphere-1d", "radius_um": 2.0, "cells": 100},
    "protocol": {
        "kind": "experiment",
        "blocks": [
            {"repeat": 2, "steps": ["Charge at C/10 until 4.5 V", "Discharge at C/10 until 2.8 V"]},
            {"repeat": 3, "steps": ["Charge at 0.5C until 4.5 V", "Hold at 4.5 V until C/20",
                                    "Rest for 30 min", "Discharge at 0.5C until 2.8 V"]},
        ],
    },
    "output": {"snapshots": 5},
}


def run(config: dict = CONFIG):
    """Run the protocol; returns the cm.simulate Dataset (time series, steps, cycles)."""
    return cm.simulate(config)


def li_balance(ds) -> dict:
    """Li in the particle at the end from the last snapshot's x(r) (cell-centred radial
    cells, exact shell volumes) against x_initial - Q_net / q_x, q_x = F c_max / rho (274.4 mAh/g
    per unit x for NC91); the last snapshot must be the end of the run."""
    from chemomech.io.results import run_config, run_material

    material = run_material(ds)
    particle = run_config(ds)["particle"]
    mesh = SphereMesh(particle["radius_um"] * 1e-6, particle["cells"])
    x_field = float(mesh.volume_average(ds.x_li.isel(snapshot=-1).values))
    q_x = material.capacity_theoretical  # F c_max / rho in mAh/g: the charge of unit x
    x_charge = material.x_initial - float(ds.capacity[-1]) / q_x
    return {"x_mean_field": x_field, "x_mean_from_charge": x_charge, "mAh_g_per_x": q_x,
            "x_initial": material.x_initial,
            "last_snapshot_at_end": bool(np.isclose(float(ds.snapshot_time[-1]), float(ds.time[-1])))}


def coulombic_efficiency_bound(ds) -> np.ndarray:
    """Upper bound of each cycle's CE: 1 + (1 - x_start) q_x / Q_charge, x_start the mean x
    at the start of the cycle (from the net charge passed before it)."""
    balance = li_balance(ds)
    q_x = balance["mAh_g_per_x"]
    bounds = []
    for cycle, q_charge in zip(ds.cycle.values, ds.charge_capacity.values):
        first_row = np.flatnonzero(ds.cycle_index.values == cycle)[0]
        passed_before = float(ds.capacity[first_row - 1]) if first_row > 0 else 0.0
        x_start = balance["x_initial"] - passed_before / q_x
        bounds.append(1.0 + (1.0 - x_start) * q_x / q_charge)
    return np.array(bounds)


def visualize(result, path) -> Path:
    """Voltage vs time over the five cycles, and discharge capacity and CE per cycle.
    Written to `path` (PNG)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6))
    voltage_axes, cycle_axes = figure.subplots(1, 2)
    voltage_axes.plot(result.time / 3600.0, result.voltage, lw=0.8)
    voltage_axes.set(xlabel="time [h]", ylabel="voltage [V]", title=f"{result.attrs['material']}, 2 um sphere")
    cycle_axes.plot(result.cycle, result.discharge_capacity, "o-", label="discharge capacity")
    cycle_axes.set(xlabel="cycle", ylabel="discharge capacity [mAh/g]", xticks=result.cycle.values)
    efficiency_axes = cycle_axes.twinx()
    efficiency_axes.plot(result.cycle, result.coulombic_efficiency, "s--", color="C1", label="CE")
    efficiency_axes.set_ylabel("coulombic efficiency", color="C1")
    cycle_axes.set_title("C/10 x 2, then 0.5C + CV hold + rest x 3")
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)


if __name__ == "__main__":
    ds = run()
    for cycle, discharge, ce in zip(ds.cycle.values, ds.discharge_capacity.values, ds.coulombic_efficiency.values):
        print(f"cycle {cycle}: discharge {discharge:.2f} mAh/g, CE {ce:.4f}")
    balance = li_balance(ds)
    print(f"Li balance: x from the field {balance['x_mean_field']:.10f}, from the charge passed "
          f"{balance['x_mean_from_charge']:.10f}; li_balance_error {ds.attrs['li_balance_error']:.1e}")
    print("wrote", visualize(ds, ROOT / "runs" / "out" / "examples" / "cycling.png"))
