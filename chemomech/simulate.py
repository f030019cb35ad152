"""cm.simulate(config) -> xarray.Dataset: the pipeline of one run.

material -> particle (1-D sphere mesh, or voxel single crystal / polycrystal) -> charge
(transport + kinetics) -> snapshots of x_Li -> lattice and stress on each snapshot ->
Dataset (README "Outputs"). A GITT run (protocol.kind = "gitt") adds pulse_index over
time (the pulse during which each step ended, -1 at rest) and pulse_start_time,
pulse_end_time, rest_end_time over the dimension `pulse`.
"""

from __future__ import annotations

import time as wallclock
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr

from chemomech.geometry.sphere import SphereMesh
from chemomech.geometry.voxel import (
    VoxelParticle,
    grain_boundary_faces,
    polycrystal,
    rotation_from_c_axis,
    rotation_from_euler,
    single_crystal,
)
from chemomech.io.config import resolve_config
from chemomech.materials.material import Material, load_material
from chemomech.mechanics.grain_boundary import boundary_tractions, traction_summary
from chemomech.mechanics.lattice_strain import grain_stiffness, snapshot_mechanics
from chemomech.mechanics.sphere_stress import sphere_stress_from_x
from chemomech.transport.sphere_charge import SphereSolution, charge_sphere
from chemomech.transport.time_stepping import ChargeProtocol, SolverOptions
from chemomech.transport.voxel_charge import VoxelSolution, charge_voxels

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


def charge_figures(material: Material, solution) -> dict:
    """The summary figures every geometry reports (units in the names)."""
    capacity = solution.charge_removed[-1] * MAH_G_PER_C_KG
    return {
        "soc_end": capacity / material.capacity_nominal,
        "capacity_mAh_g": capacity,
        "voltage_end": float(solution.voltage[-1]),
        "time_end_s": float(solution.time[-1]),
        "steps": int(len(solution.time) - 1),
        "rejected_steps": int(solution.rejected_steps),
        "end_reason": solution.end_reason,
        "li_balance_error": solution.li_balance_error,
    }


def summarize(material: Material, solution: SphereSolution, stress: dict) -> dict:
    """Figures of a run for summary.json (units in the names)."""
    mesh = solution.mesh
    lattice = particle_lattice(material, mesh, solution.states)
    c0, v0 = lattice["c"][0], lattice["volume"][0]
    x_end = solution.states[-1]
    return {
        **charge_figures(material, solution),
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


def _charge_with_progress(charge, material, particle, charge_protocol, options, progress: bool):
    """charge(material, particle, protocol, options, progress=callback) under a progress
    bar when `progress` is True."""
    bar, update = _progress_bar(progress)
    try:
        return charge(material, particle, charge_protocol, options, progress=update)
    finally:
        if bar is not None:
            bar.close()


def simulate(config: dict | str | Path, progress: bool = False) -> xr.Dataset:
    """Run one simulation described by `config` (dict or TOML path; see README
    "Configuration"). Returns an xarray Dataset; its attrs hold the resolved
    configuration (attrs["config"], TOML) and the summary figures."""
    started = wallclock.perf_counter()
    cfg = resolve_config(config)
    material = load_material(cfg["material"], cfg.get("material_overrides"))
    particle, protocol, solver = cfg["particle"], cfg["protocol"], cfg["solver"]
    if protocol["kind"] == "gitt":
        charge_protocol = ChargeProtocol(c_rate=protocol["c_rate"], v_max=protocol["v_max"],
                                         pulse_s=protocol["pulse_s"], rest_s=protocol["rest_s"])
    else:
        charge_protocol = ChargeProtocol(
            c_rate=protocol["c_rate"],
            v_max=protocol["v_max"],
            cv_hold=protocol["cv_hold"],
            cv_end_c_rate=protocol["cv_end_c_rate"],
            cv_max_h=protocol["cv_max_h"],
        )
    options = SolverOptions(tolerance=solver["tolerance"], max_step_fraction=solver["max_step_fraction"])
    if particle["geometry"] == "sphere-1d":
        ds, summary = _simulate_sphere(cfg, material, charge_protocol, options, progress)
    else:
        ds, summary = _simulate_voxels(cfg, material, charge_protocol, options, progress)
    if charge_protocol.gitt:
        pulse_vars = gitt_pulse_series(ds["time"].values, ds["pulse_index"].values)
        count = pulse_vars["pulse_start_time"][1].size
        ds = ds.assign(pulse_vars).assign_coords(
            pulse=("pulse", np.arange(count), {"units": "1", "long_name": "GITT pulse number"}))
        summary["pulses"] = int(ds.sizes["pulse"])
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


def gitt_pulse_series(time: np.ndarray, pulse_index: np.ndarray) -> dict:
    """Per-pulse times of a GITT run over the dimension `pulse` [s]: pulse_start_time (the
    stored step where the current switched on), pulse_end_time (the last step under
    current: the pulse length, or the v_max event) and rest_end_time (the end of the rest
    that follows the pulse)."""
    count = int(pulse_index.max()) + 1 if pulse_index.size and pulse_index.max() >= 0 else 0
    start, end, rest_end = (np.empty(count) for _ in range(3))
    for n in range(count):
        k = np.flatnonzero(pulse_index == n)
        start[n], end[n] = time[k[0] - 1], time[k[-1]]
        later = np.flatnonzero(pulse_index[k[-1] + 1:] >= 0)
        rest_end[n] = time[k[-1] + later[0]] if later.size else time[-1]
    return {
        "pulse_start_time": ("pulse", start, {"units": "s", "long_name": "time the GITT pulse starts"}),
        "pulse_end_time": ("pulse", end, {"units": "s", "long_name": "time the GITT pulse ends (pulse_s, or the v_max event)"}),
        "rest_end_time": ("pulse", rest_end, {"units": "s", "long_name": "time the rest after the pulse ends"}),
    }


def _time_series(material: Material, solution) -> dict:
    capacity = solution.charge_removed * MAH_G_PER_C_KG
    series = {}
    if solution.pulse is not None:
        series["pulse_index"] = ("time", solution.pulse,
                                 {"units": "1", "long_name": "GITT pulse during which the step ended, -1 at rest"})
    return series | {
        "voltage": ("time", solution.voltage, {"units": "V", "long_name": "cell voltage vs Li/Li+"}),
        "soc": ("time", capacity / material.capacity_nominal,
                {"units": "1", "long_name": f"state of charge, nominal {material.capacity_nominal:g} mAh/g basis"}),
        "capacity": ("time", capacity, {"units": "mAh/g", "long_name": "charge removed per mass of active material"}),
        "current_density": ("time", solution.current_density,
                            {"units": "A/m2", "long_name": "surface current density (mean over the reacting surface), positive on charge"}),
    }


def _snapshot_series(material: Material, solution, count: int, t_snap: np.ndarray) -> dict:
    capacity = solution.charge_removed * MAH_G_PER_C_KG
    return {
        "snapshot_soc": ("snapshot", np.linspace(0.0, capacity[-1], count) / material.capacity_nominal,
                         {"units": "1", "long_name": "state of charge at the snapshot"}),
        "snapshot_voltage": ("snapshot", np.interp(t_snap, solution.time, solution.voltage),
                             {"units": "V", "long_name": "cell voltage at the snapshot"}),
    }


def _simulate_sphere(cfg, material, charge_protocol, options, progress):
    particle, output = cfg["particle"], cfg["output"]
    mesh = SphereMesh(radius=particle["radius_um"] * 1e-6, cells=particle["cells"])
    solution = _charge_with_progress(charge_sphere, material, mesh, charge_protocol, options, progress)

    k, w = snapshot_indices(solution.charge_removed, output["snapshots"])
    x_snap = (1 - w)[:, None] * solution.states[k] + w[:, None] * solution.states[k + 1]
    t_snap = (1 - w) * solution.time[k] + w * solution.time[k + 1]
    stress = sphere_stress_from_x(mesh, material, x_snap)

    ds = xr.Dataset(
        data_vars={
            **_time_series(material, solution),
            "x_li": (("snapshot", "r"), x_snap, {"units": "1", "long_name": "Li site fraction x in Li_x MO2"}),
            "lattice_a": (("snapshot", "r"), material.lattice_a(x_snap), {"units": "angstrom", "long_name": "hexagonal a"}),
            "lattice_c": (("snapshot", "r"), material.lattice_c(x_snap), {"units": "angstrom", "long_name": "hexagonal c"}),
            "stress_radial": (("snapshot", "r"), stress["radial"], {"units": "Pa", "long_name": "radial stress (isotropic free sphere)"}),
            "stress_hoop": (("snapshot", "r"), stress["hoop"], {"units": "Pa", "long_name": "hoop stress (isotropic free sphere)"}),
            "stress_hydrostatic": (("snapshot", "r"), stress["hydrostatic"], {"units": "Pa", "long_name": "hydrostatic stress (sigma_r + 2 sigma_theta)/3"}),
            "stress_von_mises": (("snapshot", "r"), stress["von_mises"], {"units": "Pa", "long_name": "von Mises stress |sigma_r - sigma_theta|"}),
            **_snapshot_series(material, solution, output["snapshots"], t_snap),
        },
        coords={
            "time": ("time", solution.time, {"units": "s"}),
            "snapshot": ("snapshot", np.arange(output["snapshots"]), {"units": "1", "long_name": "snapshot index, 0 = initial state"}),
            "snapshot_time": ("snapshot", t_snap, {"units": "s"}),
            "r": ("r", mesh.centres, {"units": "m", "long_name": "radius of the cell centre"}),
        },
    )
    return ds, summarize(material, solution, stress)


def voxel_particle(particle: dict) -> VoxelParticle:
    """The voxel particle of a resolved [particle] table (single-crystal or polycrystal)."""
    radius = particle["radius_um"] * 1e-6
    voxel = particle["voxel_nm"] * 1e-9
    if particle["geometry"] == "polycrystal":
        return polycrystal(radius, voxel, particle["grain_size_um"] * 1e-6, particle["seed"])
    if particle["euler_deg"]:
        rotation = rotation_from_euler(*particle["euler_deg"])
    else:
        rotation = rotation_from_c_axis(particle["c_axis"])
    return single_crystal(particle["shape"], radius, voxel, rotation, aspect=particle["aspect"])


VOXEL_FIELDS = {  # name: (units, long_name) of the per-snapshot fields over (z, y, x)
    "x_li": ("1", "Li site fraction x in Li_x MO2"),
    "stress_hydrostatic": ("Pa", "hydrostatic stress tr(sigma)/3"),
    "stress_von_mises": ("Pa", "von Mises stress sqrt(3/2 s:s)"),
    "d_spacing_003": ("angstrom", "(003) spacing c(x)/3 (1 + elastic strain along c)"),
    "elastic_strain_c": ("1", "elastic normal strain along the local c axis"),
    "elastic_strain_a": ("1", "mean elastic normal strain along the local a and b axes"),
}


def _simulate_voxels(cfg, material, charge_protocol, options, progress):
    particle_cfg, output = cfg["particle"], cfg["output"]
    particle = voxel_particle(particle_cfg)
    solution = _charge_with_progress(charge_voxels, material, particle, charge_protocol, options, progress)

    count = output["snapshots"]
    k, w = snapshot_indices(solution.charge_removed, count)
    t_snap = (1 - w) * solution.time[k] + w * solution.time[k + 1]
    shape = particle.shape
    fields = {name: np.full((count, *shape), np.nan, dtype=np.float32) for name in VOXEL_FIELDS}
    rotation = np.full((count, 3, *shape), np.nan, dtype=np.float32)
    gb_faces = grain_boundary_faces(particle.grain) if particle.n_grains > 1 else None
    gb_normal = gb_shear = None
    if gb_faces is not None and output["mechanics"]:
        gb_normal = np.full((count, len(gb_faces)), np.nan, dtype=np.float32)
        gb_shear = np.full((count, len(gb_faces)), np.nan, dtype=np.float32)
    stiffness = grain_stiffness(material, particle.rotations) if output["mechanics"] else None
    warm_start = None
    mechanics_iterations = 0
    snapshots = range(count)
    if progress:
        from tqdm.auto import tqdm

        snapshots = tqdm(snapshots, desc="mechanics", unit="snapshot", leave=False,
                         disable=not output["mechanics"])
    for n in snapshots:
        state = (1 - w[n]) * solution.states[k[n]].astype(np.float64) + w[n] * solution.states[k[n] + 1]
        x_grid = solution.field(state)
        fields["x_li"][n] = x_grid
        if not output["mechanics"]:
            continue
        mech = snapshot_mechanics(material, particle, x_grid, stiffness, initial=warm_start)
        warm_start = mech["displacement"]
        mechanics_iterations += mech["iterations"]
        for name in VOXEL_FIELDS:
            if name != "x_li":
                fields[name][n] = mech[name]
        rotation[n] = mech["lattice_rotation"]
        if gb_normal is not None:
            gb_normal[n], gb_shear[n] = boundary_tractions(mech["stress"], gb_faces)
    if hasattr(snapshots, "close"):
        snapshots.close()

    dims = ("snapshot", "z", "y", "x")
    data_vars = {
        **_time_series(material, solution),
        **{name: (dims, fields[name], {"units": units, "long_name": long_name})
           for name, (units, long_name) in VOXEL_FIELDS.items()
           if name == "x_li" or output["mechanics"]},
        **_snapshot_series(material, solution, count, t_snap),
        "grain": (("z", "y", "x"), particle.grain, {"units": "1", "long_name": "grain index, -1 outside the particle"}),
        "grain_orientation": (("grain", "lab", "crystal"), particle.rotations,
                              {"units": "1", "long_name": "rotation matrix crystal -> lab (columns: a, b, c axes in x, y, z)"}),
    }
    if output["mechanics"]:
        data_vars["lattice_rotation"] = (("snapshot", "component", "z", "y", "x"), rotation,
                                         {"units": "rad", "long_name": "lattice rotation omega = curl(u)/2"})
    coords = {
        "time": ("time", solution.time, {"units": "s"}),
        "snapshot": ("snapshot", np.arange(count), {"units": "1", "long_name": "snapshot index, 0 = initial state"}),
        "snapshot_time": ("snapshot", t_snap, {"units": "s"}),
        "component": ("component", ["x", "y", "z"], {"long_name": "vector component (lab frame)"}),
        "lab": ("lab", ["x", "y", "z"]),
        "crystal": ("crystal", ["a", "b", "c"]),
    }
    for axis, values in zip("zyx", particle.coordinates):
        coords[axis] = (axis, values, {"units": "m", "long_name": f"voxel centre {axis}"})
    if gb_normal is not None:
        centre = 0.5 * (np.array(np.unravel_index(gb_faces.lower, shape)) + np.array(np.unravel_index(gb_faces.upper, shape)))
        origin = np.array([c[0] for c in particle.coordinates])[:, None]
        position = (origin + centre * particle.voxel_size)[::-1].T  # (faces, x y z)
        data_vars["gb_normal_traction"] = (("snapshot", "gb_face"), gb_normal,
                                           {"units": "Pa", "long_name": "normal traction on grain-boundary faces, tensile > 0"})
        data_vars["gb_shear_traction"] = (("snapshot", "gb_face"), gb_shear,
                                          {"units": "Pa", "long_name": "shear traction magnitude on grain-boundary faces"})
        data_vars["gb_face_position"] = (("gb_face", "component"), position,
                                         {"units": "m", "long_name": "grain-boundary face centre (x, y, z)"})
        data_vars["gb_face_axis"] = ("gb_face", np.array(["z", "y", "x"])[gb_faces.axis],
                                     {"long_name": "grid axis normal to the face"})
    ds = xr.Dataset(data_vars=data_vars, coords=coords)
    summary = summarize_voxels(material, solution, fields, rotation if output["mechanics"] else None)
    summary["mechanics_iterations"] = mechanics_iterations
    if gb_normal is not None:
        summary.update(traction_summary(gb_normal[-1].astype(float), gb_shear[-1].astype(float)))
    return ds, summary


def summarize_voxels(material: Material, solution: VoxelSolution, fields: dict, rotation) -> dict:
    """Figures of a voxel run for summary.json (units in the names)."""
    x0 = np.full(1, material.x_initial)
    x_end = solution.final_state
    surface = solution.connectivity.face_cell
    a0, c0, v0 = (float(f(x0)[0]) for f in (material.lattice_a, material.lattice_c, material.cell_volume))
    summary = {
        **charge_figures(material, solution),
        "voxels": int(x_end.size),
        "grains": int(solution.particle.n_grains),
        "reacting_area_um2": solution.reacting_area * 1e12,
        "newton_iterations": int(solution.newton_iterations),
        "linear_iterations": int(solution.linear_iterations),
        "x_mean_end": float(x_end.mean()),
        "x_std_end": float(x_end.std()),
        "x_min_end": float(x_end.min()),
        "x_max_end": float(x_end.max()),
        "x_surface_mean_end": float(x_end[surface].mean()),
        "lattice_a_change_pct": 100.0 * (float(material.lattice_a(x_end).mean()) - a0) / a0,
        "lattice_c_change_pct": 100.0 * (float(material.lattice_c(x_end).mean()) - c0) / c0,
        "cell_volume_change_pct": 100.0 * (float(material.cell_volume(x_end).mean()) - v0) / v0,
    }
    if rotation is not None:
        last = {name: field[-1][np.isfinite(field[-1])].astype(float) for name, field in fields.items()}
        tilt = np.sqrt(np.nansum(rotation[-1].astype(float) ** 2, axis=0))[np.isfinite(rotation[-1][0])]
        d = last["d_spacing_003"]
        summary.update({
            "stress_von_mises_max_mpa": float(np.nanmax([f[np.isfinite(f)].max() for f in fields["stress_von_mises"][1:]]) / 1e6)
            if len(fields["stress_von_mises"]) > 1 else 0.0,
            "stress_hydrostatic_min_end_mpa": float(last["stress_hydrostatic"].min() / 1e6),
            "stress_hydrostatic_max_end_mpa": float(last["stress_hydrostatic"].max() / 1e6),
            "d_spacing_003_mean_end_angstrom": float(d.mean()),
            "d_spacing_003_rel_std_end": float(d.std() / d.mean()),
            "lattice_tilt_max_end_deg": float(np.degrees(tilt.max())),
            "lattice_tilt_p95_end_deg": float(np.degrees(np.percentile(tilt, 95))),
        })
    return summary


def summary_of(ds: xr.Dataset) -> dict:
    """The summary figures stored in a result's attrs (everything except text blocks)."""
    skip = {"title", "config", "material", "geometry"}
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in ds.attrs.items() if k not in skip}
