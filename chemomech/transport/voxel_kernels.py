"""Compiled (numba) kernels for implicit anisotropic diffusion on a voxel particle.

Unknown: the Li site fraction x_i of every solid voxel i (c = c_max x), voxel edge h [m].
Finite-volume balance of voxel i, divided by its volume h^3:

    dx_i/dt = (1/h) sum_faces F_f  -  (1/h) sum_surface_faces w_f n_f

F_f [m/s] is the diffusive flux (in units of x) into voxel i through a face shared with a
connected neighbour j, whose outward normal from i is s e_a (grid axis a, s = +-1):

    F_f = d(x_f) [ M_aa (x_j - x_i)/h + s sum_{b != a} M_ab (g_b,i + g_b,j)/2 ]

with d(x) = D_ab(x) the in-plane diffusivity [m2/s] at the face value x_f = (x_i + x_j)/2,
M = R diag(1, 1, D_c/D_ab) R^T the grain's dimensionless diffusivity tensor (lab frame,
grid-axis order z, y, x), and g_b the cell-centred gradient of x along axis b (central
differences over connected neighbours, one-sided where only one is connected, zero where
none is). The normal part is the two-point flux; the tangential part averages the two
cells' gradients. The flux computed from j's side is exactly -F_f, so Li is conserved.

Surface faces (a solid voxel next to void, or next to another grain: see voxel_charge)
carry the Butler-Volmer flux n_f = i_f / (F c_max) [m/s] outward, weighted by the area
weight w_f that turns the staircase into the smooth surface's area. The surface value is
extrapolated half a voxel from the cell centre with the face flux, as in the 1-D sphere:

    x_s = x_i - (h/2) n_f / (d(x_i) M_aa),   i_f = 2 i0(x_s) sinh((phi - U(x_s)) / (2RT/F))

and phi [V] is the one electrode potential of the particle (interface side), found so that
sum_f w_f h^2 i_f = I_total under constant current, or set by the voltage under CV.

Backward Euler in time, solved by Newton's method. The Jacobian is exact for the
diffusive fluxes (including dD/dx) and for the local surface fluxes at fixed phi; phi is
re-solved at every iterate and its update enters the Newton system as one more unknown
(a bordered matrix: the column is d(surface rate)/d phi, the row the total-current
constraint), so the iteration is Newton's method on the coupled system. Linear systems
are solved matrix-free with BiCGSTAB (the tangential and dD/dx terms make the matrix
non-symmetric), to a loose relative tolerance (inexact Newton), preconditioned by SSOR
sweeps over the 7-point stencil (ssor_apply): the diffusive coupling D dt / h^2 grows as
the voxels shrink, and Jacobi's iteration count grows with it (56 per Newton iteration at
128 voxels across against 28 at 64).

The kernels are serial on purpose: a time step launches thousands of them, and on a
shared 2-core machine numba's parallel launches stall whenever one of their threads is
descheduled (measured: a 32-voxel-across step 60x slower at a load of 4 than serially).

Neighbour table `nbr` (N, 6): directions 0..5 = -z, +z, -y, +y, -x, +x; -1 = not
connected. Material functions are tables on a uniform x grid, rows as in sphere_kernels.

Coupling physics (transport/coupling.py; the staggered stress of voxel_coupling). In
chemical-potential form the face flux gains a drift in the extra potential mu_extra [J/mol]
with the same flux shape G_f applied to mu_extra instead of x:

    F_f = f_f d(x_f) [ G_f(x) + G_f(mu_extra) / mu_ocv'(x_f) ]

with mu_ocv' = dmu_ocv/dx [J/mol] and f_f the slab-spacing factor of the face (1 without
slab_spacing_diffusivity). Stress-assisted diffusion: mu_extra,i = -(Omega_a(x_i) S_ab,i +
Omega_c(x_i) S_cc,i), Omega_a, Omega_c [m3/mol] the crystal-frame partial molar strains,
S_ab = sigma_aa + sigma_bb and S_cc = sigma_cc [Pa] the crystal-frame stress of the voxel:
the stress of the last elastic solve plus the local predictor of voxel_coupling, with
Omega at the state of that solve (extra_potential). The coupling table has the rows DRIFT_MOBILITY =
d(x)/mu_ocv'(x) [m2/s per J/mol], OMEGA_A, OMEGA_C [m3/mol], EPS_A, EPS_C (the
crystal-frame eigenstrain [-]) and MU_SLOPE = mu_ocv'(x) [J/mol], on the same uniform x
grid as the material table.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from chemomech.transport.sphere_kernels import TABLE_D, TABLE_I0, TABLE_U, table_lookup

# rows of the coupling table (module docstring)
DRIFT_MOBILITY, OMEGA_A, OMEGA_C, EPS_A, EPS_C, MU_SLOPE, MU_GAP = 0, 1, 2, 3, 4, 5, 6
COUPLING_ROWS = 7
ELL_WIDTH = 25  # entries per row of the phase-separation Jacobian (the 25-point stencil of K lap_h)


@njit(cache=True)
def cell_gradients(v, nbr, h, out):
    """Cell-centred gradient of v [1/m] along the grid axes (z, y, x) into out (N, 3)."""
    n = v.shape[0]
    for i in range(n):
        for a in range(3):
            lo = nbr[i, 2 * a]
            hi = nbr[i, 2 * a + 1]
            if lo >= 0 and hi >= 0:
                out[i, a] = (v[hi] - v[lo]) / (2.0 * h)
            elif hi >= 0:
                out[i, a] = (v[hi] - v[i]) / h
            elif lo >= 0:
                out[i, a] = (v[i] - v[lo]) / h
            else:
                out[i, a] = 0.0


@njit(cache=True)
def face_flux_shape(v, grad, m, i, j, k, h):
    """G_f(v) = M_aa (v_j - v_i)/h + s sum_{b != a} M_ab (g_b,i + g_b,j)/2 of the face in
    direction k (grid axis a = k // 2, s = +-1) between voxels i and j, with M = m the
    grain's dimensionless tensor and g = grad the cell gradients of v [v/m]."""
    a = k // 2
    s = 1.0 if k % 2 == 1 else -1.0
    shape = m[a, a] * (v[j] - v[i]) / h
    for b in range(3):
        if b != a:
            shape += s * m[a, b] * 0.5 * (grad[i, b] + grad[j, b])
    return shape


@njit(cache=True)
def tangential_sum(i, g, nbr, m, coefficient):
    """sum_k c_f s sum_{b!=a} M_ab (g_b,i + g_b,j)/2 over the connected faces of voxel i
    (c_f = coefficient[i, k], g a cell-centred gradient (N, 3))."""
    tangential = 0.0
    for k in range(6):
        j = nbr[i, k]
        if j < 0:
            continue
        a = k // 2
        s = 1.0 if k % 2 == 1 else -1.0
        part = 0.0
        for b in range(3):
            if b != a:
                part += m[a, b] * 0.5 * (g[i, b] + g[j, b])
        tangential += coefficient[i, k] * s * part
    return tangential


@njit(cache=True)
def face_coefficients(x, nbr, grain, tensors, table, h, grad, d_face, dd_face, flux_shape):
    """For every connected face (i, k): d(x_f), d'(x_f) and the flux shape
    G_f = M_aa (x_j - x_i)/h + s sum_{b!=a} M_ab (g_b,i + g_b,j)/2, so that F_f = d G_f.
    `grad` must hold cell_gradients(x)."""
    n = x.shape[0]
    for i in range(n):
        m = tensors[grain[i]]
        for k in range(6):
            j = nbr[i, k]
            if j < 0:
                d_face[i, k] = 0.0
                dd_face[i, k] = 0.0
                flux_shape[i, k] = 0.0
                continue
            d, dd = table_lookup(table, TABLE_D, 0.5 * (x[i] + x[j]))
            d_face[i, k] = d
            dd_face[i, k] = dd
            flux_shape[i, k] = face_flux_shape(x, grad, m, i, j, k, h)


@njit(cache=True)
def diffusion_divergence(d_face, flux_shape, h, out):
    """(1/h) sum_faces d_f G_f [1/s]: the rate of change of x from diffusion."""
    n = d_face.shape[0]
    for i in range(n):
        total = 0.0
        for k in range(6):
            total += d_face[i, k] * flux_shape[i, k]
        out[i] = total / h


@njit(cache=True)
def face_current(x_cell, phi, guess, q, table, two_rt_f):
    """Butler-Volmer current density i [A/m2] of one surface face with the half-voxel
    extrapolation x_s = x_cell - q i (q = h / (2 F c_max D_nn) [m2/A]): the root of
    g(i) = i - 2 i0(x_s) sinh((phi - U(x_s))/(2RT/F)).
    i0 vanishes at x_s = 0 and 1, so g < 0 at i = (x_cell - 1)/q and g > 0 at i = x_cell/q:
    the root is bracketed, and Newton steps from `guess` fall back to bisection whenever
    they leave the bracket. Returns (i, di/dphi, di/dx_cell) at the root.
    q = 0 (phase separation: x_s = x_cell) gives i = 2 i0(x_cell) sinh((phi - U(x_cell))/(2RT/F))
    directly."""
    if q == 0.0:
        xs = min(max(x_cell, 0.0), 1.0)
        u, du = table_lookup(table, TABLE_U, xs)
        i0, di0 = table_lookup(table, TABLE_I0, xs)
        arg = min(max((phi - u) / two_rt_f, -300.0), 300.0)
        sh = np.sinh(arg)
        ch = np.cosh(arg)
        return (2.0 * i0 * sh, 2.0 * i0 * ch / two_rt_f,
                2.0 * di0 * sh - 2.0 * i0 * ch * du / two_rt_f)
    lo = (x_cell - 1.0) / q
    hi = x_cell / q
    i = min(max(guess, lo), hi)
    di_dphi = 0.0
    di_dx = 0.0
    for _ in range(200):
        xs = min(max(x_cell - q * i, 0.0), 1.0)
        u, du = table_lookup(table, TABLE_U, xs)
        i0, di0 = table_lookup(table, TABLE_I0, xs)
        arg = min(max((phi - u) / two_rt_f, -300.0), 300.0)
        sh = np.sinh(arg)
        ch = np.cosh(arg)
        g = i - 2.0 * i0 * sh
        db_dxs = 2.0 * di0 * sh - 2.0 * i0 * ch * du / two_rt_f
        slope = 1.0 + db_dxs * q
        if g > 0.0:
            hi = i
        else:
            lo = i
        if slope > 0.0:
            di_dphi = 2.0 * i0 * ch / two_rt_f / slope
            di_dx = db_dxs / slope
            trial = i - g / slope
        else:
            trial = 0.5 * (lo + hi)
        if not lo <= trial <= hi:
            trial = 0.5 * (lo + hi)
        converged = abs(trial - i) <= 1e-12 * (abs(i) + 1e-12 / q) or hi - lo <= 1e-14 * (abs(i) + 1.0 / q)
        i = trial
        if converged:
            break
    return i, di_dphi, di_dx


@njit(cache=True)
def surface_currents(x, phi, face_cell, face_q, guess, table, two_rt_f, current, di_dphi, di_dx):
    """face_current for every surface face (q per face); results into the out arrays
    (shifted_surface_currents with no shift)."""
    shifted_surface_currents(x, phi, np.zeros(face_cell.shape[0]), face_cell, face_q, guess, table,
                             two_rt_f, current, di_dphi, di_dx)


@njit(parallel=True, cache=True)
def shifted_surface_currents(x, phi, shift, face_cell, face_q, guess, table, two_rt_f, current,
                             di_dphi, di_dx):
    """surface_currents with the equilibrium potential of face f lowered by shift_f [V]
    (U(x_s) - mu_extra,i/F: shift_f = mu_extra,i/F of the face's voxel), i.e. phi -> phi + shift_f.
    The faces are independent (each writes only its own entries): they run in parallel
    threads, with results that do not depend on the thread count."""
    for f in prange(face_cell.shape[0]):
        i, dp, dx = face_current(x[face_cell[f]], phi + shift[f], guess[f], face_q[f], table, two_rt_f)
        current[f] = i
        di_dphi[f] = dp
        di_dx[f] = dx


@njit(cache=True)
def dot(a, b):
    """sum_i a_i b_i (serial)."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@njit(cache=True)
def electrode_potential(x, face_cell, face_q, face_area, table, two_rt_f, total_current,
                        phi_guess, current, di_dphi, di_dx):
    """The electrode potential phi [V] at which sum_f A_f i_f(phi) = total_current [A]
    (A_f = weighted face area [m2]). The sum rises monotonically with phi; Newton steps
    inside a bracket that is widened by +-2RT/F until it holds the root, bisection when a
    Newton step leaves it. Leaves the face currents of the answer in the out arrays."""
    return shifted_electrode_potential(x, np.zeros(face_cell.shape[0]), face_cell, face_q, face_area, table,
                                       two_rt_f, total_current, phi_guess, current, di_dphi, di_dx)


@njit(cache=True)
def shifted_electrode_potential(x, shift, face_cell, face_q, face_area, table, two_rt_f, total_current,
                                phi_guess, current, di_dphi, di_dx):
    """electrode_potential with the equilibrium potentials shifted as in
    shifted_surface_currents (shift_f [V] per face; zeros: electrode_potential)."""
    shifted_surface_currents(x, phi_guess, shift, face_cell, face_q, current, table, two_rt_f, current,
                             di_dphi, di_dx)
    g = dot(current, face_area) - total_current
    phi = phi_guess
    lo = -1e300
    hi = 1e300
    for _ in range(200):
        if g > 0.0:
            hi = phi
        else:
            lo = phi
        if abs(g) <= 1e-10 * abs(total_current) + 1e-300:
            break
        slope = dot(di_dphi, face_area)
        trial = phi - g / slope if slope > 0.0 else phi + (two_rt_f if g < 0.0 else -two_rt_f)
        if trial >= hi or trial <= lo:
            if hi < 1e299 and lo > -1e299:
                trial = 0.5 * (lo + hi)
            elif g < 0.0:
                trial = phi + two_rt_f
            else:
                trial = phi - two_rt_f
        trial = min(max(trial, phi - 10.0 * two_rt_f), phi + 10.0 * two_rt_f)
        if abs(trial - phi) < 1e-14:
            phi = trial
            break
        phi = trial
        shifted_surface_currents(x, phi, shift, face_cell, face_q, current, table, two_rt_f, current,
                                 di_dphi, di_dx)
        g = dot(current, face_area) - total_current
    return phi


@njit(cache=True)
def surface_rates(n_cells, face_cell, face_area, current, di_dx, flux_per_current, volume,
                  rate, rate_slope):
    """Per cell: the loss rate of x through its surface faces, sum_f A_f i_f/(F c_max V)
    [1/s], and its derivative with respect to the cell's x at fixed phi."""
    for i in range(n_cells):
        rate[i] = 0.0
        rate_slope[i] = 0.0
    for f in range(face_cell.shape[0]):
        c = face_cell[f]
        rate[c] += face_area[f] * current[f] * flux_per_current / volume
        rate_slope[c] += face_area[f] * di_dx[f] * flux_per_current / volume


@njit(cache=True)
def assemble_stencil(nbr, grain, tensors, h, dt, d_face, dd_face, flux_shape, rate_slope,
                     weight, centre):
    """The two-point part of the Jacobian of r(x) = (x - x_old)/dt - div(x) + rate(x) as a
    7-point stencil, J v = centre v_i + sum_k weight_k v_j (+ tangential terms):
    with A_k = d_f M_aa / h and B_k = d'_f G_f(x) / 2 (the dD/dx term),
    weight_k = -(A_k + B_k)/h and centre = 1/dt + rate_slope + sum_k (A_k - B_k)/h."""
    n = nbr.shape[0]
    for i in range(n):
        m = tensors[grain[i]]
        c = 1.0 / dt + rate_slope[i]
        for k in range(6):
            if nbr[i, k] < 0:
                weight[i, k] = 0.0
                continue
            a = k // 2
            normal = d_face[i, k] * m[a, a] / h
            slope = 0.5 * dd_face[i, k] * flux_shape[i, k]
            weight[i, k] = -(normal + slope) / h
            c += (normal - slope) / h
        centre[i] = c


@njit(cache=True)
def jacobian_apply(v, nbr, weight, centre, cross, grain, tensors, h, d_face, grad_v, out,
                   drift, b_face, dmu, w, grad_w):
    """out = J v: the stencil of assemble_stencil plus, when cross is True (some tensor
    has off-diagonal terms), the tangential part -(1/h) sum_f d_f s sum_{b!=a} M_ab
    (g_b,i(v) + g_b,j(v))/2 of the flux; with drift also True (stress-assisted diffusion)
    the tangential part of the drift, the same with b_f (drift_coefficients) and
    w = dmu v (dmu_i = dmu_extra,i/dx_i) in place of d_f and v. w, grad_w: work arrays."""
    if cross:
        cell_gradients(v, nbr, h, grad_v)
    tangential_drift = cross and drift
    if tangential_drift:
        for i in range(v.shape[0]):
            w[i] = dmu[i] * v[i]
        cell_gradients(w, nbr, h, grad_w)
    n = v.shape[0]
    for i in range(n):
        total = centre[i] * v[i]
        for k in range(6):
            j = nbr[i, k]
            if j >= 0:
                total += weight[i, k] * v[j]
        if cross:
            total -= tangential_sum(i, grad_v, nbr, tensors[grain[i]], d_face) / h
        if tangential_drift:
            total -= tangential_sum(i, grad_w, nbr, tensors[grain[i]], b_face) / h
        out[i] = total


@njit(cache=True)
def bordered_apply(v, nbr, weight, centre, cross, grain, tensors, h, d_face,
                   column, row, corner, grad_v, out, drift, b_face, dmu, w, grad_w,
                   phase, ell_cols, ell_vals, ell_counts, kappa, lap_v):
    """The Jacobian of the step with the electrode potential as unknown n:
    out[:n] = J v[:n] + column v[n],  out[n] = row . v[:n] + corner v[n]
    (drift, b_face, dmu, w, grad_w: as for jacobian_apply; with phase True J v is
    phase_jacobian_apply's, from the matrix ell_* of phase_matrix)."""
    n = nbr.shape[0]
    if phase:
        phase_jacobian_apply(v[:n], ell_cols, ell_vals, ell_counts, cross, nbr, grain, tensors, h, d_face,
                             grad_v, out[:n], b_face, dmu, kappa, w, grad_w, lap_v)
    else:
        jacobian_apply(v[:n], nbr, weight, centre, cross, grain, tensors, h, d_face, grad_v, out[:n],
                       drift, b_face, dmu, w, grad_w)
    last = v[n]
    total = corner * last
    for i in range(n):
        out[i] += column[i] * last
        total += row[i] * v[i]
    out[n] = total


@njit(cache=True)
def ssor_apply(r, nbr, weight, centre, corner, omega, out):
    """out = M^-1 r for the SSOR preconditioner of the bordered system (Saad, Iterative
    Methods for Sparse Linear Systems, 2nd ed., sec. 10.2):

        M = (D/w + L) (D/w)^-1 (D/w + U)

    with D the stencil centre, L and U the stencil weights to neighbours of lower and
    higher index, and w = omega in (0, 2) the relaxation factor (the constant factor
    w/(2 - w) of the textbook M does not change the Krylov iterates). One forward and one
    backward sweep; the tangential terms and the border are left out of M, the potential
    unknown is scaled by the corner."""
    n = nbr.shape[0]
    for i in range(n):  # (D/w + L) z = r
        total = r[i]
        for k in range(6):
            j = nbr[i, k]
            if 0 <= j < i:
                total -= weight[i, k] * out[j]
        out[i] = total * omega / centre[i]
    for i in range(n - 1, -1, -1):  # (D/w + U) out = (D/w) z
        total = centre[i] / omega * out[i]
        for k in range(6):
            j = nbr[i, k]
            if j > i:
                total -= weight[i, k] * out[j]
        out[i] = total * omega / centre[i]
    out[n] = r[n] / corner


@njit(cache=True)
def bordered_preconditioner_apply(r, nbr, weight, centre, omega, m_column, row, schur, out,
                                  phase, ell_cols, ell_vals, ell_counts, ell_diag):
    """out = P^-1 r for the block-LU preconditioner of the bordered system
        P = [[M, column], [row, corner]] = [[M, 0], [row, schur]] [[I, M^-1 column], [0, 1]]
    with M the SSOR approximation of the stencil (ssor_apply), m_column = M^-1 column and
    the Schur complement schur = corner - row . M^-1 column: z = M^-1 r[:N],
    out[N] = (r[N] - row . z) / schur, out[:N] = z - m_column out[N]. It keeps the coupling of
    every surface voxel to the one electrode potential, which dominates when the exchange
    current vanishes (a discharge ending at x -> 1). With phase True M is the SSOR
    approximation of the phase-separation matrix (ell_ssor_apply) instead."""
    n = nbr.shape[0]
    if phase:
        ell_ssor_apply(r, ell_cols, ell_vals, ell_counts, ell_diag, 1.0, omega, out)
    else:
        ssor_apply(r, nbr, weight, centre, 1.0, omega, out)
    total = r[n]
    for i in range(n):
        total -= row[i] * out[i]
    last = total / schur
    for i in range(n):
        out[i] -= m_column[i] * last
    out[n] = last


@njit(cache=True)
def bicgstab(rhs, omega, nbr, weight, centre, cross, grain, tensors, h, d_face,
             column, row, corner, rel_tol, max_iterations, drift, b_face, dmu,
             phase, ell_cols, ell_vals, ell_counts, ell_diag, kappa):
    """Solve the bordered system (bordered_apply) y = rhs, length N + 1, by BiCGSTAB
    (van der Vorst 1992) right-preconditioned with the block-LU SSOR preconditioner
    (bordered_preconditioner_apply, relaxation omega). drift, b_face, dmu: the tangential
    drift of jacobian_apply (drift False: b_face and dmu are not read). phase: the
    phase-separation Jacobian, the matrix ell_* of phase_matrix (normal part) plus the
    tangential terms of phase_jacobian_apply, kappa [J m2/mol] (phase False: ell_* not
    read). Returns (y, iterations, converged)."""
    n = rhs.shape[0]
    y = np.zeros(n)
    r = rhs.copy()
    r0 = rhs.copy()
    p = np.zeros(n)
    v = np.zeros(n)
    work = np.empty((n - 1, 3))
    w = np.empty(n - 1 if drift else 0)
    grad_w = np.empty((n - 1 if drift else 0, 3))
    lap_v = np.empty(n - 1 if phase else 0)
    ph = np.empty(n)
    sh = np.empty(n)
    t = np.empty(n)
    s = np.empty(n)
    rho = 1.0
    alpha = 1.0
    omega_k = 1.0
    target = rel_tol * np.sqrt(dot(rhs, rhs))
    if target == 0.0:
        return y, 0, True
    m_column = np.empty(n)
    padded = np.zeros(n)
    padded[: n - 1] = column
    if phase:
        ell_ssor_apply(padded, ell_cols, ell_vals, ell_counts, ell_diag, 1.0, omega, m_column)
    else:
        ssor_apply(padded, nbr, weight, centre, 1.0, omega, m_column)
    schur = corner
    for i in range(n - 1):
        schur -= row[i] * m_column[i]
    if not abs(schur) > 1e-12 * abs(corner) or not np.isfinite(schur):
        schur = corner if corner != 0.0 else 1.0
    for it in range(max_iterations):
        rho_new = dot(r0, r)
        if rho_new == 0.0:
            return y, it, False
        beta = (rho_new / rho) * (alpha / omega_k)
        for i in range(n):
            p[i] = r[i] + beta * (p[i] - omega_k * v[i])
        bordered_preconditioner_apply(p, nbr, weight, centre, omega, m_column, row, schur, ph,
                                      phase, ell_cols, ell_vals, ell_counts, ell_diag)
        bordered_apply(ph, nbr, weight, centre, cross, grain, tensors, h, d_face,
                       column, row, corner, work, v, drift, b_face, dmu, w, grad_w,
                       phase, ell_cols, ell_vals, ell_counts, kappa, lap_v)
        r0v = dot(r0, v)
        if r0v == 0.0 or not np.isfinite(r0v):  # breakdown (e.g. a singular border at x -> 1)
            return y, it, False
        alpha = rho_new / r0v
        for i in range(n):
            s[i] = r[i] - alpha * v[i]
        if np.sqrt(dot(s, s)) <= target:
            for i in range(n):
                y[i] += alpha * ph[i]
            return y, it + 1, True
        bordered_preconditioner_apply(s, nbr, weight, centre, omega, m_column, row, schur, sh,
                                      phase, ell_cols, ell_vals, ell_counts, ell_diag)
        bordered_apply(sh, nbr, weight, centre, cross, grain, tensors, h, d_face,
                       column, row, corner, work, t, drift, b_face, dmu, w, grad_w,
                       phase, ell_cols, ell_vals, ell_counts, kappa, lap_v)
        tt = dot(t, t)
        omega_k = dot(t, s) / tt if tt > 0.0 else 0.0
        for i in range(n):
            y[i] += alpha * ph[i] + omega_k * sh[i]
            r[i] = s[i] - omega_k * t[i]
        if np.sqrt(dot(r, r)) <= target:
            return y, it + 1, True
        if omega_k == 0.0:
            return y, it + 1, False
        rho = rho_new
    return y, max_iterations, False


@njit(cache=True)
def extra_potential(x, x_solved, stress_ab, stress_cc, eps_a_solved, eps_c_solved, local_stiffness,
                    coupling_table, mu, dmu):
    """Stress part of the Li chemical potential per voxel, into mu [J/mol]:

        mu_i = -(Omega_a(x_i^s) S_ab,i(x_i) + Omega_c(x_i^s) S_cc,i(x_i))
        S_ab,i(x) = stress_ab_i - L_aa (e_a(x) - e_a,i^s) - L_ac (e_c(x) - e_c,i^s)
        S_cc,i(x) = stress_cc_i - L_ac (e_a(x) - e_a,i^s) - L_cc (e_c(x) - e_c,i^s)

    x^s = x_solved, stress_ab = sigma_aa + sigma_bb, stress_cc = sigma_cc [Pa] and e_a,i^s,
    e_c,i^s [-] the state, crystal-frame stress and eigenstrain of the last elastic solve,
    e_a(x), e_c(x) the eigenstrain and Omega [m3/mol] the partial molar strains from the
    coupling table, local_stiffness = (L_aa, L_ac, L_cc) [Pa] the local stress predictor
    (voxel_coupling). Its derivative dmu_i/dx_i [J/mol] goes into dmu."""
    l_aa = local_stiffness[0]
    l_ac = local_stiffness[1]
    l_cc = local_stiffness[2]
    for i in range(x.shape[0]):
        omega_a, _ = table_lookup(coupling_table, OMEGA_A, x_solved[i])
        omega_c, _ = table_lookup(coupling_table, OMEGA_C, x_solved[i])
        e_a, de_a = table_lookup(coupling_table, EPS_A, x[i])
        e_c, de_c = table_lookup(coupling_table, EPS_C, x[i])
        change_a = e_a - eps_a_solved[i]
        change_c = e_c - eps_c_solved[i]
        s_ab = stress_ab[i] - l_aa * change_a - l_ac * change_c
        s_cc = stress_cc[i] - l_ac * change_a - l_cc * change_c
        mu[i] = -(omega_a * s_ab + omega_c * s_cc)
        dmu[i] = omega_a * (l_aa * de_a + l_ac * de_c) + omega_c * (l_ac * de_a + l_cc * de_c)


@njit(cache=True)
def drift_coefficients(x, mu, nbr, grain, tensors, coupling_table, h, grad_mu, face_factor,
                       b_face, db_face, drift_shape):
    """For every connected face (i, k) the drift part of the flux, F_f = b_f G_f(mu):
    b_f = f_f d(x_f)/mu_ocv'(x_f) [m2/s per J/mol] and its slope db_f/dx_f, and the flux
    shape G_f(mu) = M_aa (mu_j - mu_i)/h + s sum_{b!=a} M_ab (g_b,i + g_b,j)/2 [J/mol/m]
    of the extra potential (as face_coefficients does for x). f_f = face_factor[i, k];
    `grad_mu` must hold cell_gradients(mu)."""
    n = x.shape[0]
    for i in range(n):
        m = tensors[grain[i]]
        for k in range(6):
            j = nbr[i, k]
            if j < 0:
                b_face[i, k] = 0.0
                db_face[i, k] = 0.0
                drift_shape[i, k] = 0.0
                continue
            b, db = table_lookup(coupling_table, DRIFT_MOBILITY, 0.5 * (x[i] + x[j]))
            b_face[i, k] = face_factor[i, k] * b
            db_face[i, k] = face_factor[i, k] * db
            drift_shape[i, k] = face_flux_shape(mu, grad_mu, m, i, j, k, h)


@njit(cache=True)
def add_drift_stencil(nbr, grain, tensors, h, b_face, db_face, drift_shape, dmu, weight, centre):
    """Add the two-point part of the drift's Jacobian to the stencil of assemble_stencil.
    Per face, with P_k = b_f M_aa / h and Q_k = db_f G_f(mu) / 2:
    dF_f/dx_j = P_k dmu_j + Q_k, dF_f/dx_i = -P_k dmu_i + Q_k, so
    weight_k -= (P_k dmu_j + Q_k)/h and centre += (P_k dmu_i - Q_k)/h.
    The tangential part is applied matrix-free by jacobian_apply (drift True)."""
    n = nbr.shape[0]
    for i in range(n):
        m = tensors[grain[i]]
        c = 0.0
        for k in range(6):
            j = nbr[i, k]
            if j < 0:
                continue
            a = k // 2
            normal = b_face[i, k] * m[a, a] / h
            slope = 0.5 * db_face[i, k] * drift_shape[i, k]
            weight[i, k] -= (normal * dmu[j] + slope) / h
            c += (normal * dmu[i] - slope) / h
        centre[i] += c


# ---- phase separation (Cahn-Hilliard) ---------------------------------------------------

@njit(cache=True)
def laplacian(v, nbr, h, out):
    """lap_h(v)_i = (1/h^2) sum_{connected k} (v_j - v_i) [v/m2]: the 7-point finite-volume
    Laplacian with zero flux through reacting faces and grain boundaries (nbr < 0)."""
    for i in range(v.shape[0]):
        total = 0.0
        for k in range(6):
            j = nbr[i, k]
            if j >= 0:
                total += v[j] - v[i]
        out[i] = total / (h * h)


@njit(cache=True)
def add_gap_potential(x, nbr, h, kappa, coupling_table, mu, dmu, lap):
    """Phase separation's part of the extra chemical potential, added in place:

        mu_i  += mu_gap(x_i) - kappa lap_h(x)_i      [J/mol]
        dmu_i += mu_gap'(x_i)                         [J/mol] (the local slope; the Laplacian's
                                                      derivative -kappa lap_h is applied apart)

    mu_gap from the MU_GAP row of the coupling table (phase_field.gap_chemical_potential),
    kappa = gradient_energy_j_m2_mol [J m2/mol]; lap: work array (N,), left holding lap_h(x)."""
    laplacian(x, nbr, h, lap)
    for i in range(x.shape[0]):
        gap, dgap = table_lookup(coupling_table, MU_GAP, x[i])
        mu[i] += gap - kappa * lap[i]
        dmu[i] += dgap


@njit(cache=True)
def ell_slot(cols, i, count, column):
    """The slot of `column` in row i of the row-compressed columns cols, appending it
    (count -> count + 1) if the row does not hold it yet; returns (slot, count)."""
    for e in range(count):
        if cols[i, e] == column:
            return e, count
    cols[i, count] = column
    return count, count + 1


@njit(cache=True)
def phase_structure(nbr, cols, counts, slot_n, slot_nn):
    """The sparsity of phase_matrix, fixed by the connectivity alone (computed once per
    particle): the columns of each row i in cols (N, ELL_WIDTH), i itself in slot 0,
    counts (N,), and the slot in row i of each neighbour j = nbr[i, k], slot_n (N, 6), and
    of each neighbour of a neighbour nbr[j, kk], slot_nn (N, 6, 6) (-1 where not
    connected)."""
    n = nbr.shape[0]
    for i in range(n):
        cols[i, 0] = i
        count = 1
        for k in range(6):
            slot_n[i, k] = -1
            for kk in range(6):
                slot_nn[i, k, kk] = -1
        for k in range(6):
            j = nbr[i, k]
            if j >= 0:
                slot_n[i, k], count = ell_slot(cols, i, count, j)
        for k in range(6):
            j = nbr[i, k]
            if j < 0:
                continue
            for kk in range(6):
                l = nbr[j, kk]
                if l >= 0:
                    slot_nn[i, k, kk], count = ell_slot(cols, i, count, l)
        counts[i] = count


@njit(cache=True)
def phase_matrix(nbr, grain, tensors, h, kappa, b_face, weight, centre, slot_n, slot_nn, vals, diag):
    """The normal (two-point) part of the Jacobian with phase separation as a sparse matrix
    in the fixed slots of phase_structure (vals (N, ELL_WIDTH) with its cols; diag (N,) the
    diagonal, slot 0):

        A v = S v + (1/h^2) sum_k b_f M_aa (q_i - q_j),   q = -kappa lap_h(v)

    S the 7-point stencil (weight, centre) of assemble_stencil + add_drift_stencil (the
    drift of the local slope dmu_i, mu_gap' included), the second term the drift of the
    gradient energy: with p_k = kappa b_f M_aa / h^4 [1/s], p_k (h^2 lap_h(v)_j -
    h^2 lap_h(v)_i), a 25-point stencil (neighbours, second neighbours along the axes and
    the 12 edge neighbours)."""
    n = nbr.shape[0]
    h4 = h * h * h * h
    for i in range(n):
        for e in range(vals.shape[1]):
            vals[i, e] = 0.0
        vals[i, 0] = centre[i]
        n_i = 0
        for k in range(6):
            if nbr[i, k] >= 0:
                n_i += 1
                vals[i, slot_n[i, k]] += weight[i, k]
        m = tensors[grain[i]]
        for k in range(6):
            j = nbr[i, k]
            if j < 0:
                continue
            a = k // 2
            p = kappa * b_face[i, k] * m[a, a] / h4
            n_j = 0
            for kk in range(6):  # + p h^2 lap_h(v)_j
                if nbr[j, kk] >= 0:
                    n_j += 1
                    vals[i, slot_nn[i, k, kk]] += p
            vals[i, slot_n[i, k]] -= p * n_j
            for kk in range(6):  # - p h^2 lap_h(v)_i
                if nbr[i, kk] >= 0:
                    vals[i, slot_n[i, kk]] -= p
            vals[i, 0] += p * n_i
        diag[i] = vals[i, 0]


@njit(cache=True)
def add_laplacian_stencil(nbr, factor, weight, centre):
    """Add factor_i lap_h(v)_i to row i of the 7-point stencil (factor [1/s per 1/m2]):
    weight_k += factor_i, centre -= n_i factor_i (n_i connected neighbours); h^2 is in factor."""
    for i in range(nbr.shape[0]):
        for k in range(6):
            if nbr[i, k] >= 0:
                weight[i, k] += factor[i]
                centre[i] -= factor[i]


@njit(cache=True)
def ell_ssor_apply(r, cols, vals, counts, diag, corner, omega, out):
    """ssor_apply for the matrix of phase_matrix: out = M^-1 r, M = (D/w + L)(D/w)^-1(D/w + U),
    one forward and one backward sweep over all its entries; out[N] = r[N] / corner."""
    n = cols.shape[0]
    for i in range(n):
        total = r[i]
        for e in range(counts[i]):
            j = cols[i, e]
            if j < i:
                total -= vals[i, e] * out[j]
        out[i] = total * omega / diag[i]
    for i in range(n - 1, -1, -1):
        total = diag[i] / omega * out[i]
        for e in range(counts[i]):
            j = cols[i, e]
            if j > i:
                total -= vals[i, e] * out[j]
        out[i] = total * omega / diag[i]
    out[n] = r[n] / corner


@njit(cache=True)
def phase_jacobian_apply(v, cols, vals, counts, cross, nbr, grain, tensors, h, d_face, grad_v, out,
                         b_face, dmu, kappa, w, grad_w, lap_v):
    """out = J v with phase separation: the matrix of phase_matrix (normal part) plus, when
    cross is True, the tangential parts of the flux, -(1/h) sum_f d_f s sum_{b!=a} M_ab
    (g_b,i(v) + g_b,j(v))/2, and of the drift, the same with b_f and
    w = dmu v - kappa lap_h(v) (the change of mu_extra). w, grad_w, lap_v: work arrays."""
    n = v.shape[0]
    for i in range(n):
        total = 0.0
        for e in range(counts[i]):
            total += vals[i, e] * v[cols[i, e]]
        out[i] = total
    if cross:
        cell_gradients(v, nbr, h, grad_v)
        laplacian(v, nbr, h, lap_v)
        for i in range(n):
            w[i] = dmu[i] * v[i] - kappa * lap_v[i]
        cell_gradients(w, nbr, h, grad_w)
        for i in range(n):
            m = tensors[grain[i]]
            out[i] -= (tangential_sum(i, grad_v, nbr, m, d_face) + tangential_sum(i, grad_w, nbr, m, b_face)) / h
