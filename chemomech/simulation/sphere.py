"""The 1-D sphere in a run: mesh, transport, fields on the snapshots, summary figures."""

from __future__ import annotations

import numpy as np

from chemomech.constants import TEMPERATURE_DEFAULT
from chemomech.degradation.cycle_jumping import run_cycle_life
from chemomech.degradation.sphere import SphereDamage
from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.mechanics.sphere_stress import sphere_stress_from_x
from chemomech.simulation.records import plan_rows, plan_state
from chemomech.transport.sphere_transport import SphereSolution, run_sphere


def particle_lattice(material: Material, mesh: SphereMesh, states: np.ndarray) -> dict:
    """Volume-averaged lattice of the particle for each state (rows of `states`):
    mean a, mean c [Angstrom] and the mean unit-cell volume [Angstrom^3]."""
    return {
        "a": mesh.volume_average(material.lattice_a(states)),
        "c": mesh.volume_average(material.lattice_c(states)),
        "volume": mesh.volume_average(material.cell_volume(states)),
    }


class SphereRun:
    """Adapter of the 1-D sphere (geometry "sphere-1d") for simulation.simulate."""

    def __init__(self, spec):
        self.spec = spec
        particle = spec.particle
        surface_cell = particle.get("surface_cell_nm", 0.0) * 1e-9 or None  # None: uniform cells
        self.mesh = SphereMesh(radius=particle["radius_um"] * 1e-6, cells=particle["cells"], surface_cell=surface_cell)
        self.damage = self.cycle_life = None

    def integrate(self, progress=None) -> SphereSolution:
        spec = self.spec
        if spec.degradation is None:
            return run_sphere(spec.material, self.mesh, spec.experiment, spec.solver, progress=progress,
                              keep_cycles=spec.snapshot_cycles or None, physics=spec.physics)
        degradation = spec.degradation
        self.damage = SphereDamage(spec.material, self.mesh, degradation.parameters, degradation.mechanisms,
                                   TEMPERATURE_DEFAULT, spec.physics)
        x_start = np.full(self.mesh.cells, spec.material.x_initial)
        self.cycle_life = run_cycle_life(self.damage, x_start, spec.experiment, spec.solver,
                                         spec.material.capacity_nominal, degradation.jumps, progress,
                                         keep_cycles=spec.snapshot_cycles or None)
        balance = max(cycle.li_balance_error for cycle in self.cycle_life.cycles)
        return SphereSolution(history=self.cycle_life.history, li_balance_error=balance, mesh=self.mesh)

    def damage_fields(self, x_active: np.ndarray, snapshot_cycles: np.ndarray) -> dict:
        """A cycle-life run's damage on the snapshots over `r`: each snapshot sees the
        damage held during its cycle. x_li of the layered lattice mixes the active x with
        the Li fraction the inactive lattice kept, phi_l x + (1 - phi_l) x_inactive (phi_l
        = exp(-s), the rock-salt shell left out: it is no layered phase)."""
        states = [self.cycle_life.states_by_cycle[int(c)] for c in snapshot_cycles]
        phi = np.array([self.damage.active_fraction(state) for state in states])
        lattice = np.array([state.lattice_fraction for state in states])
        inactive_x = np.array([state.x_inactive for state in states])
        kept = np.where(lattice < 1.0, inactive_x, np.nan)  # NaN where no lattice was lost
        dims = ("snapshot", "r")
        return {
            "x_li": lattice * x_active + (1.0 - lattice) * inactive_x,
            "x_li_active": (dims, x_active, {"units": "1", "long_name": "Li site fraction of the active lattice"}),
            "active_fraction": (dims, phi, {"units": "1", "long_name": "share of the cell's lattice that stores Li (not inactivated, not rock salt)"}),
            "inactive_x_li": (dims, kept, {"units": "1", "long_name": "Li site fraction kept by the inactive lattice (NaN: none lost)"}),
            "rock_salt_thickness": ("snapshot", np.array([state.layer_thickness for state in states]),
                                    {"units": "m", "long_name": "surface rock-salt layer thickness"}),
        }

    def cycle_damage(self) -> dict:
        """Per-cycle damage over `cycle` at the start of each cycle (skipped cycles:
        interpolated between the simulated ones): the volume-mean active fraction and the
        rock-salt layer thickness."""
        life = self.cycle_life
        simulated = np.flatnonzero(life.simulated) + 1
        volumes = self.mesh.volumes
        phi = [volumes @ self.damage.active_fraction(life.states_by_cycle[c]) / volumes.sum() for c in simulated]
        layer = [life.states_by_cycle[c].layer_thickness for c in simulated]
        cycles = np.arange(1, life.simulated.size + 1)
        return {
            "active_fraction_mean": ("cycle", np.interp(cycles, simulated, phi),
                                     {"units": "1", "long_name": "volume-mean active lattice fraction at the start of the cycle"}),
            "rock_salt_thickness_cycle": ("cycle", np.interp(cycles, simulated, layer),
                                          {"units": "m", "long_name": "rock-salt layer thickness at the start of the cycle"}),
        }

    def fields(self, solution: SphereSolution, plan) -> tuple[dict, dict, dict]:
        """x_li, lattice and the isotropic free-sphere stress on the snapshots over `r`;
        returns (data_vars, coords, summary figures)."""
        material, mesh = self.spec.material, self.mesh
        x_snap = np.array([plan_state(solution.history, k, w) for k, w in plan])
        damage = {}
        if self.cycle_life is not None:
            damage = self.damage_fields(x_snap, solution.history.cycle[plan_rows(plan)])
            x_snap = damage.pop("x_li")
        stress = sphere_stress_from_x(mesh, material, x_snap)
        dims = ("snapshot", "r")
        data_vars = {
            "x_li": (dims, x_snap, {"units": "1", "long_name": "Li site fraction x in Li_x MO2"}),
            "lattice_a": (dims, material.lattice_a(x_snap), {"units": "angstrom", "long_name": "hexagonal a"}),
            "lattice_c": (dims, material.lattice_c(x_snap), {"units": "angstrom", "long_name": "hexagonal c"}),
            "stress_radial": (dims, stress["radial"], {"units": "Pa", "long_name": "radial stress (isotropic free sphere)"}),
            "stress_hoop": (dims, stress["hoop"], {"units": "Pa", "long_name": "hoop stress (isotropic free sphere)"}),
            "stress_hydrostatic": (dims, stress["hydrostatic"], {"units": "Pa", "long_name": "hydrostatic stress (sigma_r + 2 sigma_theta)/3"}),
            "stress_von_mises": (dims, stress["von_mises"], {"units": "Pa", "long_name": "von Mises stress |sigma_r - sigma_theta|"}),
            **damage,
        }
        coords = {"r": ("r", mesh.centres, {"units": "m", "long_name": "radius of the cell centre"})}
        return data_vars, coords, self.summary(solution, stress)

    def summary(self, solution: SphereSolution, stress: dict) -> dict:
        """Lattice and stress figures for summary.json (units in the names): lattice over
        the stored states, stresses over the snapshots."""
        material, mesh = self.spec.material, self.mesh
        lattice = particle_lattice(material, mesh, solution.states)
        c0, v0 = lattice["c"][0], lattice["volume"][0]
        x_end = solution.final_state
        return {
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
