"""Compiled (numba) kernels for implicit radial diffusion in a sphere.

The equation, in the Li site fraction x (c = c_max x), per steradian:
    V_i dx_i/dt = A_{i+1/2} D(x_{i+1/2}) (x_{i+1} - x_i)/g_{i+1/2}
                - A_{i-1/2} D(x_{i-1/2}) (x_i - x_{i-1})/g_{i-1/2}  - [i = N-1] A_R n_s
with exact shell volumes V_i = (r_{i+1/2}^3 - r_{i-1/2}^3)/3, face areas A = r^2, the
distance g between the centres either side of a face (dr on a uniform mesh; a mesh graded
towards the surface, geometry.sphere, has its own), the
face diffusivity D at the face value x_{i+1/2} = (x_i + x_{i+1})/2, no flux at r = 0, and
n_s = i / (F c_max) [m/s] the outward Li flux at r = R in units of x.

Backward Euler in time, solved by Newton's method with the exact tridiagonal Jacobian
(including dD/dx) and the Thomas algorithm. The surface flux is either given (constant
current) or set by the electrode potential (constant voltage): then
U(x_s) + (2RT/F) asinh(i/(2 i0(x_s))) + i L/sigma = V is solved for i at every iterate.

Material functions enter as tables sampled on a uniform grid of x in [0, 1] (rows:
D [m2/s], U [V], i0 [A/m2]; the coupling physics of sphere_coupled_kernels adds
dmu_ocv/dx [J/mol], the isotropic eigenstrain beta [-], Omega_v [m3/mol] and mu_gap
[J/mol]) and are interpolated linearly; the tables are built from the
material's smooth interpolants with 4001 points. The table error is ~1e-7 relative over
most of the range and at most ~2e-5 relative in D and i0 and ~4e-6 V in U next to the
material tables' own nodes (measured against the material functions), below the
discretisation error of the default mesh and tolerance.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TABLE_D, TABLE_U, TABLE_I0 = 0, 1, 2
# rows read only by the coupling physics (sphere_coupled_kernels, transport/coupling.py):
TABLE_DMU = 3      # dmu_ocv/dx = -F dU/dx [J/mol]
TABLE_BETA = 4     # isotropic eigenstrain beta = (2 eps_a + eps_c)/3 [-]
TABLE_OMEGA_V = 5  # Omega_v = 2 Omega_a + Omega_c, trace of the partial molar strain [m3/mol]
TABLE_MU_GAP = 6   # miscibility-gap chemical potential mu_gap [J/mol] (0 without [phase_separation])
TABLE_ROWS = 7


@njit("(float64[:, ::1], int64, float64)", cache=True)
def table_lookup(table, row, x):
    """Linear interpolation of table[row] on the uniform grid x_k = k/(M-1); returns
    (value, slope d value / dx). x is clipped to [0, 1]."""
    m = table.shape[1]
    xc = min(max(x, 0.0), 1.0)
    s = xc * (m - 1)
    k = min(int(s), m - 2)
    w = s - k
    lo = table[row, k]
    hi = table[row, k + 1]
    return lo + w * (hi - lo), (hi - lo) * (m - 1)


@njit("(float64[::1], float64[::1], float64[::1], float64[::1])", cache=True)
def solve_tridiagonal(lower, diag, upper, rhs):
    """Thomas algorithm for a tridiagonal system; lower[0] and upper[-1] are unused."""
    n = diag.shape[0]
    c = np.empty(n)
    d = np.empty(n)
    c[0] = upper[0] / diag[0]
    d[0] = rhs[0] / diag[0]
    for i in range(1, n):
        denom = diag[i] - lower[i] * c[i - 1]
        c[i] = upper[i] / denom if i < n - 1 else 0.0
        d[i] = (rhs[i] - lower[i] * d[i - 1]) / denom
    out = np.empty(n)
    out[n - 1] = d[n - 1]
    for i in range(n - 2, -1, -1):
        out[i] = d[i] - c[i] * out[i + 1]
    return out


@njit("(float64, float64, float64[:, ::1], float64)", cache=True)
def surface_x(x_cell, current_density, table, half_dr_flux_per_current):
    """Li fraction at r = R extrapolated from the outer cell centre with the surface flux:
    -D dx/dr = n_s at r = R gives x_R = x_N - (dr/2) n_s / D(x_N) (second order in dr;
    dr/2 the distance from the outermost centre to the surface, half its shell);
    half_dr_flux_per_current = (dr/2) / (F c_max), so n_s (dr/2) = that * i."""
    d, _ = table_lookup(table, TABLE_D, x_cell)
    return min(max(x_cell - half_dr_flux_per_current * current_density / d, 0.0), 1.0)


@njit("(float64, float64, float64[:, ::1], float64, float64, float64)", cache=True)
def voltage_at(x_cell, current_density, table, two_rt_f, ohmic_length_over_sigma,
               half_dr_flux_per_current):
    """Cell voltage V = U(x_R) + (2RT/F) asinh(i/(2 i0(x_R))) + i L/sigma [V], with the
    surface value x_R from `surface_x`."""
    x_s = surface_x(x_cell, current_density, table, half_dr_flux_per_current)
    u, _ = table_lookup(table, TABLE_U, x_s)
    i0, _ = table_lookup(table, TABLE_I0, x_s)
    i0 = max(i0, 1e-30)
    return u + two_rt_f * np.arcsinh(current_density / (2.0 * i0)) + current_density * ohmic_length_over_sigma


@njit("(float64, float64, float64[:, ::1], float64, float64, float64)", cache=True)
def potentiostatic_current(x_cell, voltage, table, two_rt_f, ohmic_length_over_sigma,
                           half_dr_flux_per_current):
    """Current density i [A/m2] that holds the cell at `voltage` when the outer cell holds
    x_cell: the root of g(i) = voltage_at(x_cell, i) - V. g rises monotonically with i
    (U(x_R) rises as x_R falls, eta and the ohmic drop rise with i), so the root is
    bracketed by doubling and found by Illinois false position to 1e-12 V."""
    u, _ = table_lookup(table, TABLE_U, x_cell)
    i0, _ = table_lookup(table, TABLE_I0, x_cell)
    # the answer without surface extrapolation and ohmic drop sets the bracket's scale
    scale = max(abs(2.0 * max(i0, 1e-30) * np.sinh((voltage - u) / two_rt_f)), 1e-12)
    lo, hi = -scale, scale
    g_lo = voltage_at(x_cell, lo, table, two_rt_f, ohmic_length_over_sigma, half_dr_flux_per_current) - voltage
    g_hi = voltage_at(x_cell, hi, table, two_rt_f, ohmic_length_over_sigma, half_dr_flux_per_current) - voltage
    for _ in range(200):
        if g_lo <= 0.0:
            break
        lo *= 2.0
        g_lo = voltage_at(x_cell, lo, table, two_rt_f, ohmic_length_over_sigma, half_dr_flux_per_current) - voltage
    for _ in range(200):
        if g_hi >= 0.0:
            break
        hi *= 2.0
        g_hi = voltage_at(x_cell, hi, table, two_rt_f, ohmic_length_over_sigma, half_dr_flux_per_current) - voltage
    side = 0
    current = 0.5 * (lo + hi)
    for _ in range(200):
        current = (lo * g_hi - hi * g_lo) / (g_hi - g_lo) if g_hi != g_lo else 0.5 * (lo + hi)
        if not lo < current < hi:
            current = 0.5 * (lo + hi)
        g = voltage_at(x_cell, current, table, two_rt_f, ohmic_length_over_sigma, half_dr_flux_per_current) - voltage
        if abs(g) < 1e-12 or hi - lo <= 1e-15 * abs(current):
            break
        if g > 0.0:
            hi, g_hi = current, g
            if side == -1:
                g_lo *= 0.5
            side = -1
        else:
            lo, g_lo = current, g
            if side == 1:
                g_hi *= 0.5
            side = 1
    return current


@njit("(float64[::1], float64, float64[::1], float64[::1], float64[::1], float64, float64[:, ::1], float64, "
      "boolean, float64, float64, float64, float64, float64, int64)", cache=True)
def implicit_step(x_old, dt, volumes, areas, gaps, half_width, table, surface_flux, hold_voltage,
                  voltage, flux_per_current, two_rt_f, ohmic_length_over_sigma,
                  newton_tol, max_iterations):
    """One backward-Euler step of radial diffusion.

    gaps: distance between the centres on either side of each face [m] (geometry.sphere.
    SphereMesh.gaps; dr on a uniform mesh); half_width: outermost centre to the surface [m].

    surface_flux: outward n_s [m/s] used when hold_voltage is False.
    hold_voltage: if True, n_s = flux_per_current * i(x_s, voltage) (constant voltage).
    Returns (x_new, converged, n_s at the new state, Newton iterations).
    """
    n = x_old.shape[0]
    x = x_old.copy()
    lower = np.empty(n)
    diag = np.empty(n)
    upper = np.empty(n)
    residual = np.empty(n)
    r_area = areas[n]
    half_dr = half_width * flux_per_current
    n_s = surface_flux
    converged = False
    iterations = 0
    for it in range(max_iterations):
        iterations = it + 1
        for i in range(n):
            residual[i] = volumes[i] * (x[i] - x_old[i]) / dt
            diag[i] = volumes[i] / dt
            lower[i] = 0.0
            upper[i] = 0.0
        for f in range(1, n):  # interior face f between cells f-1 and f
            xa = x[f - 1]
            xb = x[f]
            d, dd = table_lookup(table, TABLE_D, 0.5 * (xa + xb))
            g = areas[f] / gaps[f]
            flux = g * d * (xb - xa)  # into cell f-1 from cell f
            dflux_da = g * (0.5 * dd * (xb - xa) - d)
            dflux_db = g * (0.5 * dd * (xb - xa) + d)
            residual[f - 1] -= flux
            diag[f - 1] -= dflux_da
            upper[f - 1] -= dflux_db
            residual[f] += flux
            lower[f] += dflux_da
            diag[f] += dflux_db
        if hold_voltage:
            h = 1e-7
            i_now = potentiostatic_current(x[n - 1], voltage, table, two_rt_f, ohmic_length_over_sigma, half_dr)
            i_up = potentiostatic_current(x[n - 1] + h, voltage, table, two_rt_f, ohmic_length_over_sigma, half_dr)
            n_s = flux_per_current * i_now
            residual[n - 1] += r_area * n_s
            diag[n - 1] += r_area * flux_per_current * (i_up - i_now) / h
        else:
            residual[n - 1] += r_area * surface_flux
        for i in range(n):
            residual[i] = -residual[i]
        delta = solve_tridiagonal(lower, diag, upper, residual)
        largest = 0.0
        for i in range(n):
            x[i] += delta[i]
            largest = max(largest, abs(delta[i]))
        if largest < newton_tol:
            converged = True
            break
    if hold_voltage:
        n_s = flux_per_current * potentiostatic_current(
            x[n - 1], voltage, table, two_rt_f, ohmic_length_over_sigma, half_dr
        )
    return x, converged, n_s, iterations
