"""Closed-form elastic stress in a spherical particle from a radial eigenstrain profile.

The particle is treated as a traction-free, isotropic, linear elastic sphere (the
Voigt-Reuss-Hill average of the crystal stiffness) carrying an isotropic eigenstrain
beta(r) [-], the volumetric part of the lattice strain. This is the thermal-stress problem
of a sphere with alpha T -> beta (Timoshenko & Goodier, Theory of Elasticity, 3rd ed.,
section on the sphere, eqs. for sigma_r and sigma_t):

    sigma_r(r)     = 2 E / (1 - nu) [ I(R) / R^3 - I(r) / r^3 ]
    sigma_theta(r) =   E / (1 - nu) [ 2 I(R) / R^3 + I(r) / r^3 - beta(r) ]
    I(r)           = int_0^r beta(s) s^2 ds

Stresses are in Pa, tension positive.
"""

from __future__ import annotations

import numpy as np

from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.mechanics.elastic_constants import isotropic_moduli


def linear_eigenstrain(material: Material, x) -> np.ndarray:
    """Isotropic (volumetric) part of the lattice eigenstrain [-]:

        beta(x) = (2 eps_a + eps_c) / 3 = tr(diag(eps_a, eps_a, eps_c)) / 3

    with (eps_a, eps_c) = material.eigenstrain_crystal(x), relative to the pristine
    lattice (small strain). Shape like x.
    """
    eps_a, eps_c = material.eigenstrain_crystal(x)
    return (2.0 * np.asarray(eps_a) + np.asarray(eps_c)) / 3.0


def free_sphere_stress(
    mesh: SphereMesh, beta, youngs_modulus: float, poisson_ratio: float
) -> dict[str, np.ndarray]:
    """Stress of a traction-free isotropic sphere with eigenstrain beta(r), at cell centres.

        sigma_r(r)     = 2 E / (1 - nu) [ I(R) / R^3 - I(r) / r^3 ]                [Pa]
        sigma_theta(r) =   E / (1 - nu) [ 2 I(R) / R^3 + I(r) / r^3 - beta(r) ]     [Pa]
        I(r)           = int_0^r beta(s) s^2 ds                                     [m3]

    beta [-] is constant over each shell of `mesh`, shape (..., N) (leading axes, e.g.
    snapshots, are broadcast). The integral is exact for that piecewise-constant profile:
    at the centre r_c,i of cell i,

        I(r_c,i) = sum_{j<i} beta_j (r_{j+1/2}^3 - r_{j-1/2}^3) / 3
                   + beta_i (r_c,i^3 - r_{i-1/2}^3) / 3,

    and I(R) is the sum over all shells. Centres are at r >= dr/2 > 0, so I(r)/r^3 is
    finite (it tends to beta(0)/3 at the centre).

    E = youngs_modulus [Pa], nu = poisson_ratio [-]. Returns, all in Pa and shaped like beta:
        "radial"       sigma_r
        "hoop"         sigma_theta (= sigma_phi)
        "hydrostatic"  (sigma_r + 2 sigma_theta) / 3
        "von_mises"    |sigma_r - sigma_theta|  (equivalent stress of the state
                       diag(sigma_r, sigma_theta, sigma_theta))
    """
    beta = np.asarray(beta, dtype=float)
    if beta.shape[-1:] != (mesh.cells,):
        raise ValueError(
            f"beta must have {mesh.cells} values (one per cell) on its last axis, "
            f"got shape {beta.shape}"
        )
    if not 0.0 < mesh.radius:
        raise ValueError(f"mesh radius must be positive, got {mesh.radius}")
    if not -1.0 < poisson_ratio < 0.5:
        raise ValueError(f"poisson_ratio must lie in (-1, 0.5), got {poisson_ratio}")

    faces = mesh.faces  # r_{i+1/2}, i = -1..N-1 [m]
    inner = faces[:-1]  # r_{i-1/2} [m]
    centres = mesh.centres  # r_c,i [m]
    radius = mesh.radius  # R [m]

    # I at the inner face of every cell: cumulative sum of whole inner shells [m3].
    shell_integrals = beta * mesh.volumes  # beta_j (r_out^3 - r_in^3) / 3
    whole_shells = np.cumsum(shell_integrals, axis=-1)
    integral_inner = whole_shells - shell_integrals  # sum_{j<i}
    integral_total = whole_shells[..., -1:]  # I(R), kept as (..., 1) to broadcast
    # Add the inner half of cell i, from r_{i-1/2} to its centre.
    integral_centre = integral_inner + beta * (centres**3 - inner**3) / 3.0

    mean_centre = integral_centre / centres**3  # I(r)/r^3 [-]
    mean_total = integral_total / radius**3  # I(R)/R^3 [-]

    scale = youngs_modulus / (1.0 - poisson_ratio)  # E / (1 - nu) [Pa]
    radial = 2.0 * scale * (mean_total - mean_centre)
    hoop = scale * (2.0 * mean_total + mean_centre - beta)
    return {
        "radial": radial,
        "hoop": hoop,
        "hydrostatic": (radial + 2.0 * hoop) / 3.0,
        "von_mises": np.abs(radial - hoop),
    }


def sphere_stress_from_x(mesh: SphereMesh, material: Material, x) -> dict[str, np.ndarray]:
    """Stress [Pa] in a traction-free sphere from the Li site fraction x per cell, shape
    (..., N): E, nu from the Voigt-Reuss-Hill average of material.stiffness_voigt(),
    beta = linear_eigenstrain(material, x), then `free_sphere_stress`."""
    youngs_modulus, poisson_ratio = isotropic_moduli(material.stiffness_voigt())
    beta = linear_eigenstrain(material, x)
    return free_sphere_stress(mesh, beta, youngs_modulus, poisson_ratio)
