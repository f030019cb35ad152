"""Mechanics: elastic stress and strain from the lattice eigenstrain."""

from chemomech.mechanics.elastic_constants import isotropic_moduli, voigt_reuss_hill
from chemomech.mechanics.sphere_stress import (
    free_sphere_stress,
    linear_eigenstrain,
    sphere_stress_from_x,
)

__all__ = [
    "free_sphere_stress",
    "isotropic_moduli",
    "linear_eigenstrain",
    "sphere_stress_from_x",
    "voigt_reuss_hill",
]
