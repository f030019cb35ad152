"""Thermodynamics of the H2-H3 miscibility gap (chemomech/transport/phase_field.py).

Expected numbers come from the analytical solution for an OCV linear over the window
(f_hom a symmetric quartic there, see the module docstring), from the defining equations
of the common tangent, and from a reference solution of the planar equilibrium ODE
kappa x'' = mu_hom(x) - mu_plateau by scipy's collocation solver (solve_bvp).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_bvp

from chemomech.constants import FARADAY
from chemomech.materials.material import build_material, load_material, read_material_file
from chemomech.transport.phase_field import (
    CommonTangent,
    common_tangent,
    gap_chemical_potential,
    homogeneous_chemical_potential,
    homogeneous_free_energy,
    interface_cells,
    interface_width,
    tanh_profile,
)

X_LOW, X_HIGH = 0.15, 0.30  # the window of the shipped files
DELTA = X_HIGH - X_LOW
LINEAR_SLOPE_V = 0.5  # planted OCV U = 4.6 - 0.5 x [V]
S0 = FARADAY * LINEAR_SLOPE_V  # mu_ocv' = -F dU/dx [J/mol]
KAPPA = 5.0e-10  # J m2/mol
TANH_10_90 = 2.0 * np.arctanh(0.8)


def linear_material(barrier: float = 4000.0, kappa: float = KAPPA):
    """NC91 with U(x) = 4.6 - 0.5 x exactly (PCHIP through collinear points is the line)
    and the gap window [0.15, 0.30] of the file."""
    x = [float(v) for v in np.linspace(0.0, 1.0, 20)]
    volts = [4.6 - LINEAR_SLOPE_V * v for v in x]
    return load_material("nc91", {
        "ocv.x": x, "ocv.volts": volts,
        "phase_separation.x_low": X_LOW, "phase_separation.x_high": X_HIGH,
        "phase_separation.barrier_J_mol": barrier,
        "phase_separation.gradient_energy_J_m2_mol": kappa,
    })


def analytical_gap(barrier: float):
    """Linear OCV: x_alpha, x_beta = x_m -+ (Delta/2) sqrt(1 - s0 Delta^2 / W), plateau U(x_m),
    A = W / Delta^4 (module docstring)."""
    x_m = 0.5 * (X_LOW + X_HIGH)
    delta = 0.5 * DELTA * np.sqrt(1.0 - S0 * DELTA**2 / barrier)
    return x_m - delta, x_m + delta, 4.6 - LINEAR_SLOPE_V * x_m, barrier / DELTA**4


def planar_interface_10_90(material, tangent: CommonTangent, width_guess: float) -> float:
    """Reference: the 10-90 % width [m] of the solution of kappa x'' = mu_hom(x) - mu_plateau
    with x = x_alpha, x_beta at z = -+ 10 width_guess (solve_bvp, z scaled by width_guess,
    started from a tanh 30 % too wide); no first integral or tanh form is used."""
    a, b, mu_p = tangent.x_alpha, tangent.x_beta, tangent.mu_plateau
    scale = width_guess**2 / material.gradient_energy_j_m2_mol

    def rhs(xi, y):
        return np.vstack([y[1], scale * (homogeneous_chemical_potential(material, y[0]) - mu_p)])

    def bc(left, right):
        return np.array([left[0] - a, right[0] - b])

    xi = np.linspace(-10.0, 10.0, 801)
    guess = np.vstack([tanh_profile(a, b, 1.3, xi), (b - a) / 2.6 / np.cosh(xi / 1.3) ** 2])
    solution = solve_bvp(rhs, bc, xi, guess, tol=1e-8, max_nodes=100000)
    assert solution.success, solution.message
    fine = np.linspace(-10.0, 10.0, 200001)
    profile = solution.sol(fine)[0]
    assert np.all(np.diff(profile) > 0)
    x10, x90 = a + 0.1 * (b - a), a + 0.9 * (b - a)
    return float(np.interp(x90, profile, fine) - np.interp(x10, profile, fine)) * width_guess


def test_gap_chemical_potential_is_the_derivative_of_the_hump():
    """mu_gap = df_gap/dx and dmu_gap/dx = d2f_gap/dx2 (central differences of the closed
    forms, linear OCV so that f_hom - f_ocv is the hump alone); both vanish outside the
    window, and mu_gap integrates to zero over it (f_gap = 0 at both ends)."""
    material = linear_material()
    x = np.linspace(0.10, 0.35, 501)
    mu_gap, dmu_gap = gap_chemical_potential(material, x)
    h = 1e-6
    f_plus = homogeneous_free_energy(material, x + h)
    f_minus = homogeneous_free_energy(material, x - h)
    mu_ocv = -FARADAY * (4.6 - LINEAR_SLOPE_V * x)
    # f_hom' = mu_ocv + mu_gap (central difference error ~ h^2 f''' ~ 1e-12 * 1e6 J/mol),
    # away from the window ends, where f_hom'' jumps by 2 W / Delta^2
    inside = (x > X_LOW + h) & (x < X_HIGH - h)
    smooth = inside | (x < X_LOW - h) | (x > X_HIGH + h)
    np.testing.assert_allclose(((f_plus - f_minus) / (2 * h))[smooth], (mu_ocv + mu_gap)[smooth], atol=2e-3)
    np.testing.assert_allclose(homogeneous_chemical_potential(material, x), mu_ocv + mu_gap, atol=1e-6)
    mu_plus = gap_chemical_potential(material, x + h)[0]
    mu_minus = gap_chemical_potential(material, x - h)[0]
    np.testing.assert_allclose(((mu_plus - mu_minus) / (2 * h))[inside], dmu_gap[inside], rtol=1e-6, atol=1e-3)
    outside = (x < X_LOW) | (x > X_HIGH)
    assert np.all(mu_gap[outside] == 0.0) and np.all(dmu_gap[outside] == 0.0)
    s = np.linspace(0.0, 1.0, 100001)
    mu_window = gap_chemical_potential(material, X_LOW + DELTA * s)[0]
    assert abs(np.trapezoid(mu_window, s)) < 1e-6 * material.gap_barrier_j_mol


def test_no_table_no_gap_terms_and_a_clear_error():
    """Without [phase_separation] the hump terms are zero and mu_hom is -F U; common_tangent
    refuses, naming the material."""
    raw, _ = read_material_file("nc91")
    del raw["phase_separation"]
    material = build_material(raw, "material file nc91.toml")
    x = np.linspace(0.0, 1.0, 11)
    mu_gap, dmu_gap = gap_chemical_potential(material, x)
    assert np.all(mu_gap == 0.0) and np.all(dmu_gap == 0.0)
    np.testing.assert_allclose(homogeneous_chemical_potential(material, x), -FARADAY * material.ocv(x))
    with pytest.raises(ValueError, match="NC91.*no \\[phase_separation\\] table"):
        common_tangent(material)
    with pytest.raises(ValueError, match="NC91"):
        interface_width(material)


def test_linear_ocv_common_tangent_is_the_analytical_one():
    """Linear OCV: x_alpha, x_beta = x_m -+ (Delta/2) sqrt(1 - s0 Delta^2/W) and plateau
    U(x_m) (analytical solution), for a deep and a shallow gap."""
    for barrier in (4000.0, 1.2 * S0 * DELTA**2):
        alpha, beta, plateau, _ = analytical_gap(barrier)
        tangent = common_tangent(linear_material(barrier))
        assert tangent.x_alpha == pytest.approx(alpha, abs=1e-9)
        assert tangent.x_beta == pytest.approx(beta, abs=1e-9)
        assert tangent.voltage_plateau == pytest.approx(plateau, abs=1e-9)
        assert tangent.mu_plateau == pytest.approx(-FARADAY * plateau, abs=1e-6 * FARADAY)


def test_linear_ocv_spinodal_threshold():
    """A gap exists iff W > s0 Delta^2 (analytical): just below it common_tangent raises,
    naming the material."""
    threshold = S0 * DELTA**2
    with pytest.raises(ValueError, match="NC91: no miscibility gap"):
        common_tangent(linear_material(0.98 * threshold))
    alpha, beta, _, _ = analytical_gap(1.05 * threshold)
    tangent = common_tangent(linear_material(1.05 * threshold))
    assert tangent.x_alpha == pytest.approx(alpha, abs=1e-6)
    assert tangent.x_beta == pytest.approx(beta, abs=1e-6)


def test_linear_ocv_quartic_identity():
    """Linear OCV: f_hom - tangent = A (x - x_alpha)^2 (x - x_beta)^2 with A = W/Delta^4
    over the whole window (analytical: f_hom is a quartic of leading coefficient A with
    double roots at the coexisting compositions)."""
    barrier = 4000.0
    alpha, beta, plateau, quartic = analytical_gap(barrier)
    material = linear_material(barrier)
    x = np.linspace(X_LOW, X_HIGH, 1001)
    f = homogeneous_free_energy(material, x)
    f_alpha = homogeneous_free_energy(material, alpha)
    g = f - f_alpha + FARADAY * plateau * (x - alpha)
    np.testing.assert_allclose(g, quartic * (x - alpha) ** 2 * (x - beta) ** 2, atol=1e-8 * barrier)
    assert g.max() > 0.01 * barrier  # the hump is really there


def test_linear_ocv_interface_width_is_the_tanh_solution():
    """interface_width = sqrt(2 kappa / A) / (x_beta - x_alpha) with A = W/Delta^4
    (analytical), its 10-90 % width is that of the reference ODE solution, and the
    reference profile is the tanh one."""
    barrier = 4000.0
    alpha, beta, _, quartic = analytical_gap(barrier)
    material = linear_material(barrier)
    width = interface_width(material)
    assert width == pytest.approx(np.sqrt(2.0 * KAPPA / quartic) / (beta - alpha), rel=1e-6)
    tangent = common_tangent(material)
    assert planar_interface_10_90(material, tangent, width) == pytest.approx(TANH_10_90 * width, rel=1e-4)
    assert interface_cells(material, 20e-9) == pytest.approx(TANH_10_90 * width / 20e-9, rel=1e-12)


def test_tanh_profile_ends_and_10_90_points():
    """tanh_profile runs from x_alpha (z -> -inf) to x_beta (z -> +inf) through their mean at
    z = 0, and reaches 10 % and 90 % of the way at z = -+ w atanh(0.8) (tanh(atanh 0.8) = 0.8)."""
    a, b, w = 0.17, 0.28, 80e-9
    z = np.array([-1e-5, -w * np.arctanh(0.8), 0.0, w * np.arctanh(0.8), 1e-5])
    np.testing.assert_allclose(tanh_profile(a, b, w, z), [a, a + 0.1 * (b - a), 0.5 * (a + b), a + 0.9 * (b - a), b],
                               atol=1e-14)


@pytest.mark.parametrize("name", ["nc91", "nm91"])
def test_shipped_gap_is_a_real_common_tangent(name):
    """Tabulated OCV: the result satisfies the defining equations mu(x_alpha) = mu(x_beta)
    = chord slope, f_hom stays on or above the tangent over the window, the two phases span
    most of the window and the plateau is the ~4.2 V of the table."""
    material = load_material(name)
    tangent = common_tangent(material)
    a, b = tangent.x_alpha, tangent.x_beta
    assert X_LOW < a < b < X_HIGH and b - a > 0.6 * DELTA
    mu_a, mu_b = homogeneous_chemical_potential(material, [a, b])
    f_a, f_b = homogeneous_free_energy(material, [a, b])
    assert mu_a == pytest.approx(tangent.mu_plateau, abs=1e-6)
    assert mu_b == pytest.approx(tangent.mu_plateau, abs=1e-6)
    assert (f_b - f_a) / (b - a) == pytest.approx(tangent.mu_plateau, abs=1e-6)
    x = np.linspace(X_LOW, X_HIGH, 3001)
    g = homogeneous_free_energy(material, x) - f_a - tangent.mu_plateau * (x - a)
    assert g.min() > -1e-6
    assert tangent.voltage_plateau == pytest.approx(4.2, abs=0.01)


@pytest.mark.parametrize("name", ["nc91", "nm91"])
def test_shipped_interface_spans_three_cells_of_both_default_grids(name):
    """The 10-90 % width covers >= 3 cells of the 1-D default (2 um / 100 cells = 20 nm) and
    of the 50 nm voxel default; the quartic-fit width agrees within 2 % with the reference
    ODE solution on the tabulated OCV."""
    material = load_material(name)
    assert interface_cells(material, 20e-9) >= 3.0
    assert interface_cells(material, 50e-9) >= 3.0
    width = interface_width(material)
    reference = planar_interface_10_90(material, common_tangent(material), width)
    assert reference >= 150e-9
    assert TANH_10_90 * width == pytest.approx(reference, rel=0.02)
