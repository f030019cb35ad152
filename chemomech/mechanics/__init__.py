"""Mechanics: elastic stress and strain from the lattice eigenstrain.

The names below are imported on first use (module __getattr__): the 1-D sphere's stress
(sphere_stress) does not load the voxel elasticity solver and its kernels.
"""

from importlib import import_module

_LAZY = {
    "isotropic_moduli": "chemomech.mechanics.elastic_constants",
    "voigt_reuss_hill": "chemomech.mechanics.elastic_constants",
    "free_sphere_stress": "chemomech.mechanics.sphere_stress",
    "linear_eigenstrain": "chemomech.mechanics.sphere_stress",
    "sphere_stress_from_x": "chemomech.mechanics.sphere_stress",
    "rotate_stiffness": "chemomech.mechanics.tensors",
    "rotate_tensor": "chemomech.mechanics.tensors",
    "solve_elasticity": "chemomech.mechanics.voxel_elasticity",
    "solve_elasticity_grains": "chemomech.mechanics.voxel_elasticity",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'chemomech.mechanics' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
