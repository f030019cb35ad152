"""cm.simulate(config) -> xarray.Dataset: the pipeline of one run.

material -> sphere mesh -> charge (transport + kinetics) -> snapshots of x_Li ->
lattice and stress on each snapshot -> Dataset (README "Outputs").
"""

from __future__ import annotations

import time as wallclock
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr

from chemomech.geometry.sphere import SphereMesh
from chemomech.io.config import resolve_config
from chemomech.materials.material import Material, load_material
from chemomech.mechanics.sphere_stress import sphere_stress_from_x
from chemomech.transport.sphere_charge import (
    ChargeProtocol,
    SolverOptions,
    SphereSolution,
    charge_sphere,
)

MAH_G_PER_C_KG = 1.0 / 3600.0  # 1 C/kg = 1/3600 mAh/g


def snapshot_indices(charge: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """For `count` snapshots evenly spaced in charge from 0 to charge[-1], the step index
    k (charge[k] <= target < charge[k+1]) and the weight w in [0, 1] of step k+1 for linear
    interpolation in time between the two accepted steps."""
    targets = np.linspace(0.0, charge[-1], count)
    k = np.clip(np.searchsorted(charge, targets, side="right") - 1, 0, len(charge) - 2)
    span = charge[k + 1] - charge[k]
    w = np.where(span > 0, (targets - charge[k]) / np.where(span > 0, span, 1.0), 0.0)
    return k, np.clip(w, 0.0, 1.0)


def particle_lattice(material: Material, mesh: SphereMesh, states: np.ndarray) -> dict:
    """Volume-averaged lattice of the particle for each state (rows of `states`):
    mean a, mean c [Angstrom] and the mean unit-cell volume [Angstrom^3]."""
    return {
        "a": mesh.volume_average(material.lattice_a(states)),
        "c": mesh.volume_average(material.lattice_c(states)),
        "volume": mesh.volume_average(material.cell_volume(states)),
    }


def summarize(material: Material, solution: SphereSolution, stress: dict) -> dict:
    """Figures of a run for summary.json (units in the names)."""
    mesh = solution.mesh
    capacity = solution.charge_removed[-1] * MAH_G_PER_C_KG
    lattice = particle_lattice(material, mesh, solution.states)
    c0, v0 = lattice["c"][0], lattice["volume"][0]
    x_end = solution.states[-1]
    return {
        "soc_end": capacity / material.capacity_nominal,
        "capacity_mAh_g": capacity,
        "voltage_end": float(solution.voltage[-1]),
        "time_end_s": float(solution.time[-1]),
        "steps": int(len(solution.time) - 1),
        "rejected_steps": int(solution.rejected_steps),
        "end_reason": solution.end_reason,
        "li_balance_error": solution.li_balance_error,
        "x_mean_end": float(mesh.volume_average(x_end)),
        "x_surface_cell_end": float(x_end[-1]),
        "x_centre_cell_end": float(x_end[0]),
        "lattice_c_max_rise_pct": 100.0 * (lattice["c"].max() - c0) / c0,
        "lattice_c_drop_from_max_pct": 100.0 * (lattice["c"].max() - lattice["c"][-1]) / c0,
        "lattice_a_change_pct": 100.0 * (lattice["a"][-1] - lattice["a"][0]) / lattice["a"][0],
        "cell_volume_change_pct": 100.0 * (lattice["volume"][-1] - v0) / v0,
        "hoop_stress_surface_min_mpa": float(stress["hoop"][:, -1].min() / 1e6),
        "hoop_stress_surface_max_mpa": float(stress["hoop"][:, -1].max() / 1e6),
        "radial_stress_centre_max_mpa": float(stress["radial"][:, 0].max() / 1e6),
        "radial_stress_centre_min_mpa": float(stress["radial"][:, 0].min() / 1e6),
    }


def _progress_bar(enabled: bool):
    if not enabled:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=100, unit="%", desc="charging", leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")

    def update(fraction):
        done = round(100 * fraction)
        if done > bar.n:
            bar.update(done - bar.n)  # tqdm redraws at most every mininterval

    return bar, update


def simulate(config: dict | str | Path, progress: bool = False) -> xr.Dataset:
    """Run one simulation described by `config` (dict or TOML path; see README
    "Configuration"). Returns an xarray Dataset; its attrs hold the resolved
    configuration (attrs["config"], TOML) and the summary figures."""
    started = wallclock.perf_counter()
    cfg = resolve_config(config)
    material = load_material(cfg["material"], cfg.get("material_overrides"))
    particle, protocol, output, solver = (cfg[k] for k in ("particle", "protocol", "output", "solver"))
    mesh = SphereMesh(radius=particle["radius_um"] * 1e-6, cells=particle["cells"])

    bar, update = _progress_bar(progress)
    try:
        solution = charge_sphere(
            material,
            mesh,
            ChargeProtocol(
                c_rate=protocol["c_rate"],
                v_max=protocol["v_max"],
                cv_hold=protocol["cv_hold"],
                cv_end_c_rate=protocol["cv_end_c_rate"],
                cv_max_h=protocol["cv_max_h"],
            ),
            SolverOptions(tolerance=solver["tolerance"], max_step_fraction=solver["max_step_fraction"]),
            progress=update,
        )
    finally:
        if bar is not None:
            bar.close()

    k, w = snapshot_indices(solution.charge_removed, output["snapshots"])
    x_snap = (1 - w)[:, None] * solution.states[k] + w[:, None] * solution.states[k + 1]
    t_snap = (1 - w) * solution.time[k] + w * solution.time[k + 1]
    stress = sphere_stress_from_x(mesh, material, x_snap)

    capacity = solution.charge_removed * MAH_G_PER_C_KG
    ds = xr.Dataset(
        data_vars={
            "voltage": ("time", solution.voltage, {"units": "V", "long_name": "cell voltage vs Li/Li+"}),
            "soc": ("time", capacity / material.capacity_nominal,
                    {"units": "1", "long_name": f"state of charge, nominal {material.capacity_nominal:g} mAh/g basis"}),
            "capacity": ("time", capacity, {"units": "mAh/g", "long_name": "charge removed per mass of active material"}),
            "current_density": ("time", solution.current_density,
                                {"units": "A/m2", "long_name": "surface current density, positive on charge"}),
            "x_li": (("snapshot", "r"), x_snap, {"units": "1", "long_name": "Li site fraction x in Li_x MO2"}),
            "lattice_a": (("snapshot", "r"), material.lattice_a(x_snap), {"units": "angstrom", "long_name": "hexagonal a"}),
            "lattice_c": (("snapshot", "r"), material.lattice_c(x_snap), {"units": "angstrom", "long_name": "hexagonal c"}),
            "stress_radial": (("snapshot", "r"), stress["radial"], {"units": "Pa", "long_name": "radial stress (isotropic free sphere)"}),
            "stress_hoop": (("snapshot", "r"), stress["hoop"], {"units": "Pa", "long_name": "hoop stress (isotropic free sphere)"}),
            "stress_hydrostatic": (("snapshot", "r"), stress["hydrostatic"], {"units": "Pa", "long_name": "hydrostatic stress (sigma_r + 2 sigma_theta)/3"}),
            "stress_von_mises": (("snapshot", "r"), stress["von_mises"], {"units": "Pa", "long_name": "von Mises stress |sigma_r - sigma_theta|"}),
            "snapshot_soc": ("snapshot", np.linspace(0.0, capacity[-1], output["snapshots"]) / material.capacity_nominal,
                             {"units": "1", "long_name": "state of charge at the snapshot"}),
            "snapshot_voltage": ("snapshot", np.interp(t_snap, solution.time, solution.voltage),
                                 {"units": "V", "long_name": "cell voltage at the snapshot"}),
        },
        coords={
            "time": ("time", solution.time, {"units": "s"}),
            "snapshot": ("snapshot", np.arange(output["snapshots"]), {"units": "1", "long_name": "snapshot index, 0 = initial state"}),
            "snapshot_time": ("snapshot", t_snap, {"units": "s"}),
            "r": ("r", mesh.centres, {"units": "m", "long_name": "radius of the cell centre"}),
        },
    )
    summary = summarize(material, solution, stress)
    summary["wall_s"] = wallclock.perf_counter() - started
    ds.attrs.update(
        {
            "title": f"chemomech {particle['geometry']} {protocol['kind']} of {material.name}",
            "material": material.name,
            "geometry": particle["geometry"],
            "config": tomli_w.dumps(cfg),
            **summary,
        }
    )
    return ds


def summary_of(ds: xr.Dataset) -> dict:
    """The summary figures stored in a result's attrs (everything except text blocks)."""
    skip = {"title", "config", "material", "geometry"}
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in ds.attrs.items() if k not in skip}
