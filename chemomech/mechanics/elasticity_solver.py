"""Preconditioned conjugate gradients for the voxel elasticity system K u = f
(chemomech.mechanics.voxel_elasticity states the problem and its discretisation).

Lengths in voxels (h = 1), stresses in units of mu0. The preconditioner is the exact
inverse of K for a homogeneous isotropic reference medium (Lame constants lambda0, mu0),
which is diagonal in Fourier space (Zeman et al. 2010; de Geus et al. 2017; Leuschner &
Fritzen 2018). With th_j = 2 pi n_j / N_j, s_j = sin(th_j / 2), c_j = cos(th_j / 2), each
term of the element energy has the real symbol vector g_m (the common phase factor drops
out):

    centre (weight 1):         (s_x c_y c_z, c_x s_y c_z, c_x c_y s_z)
    xi, eta, zeta (1/3):       (0, s_x s_y c_z, s_x c_y s_z), (s_x s_y c_z, 0, c_x s_y s_z),
                               (s_x c_y s_z, c_x s_y s_z, 0)
    eta zeta, xi zeta, xi eta (1/9):   s_x s_y s_z e_x, s_x s_y s_z e_y, s_x s_y s_z e_z

    K0 = (4 h) sum_m w_m [ mu0 |g_m|^2 I + (lambda0 + mu0) g_m g_m^T ]   (3x3 per frequency)

inverted in closed form per frequency (elasticity_kernels.reference_inverse); the mean
(th = 0) is set to zero. The iteration stops when the relative residual

    sqrt( r . K0^{-1} r / f . K0^{-1} f ) <= tolerance,   r = f - K u.

Void nodes carry no stiffness: they are null directions of K that CG leaves alone.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from chemomech.errors import SolverError
from chemomech.mechanics.elasticity_kernels import (
    apply_reference_inverse,
    cg_direction,
    cg_update,
    dot,
    reference_inverse,
    stiffness_force,
    two_dots,
)

PRECONDITIONER_DTYPE = np.float32  # FFT precision of the preconditioner (see conjugate_gradients)


def conjugate_gradients(u, table, grain, eigen, lam, mu, tolerance, max_iterations, threads):
    """Preconditioned CG on K u = f (module docstring); u is the start, updated in place.
    Returns (u, iterations, relative residual). threads: FFT workers.

    The preconditioner's FFTs run in PRECONDITIONER_DTYPE (float32: twice as fast; its
    rounding perturbs K0^{-1} by ~1e-7 relative to each residual, not to f, so any
    tolerance is reachable). The Polak-Ribiere form of beta keeps CG robust to that
    slightly inexact preconditioner (it equals the classical beta for an exact one).
    """
    grid = grain.shape
    inverse = np.empty((6, grid[0], grid[1], grid[2] // 2 + 1), dtype=PRECONDITIONER_DTYPE)
    reference_inverse(*reference_symbols(grid), lam, mu, inverse)

    def apply_k(x, out):
        stiffness_force(x, table, grain, eigen, False, out)
        return out

    def precondition(r_low):
        """z = K0^{-1} r, given and returned in PRECONDITIONER_DTYPE."""
        r_hat = scipy.fft.rfftn(r_low, axes=(1, 2, 3), workers=threads)
        apply_reference_inverse(r_hat, inverse)
        return scipy.fft.irfftn(r_hat, s=grid, axes=(1, 2, 3), workers=threads)

    # f = D^T C eps*: minus the nodal force of the eigenstress at u = 0.
    f = np.empty((3, *grid))
    stiffness_force(np.zeros_like(u), table, grain, eigen, True, f)
    f *= -1.0
    f_norm2 = dot(f, precondition(f.astype(PRECONDITIONER_DTYPE)))
    if f_norm2 == 0.0:
        return np.zeros_like(u), 0, 0.0

    r = f - apply_k(u, np.empty_like(u))
    r_low = r.astype(PRECONDITIONER_DTYPE)  # r in the preconditioner's precision
    z = precondition(r_low)
    rz = dot(r, z)
    p = z.astype(np.float64)
    q = np.empty_like(u)
    r_old = np.empty_like(u)
    residual = np.sqrt(max(rz, 0.0) / f_norm2)
    iterations = 0
    while residual > tolerance:
        if iterations >= max_iterations:
            raise SolverError(
                f"elasticity solve did not converge: relative residual {residual:.3g} after "
                f"{iterations} iterations (tolerance {tolerance:g}); raise max_iterations "
                f"or tolerance"
            )
        apply_k(p, q)
        curvature = dot(p, q)
        if not curvature > 0.0:
            raise SolverError(
                f"elasticity solve broke down (p.Kp = {curvature:.3g}) at relative residual "
                f"{residual:.3g} after {iterations} iterations; check the stiffness"
            )
        alpha = rz / curvature
        cg_update(u, r, r_old, r_low, p, q, alpha)
        z = precondition(r_low)
        rz_new, r_old_z = two_dots(r, r_old, z)
        beta = (rz_new - r_old_z) / rz
        cg_direction(p, z, max(beta, 0.0))
        rz = rz_new
        residual = np.sqrt(max(rz, 0.0) / f_norm2)
        iterations += 1
    return u, iterations, residual


def reference_symbols(grid):
    """Per-axis sin(th/2) and cos(th/2) for th = 2 pi n / N on the rfft frequency grid
    (last axis halved), in the order (s_z, c_z, s_y, c_y, s_x, c_x); cos is set exactly
    to 0 at th = pi (the Nyquist frequency of an even axis)."""
    out = []
    for axis, n in enumerate(grid):
        count = n // 2 + 1 if axis == 2 else n
        index = np.arange(count)
        half_angle = np.pi * index / n
        sine = np.sin(half_angle)
        cosine = np.cos(half_angle)
        cosine[2 * index == n] = 0.0
        out += [sine, cosine]
    return out  # sz, cz, sy, cy, sx, cx
