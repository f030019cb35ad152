"""Thermodynamics of the optional H2-H3 phase separation (physics.phase_separation): a
miscibility gap in the homogeneous free energy plus a gradient energy (Cahn-Hilliard).

All energies are per mole of Li sites (x the Li site fraction of Li_x MO2, x = 1 pristine).

Homogeneous free energy [J/mol]

    f_hom(x) = f_ocv(x) + f_gap(x)

    f_ocv:  df_ocv/dx = mu_ocv(x) = -F U(x)      U the tabulated OCV [V] (Material.ocv),
                                                 F the Faraday constant [C/mol]
    f_gap:  f_gap(x) = W s^2 (1 - s)^2           for s = (x - x_low) / Delta in [0, 1],
                                                 0 outside,  Delta = x_high - x_low [-]

with the window [x_low, x_high] and the hump height W = gap_barrier_j_mol [J/mol] of the
material's [phase_separation] table. Its derivatives inside the window (0 outside):

    mu_gap     = df_gap/dx  = (W / Delta)   2 s (1 - s)(1 - 2 s)           [J/mol]
    dmu_gap/dx = d2f_gap/dx2 = (W / Delta^2) (2 - 12 s + 12 s^2)           [J/mol]

f_gap vanishes with its slope at both ends of the window, so mu_gap is continuous and
averages to zero over the window (the mean voltage there stays the tabulated one);
dmu_gap/dx jumps from 0 to 2 W / Delta^2 at the window ends.

Chemical potential of Li with the gradient energy (kappa = gradient_energy_j_m2_mol
[J m2/mol]):

    mu = mu_ocv(x) + mu_gap(x) - kappa lap(x)                              [J/mol]

the variational derivative of the free energy  int ( f_hom(x) + kappa/2 |grad x|^2 ) dV
per mole of sites. mu is the Li potential relative to Li metal: the equilibrium voltage of
a homogeneous state is -mu_hom / F.

Coexistence (common tangent). Two compositions x_alpha < x_beta coexist when they share
the chemical potential and the tangent: mu_hom(x_alpha) = mu_hom(x_beta) = mu_plateau =
(f_hom(x_beta) - f_hom(x_alpha)) / (x_beta - x_alpha); the plateau voltage is
-mu_plateau / F. Between them f_hom lies above the tangent L(x) = f_hom(x_alpha) +
mu_plateau (x - x_alpha).

Linear OCV over the window (analytical case; mu_ocv' = s0 > 0 constant there). f_ocv is a
parabola, f_gap = A (x - x_low)^2 (x - x_high)^2 with A = W / Delta^4, so f_hom is a quartic
symmetric about x_m = (x_low + x_high)/2 inside the window:

    - spinodal (f_hom'' < 0 at x_m) iff W > s0 Delta^2;
    - coexisting compositions x_m -+ delta, delta = (Delta/2) sqrt(1 - s0 Delta^2 / W);
    - plateau mu_plateau = mu_ocv(x_m), i.e. voltage U(x_m);
    - f_hom - L = A (x - x_alpha)^2 (x - x_beta)^2 exactly, for x in the window.

Planar interface. In equilibrium mu = mu_plateau everywhere; across a flat interface
(coordinate z) f_hom'(x) - kappa x'' = mu_plateau. Multiplying by x' and integrating from
a bulk phase (where x' = 0 and f_hom = L) gives the first integral

    kappa/2 x'^2 = f_hom(x) - L(x) = g(x)   [J/mol].

For the quartic g = A (x - x_alpha)^2 (x - x_beta)^2: x' = sqrt(2A/kappa) (x - x_alpha)
(x_beta - x), solved by

    x(z) = (x_alpha + x_beta)/2 + (x_beta - x_alpha)/2 tanh(z / w),
    w = 2 / ((x_beta - x_alpha) sqrt(2 A / kappa)) = sqrt(2 kappa / A) / (x_beta - x_alpha)  [m]

(insert: x' = (x_beta - x_alpha)/(2w) sech^2(z/w) and (x - x_alpha)(x_beta - x) =
(x_beta - x_alpha)^2/4 sech^2(z/w)). The 10-90 % width, where x goes from 10 % to 90 % of
the way from x_alpha to x_beta, is 2 w atanh(0.8) = 2.197 w. For a tabulated (not linear)
OCV, A is the least-squares fit of A (x - x_alpha)^2 (x - x_beta)^2 to g over
[x_alpha, x_beta] (exact in the linear case).

The shipped kappa is a numerical choice that spreads the interface over several cells of
the default grids (models/README.md, "Phase separation (H2-H3)"); the physical H2-H3
interface is nanometres thin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.constants import FARADAY
from chemomech.transport.coupling import chemical_potential_slope

# f_ocv by integration of mu_ocv over fixed panels of [0, 1] (width 5e-4): 4-point
# Gauss-Legendre per panel is exact for the piecewise-cubic (PCHIP) OCV on every panel
# that holds no table point inside it.
_FREE_ENERGY_PANELS = 2000
_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(4)

# the 10-90 % width of a tanh profile is TANH_10_90 w
TANH_10_90 = 2.0 * np.arctanh(0.8)


@dataclass(frozen=True)
class CommonTangent:
    """The two coexisting compositions and their shared chemical potential.

    x_alpha < x_beta: the coexisting Li site fractions [-] (x_alpha the Li-poor, H3-like
    phase, x_beta the Li-rich, H2-like phase); mu_plateau: their chemical potential, the
    slope of the common tangent [J/mol]; voltage_plateau = -mu_plateau / F [V]."""

    x_alpha: float
    x_beta: float
    mu_plateau: float
    voltage_plateau: float


def _has_gap_table(material) -> bool:
    return material.gap_x_low is not None and material.gap_x_high is not None


def _require_gap_table(material) -> None:
    """ValueError unless the material has a [phase_separation] table."""
    if not _has_gap_table(material) or material.gap_barrier_j_mol is None:
        raise ValueError(
            f"material {material.name} ({material.source_file}) has no [phase_separation] table: "
            f"no miscibility gap (add x_low, x_high, barrier_J_mol, gradient_energy_J_m2_mol; "
            f"see models/README.md, 'Phase separation (H2-H3)')"
        )


def gap_chemical_potential(material, x) -> tuple[np.ndarray, np.ndarray]:
    """The hump's chemical potential and its slope, (mu_gap, dmu_gap/dx) [J/mol, J/mol]:

        mu_gap     = (W / Delta)   2 s (1 - s)(1 - 2 s)
        dmu_gap/dx = (W / Delta^2) (2 - 12 s + 12 s^2)

    for s = (x - x_low) / Delta in [0, 1], Delta = x_high - x_low, W = gap_barrier_j_mol;
    both zero outside the window and everywhere when the material has no
    [phase_separation] table."""
    x = np.asarray(x, dtype=float)
    mu = np.zeros_like(x)
    dmu = np.zeros_like(x)
    if not _has_gap_table(material) or not material.gap_barrier_j_mol:
        return mu, dmu
    delta = material.gap_x_high - material.gap_x_low
    barrier = material.gap_barrier_j_mol
    s = (x - material.gap_x_low) / delta
    inside = (s >= 0.0) & (s <= 1.0)
    si = s[inside]
    mu[inside] = barrier / delta * 2.0 * si * (1.0 - si) * (1.0 - 2.0 * si)
    dmu[inside] = barrier / delta**2 * (2.0 - 12.0 * si + 12.0 * si**2)
    return mu, dmu


def homogeneous_chemical_potential(material, x) -> np.ndarray:
    """mu_hom = mu_ocv + mu_gap = -F U(x) + mu_gap(x) [J/mol]: the chemical potential of a
    uniform state (no gradient term)."""
    x = np.asarray(x, dtype=float)
    return -FARADAY * np.asarray(material.ocv(x), dtype=float) + gap_chemical_potential(material, x)[0]


def _homogeneous_slope(material, x) -> np.ndarray:
    """d mu_hom / dx = d2 f_hom / dx2 [J/mol] (the OCV part by central differences)."""
    return chemical_potential_slope(material, x) + gap_chemical_potential(material, x)[1]


def _integral_mu_ocv(material, a, b) -> np.ndarray:
    """int_a^b mu_ocv dx [J/mol] by 4-point Gauss-Legendre on [a, b] (elementwise)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    half = 0.5 * (b - a)
    nodes = (0.5 * (a + b))[..., None] + half[..., None] * _GAUSS_NODES
    mu = -FARADAY * np.asarray(material.ocv(nodes), dtype=float)
    return half * (mu @ _GAUSS_WEIGHTS)


def _ocv_free_energy(material, x) -> np.ndarray:
    """f_ocv(x) = int_0^x mu_ocv dx' [J/mol] (f_ocv(0) = 0): the sum over the whole panels
    below x plus the part of x's own panel."""
    x = np.asarray(x, dtype=float)
    n = _FREE_ENERGY_PANELS
    edges = np.linspace(0.0, 1.0, n + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(_integral_mu_ocv(material, edges[:-1], edges[1:]))])
    panel = np.clip(np.floor(x * n).astype(int), 0, n - 1)
    return cumulative[panel] + _integral_mu_ocv(material, edges[panel], x)


def _gap_free_energy(material, x) -> np.ndarray:
    """f_gap(x) = W s^2 (1 - s)^2 inside the window, 0 outside [J/mol]."""
    x = np.asarray(x, dtype=float)
    f = np.zeros_like(x)
    if not _has_gap_table(material) or not material.gap_barrier_j_mol:
        return f
    s = (x - material.gap_x_low) / (material.gap_x_high - material.gap_x_low)
    inside = (s >= 0.0) & (s <= 1.0)
    f[inside] = material.gap_barrier_j_mol * s[inside] ** 2 * (1.0 - s[inside]) ** 2
    return f


def homogeneous_free_energy(material, x) -> np.ndarray:
    """f_hom(x) = f_ocv(x) + f_gap(x) [J/mol], with f_ocv(x) = int_0^x (-F U) dx' (the
    constant is arbitrary: only differences and the convex hull matter)."""
    return _ocv_free_energy(material, x) + _gap_free_energy(material, x)


def _lower_hull(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Indices of the lower convex hull of the points (x_k, f_k), x rising (monotone chain;
    points on a hull edge are left out)."""
    # subtract the chord between the end points: the hull is unchanged, the numbers smaller
    f = f - (f[0] + (f[-1] - f[0]) * (x - x[0]) / (x[-1] - x[0]))
    hull: list[int] = []
    for k in range(len(x)):
        while len(hull) >= 2:
            i, j = hull[-2], hull[-1]
            if (f[j] - f[i]) * (x[k] - x[i]) >= (f[k] - f[i]) * (x[j] - x[i]):
                hull.pop()
            else:
                break
        hull.append(k)
    return np.array(hull)


def _refine_tangent(material, alpha: float, beta: float) -> tuple[float, float]:
    """Newton iteration on the common-tangent conditions
        r1 = mu(alpha) - mu(beta) = 0,
        r2 = (f(beta) - f(alpha)) / (beta - alpha) - mu(alpha) = 0
    (f = f_hom, mu = mu_hom), from a start within a grid step of the solution."""
    for _ in range(60):
        mu_a, mu_b = homogeneous_chemical_potential(material, [alpha, beta])
        f_a, f_b = homogeneous_free_energy(material, [alpha, beta])
        d_a, d_b = _homogeneous_slope(material, [alpha, beta])
        chord = (f_b - f_a) / (beta - alpha)
        residual = np.array([mu_a - mu_b, chord - mu_a])
        jacobian = np.array([
            [d_a, -d_b],
            [(chord - mu_a) / (beta - alpha) - d_a, (mu_b - chord) / (beta - alpha)],
        ])
        step = np.linalg.solve(jacobian, -residual)
        alpha, beta = alpha + step[0], beta + step[1]
        if np.max(np.abs(step)) < 1e-14:
            break
    return float(alpha), float(beta)


def common_tangent(material, points: int = 20001) -> CommonTangent:
    """The coexisting compositions of the miscibility gap: the edge of the lower convex
    hull of f_hom [J/mol] on `points` grid points over the window [x_low, x_high] that
    bridges the most concave point (the minimum of d2f_hom/dx2), refined by Newton's
    method on mu_hom(x_alpha) = mu_hom(x_beta) = (f_hom(x_beta) - f_hom(x_alpha)) /
    (x_beta - x_alpha) = mu_plateau. voltage_plateau = -mu_plateau / F [V].

    ValueError (naming the material) when it has no [phase_separation] table, when f_hom
    is convex over the window (W at or below the spinodal threshold, s0 Delta^2 for an OCV
    of slope mu_ocv' = s0 there), when the gap is narrower than the grid, or when the
    tangent would touch f_hom at a window end (the gap then reaches outside the window)."""
    _require_gap_table(material)
    low, high = material.gap_x_low, material.gap_x_high
    x = np.linspace(low, high, points)
    slope = _homogeneous_slope(material, x)
    if slope.min() >= 0.0:
        mean_slope = float(np.mean(chemical_potential_slope(material, x)))
        raise ValueError(
            f"material {material.name}: no miscibility gap: f_hom is convex over the window "
            f"[{low:g}, {high:g}]; barrier_J_mol = {material.gap_barrier_j_mol:g} is at or below the "
            f"spinodal threshold (about s0 Delta^2 = {mean_slope * (high - low) ** 2:.4g} J/mol for the "
            f"mean OCV slope there)"
        )
    hull = _lower_hull(x, homogeneous_free_energy(material, x))
    most_concave = int(np.argmin(slope))
    edge = int(np.searchsorted(hull, most_concave))
    if edge == 0 or edge == len(hull) or hull[edge] == most_concave:
        raise ValueError(
            f"material {material.name}: the miscibility gap is narrower than the grid of "
            f"{points} points over [{low:g}, {high:g}]; use more points or a larger barrier_J_mol"
        )
    i, j = int(hull[edge - 1]), int(hull[edge])
    if i == 0 or j == points - 1:
        raise ValueError(
            f"material {material.name}: the common tangent touches f_hom at an end of the window "
            f"[{low:g}, {high:g}]: the two-phase region reaches outside it"
        )
    alpha, beta = _refine_tangent(material, float(x[i]), float(x[j]))
    if not (low < alpha < beta < high):
        raise ValueError(
            f"material {material.name}: the common tangent did not converge inside the window "
            f"[{low:g}, {high:g}] (x_alpha = {alpha:g}, x_beta = {beta:g})"
        )
    mu_plateau = float(homogeneous_chemical_potential(material, alpha))
    return CommonTangent(x_alpha=alpha, x_beta=beta, mu_plateau=mu_plateau,
                         voltage_plateau=-mu_plateau / FARADAY)


def _quartic_coefficient(material, tangent: CommonTangent, points: int = 2001) -> float:
    """A [J/mol]: least-squares fit of g(x) = f_hom(x) - L(x) by A (x - x_alpha)^2
    (x - x_beta)^2 on a uniform grid over [x_alpha, x_beta], L the common tangent;
    A = sum(g q) / sum(q q) with q = (x - x_alpha)^2 (x - x_beta)^2. Exact (A = W/Delta^4)
    for an OCV linear over the window."""
    a, b = tangent.x_alpha, tangent.x_beta
    x = np.linspace(a, b, points)
    f = homogeneous_free_energy(material, x)
    g = f - f[0] - tangent.mu_plateau * (x - a)
    q = (x - a) ** 2 * (x - b) ** 2
    return float(np.sum(g * q) / np.sum(q * q))


def interface_width(material) -> float:
    """w [m] of the planar equilibrium interface x(z) = (x_alpha + x_beta)/2 +
    (x_beta - x_alpha)/2 tanh(z / w):

        w = 2 / ((x_beta - x_alpha) sqrt(2 A / kappa)) = sqrt(2 kappa / A) / (x_beta - x_alpha)

    kappa = gradient_energy_j_m2_mol [J m2/mol], A [J/mol] the quartic fit of f_hom minus
    the common tangent over [x_alpha, x_beta] (exact, W / Delta^4, when U is linear over
    the window). The 10-90 % width is 2 w atanh(0.8) = 2.197 w."""
    tangent = common_tangent(material)
    quartic = _quartic_coefficient(material, tangent)
    kappa = material.gradient_energy_j_m2_mol
    return float(np.sqrt(2.0 * kappa / quartic) / (tangent.x_beta - tangent.x_alpha))


def tanh_profile(x_alpha: float, x_beta: float, width: float, z) -> np.ndarray:
    """x(z) = (x_alpha + x_beta)/2 + (x_beta - x_alpha)/2 tanh(z / width) [-]: the planar
    equilibrium interface centred at z = 0 [m], x_alpha at z -> -inf, x_beta at z -> +inf
    (width w [m] as from interface_width)."""
    z = np.asarray(z, dtype=float)
    return 0.5 * (x_alpha + x_beta) + 0.5 * (x_beta - x_alpha) * np.tanh(z / width)


def interface_cells(material, spacing_m: float) -> float:
    """The number of cells of size spacing_m [m] spanned by the interface's 10-90 % width,
    2 w atanh(0.8) / spacing_m [-] (w from interface_width)."""
    return TANH_10_90 * interface_width(material) / spacing_m
