"""Analytical cases: the solvers against closed-form solutions (kept small and fast; the
convergence studies behind the tolerances are in tests/test_sphere_transport.py,
tests/test_voxel_elasticity.py and tests/test_sphere_stress.py).

1. Crank: constant D, constant outward surface flux n_s from a sphere of radius a,
   initially x0 (Crank, The Mathematics of Diffusion, 2nd ed., eq. 6.44, flux reversed):
       x(r,t) = x0 - (n_s a/D) [3Dt/a^2 + r^2/(2a^2) - 3/10
                 - (2a/r) sum_n sin(alpha_n r/a) / (alpha_n^2 sin alpha_n) exp(-D alpha_n^2 t/a^2)],
   tan(alpha_n) = alpha_n, against the 1-D finite-volume solver (1C, 100 cells).
2. Eshelby (1957): a spherical inclusion with a dilatational eigenstrain eps* in a periodic
   box of the same isotropic solid: strain at the centre S eps* (1 - f), S = (1+nu)/(3(1-nu)),
   f the inclusion volume fraction (derivation in tests/test_voxel_elasticity.py).
3. Free sphere, voxels: an isotropic traction-free sphere with eps* = beta0 (r/R)^2 I
   (Timoshenko & Goodier, thermal stresses in a sphere):
       sigma_rr = 2 E beta0 (R^2 - r^2) / (5 (1-nu) R^2),
       sigma_tt = E beta0 / (1-nu) (2/5 + r^2/(5R^2) - r^2/R^2) ,
   against cm.mechanics.solve_elasticity.
4. Free sphere, 1-D: the same closed form against cm.mechanics.free_sphere_stress (the
   shell quadrature the 1-D runs use).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from chemomech.mechanics.elastic_constants import isotropic_stiffness
from chemomech.validation.core import Outcome, below, new_figure

E_TEST = 200e9  # Pa, Young's modulus of the isotropic test solid (chosen by hand)
NU_TEST = 0.3  # -, its Poisson ratio
BETA0 = 0.01  # -, eigenstrain amplitude (order of the lattice change / 3)
VOXEL = 50e-9  # m (strains and stresses do not depend on it)

CRANK_RADIUS = 5e-6  # m
CRANK_LOG10_D = -14.0  # log10 m2/s
CRANK_CELLS = 100
CRANK_TAU = (0.1, 0.2, 0.4, 0.8, 1.1)  # compared times / (a^2/D), before the 4.3 V cutoff
CRANK_BOUND = 2e-4  # x error / (n_s a/D): tests/test_sphere_transport.py budget (2nd-order
# space error 2e-5 + backward-Euler start-up <= 0.9e-4 at tolerance 1e-8, x2 margin)


def tan_roots(count: int = 200) -> np.ndarray:
    """Positive roots of tan(alpha) = alpha: the n-th in (n pi, (n + 1/2) pi)."""
    f = lambda alpha: np.sin(alpha) - alpha * np.cos(alpha)  # noqa: E731
    return np.array([brentq(f, n * np.pi + 1e-9, (n + 0.5) * np.pi, xtol=1e-15) for n in range(1, count + 1)])


def crank_sphere(r, t, a, d, x0, n_s, roots=None) -> np.ndarray:
    """Crank's series (module docstring, item 1) at radii r [m] and time t [s]."""
    r = np.atleast_1d(np.asarray(r, dtype=float))
    alpha = (tan_roots() if roots is None else roots)[None, :]
    series = np.sum(np.sin(alpha * (r / a)[:, None]) / (alpha**2 * np.sin(alpha)) * np.exp(-d * alpha**2 * t / a**2), axis=1)
    return x0 - n_s * a / d * (3.0 * d * t / a**2 + (r / a) ** 2 / 2.0 - 0.3 - 2.0 * (a / r) * series)


def crank_case() -> Outcome:
    from chemomech.constants import FARADAY
    from chemomech.geometry import SphereMesh
    from chemomech.materials import load_material
    from chemomech.protocol import cc_charge
    from chemomech.transport.sphere_transport import SolverOptions, run_sphere

    # NC91 with one D at every x and an isotropic tensor: the 1-D D_eff is exactly 1e-14
    D_POINTS = len(load_material("nc91").raw["diffusivity"]["x"])  # a constant table of the file's length
    material = load_material("nc91", {"diffusivity.log10_m2_s": [CRANK_LOG10_D] * D_POINTS,
                                      "diffusivity.out_of_plane_ratio": 1.0})
    d = 10.0**CRANK_LOG10_D
    tau = CRANK_RADIUS**2 / d
    mesh = SphereMesh(CRANK_RADIUS, CRANK_CELLS)
    sol = run_sphere(material, mesh, cc_charge(c_rate=1.0, v_max=4.3), SolverOptions(tolerance=1e-8))
    n_s = sol.current_density[-1] / (FARADAY * material.c_max)  # m/s, flux in units of x
    scale = n_s * CRANK_RADIUS / d
    roots = tan_roots()
    fig, ax = new_figure((5.5, 4.0))
    worst = 0.0
    balance = 0.0
    for fraction in CRANK_TAU:
        k = int(np.argmin(np.abs(sol.time - fraction * tau)))
        exact = crank_sphere(mesh.centres, sol.time[k], CRANK_RADIUS, d, material.x_initial, n_s, roots)
        worst = max(worst, np.max(np.abs(sol.states[k] - exact)) / scale)
        balance = max(balance, abs(mesh.volume_average(sol.states[k]) - (material.x_initial - 3 * n_s * sol.time[k] / CRANK_RADIUS)))
        line, = ax.plot(mesh.centres * 1e6, exact, lw=1.0, label=f"t = {sol.time[k] / tau:.2g} a$^2$/D")
        ax.plot(mesh.centres[::5] * 1e6, sol.states[k][::5], "o", ms=3, color=line.get_color())
    ax.set_xlabel("r [um]")
    ax.set_ylabel("Li site fraction x [-]")
    ax.set_title("Constant-flux sphere: Crank's series (lines) vs 1-D solver (dots)", fontsize=9)
    ax.set_ylim(0.0, 1.02)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    fig.tight_layout()
    rows = [
        below("max |x - x_Crank| / (n_s a/D), 5 times", worst, CRANK_BOUND,
              "Crank (1975) eq. 6.44; bound from tests/test_sphere_transport.py"),
        below("Li balance |<x> - (x0 - 3 n_s t/a)|", balance, 1e-12, "conservation law (finite volumes telescope)"),
    ]
    text = (f"NC91 with D = 1e-14 m2/s everywhere, a = 5 um, {CRANK_CELLS} cells, 1C (n_s a/D = {scale:.3f}), "
            "compared at 0.1-1.1 a^2/D (before the 4.3 V cutoff).")
    return Outcome(rows, {"analytical_crank.png": fig}, text)


def eshelby_case(n: int = 32, radius: int = 6) -> Outcome:
    """Inclusion of `radius` voxels in an n^3 periodic box (tolerance 1 %: the staircase
    sphere's error is 1.3e-3 at radius 6, tests/test_voxel_elasticity.py)."""
    from chemomech.mechanics import solve_elasticity

    z, y, x = np.indices((n, n, n)) - n // 2
    inclusion = np.sqrt(x * x + y * y + z * z) <= radius
    fraction = inclusion.mean()
    eps0 = BETA0
    eigenstrain = np.eye(3)[:, :, None, None, None] * (eps0 * inclusion)
    result = solve_elasticity(eigenstrain, isotropic_stiffness(E_TEST, NU_TEST), VOXEL, tolerance=1e-9)
    s = (1 + NU_TEST) / (3 * (1 - NU_TEST))
    expected = s * eps0 * (1 - fraction)
    centre = np.diag(result["strain"][:, :, n // 2, n // 2, n // 2])
    error = np.max(np.abs(centre - expected)) / expected
    # along the x axis through the centre: tr(eps) = 3 S eps* (chi - f) exactly (periodic array)
    trace = np.trace(result["strain"])[n // 2, n // 2, :]
    fig, ax = new_figure((5.5, 3.6))
    xs = np.arange(n) - n // 2
    ax.plot(xs, 3 * s * eps0 * ((np.abs(xs) <= radius) - fraction) * 100, "-", drawstyle="steps-mid", label="Eshelby, periodic: 3 S eps* (chi - f)")
    ax.plot(xs, trace * 100, "o", ms=3, label="voxel solver")
    ax.set_xlabel("x [voxels from the inclusion centre]")
    ax.set_ylabel("volumetric strain tr(eps) [%]")
    ax.set_title(f"Eshelby inclusion (R = {radius} voxels, eps* = 1 % I, nu = {NU_TEST})", fontsize=9)
    ax.set_ylim(-0.3, 2.7)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    rows = [below("centre strain, |eps - S eps*(1-f)| / (S eps*(1-f))", error, 0.01,
                  "Eshelby (1957); 1 % from tests/test_voxel_elasticity.py")]
    return Outcome(rows, {"analytical_eshelby.png": fig},
                   f"Isotropic solid, {n}^3 periodic box, inclusion radius {radius} voxels, f = {fraction:.4f}.")


def free_sphere_exact(r, radius, surface):
    """(sigma_rr, sigma_tt) [Pa] for eps* = BETA0 (r/radius)^2 I in a free sphere of outer radius `surface`."""
    scale = E_TEST * BETA0 / (1 - NU_TEST)
    rr = 2 * scale * (surface**2 - r**2) / (5 * radius**2)
    tt = scale * (2 * surface**2 / 5 + r**2 / 5 - r**2) / radius**2
    return rr, tt


def free_sphere_voxel_case(radius: int = 16) -> Outcome:
    """R = 16 voxels. Inside r < R/2 the error is the staircase surface's O(h/R) effect
    (measured 0.49 % for sigma_rr, 0.41 % hydrostatic): bound 1 %, as in
    tests/test_voxel_elasticity.py. Outer radius = that of the sphere with the voxel body's
    volume."""
    from chemomech.mechanics import solve_elasticity

    n = 2 * radius + 2
    z, y, x = np.indices((n, n, n), dtype=float) + 0.5 - n / 2
    r = np.sqrt(x * x + y * y + z * z)
    mask = r < radius
    beta = BETA0 * (r / radius) ** 2
    result = solve_elasticity(np.eye(3)[:, :, None, None, None] * beta, isotropic_stiffness(E_TEST, NU_TEST),
                              VOXEL, mask, tolerance=1e-8)
    surface = (3 * mask.sum() / (4 * np.pi)) ** (1 / 3)
    scale = E_TEST * BETA0 / (1 - NU_TEST)
    exact_rr, exact_tt = free_sphere_exact(r, radius, surface)
    stress = result["stress"]
    normal = np.stack([x, y, z]) / r
    rr = np.einsum("i...,ij...,j...->...", normal, stress, normal)
    hydro = np.trace(stress) / 3
    core = mask & (r < radius / 2)
    rr_error = np.max(np.abs(rr - exact_rr)[core]) / scale
    hydro_error = np.max(np.abs(hydro - (exact_rr + 2 * exact_tt) / 3)[core]) / scale
    fig, ax = new_figure((5.5, 4.0))
    rho = np.linspace(0, 1, 100)
    ex_rr, ex_tt = free_sphere_exact(rho * radius, radius, radius)
    ax.plot(r[mask] / radius, rr[mask] / 1e6, ".", ms=2, alpha=0.4, label="voxel sigma_rr")
    ax.plot(r[mask] / radius, hydro[mask] / 1e6, ".", ms=2, alpha=0.4, label="voxel hydrostatic")
    ax.plot(rho, ex_rr / 1e6, "k-", label="closed form sigma_rr")
    ax.plot(rho, (ex_rr + 2 * ex_tt) / 3 / 1e6, "k--", label="closed form hydrostatic")
    ax.set_xlabel("r / R")
    ax.set_ylabel("stress [MPa]")
    ax.set_title(f"Free sphere, eps* = 1 % (r/R)$^2$ I, R = {radius} voxels", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    source = "Timoshenko & Goodier (thermal stress in a sphere); 1 % from tests/test_voxel_elasticity.py"
    rows = [
        below("voxel sphere: max sigma_rr error, r < R/2 [/ E beta0/(1-nu)]", rr_error, 0.01, source),
        below("voxel sphere: max hydrostatic error, r < R/2 [/ E beta0/(1-nu)]", hydro_error, 0.01, source),
    ]
    return Outcome(rows, {"analytical_free_sphere_voxel.png": fig},
                   f"Isotropic solid (E = 200 GPa, nu = 0.3), sphere of {radius} voxels, {int(mask.sum())} solid voxels.")


def free_sphere_1d_case(cells: int = 100) -> Outcome:
    """The 1-D shell quadrature is second order (midpoint sampling of beta): 5e-5 measured
    at 100 cells, bound 1.5e-4 (tests/test_sphere_stress.py)."""
    from chemomech.geometry import SphereMesh
    from chemomech.mechanics import free_sphere_stress

    radius = 5e-6
    mesh = SphereMesh(radius, cells)
    r = mesh.centres
    stress = free_sphere_stress(mesh, BETA0 * (r / radius) ** 2, E_TEST, NU_TEST)
    rr, tt = free_sphere_exact(r, radius, radius)
    scale = E_TEST * BETA0 / (1 - NU_TEST)
    error = max(np.max(np.abs(stress["radial"] - rr)), np.max(np.abs(stress["hoop"] - tt))) / scale
    rows = [below("1-D sphere: max |sigma - closed form| [/ E beta0/(1-nu)]", error, 1.5e-4,
                  "Timoshenko & Goodier; bound from tests/test_sphere_stress.py")]
    return Outcome(rows, {}, f"free_sphere_stress on {cells} shells, eps* = 1 % (r/R)^2.")
