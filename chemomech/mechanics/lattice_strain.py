"""Lattice strain of a voxel particle: eigenstrain from x_Li, elastic solve, the fields a
diffraction measurement sees.

For a state x(z, y, x) of a voxel particle with grains of orientation R (crystal -> lab):

    eps*_crystal = diag(eps_a, eps_a, eps_c),   eps_a = (a(x) - a_ref)/a_ref,
                                                eps_c = (c(x) - c_ref)/c_ref
    eps*_lab     = R eps*_crystal R^T
    C_lab        = the hexagonal stiffness rotated with R (tensors.rotate_stiffness)

solved with voxel_elasticity (traction-free particle in void). Derived fields:

    stress_hydrostatic = tr(sigma)/3 [Pa]
    stress_von_mises   = sqrt(3/2 s:s), s = sigma - tr(sigma)/3 I [Pa]
    elastic_strain_c   = c^T eps_el c, the elastic normal strain along the local c axis
    elastic_strain_a   = (a^T eps_el a + b^T eps_el b)/2, the mean in-plane one
    d_spacing_003      = c(x)/3 (1 + elastic_strain_c) [Angstrom], the (003) spacing of
                         the strained local cell (three layers per hexagonal c)
    lattice_rotation   = omega = (1/2) curl u [rad] (x, y, z components)
"""

from __future__ import annotations

import numpy as np

from chemomech.geometry.voxel import VoxelParticle
from chemomech.materials.material import Material
from chemomech.mechanics.tensors import normal_component, rotate_stiffness
from chemomech.mechanics.voxel_elasticity import solve_elasticity_grains

MECHANICS_TOLERANCE = 1e-5  # relative residual of the elastic solve


def grain_stiffness(material: Material, rotations: np.ndarray) -> np.ndarray:
    """Voigt stiffness of every grain in the lab frame (n_grains, 6, 6) [Pa]."""
    return rotate_stiffness(material.stiffness_voigt(), rotations)


def eigenstrain_field(material: Material, particle: VoxelParticle, x_grid: np.ndarray) -> np.ndarray:
    """eps*_lab = R diag(eps_a, eps_a, eps_c) R^T (3, 3, nz, ny, nx) from x on the grid;
    zero outside the particle. With n = R e_c the local c axis (a a^T + b b^T + c c^T = I):
    eps*_lab,ij = eps_a delta_ij + (eps_c - eps_a) n_i n_j."""
    solid = particle.mask
    eps_a, eps_c = material.eigenstrain_crystal(x_grid[solid])
    n = particle.rotations[particle.grain[solid]][:, :, 2]  # (N, 3) lab components of the c axis
    field = np.zeros((3, 3, *particle.shape))
    for i in range(3):
        for j in range(i, 3):
            values = (eps_c - eps_a) * n[:, i] * n[:, j] + (eps_a if i == j else 0.0)
            field[i, j][solid] = values
            if j != i:
                field[j, i][solid] = values
    return field


def snapshot_mechanics(material: Material, particle: VoxelParticle, x_grid: np.ndarray,
                       stiffness: np.ndarray, initial=None) -> dict:
    """Solve the elastic field of one state and return the derived fields (module
    docstring) on the grid, NaN outside; plus "stress" (3, 3, ...), "displacement" (for a
    warm start of the next snapshot) and "iterations"."""
    solution = solve_elasticity_grains(
        eigenstrain_field(material, particle, x_grid), stiffness, particle.grain,
        particle.voxel_size, tolerance=MECHANICS_TOLERANCE, initial=initial,
    )
    solid = particle.mask
    stress = solution["stress"]
    elastic = solution["elastic_strain"]
    pressure = np.trace(stress) / 3.0
    deviator = stress - pressure * np.eye(3)[:, :, None, None, None]
    von_mises = np.sqrt(1.5 * np.einsum("ij...,ij...->...", deviator, deviator))
    rot = particle.rotations[particle.grain[solid]]
    el = elastic[:, :, solid]  # (3, 3, N)
    strain_c = normal_component(rot[:, :, 2], el)
    strain_a = 0.5 * (normal_component(rot[:, :, 0], el) + normal_component(rot[:, :, 1], el))

    def on_grid(values):
        grid = np.full(particle.shape, np.nan)
        grid[solid] = values
        return grid

    c_local = material.lattice_c(x_grid[solid])
    return {
        "stress": stress,
        "stress_hydrostatic": np.where(solid, pressure, np.nan),
        "stress_von_mises": np.where(solid, von_mises, np.nan),
        "elastic_strain_c": on_grid(strain_c),
        "elastic_strain_a": on_grid(strain_a),
        "d_spacing_003": on_grid(c_local / 3.0 * (1.0 + strain_c)),
        "lattice_rotation": np.where(solid, solution["rotation"], np.nan),
        "displacement": solution["displacement"],
        "iterations": solution["iterations"],
    }
