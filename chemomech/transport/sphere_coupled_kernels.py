"""Compiled (numba) kernels for the 1-D sphere with the optional coupling physics
(transport/coupling.py): stress-assisted diffusion, Li-slab-spacing diffusivity and
phase separation (Cahn-Hilliard), in one implicit step.

Unknowns: the Li site fraction x_i of the N shells (c = c_max x). Per steradian, with the
exact shell volumes V_i [m3], face areas A_f = r_f^2 [m2] and the distance g_f [m] between
the centres either side of face f (dr on a uniform mesh; geometry.sphere.SphereMesh.gaps):

    V_i (x_i - x_i^old)/dt = F_{i+1/2} - F_{i-1/2} - [i = N-1] A_R n_s               [m3/s]

    F_f = (A_f/g_f) D_f [ (x_b - x_a) + (mu_b - mu_a) / mu'_f ]  (face f between a = f-1, b = f)

the chemical-potential form J = -D grad x - D/(dmu_ocv/dx) grad(mu_extra) of coupling.py,
no flux at r = 0, and n_s = i/(F c_max) [m/s] the outward surface flux in units of x.
At the face: x_f = (x_a + x_b)/2, mu'_f = dmu_ocv/dx(x_f) [J/mol] (held above
DMU_FLOOR), D_f = D(x_f) S_f [m2/s]. mu_i = mu_extra of cell i [J/mol], each term only
when its option is on:

  stress_assisted_diffusion:
    mu_i += -Omega_v(x_i) sigma_i,   sigma_i = K (beta_mean - beta(x_i))             [Pa]
    K = 2E/(3(1-nu)) [Pa], beta the isotropic eigenstrain, beta_mean = sum V_j beta_j /
    sum V_j (the traction-free sphere's hydrostatic stress, mechanics/sphere_stress.py),
    Omega_v = 2 Omega_a + Omega_c [m3/mol] (d beta/dc = Omega_v/3).
  slab_spacing_diffusivity:
    S_f = exp(g eps_f),  eps_f = (sigma_a + sigma_b)/2 / (3 K_bulk)                   [-]
    g = s h_slab/(k_B T) (coupling.slab_diffusivity_factor), eps the mean elastic normal
    strain sigma_h/(3 K_bulk) of the orientation-averaged sphere (S_f = 1 when off).
  phase_separation:
    mu_i += mu_gap(x_i) - kappa lap_i,
    lap_i = [A_{i+1/2} (x_{i+1} - x_i)/g_{i+1/2} - A_{i-1/2} (x_i - x_{i-1})/g_{i-1/2}] / V_i  [1/m2]
    with zero gradient at r = 0 (A = 0 there) and at r = R (natural boundary condition).

Surface: the Butler-Volmer equilibrium potential is U(x_s) - mu_{N-1}/F, so
    V = U(x_s) - mu_{N-1}/F + (2RT/F) asinh(i/(2 i0(x_s))) + i L/sigma_e              [V]
with x_s extrapolated from the outer cell centre with the surface flux as in
sphere_kernels.surface_x, using the local effective diffusivity of the surface cell,
    x_s = x_{N-1} - (dr/2) n_s / (D(x_{N-1}) S_{N-1} m),  m = 1 + (d mu_{N-1}/dx_{N-1}) / mu'
(dr/2: the distance from the outer centre to the surface, half the outer shell)
(m from the local, stress part of mu; held at or above SURFACE_FACTOR_MIN), and x_s =
x_{N-1} with phase_separation on (natural boundary condition: zero gradient of x at r = R;
the flux is carried by the gradient of mu). The voltage is then sphere_kernels.voltage_at
with dr/2 scaled by 1/(S m) (or 0), minus mu_{N-1}/F; at constant voltage the current is
sphere_kernels.potentiostatic_current at the target voltage plus mu_{N-1}/F.

Newton's method on the backward-Euler residual. beta_mean couples every cell, so the
Jacobian is J = B + u w^T: B banded (pentadiagonal: the Laplacian inside mu makes cell i
depend on x_{i-2}..x_{i+2}; tridiagonal without phase separation), u_i = dR_i/d beta_mean
(partial), w_j = d beta_mean/dx_j = V_j beta'(x_j)/sum V. The Newton update solves
J delta = -R exactly by Sherman-Morrison: B y = -R and B z = u (one banded elimination
with two right-hand sides, `solve_banded`), delta = y - z (w.y)/(1 + w.z). At constant
voltage the derivative of the current in x_{N-1} and in mu_{N-1} is taken by finite
differences (steps 1e-7 in x and 1e-6 V); the dependence of the surface extrapolation's
factor 1/(S m) on the state is left out of the Jacobian (it only moves x_s by a fraction
of (dr/2) n_s/D), which slows nothing measurably.

Material functions are rows of the sphere tables (sphere_kernels.TABLE_*), interpolated
linearly on the 4001-point grid; slopes (D', mu'', Omega_v', beta', mu_gap') are those of
the interpolant, so the Jacobian is that of the discrete equations.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from chemomech.constants import FARADAY
from chemomech.transport.sphere_kernels import (
    TABLE_BETA,
    TABLE_D,
    TABLE_DMU,
    TABLE_MU_GAP,
    TABLE_OMEGA_V,
    potentiostatic_current,
    table_lookup,
    voltage_at,
)

DMU_FLOOR = 1.0  # J/mol, lower bound of dmu_ocv/dx in the drift term D/(dmu_ocv/dx)
SURFACE_FACTOR_MIN = 0.1  # lower bound of m in the surface extrapolation
CV_STEP_X = 1e-7  # finite-difference step of the constant-voltage current in x [-]
CV_STEP_V = 1e-6  # ... and in the equilibrium-potential shift [V]


@njit(cache=True)
def solve_banded(band, rhs):
    """Solve A X = rhs for a pentadiagonal A by Gaussian elimination with partial
    pivoting (the LAPACK gbsv scheme: row swaps widen the upper band from 2 to 4).

    band: shape (n, 7), band[i, k] = A[i, i + k - 2] (offsets -2..+4; columns 5 and 6
    are zero on entry, filled by the swaps); rhs: shape (n, m), m right-hand sides.
    Both are overwritten; returns X, shape (n, m)."""
    n = band.shape[0]
    m = rhs.shape[1]
    for j in range(n):
        # pivot: the largest |A[p, j]| of rows j..j+2
        p = j
        best = abs(band[j, 2])
        for r in range(j + 1, min(j + 3, n)):
            value = abs(band[r, j - r + 2])
            if value > best:
                best = value
                p = r
        if p != j:
            for c in range(j, min(j + 5, n)):
                tmp = band[j, c - j + 2]
                band[j, c - j + 2] = band[p, c - p + 2]
                band[p, c - p + 2] = tmp
            for k in range(m):
                tmp = rhs[j, k]
                rhs[j, k] = rhs[p, k]
                rhs[p, k] = tmp
        pivot = band[j, 2]
        for r in range(j + 1, min(j + 3, n)):
            factor = band[r, j - r + 2] / pivot
            if factor != 0.0:
                for c in range(j, min(j + 5, n)):
                    band[r, c - r + 2] -= factor * band[j, c - j + 2]
                for k in range(m):
                    rhs[r, k] -= factor * rhs[j, k]
    out = np.empty((n, m))
    for i in range(n - 1, -1, -1):
        for k in range(m):
            s = rhs[i, k]
            for c in range(i + 1, min(i + 5, n)):
                s -= band[i, c - i + 2] * out[c, k]
            out[i, k] = s / band[i, 2]
    return out


@njit(cache=True)
def laplacian_weights(volumes, areas, gaps):
    """Finite-volume spherical Laplacian lap_i = lo_i (x_{i-1} - x_i) + hi_i (x_{i+1} - x_i)
    [1/m2]: lo_i = A_{i-1/2}/(g_{i-1/2} V_i) (0 for i = 0, A = 0 at r = 0), hi_i =
    A_{i+1/2}/(g_{i+1/2} V_i) for i < N-1 and hi_{N-1} = 0 (zero gradient at r = R); g the
    centre distances per face (gaps). Returns (lo, hi)."""
    n = volumes.shape[0]
    lo = np.empty(n)
    hi = np.empty(n)
    for i in range(n):
        lo[i] = areas[i] / (gaps[i] * volumes[i])
        hi[i] = areas[i + 1] / (gaps[i + 1] * volumes[i]) if i < n - 1 else 0.0
    return lo, hi


@njit(cache=True)
def cell_fields(x, table, volumes, areas, gaps, stress_drift, slab, phase, sphere_modulus, kappa,
                mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx, weights, lap_mid):
    """Fill, per cell i, the extra chemical potential mu_i [J/mol] (module docstring), its
    local slope dmu_dx_i = d(mu_i)/d(x_i) without the Laplacian [J/mol], its slope in
    beta_mean dmu_dbeta_i [J/mol], the hydrostatic stress sigma_i = K (beta_mean -
    beta(x_i)) [Pa] (0 when neither stress option is on), dsigma_dx_i = -K beta'(x_i) [Pa],
    weights w_i = V_i beta'(x_i)/sum V [-] (d beta_mean/dx_i) and lap_mid_i = lo_i + hi_i
    [1/m2] (only with phase). Returns beta_mean [-]."""
    n = x.shape[0]
    needs_stress = stress_drift or slab
    total_volume = 0.0
    beta_mean = 0.0
    if needs_stress:
        for i in range(n):
            beta, _ = table_lookup(table, TABLE_BETA, x[i])
            beta_mean += volumes[i] * beta
            total_volume += volumes[i]
        beta_mean /= total_volume
    for i in range(n):
        mu[i] = 0.0
        dmu_dx[i] = 0.0
        dmu_dbeta[i] = 0.0
        sigma[i] = 0.0
        dsigma_dx[i] = 0.0
        weights[i] = 0.0
        lap_mid[i] = 0.0
        if needs_stress:
            beta, dbeta = table_lookup(table, TABLE_BETA, x[i])
            sigma[i] = sphere_modulus * (beta_mean - beta)
            dsigma_dx[i] = -sphere_modulus * dbeta
            weights[i] = volumes[i] * dbeta / total_volume
        if stress_drift:
            omega, domega = table_lookup(table, TABLE_OMEGA_V, x[i])
            mu[i] -= omega * sigma[i]
            dmu_dx[i] -= domega * sigma[i] + omega * dsigma_dx[i]
            dmu_dbeta[i] -= omega * sphere_modulus
        if phase:
            gap, dgap = table_lookup(table, TABLE_MU_GAP, x[i])
            mu[i] += gap
            dmu_dx[i] += dgap
    if phase:
        lo, hi = laplacian_weights(volumes, areas, gaps)
        for i in range(n):
            lap = 0.0
            if i > 0:
                lap += lo[i] * (x[i - 1] - x[i])
            if i < n - 1:
                lap += hi[i] * (x[i + 1] - x[i])
            mu[i] -= kappa * lap
            lap_mid[i] = lo[i] + hi[i]
    return beta_mean


@njit(cache=True)
def field_arrays(n):
    """Seven work arrays (N,) for cell_fields: mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx,
    weights, lap_mid."""
    return (np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n),
            np.empty(n))


@njit(cache=True)
def slab_factor(sigma_a, sigma_b, strain_per_stress, slab_gain):
    """S_f = exp(g eps_f), eps_f = (sigma_a + sigma_b)/2 * strain_per_stress [-], with
    strain_per_stress = 1/(3 K_bulk) [1/Pa] and g = s h_slab/(k_B T) [-]."""
    return np.exp(slab_gain * (0.5 * (sigma_a + sigma_b) * strain_per_stress))


@njit(cache=True)
def surface_half_step(x_cell, sigma_cell, dmu_dx_cell, half_dr_flux_per_current, table,
                      stress_drift, slab, phase, strain_per_stress, slab_gain):
    """(dr/2)/(F c_max) scaled by 1/(S m) for the surface extrapolation x_s = x_{N-1} -
    that * i / D(x_{N-1}) (module docstring); 0 with phase separation (x_s = x_{N-1})."""
    if phase:
        return 0.0
    scale = 1.0
    if slab:
        scale *= slab_factor(sigma_cell, sigma_cell, strain_per_stress, slab_gain)
    if stress_drift:
        slope, _ = table_lookup(table, TABLE_DMU, x_cell)
        slope = max(slope, DMU_FLOOR)
        scale *= max(1.0 + dmu_dx_cell / slope, SURFACE_FACTOR_MIN)
    return half_dr_flux_per_current / scale


@njit(cache=True)
def coupled_voltage(x, current_density, table, volumes, areas, gaps, two_rt_f, ohmic_length_over_sigma,
                    half_dr_flux_per_current, stress_drift, slab, phase, sphere_modulus,
                    strain_per_stress, slab_gain, kappa):
    """Cell voltage of state x under `current_density` [A/m2]:
    V = voltage_at(x_{N-1}, i, half-step scaled as in `surface_half_step`) - mu_{N-1}/F [V]."""
    n = x.shape[0]
    mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx, weights, lap_mid = field_arrays(n)
    cell_fields(x, table, volumes, areas, gaps, stress_drift, slab, phase, sphere_modulus, kappa,
                mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx, weights, lap_mid)
    half = surface_half_step(x[n - 1], sigma[n - 1], dmu_dx[n - 1], half_dr_flux_per_current, table,
                             stress_drift, slab, phase, strain_per_stress, slab_gain)
    return (voltage_at(x[n - 1], current_density, table, two_rt_f, ohmic_length_over_sigma, half)
            - mu[n - 1] / FARADAY)


@njit(cache=True)
def coupled_step(x_old, dt, volumes, areas, gaps, half_width, table, surface_flux, hold_voltage, voltage,
                 flux_per_current, two_rt_f, ohmic_length_over_sigma, newton_tol, max_iterations,
                 stress_drift, slab, phase, sphere_modulus, strain_per_stress, slab_gain, kappa):
    """One backward-Euler step of the coupled radial transport (module docstring).

    surface_flux: outward n_s [m/s] used when hold_voltage is False; hold_voltage: constant
    cell voltage `voltage` [V] instead. sphere_modulus K = 2E/(3(1-nu)) [Pa];
    strain_per_stress 1/(3 K_bulk) [1/Pa]; slab_gain s h_slab/(k_B T) [-]; kappa [J m2/mol].
    Returns (x_new, converged, n_s at the new state, Newton iterations)."""
    n = x_old.shape[0]
    x = x_old.copy()
    band = np.zeros((n, 7))
    rhs = np.empty((n, 2))
    u = np.empty(n)
    mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx, weights, lap_mid = field_arrays(n)
    lo, hi = laplacian_weights(volumes, areas, gaps)
    # d mu_k / d x at columns k-1, k, k+1 (Laplacian part; the local slope is added below)
    mu_lo = np.zeros(n)
    mu_hi = np.zeros(n)
    mu_mid = np.empty(n)
    if phase:
        for k in range(n):
            mu_lo[k] = -kappa * lo[k]
            mu_hi[k] = -kappa * hi[k]
    rank_one = stress_drift or slab
    r_area = areas[n]
    half_dr = half_width * flux_per_current
    n_s = surface_flux
    converged = False
    iterations = 0
    dflux = np.zeros(4)  # d F_f / d x at columns f-2, f-1, f, f+1
    for it in range(max_iterations):
        iterations = it + 1
        cell_fields(x, table, volumes, areas, gaps, stress_drift, slab, phase, sphere_modulus, kappa,
                    mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx, weights, lap_mid)
        for k in range(n):
            mu_mid[k] = dmu_dx[k] + kappa * lap_mid[k] if phase else dmu_dx[k]
        for i in range(n):
            for k in range(7):
                band[i, k] = 0.0
            rhs[i, 0] = volumes[i] * (x[i] - x_old[i]) / dt  # the residual R_i, negated below
            band[i, 2] = volumes[i] / dt
            u[i] = 0.0
        for f in range(1, n):  # interior face f between cells a = f-1 and b = f
            a = f - 1
            b = f
            xa = x[a]
            xb = x[b]
            d, dd = table_lookup(table, TABLE_D, 0.5 * (xa + xb))
            slope, dslope = table_lookup(table, TABLE_DMU, 0.5 * (xa + xb))
            if slope < DMU_FLOOR:
                slope, dslope = DMU_FLOOR, 0.0
            s = 1.0
            ds_dsigma = 0.0  # d S_f / d sigma_a (= d S_f / d sigma_b)
            if slab:
                s = slab_factor(sigma[a], sigma[b], strain_per_stress, slab_gain)
                ds_dsigma = s * slab_gain * 0.5 * strain_per_stress
            g = areas[f] / gaps[f]
            mu_diff = mu[b] - mu[a]
            drive = (xb - xa) + mu_diff / slope
            flux = g * d * s * drive  # into cell a from cell b
            # through D(x_f), mu'(x_f) and x_b - x_a
            common = 0.5 * (dd * drive - d * mu_diff * dslope / (slope * slope))
            dflux[0] = 0.0
            dflux[1] = g * s * (common - d)
            dflux[2] = g * s * (common + d)
            dflux[3] = 0.0
            dflux_dbeta = 0.0
            # through S_f (sigma of both cells)
            if slab:
                dflux[1] += g * d * drive * ds_dsigma * dsigma_dx[a]
                dflux[2] += g * d * drive * ds_dsigma * dsigma_dx[b]
                dflux_dbeta += g * d * drive * ds_dsigma * 2.0 * sphere_modulus
            # through mu_b - mu_a
            c = g * d * s / slope
            dflux[0] -= c * mu_lo[a]
            dflux[1] += c * (mu_lo[b] - mu_mid[a])
            dflux[2] += c * (mu_mid[b] - mu_hi[a])
            dflux[3] += c * mu_hi[b]
            dflux_dbeta += c * (dmu_dbeta[b] - dmu_dbeta[a])
            # residual R_a -= F_f, R_b += F_f; row a holds columns f-2..f+1 at k = 1..4,
            # row b at k = 0..3
            rhs[a, 0] -= flux
            rhs[b, 0] += flux
            for j in range(4):
                column = f - 2 + j
                if 0 <= column < n:
                    band[a, j + 1] -= dflux[j]
                    band[b, j] += dflux[j]
            u[a] -= dflux_dbeta
            u[b] += dflux_dbeta
        if hold_voltage:
            half = surface_half_step(x[n - 1], sigma[n - 1], dmu_dx[n - 1], half_dr, table,
                                     stress_drift, slab, phase, strain_per_stress, slab_gain)
            target = voltage + mu[n - 1] / FARADAY
            i_now = potentiostatic_current(x[n - 1], target, table, two_rt_f, ohmic_length_over_sigma, half)
            i_x = potentiostatic_current(x[n - 1] + CV_STEP_X, target, table, two_rt_f,
                                         ohmic_length_over_sigma, half)
            i_v = potentiostatic_current(x[n - 1], target + CV_STEP_V, table, two_rt_f,
                                         ohmic_length_over_sigma, half)
            di_dx = (i_x - i_now) / CV_STEP_X
            di_dmu = (i_v - i_now) / CV_STEP_V / FARADAY  # A/m2 per J/mol
            n_s = flux_per_current * i_now
            scale = r_area * flux_per_current
            rhs[n - 1, 0] += r_area * n_s
            band[n - 1, 2] += scale * (di_dx + di_dmu * mu_mid[n - 1])
            if n > 1:
                band[n - 1, 1] += scale * di_dmu * mu_lo[n - 1]
            u[n - 1] += scale * di_dmu * dmu_dbeta[n - 1]
        else:
            rhs[n - 1, 0] += r_area * surface_flux
        for i in range(n):
            rhs[i, 0] = -rhs[i, 0]
            rhs[i, 1] = u[i]
        solved = solve_banded(band, rhs)
        # Sherman-Morrison: (B + u w^T)^-1 (-R) = y - z (w.y)/(1 + w.z)
        wy = 0.0
        wz = 0.0
        if rank_one:
            for i in range(n):
                wy += weights[i] * solved[i, 0]
                wz += weights[i] * solved[i, 1]
        correction = wy / (1.0 + wz)
        largest = 0.0
        for i in range(n):
            delta = solved[i, 0] - solved[i, 1] * correction
            x[i] += delta
            largest = max(largest, abs(delta))
        if largest < newton_tol:
            converged = True
            break
    if hold_voltage:
        cell_fields(x, table, volumes, areas, gaps, stress_drift, slab, phase, sphere_modulus, kappa,
                    mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx, weights, lap_mid)
        half = surface_half_step(x[n - 1], sigma[n - 1], dmu_dx[n - 1], half_dr, table,
                                 stress_drift, slab, phase, strain_per_stress, slab_gain)
        n_s = flux_per_current * potentiostatic_current(
            x[n - 1], voltage + mu[n - 1] / FARADAY, table, two_rt_f, ohmic_length_over_sigma, half
        )
    return x, converged, n_s, iterations
