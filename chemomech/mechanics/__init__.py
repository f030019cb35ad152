"""Mechanics: elastic stress and strain from the lattice eigenstrain."""

from chemomech.mechanics.elastic_constants import isotropic_moduli, voigt_reuss_hill
from chemomech.mechanics.sphere_stress import (
    free_sphere_stress,
    linear_eigenstrain,
    sphere_stress_from_x,
)
from chemomech.mechanics.tensors import rotate_stiffness, rotate_tensor
from chemomech.mechanics.voxel_elasticity import solve_elasticity, solve_elasticity_grains

__all__ = [
    "free_sphere_stress",
    "isotropic_moduli",
    "linear_eigenstrain",
    "rotate_stiffness",
    "rotate_tensor",
    "solve_elasticity",
    "solve_elasticity_grains",
    "sphere_stress_from_x",
    "voigt_reuss_hill",
]
