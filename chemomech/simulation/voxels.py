"""Voxel particles in a run (single crystal, polycrystal): particle, transport, fields
and mechanics on the snapshots, summary figures."""

from __future__ import annotations

import numpy as np

from chemomech.constants import TEMPERATURE_DEFAULT
from chemomech.degradation.cycle_jumping import run_cycle_life
from chemomech.degradation.voxels import VoxelDamage
from chemomech.geometry.voxel import (
    VoxelParticle,
    grain_boundary_faces,
    polycrystal,
    rotation_from_c_axis,
    rotation_from_euler,
    single_crystal,
)
from chemomech.materials.material import Material
from chemomech.mechanics.grain_boundary import boundary_tractions, traction_summary
from chemomech.mechanics.lattice_strain import grain_stiffness, snapshot_mechanics
from chemomech.simulation.records import plan_rows, plan_state
from chemomech.transport.voxel_transport import VoxelSolution, run_voxels, voxel_connectivity


def voxel_particle(particle: dict) -> VoxelParticle:
    """The voxel particle of a resolved [particle] table (single-crystal or polycrystal)."""
    radius = particle["radius_um"] * 1e-6
    voxel = particle["voxel_nm"] * 1e-9
    if particle["geometry"] == "polycrystal":
        return polycrystal(radius, voxel, particle["grain_size_um"] * 1e-6, particle["seed"])
    return single_crystal(particle["shape"], radius, voxel, crystal_rotation(particle), aspect=particle["aspect"])


def crystal_rotation(particle: dict) -> np.ndarray:
    """The crystal -> lab rotation of a resolved single-crystal [particle] table: from the
    Bunge Euler angles euler_deg when given, else from the c_axis direction."""
    if particle.get("euler_deg"):
        return rotation_from_euler(*particle["euler_deg"])
    return rotation_from_c_axis(particle["c_axis"])


VOXEL_FIELDS = {  # name: (units, long_name) of the per-snapshot fields over (z, y, x)
    "x_li": ("1", "Li site fraction x in Li_x MO2"),
    "stress_hydrostatic": ("Pa", "hydrostatic stress tr(sigma)/3"),
    "stress_von_mises": ("Pa", "von Mises stress sqrt(3/2 s:s)"),
    "d_spacing_003": ("angstrom", "(003) spacing c(x)/3 (1 + elastic strain along c)"),
    "elastic_strain_c": ("1", "elastic normal strain along the local c axis"),
    "elastic_strain_a": ("1", "mean elastic normal strain along the local a and b axes"),
}


DAMAGE_FIELDS = {  # name: (units, long_name) of a cycle-life run's per-snapshot damage over (z, y, x)
    "x_li_active": ("1", "Li site fraction of the active lattice"),
    "active_fraction": ("1", "share of the voxel's lattice that stores Li (not inactivated, not rock salt)"),
    "inactive_x_li": ("1", "Li site fraction kept by the inactive lattice (NaN: none lost)"),
}


class VoxelRun:
    """Adapter of the voxel particles (geometry "single-crystal", "polycrystal") for
    simulation.simulate."""

    def __init__(self, spec):
        self.spec = spec
        self.particle = voxel_particle(spec.particle)
        self.damage = self.cycle_life = None

    def integrate(self, progress=None) -> VoxelSolution:
        spec = self.spec
        if spec.degradation is None:
            return run_voxels(spec.material, self.particle, spec.experiment, spec.solver, progress=progress,
                              keep_cycles=spec.snapshot_cycles or None, physics=spec.physics)
        degradation = spec.degradation
        damage = self.damage = VoxelDamage(spec.material, self.particle, degradation.parameters,
                                           degradation.mechanisms, TEMPERATURE_DEFAULT, spec.physics)
        life = self.cycle_life = run_cycle_life(damage, np.full(damage.n, spec.material.x_initial), spec.experiment,
                                                spec.solver, spec.material.capacity_nominal, degradation.jumps,
                                                progress, keep_cycles=spec.snapshot_cycles or None)
        return VoxelSolution(  # the reacting area is the pristine one (the C-rate's basis)
            history=life.history, li_balance_error=max(cycle.li_balance_error for cycle in life.cycles),
            particle=self.particle, connectivity=damage.connectivity,
            reacting_area=float(damage.reacting_area_per_voxel.sum()))

    def damage_snapshots(self, plan, history) -> list:
        """The damage state each snapshot sees: that held during its cycle."""
        return [self.cycle_life.states_by_cycle[int(history.cycle[row])] for row in plan_rows(plan)]

    def cycle_damage(self) -> dict:
        """Per-cycle damage over `cycle` at the start of each cycle (skipped cycles
        interpolated): the mean active fraction, the rock-salt thickness, and for
        polycrystals the share of boundary faces broken, of active lattice the electrode
        reaches, and of grains cut off."""
        life, damage = self.cycle_life, self.damage
        simulated = np.flatnonzero(life.simulated) + 1
        cycles = np.arange(1, life.simulated.size + 1)
        states = [life.states_by_cycle[c] for c in simulated]
        series = {
            "active_fraction_mean": ([damage.active_fraction(s).mean() for s in states],
                                     {"units": "1", "long_name": "mean active lattice fraction at the start of the cycle"}),
            "rock_salt_thickness_cycle": ([s.layer_thickness for s in states],
                                          {"units": "m", "long_name": "rock-salt layer thickness at the start of the cycle"}),
        }
        if damage.fatigue:
            series["cracked_boundary_fraction"] = ([s.cracked.mean() if s.cracked.size else 0.0 for s in states],
                                                   {"units": "1", "long_name": "share of grain-boundary faces broken through"})
            series["wired_lattice_fraction"] = ([damage.wired_share(s) for s in states],
                                                {"units": "1", "long_name": "share of the active lattice the electrode reaches through the boundaries"})
            series["isolated_grain_fraction"] = ([float(np.mean(damage.grain_wiring(s) == 0.0)) for s in states],
                                                 {"units": "1", "long_name": "share of grains cut off from the electronic network"})
        return {name: ("cycle", np.interp(cycles, simulated, values), attrs) for name, (values, attrs) in series.items()}

    def damage_variables(self, fields: dict, states: list, dims: tuple) -> dict:
        """A cycle-life run's damage on the snapshots: the per-voxel fields, the rock-salt
        layer (its thickness, and on the grid on every voxel with a reacting face), and for
        polycrystals the crack length and broken state of every boundary face, the broken
        faces around each voxel and the electronic wiring of each grain and voxel
        (the grid fields are what the ParaView export writes)."""
        damage = self.damage

        def grid(per_snapshot):  # per-voxel values of each snapshot on the (z, y, x) grid
            return np.array([damage.field(values) for values in per_snapshot], dtype=np.float32)

        out = {name: (dims, fields[name], {"units": units, "long_name": long_name})
               for name, (units, long_name) in DAMAGE_FIELDS.items()}
        out["rock_salt_thickness"] = ("snapshot", np.array([s.layer_thickness for s in states]),
                                      {"units": "m", "long_name": "surface rock-salt layer thickness"})
        on_surface = damage.reacting_area_per_voxel > 0
        out["rock_salt_thickness_voxel"] = (dims, grid([np.where(on_surface, s.layer_thickness, 0.0) for s in states]),
                                            {"units": "m", "long_name": "rock-salt layer on the voxel's reacting faces (0: none)"})
        if damage.fatigue:
            wiring = [damage.grain_wiring(s) for s in states]
            out["gb_crack_length"] = (("snapshot", "gb_face"), np.array([s.crack_length for s in states], dtype=np.float32),
                                      {"units": "m", "long_name": "crack length on the grain-boundary face"})
            out["gb_cracked"] = (("snapshot", "gb_face"), np.array([s.cracked for s in states]),
                                 {"long_name": "grain-boundary face broken through"})
            out["grain_wiring"] = (("snapshot", "grain"), np.array(wiring),
                                   {"units": "1", "long_name": "share of the grain's faces the electrode reaches (0: cut off)"})
            out["cracked_faces_voxel"] = (dims, grid([damage.cracked_faces_per_voxel(s) for s in states]),
                                          {"units": "1", "long_name": "broken grain-boundary faces of the voxel"})
            out["wiring_voxel"] = (dims, grid([w[damage.connectivity.grain] for w in wiring]),
                                   {"units": "1", "long_name": "electronic wiring of the voxel's grain (0: cut off)"})
        return out

    def fields(self, solution: VoxelSolution, plan, progress: bool = False) -> tuple[dict, dict, dict]:
        """x_li and, with mechanics on, the elastic fields of every snapshot over (z, y, x);
        returns (data_vars, coords, summary figures)."""
        material, particle, mechanics = self.spec.material, self.particle, self.spec.mechanics
        count = len(plan)
        shape = particle.shape
        # only what is filled: x_li alone without mechanics (each field is 4 B x box x snapshots)
        names = VOXEL_FIELDS if mechanics else ("x_li",)
        fields = {name: np.full((count, *shape), np.nan, dtype=np.float32) for name in names}
        rotation = np.full((count, 3, *shape), np.nan, dtype=np.float32) if mechanics else None
        gb_faces = grain_boundary_faces(particle.grain) if particle.n_grains > 1 else None
        gb_normal = gb_shear = None
        if gb_faces is not None and mechanics:
            gb_normal = np.full((count, len(gb_faces)), np.nan, dtype=np.float32)
            gb_shear = np.full((count, len(gb_faces)), np.nan, dtype=np.float32)
        stiffness = grain_stiffness(material, particle.rotations) if mechanics else None
        warm_start = None
        mechanics_iterations = 0
        snapshots = range(count)
        if progress:
            from tqdm.auto import tqdm

            snapshots = tqdm(snapshots, desc="mechanics", unit="snapshot", leave=False, disable=not mechanics)
        damage_states = self.damage_snapshots(plan, solution.history) if self.cycle_life is not None else None
        if damage_states is not None:
            damage_fields = {name: np.full((count, *shape), np.nan, dtype=np.float32)
                             for name in ("x_li_active", "active_fraction", "inactive_x_li")}
        for n in snapshots:
            x_active = plan_state(solution.history, *plan[n])
            if damage_states is not None:  # x of the layered lattice: active and inactive mixed
                state = damage_states[n]
                damage_fields["x_li_active"][n] = solution.field(x_active)
                damage_fields["active_fraction"][n] = solution.field(self.damage.active_fraction(state))
                damage_fields["inactive_x_li"][n] = solution.field(
                    np.where(state.lattice_fraction < 1.0, state.x_inactive, np.nan))  # NaN: no lattice lost
                x_active = self.damage.lattice_x(state, x_active)
            x_grid = solution.field(x_active)
            del x_active  # not held into the next snapshot (peak memory)
            fields["x_li"][n] = x_grid
            if not mechanics:
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
            **{name: (dims, fields[name], {"units": units, "long_name": long_name})
               for name, (units, long_name) in VOXEL_FIELDS.items()
               if name == "x_li" or mechanics},
            "grain": (("z", "y", "x"), particle.grain, {"units": "1", "long_name": "grain index, -1 outside the particle"}),
            "grain_orientation": (("grain", "lab", "crystal"), particle.rotations,
                                  {"units": "1", "long_name": "rotation matrix crystal -> lab (columns: a, b, c axes in x, y, z)"}),
        }
        if mechanics:
            data_vars["lattice_rotation"] = (("snapshot", "component", "z", "y", "x"), rotation,
                                             {"units": "rad", "long_name": "lattice rotation omega = curl(u)/2"})
        coords = {
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
        if damage_states is not None:
            data_vars.update(self.damage_variables(damage_fields, damage_states, dims))
        summary = summarize_voxels(material, solution, fields, rotation if mechanics else None)
        summary["mechanics_iterations"] = mechanics_iterations
        if self.spec.physics.needs_stress:  # elastic solves of the staggered coupling
            summary["stress_solves"] = solution.stress_solves
        if gb_normal is not None:
            summary.update(traction_summary(gb_normal[-1].astype(float), gb_shear[-1].astype(float)))
        return data_vars, coords, summary


def summarize_voxels(material: Material, solution: VoxelSolution, fields: dict, rotation) -> dict:
    """Figures of a voxel run for summary.json (units in the names)."""
    x0 = np.full(1, material.x_initial)
    x_end = solution.final_state
    surface = solution.connectivity.face_cell
    a0, c0, v0 = (float(f(x0)[0]) for f in (material.lattice_a, material.lattice_c, material.cell_volume))
    summary = {
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



