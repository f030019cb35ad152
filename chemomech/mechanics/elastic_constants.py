"""Isotropic elastic constants of a polycrystal from the single-crystal stiffness.

A particle made of many randomly oriented grains behaves, on average, like an isotropic
solid. Its bulk modulus K and shear modulus G lie between the Voigt bound (uniform strain)
and the Reuss bound (uniform stress); the Hill estimate is their arithmetic mean:

    K_V = [(C11 + C22 + C33) + 2 (C12 + C13 + C23)] / 9
    G_V = [(C11 + C22 + C33) - (C12 + C13 + C23) + 3 (C44 + C55 + C66)] / 15
    K_R = 1 / [(S11 + S22 + S33) + 2 (S12 + S13 + S23)]
    G_R = 15 / [4 (S11 + S22 + S33) - 4 (S12 + S13 + S23) + 3 (S44 + S55 + S66)]
    K_H = (K_V + K_R) / 2,   G_H = (G_V + G_R) / 2

with C the 6x6 Voigt stiffness [Pa] and S = inv(C) the Voigt compliance [1/Pa] (engineering
shear strains, so S44 = 1/C44 for a hexagonal crystal and the Reuss formula applies as
written). Hill, R. (1952) "The elastic behaviour of a crystalline aggregate",
Proc. Phys. Soc. A 65, 349-354.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class VoigtReussHill(NamedTuple):
    """Bulk and shear moduli of the Voigt, Reuss and Hill averages [Pa]."""

    bulk_voigt: float
    bulk_reuss: float
    bulk_hill: float
    shear_voigt: float
    shear_reuss: float
    shear_hill: float


def _sums(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(M11 + M22 + M33, M12 + M13 + M23, M44 + M55 + M66) of (..., 6, 6) matrices."""
    normal = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    coupling = m[..., 0, 1] + m[..., 0, 2] + m[..., 1, 2]
    shear = m[..., 3, 3] + m[..., 4, 4] + m[..., 5, 5]
    return normal, coupling, shear


def voigt_moduli(stiffness_voigt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voigt bulk and shear moduli K_V, G_V [Pa] of (..., 6, 6) Voigt stiffnesses [Pa]:

        K_V = [(C11+C22+C33) + 2(C12+C13+C23)] / 9
        G_V = [(C11+C22+C33) - (C12+C13+C23) + 3(C44+C55+C66)] / 15
    """
    normal, coupling, shear = _sums(np.asarray(stiffness_voigt, dtype=float))
    return (normal + 2.0 * coupling) / 9.0, (normal - coupling + 3.0 * shear) / 15.0


def voigt_reuss_hill(stiffness_voigt: np.ndarray) -> VoigtReussHill:
    """Voigt, Reuss and Hill bulk and shear moduli [Pa] of a 6x6 Voigt stiffness [Pa].

    K_V = [(C11+C22+C33) + 2(C12+C13+C23)] / 9
    G_V = [(C11+C22+C33) - (C12+C13+C23) + 3(C44+C55+C66)] / 15
    K_R = 1 / [(S11+S22+S33) + 2(S12+S13+S23)]
    G_R = 15 / [4(S11+S22+S33) - 4(S12+S13+S23) + 3(S44+S55+S66)]
    Hill = arithmetic mean of Voigt and Reuss (Hill 1952), with S = inv(C) [1/Pa].
    """
    c = np.asarray(stiffness_voigt, dtype=float)
    if c.shape != (6, 6):
        raise ValueError(f"stiffness_voigt must be a 6x6 matrix, got shape {c.shape}")
    bulk_voigt, shear_voigt = voigt_moduli(c)
    s_normal, s_coupling, s_shear = _sums(np.linalg.inv(c))
    bulk_reuss = 1.0 / (s_normal + 2.0 * s_coupling)
    shear_reuss = 15.0 / (4.0 * s_normal - 4.0 * s_coupling + 3.0 * s_shear)
    return VoigtReussHill(
        bulk_voigt=float(bulk_voigt),
        bulk_reuss=float(bulk_reuss),
        bulk_hill=float(0.5 * (bulk_voigt + bulk_reuss)),
        shear_voigt=float(shear_voigt),
        shear_reuss=float(shear_reuss),
        shear_hill=float(0.5 * (shear_voigt + shear_reuss)),
    )


def isotropic_moduli(stiffness_voigt: np.ndarray) -> tuple[float, float]:
    """Young's modulus E [Pa] and Poisson ratio nu [-] of the Voigt-Reuss-Hill average of
    a 6x6 Voigt stiffness [Pa] (Hill 1952; formulas in `voigt_reuss_hill`):

        E  = 9 K G / (3 K + G)
        nu = (3 K - 2 G) / (2 (3 K + G))

    with K, G the Hill bulk and shear moduli.
    """
    vrh = voigt_reuss_hill(stiffness_voigt)
    k, g = vrh.bulk_hill, vrh.shear_hill
    youngs_modulus = 9.0 * k * g / (3.0 * k + g)
    poisson_ratio = (3.0 * k - 2.0 * g) / (2.0 * (3.0 * k + g))
    return float(youngs_modulus), float(poisson_ratio)


def isotropic_stiffness(youngs_modulus: float, poisson_ratio: float) -> np.ndarray:
    """6x6 Voigt stiffness of an isotropic solid [Pa] from E [Pa] and nu [-] (Lame
    relations: lambda = E nu / ((1 + nu)(1 - 2 nu)), mu = E / (2 (1 + nu)))."""
    lam = youngs_modulus * poisson_ratio / ((1 + poisson_ratio) * (1 - 2 * poisson_ratio))
    mu = youngs_modulus / (2 * (1 + poisson_ratio))
    c = np.zeros((6, 6))
    c[:3, :3] = lam
    c[np.arange(3), np.arange(3)] += 2 * mu
    c[np.arange(3, 6), np.arange(3, 6)] = mu
    return c
