"""The 1-D sphere in a run: mesh, transport, fields on the snapshots, summary figures."""

from __future__ import annotations

import numpy as np

from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.mechanics.sphere_stress import sphere_stress_from_x
from chemomech.simulation.records import plan_state
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

    def integrate(self, progress=None) -> SphereSolution:
        spec = self.spec
        return run_sphere(spec.material, self.mesh, spec.experiment, spec.solver, progress=progress,
                          keep_cycles=spec.snapshot_cycles or None, physics=spec.physics)

    def fields(self, solution: SphereSolution, plan) -> tuple[dict, dict, dict]:
        """x_li, lattice and the isotropic free-sphere stress on the snapshots over `r`;
        returns (data_vars, coords, summary figures)."""
        material, mesh = self.spec.material, self.mesh
        x_snap = np.array([plan_state(solution.history, k, w) for k, w in plan])
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
