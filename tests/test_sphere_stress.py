"""Elastic constants (Voigt-Reuss-Hill) and the closed-form stress of a free sphere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chemomech.geometry import SphereMesh
from chemomech.materials import load_material
from chemomech.mechanics import (
    free_sphere_stress,
    isotropic_moduli,
    linear_eigenstrain,
    sphere_stress_from_x,
    voigt_reuss_hill,
)

# Test inputs chosen by hand, typical of a layered oxide; the checks do not depend on them.
E_TEST = 200e9  # Pa, a stiff oxide / steel-like Young's modulus
NU_TEST = 0.3  # -, a typical Poisson ratio
RADIUS = 5e-6  # m, a 10 um diameter secondary particle
BETA0 = 0.01  # -, a 1 % volumetric eigenstrain amplitude (order of the NMC lattice change / 3)
STRESS_SCALE = E_TEST * BETA0 / (1.0 - NU_TEST)  # Pa, the prefactor of the sphere solution


def isotropic_stiffness(youngs_modulus: float, poisson_ratio: float) -> np.ndarray:
    """6x6 Voigt stiffness of an isotropic solid from E and nu (textbook Lame relations)."""
    e, nu = youngs_modulus, poisson_ratio
    c11 = e * (1 - nu) / ((1 + nu) * (1 - 2 * nu))
    c12 = e * nu / ((1 + nu) * (1 - 2 * nu))
    c44 = e / (2 * (1 + nu))
    c = np.zeros((6, 6))
    c[:3, :3] = c12
    c[np.arange(3), np.arange(3)] = c11
    c[np.arange(3, 6), np.arange(3, 6)] = c44
    return c


def quadratic_profile_exact(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact stresses for beta(r) = BETA0 (r/R)^2: I(r) = BETA0 r^5 / (5 R^2), so
    sigma_r = 2 E BETA0/(1-nu) (1/5)(1 - r^2/R^2) and
    sigma_theta = E BETA0/(1-nu) [2/5 + r^2/(5 R^2) - r^2/R^2]."""
    rho2 = (r / RADIUS) ** 2
    radial = 2.0 * STRESS_SCALE * (1.0 - rho2) / 5.0
    hoop = STRESS_SCALE * (2.0 / 5.0 + rho2 / 5.0 - rho2)
    return radial, hoop


def quadratic_profile_error(cells: int) -> float:
    """Max error of sigma_r and sigma_theta at the cell centres, relative to STRESS_SCALE,
    for beta sampled at the cell centres of a mesh with `cells` shells."""
    mesh = SphereMesh(RADIUS, cells)
    r = mesh.centres
    stress = free_sphere_stress(mesh, BETA0 * (r / RADIUS) ** 2, E_TEST, NU_TEST)
    radial, hoop = quadratic_profile_exact(r)
    return max(
        np.max(np.abs(stress["radial"] - radial)), np.max(np.abs(stress["hoop"] - hoop))
    ) / STRESS_SCALE


# ---- elastic constants -----------------------------------------------------------------


def test_isotropic_moduli_recovers_isotropic_input():
    e, nu = isotropic_moduli(isotropic_stiffness(E_TEST, NU_TEST))
    # For an isotropic C, Voigt = Reuss = exact K, G; 1e-10 leaves room only for round-off.
    assert e == pytest.approx(E_TEST, rel=1e-10)
    assert nu == pytest.approx(NU_TEST, rel=1e-10)
    vrh = voigt_reuss_hill(isotropic_stiffness(E_TEST, NU_TEST))
    assert vrh.bulk_voigt == pytest.approx(vrh.bulk_reuss, rel=1e-10)
    assert vrh.shear_voigt == pytest.approx(vrh.shear_reuss, rel=1e-10)


def test_hill_bounds_for_nc91():
    material = load_material("nc91")
    vrh = voigt_reuss_hill(material.stiffness_voigt())
    # Hill (1952): Reuss <= Hill <= Voigt; strict for this anisotropic hexagonal crystal.
    assert vrh.bulk_reuss < vrh.bulk_hill < vrh.bulk_voigt
    assert vrh.shear_reuss < vrh.shear_hill < vrh.shear_voigt
    e, nu = isotropic_moduli(material.stiffness_voigt())
    # Physical range of an isotropic solid (thermodynamic stability: -1 < nu < 1/2, E > 0).
    assert e > 0 and -1.0 < nu < 0.5


def test_isotropic_moduli_rejects_non_6x6():
    with pytest.raises(ValueError):
        isotropic_moduli(np.eye(3))


# ---- closed-form sphere stress -------------------------------------------------------


def test_quadratic_profile_matches_closed_form():
    # Measured max error at N = 100 is 5.0e-5 of STRESS_SCALE (= (dr/R)^2 / 2, from the
    # midpoint sampling of beta in the shell quadrature of I(r)); 1.5e-4 is 3x that.
    assert quadratic_profile_error(100) < 1.5e-4


def test_quadratic_profile_second_order_convergence():
    cells = np.array([25, 50, 100, 200])
    errors = np.array([quadratic_profile_error(n) for n in cells])
    assert np.all(np.diff(errors) < 0)
    order = -np.polyfit(np.log(cells), np.log(errors), 1)[0]
    # Midpoint sampling + exact shell volumes is a second-order quadrature (measured 2.00).
    assert order >= 1.8


def test_uniform_eigenstrain_is_stress_free():
    mesh = SphereMesh(RADIUS, 100)
    stress = free_sphere_stress(mesh, np.full(100, BETA0), E_TEST, NU_TEST)
    for value in stress.values():
        # Exact answer is 0; 1e-9 E beta is far above round-off (~1e-16 E beta measured).
        assert np.max(np.abs(value)) < 1e-9 * E_TEST * BETA0


def surface_radial_stress(cells: int) -> float:
    """sigma_r linearly extrapolated from the last two cell centres to r = R, relative to
    STRESS_SCALE (the outer face is dr/2 beyond the last centre: 1.5 s_N - 0.5 s_{N-1})."""
    mesh = SphereMesh(RADIUS, cells)
    r = mesh.centres
    radial = free_sphere_stress(mesh, BETA0 * (r / RADIUS) ** 2, E_TEST, NU_TEST)["radial"]
    return (1.5 * radial[-1] - 0.5 * radial[-2]) / STRESS_SCALE


def test_traction_free_surface():
    values = np.abs([surface_radial_stress(n) for n in (25, 50, 100, 200)])
    assert np.all(np.diff(values) < 0)
    # Measured |sigma_r(R)| / STRESS_SCALE: 3.2e-4, 8.0e-5, 2.0e-5, 5.0e-6 at N = 25..200
    # (halving dr quarters it: extrapolation and quadrature are both O(dr^2));
    # the bound is 3x the N = 200 value.
    assert values[-1] < 1.5e-5


def test_equilibrium_integral_vanishes():
    # Equilibrium d(r^2 sigma_r)/dr = 2 r sigma_theta, integrated over [0, R]:
    # int 2 r sigma_theta dr = R^2 sigma_r(R) - 0 = 0 (traction-free). Shell quadrature:
    # int over shell i of 2 r dr = r_{i+1/2}^2 - r_{i-1/2}^2, times sigma_theta at the centre.
    mesh = SphereMesh(RADIUS, 100)
    r = mesh.centres
    hoop = free_sphere_stress(mesh, BETA0 * (r / RADIUS) ** 2, E_TEST, NU_TEST)["hoop"]
    faces = mesh.faces
    integral = np.sum(hoop * (faces[1:] ** 2 - faces[:-1] ** 2))
    # Measured 3.3e-6 STRESS_SCALE R^2 at N = 100 (second order); 1e-5 is 3x that.
    assert abs(integral) < 1e-5 * STRESS_SCALE * RADIUS**2


def test_snapshot_axis_is_vectorised():
    mesh = SphereMesh(RADIUS, 40)
    rho = mesh.centres / RADIUS
    beta = np.stack([BETA0 * rho**2, -BETA0 * rho, np.full(40, BETA0)])  # three snapshots
    batched = free_sphere_stress(mesh, beta, E_TEST, NU_TEST)
    for k, row in enumerate(beta):
        single = free_sphere_stress(mesh, row, E_TEST, NU_TEST)
        for key, value in single.items():
            assert batched[key].shape == beta.shape
            # Same arithmetic per row; 1e-12 relative allows only round-off.
            np.testing.assert_allclose(batched[key][k], value, rtol=0, atol=1e-12 * STRESS_SCALE)


def test_hydrostatic_and_von_mises_definitions():
    mesh = SphereMesh(RADIUS, 30)
    stress = free_sphere_stress(mesh, BETA0 * (mesh.centres / RADIUS) ** 3, E_TEST, NU_TEST)
    # Definitions: p = (s_r + 2 s_t)/3, von Mises of diag(s_r, s_t, s_t) = |s_r - s_t|.
    np.testing.assert_allclose(
        stress["hydrostatic"], (stress["radial"] + 2 * stress["hoop"]) / 3, rtol=1e-14, atol=0
    )
    np.testing.assert_allclose(
        stress["von_mises"], np.abs(stress["radial"] - stress["hoop"]), rtol=1e-14, atol=0
    )


def test_sphere_stress_from_x_uses_material():
    material = load_material("nc91")
    mesh = SphereMesh(RADIUS, 50)
    # A hand-picked delithiated core (x = 0.4) and pristine shell (x = x_initial).
    x = np.where(mesh.centres < 0.5 * RADIUS, 0.4, material.x_initial)
    e, nu = isotropic_moduli(material.stiffness_voigt())
    beta = linear_eigenstrain(material, x)
    eps_a, eps_c = material.eigenstrain_crystal(x)
    # beta = one third of the trace of diag(eps_a, eps_a, eps_c).
    np.testing.assert_allclose(beta, (2 * eps_a + eps_c) / 3, rtol=1e-14, atol=0)
    # Pristine material is the eigenstrain reference, so beta = 0 there (to round-off).
    assert np.max(np.abs(beta[mesh.centres > 0.5 * RADIUS])) < 1e-15
    expected = free_sphere_stress(mesh, beta, e, nu)
    result = sphere_stress_from_x(mesh, material, x)
    for key in expected:
        np.testing.assert_array_equal(result[key], expected[key])


# ---- properties ----------------------------------------------------------------------

# Smooth monotone profiles beta = a + b (r/R)^k. Ranges (hand-picked): |a|, |b| up to 5 %,
# beyond any layered-oxide lattice strain; |b| >= 1e-4 so the stress scale is not zero.
amplitudes = st.floats(-0.05, 0.05)
slopes = st.floats(1e-4, 0.05).flatmap(lambda b: st.sampled_from([b, -b]))
powers = st.floats(0.5, 6.0)


@settings(max_examples=60, deadline=None)
@given(a1=amplitudes, b1=slopes, k1=powers, a2=amplitudes, b2=slopes, k2=powers, shift=amplitudes)
def test_stress_is_linear_and_shift_invariant(a1, b1, k1, a2, b2, k2, shift):
    mesh = SphereMesh(RADIUS, 64)
    rho = mesh.centres / RADIUS
    beta1 = a1 + b1 * rho**k1
    beta2 = a2 + b2 * rho**k2
    s1 = free_sphere_stress(mesh, beta1, E_TEST, NU_TEST)
    s2 = free_sphere_stress(mesh, beta2, E_TEST, NU_TEST)
    s12 = free_sphere_stress(mesh, beta1 + beta2, E_TEST, NU_TEST)
    s1_shifted = free_sphere_stress(mesh, beta1 + shift, E_TEST, NU_TEST)
    # Stress scale E/(1-nu) max|beta| >= E/(1-nu) |b|/2 >= E/(1-nu) 5e-5; round-off is
    # ~1e-16 E (|a| + |b| + |shift|) <= 1.5e-17 E, about 2000x below 1e-9 of the scale.
    scale = E_TEST / (1 - NU_TEST) * max(np.max(np.abs(beta1)), np.max(np.abs(beta2)))
    for key in ("radial", "hoop", "hydrostatic"):
        np.testing.assert_allclose(s12[key], s1[key] + s2[key], rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(s1_shifted[key], s1[key], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(s1_shifted["von_mises"], s1["von_mises"], rtol=0, atol=1e-9 * scale)
