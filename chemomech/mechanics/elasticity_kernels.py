"""Compiled (numba) kernels of the voxel elasticity solve (chemomech.mechanics.voxel_elasticity).

Node (k, j, i) is the lower corner of voxel (k, j, i); indices wrap (periodic grid).
Lengths in voxels, stresses in units of mu0 (the reference shear modulus). Voigt order
xx, yy, zz, yz, xz, xy (engineering shears); displacement components 0 = x, 1 = y, 2 = z.
`table` (G, 6, 6) holds the Voigt stiffnesses and `grain` (nz, ny, nx) the int32 index of
each voxel into it (< 0 void); `eigen` (6, nz, ny, nx) is the Voigt eigenstrain.

In a voxel with local coordinates xi, eta, zeta in [-1, 1] (along x, y, z) the
trilinear displacement of component c has the gradient (per voxel edge)

    du_c/dx = 2 (gx + eta Hxy + zeta Hxz + eta zeta Hxyz)
    du_c/dy = 2 (gy + xi  Hxy + zeta Hyz + xi zeta Hxyz)
    du_c/dz = 2 (gz + xi  Hxz + eta  Hyz + xi eta Hxyz)

with the corner sums gx = (1/8) sum_a xi_a u_a, Hxy = (1/8) sum_a xi_a eta_a u_a, ...
(a over the 8 corners, xi_a = +-1). Its exact (2x2x2 Gauss) energy splits into the
centre term and six orthogonal monomial terms with weights <xi^2> = 1/3 and
<xi^2 eta^2> = 1/9:

    E_voxel = (1/2) (e0 - eps*) : C : (e0 - eps*) + sum_m w_m (1/2) e_m : C : e_m

(stiffness_force gives its gradient K u - f). The reference-medium operator K0 that
reference_inverse inverts per Fourier frequency is stated in elasticity_solver.

The parallel kernels run on however many numba threads the caller sets
(voxel_elasticity runs small grids on one).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

WEIGHT_LINEAR = 1.0 / 3.0  # mean of xi^2 over the voxel
WEIGHT_BILINEAR = 1.0 / 9.0  # mean of xi^2 eta^2


@njit(inline="always")
def corner_sums(a, k, k1, j, j1, i, i1):
    """(gx, gy, gz, Hxy, Hxz, Hyz, Hxyz) of the nodal field a on voxel (k, j, i):
    (1/8) sum over the 8 corners of a times xi, eta, zeta, xi eta, xi zeta, eta zeta,
    xi eta zeta (corner signs -1 at the lower, +1 at the upper index)."""
    a000 = a[k, j, i]
    a001 = a[k, j, i1]
    a010 = a[k, j1, i]
    a011 = a[k, j1, i1]
    a100 = a[k1, j, i]
    a101 = a[k1, j, i1]
    a110 = a[k1, j1, i]
    a111 = a[k1, j1, i1]
    gx = 0.125 * ((a001 - a000) + (a011 - a010) + (a101 - a100) + (a111 - a110))
    gy = 0.125 * ((a010 - a000) + (a011 - a001) + (a110 - a100) + (a111 - a101))
    gz = 0.125 * ((a100 - a000) + (a101 - a001) + (a110 - a010) + (a111 - a011))
    hxy = 0.125 * ((a000 + a011 + a100 + a111) - (a001 + a010 + a101 + a110))
    hxz = 0.125 * ((a000 + a010 + a101 + a111) - (a001 + a011 + a100 + a110))
    hyz = 0.125 * ((a000 + a001 + a110 + a111) - (a010 + a011 + a100 + a101))
    hxyz = 0.125 * ((a001 + a010 + a100 + a111) - (a000 + a011 + a101 + a110))
    return gx, gy, gz, hxy, hxz, hyz, hxyz


@njit(inline="always")
def voigt_stress(c, g, e0, e1, e2, e3, e4, e5):
    """Voigt stress table[g] @ e for a Voigt strain e (engineering shears)."""
    s0 = c[g, 0, 0] * e0 + c[g, 0, 1] * e1 + c[g, 0, 2] * e2 + c[g, 0, 3] * e3 + c[g, 0, 4] * e4 + c[g, 0, 5] * e5
    s1 = c[g, 1, 0] * e0 + c[g, 1, 1] * e1 + c[g, 1, 2] * e2 + c[g, 1, 3] * e3 + c[g, 1, 4] * e4 + c[g, 1, 5] * e5
    s2 = c[g, 2, 0] * e0 + c[g, 2, 1] * e1 + c[g, 2, 2] * e2 + c[g, 2, 3] * e3 + c[g, 2, 4] * e4 + c[g, 2, 5] * e5
    s3 = c[g, 3, 0] * e0 + c[g, 3, 1] * e1 + c[g, 3, 2] * e2 + c[g, 3, 3] * e3 + c[g, 3, 4] * e4 + c[g, 3, 5] * e5
    s4 = c[g, 4, 0] * e0 + c[g, 4, 1] * e1 + c[g, 4, 2] * e2 + c[g, 4, 3] * e3 + c[g, 4, 4] * e4 + c[g, 4, 5] * e5
    s5 = c[g, 5, 0] * e0 + c[g, 5, 1] * e1 + c[g, 5, 2] * e2 + c[g, 5, 3] * e3 + c[g, 5, 4] * e4 + c[g, 5, 5] * e5
    return s0, s1, s2, s3, s4, s5


@njit(inline="always")
def spread_to_corners(ax, ay, az, axy, axz, ayz, axyz):
    """Transpose of the corner sums: the 8 corner values sum_q a_q m_q(corner) for the
    monomials m = xi, eta, zeta, xi eta, xi zeta, eta zeta, xi eta zeta, corners in the
    order 4 cz + 2 cy + cx (c = 0 lower, 1 upper; xi = 2 cx - 1 ...)."""
    p_lo = ax - axy  # eta = -1: coefficient of xi
    p_hi = ax + axy  # eta = +1
    q_lo = axz - axyz  # eta = -1: coefficient of xi zeta
    q_hi = axz + axyz
    r_lo = az - ayz  # eta = -1: zeta part without xi
    r_hi = az + ayz
    # f = xi (a_x + eta a_xy) + eta a_y + zeta [(a_z + eta a_yz) + xi (a_xz + eta a_xyz)]
    f000 = -p_lo - ay - (r_lo - q_lo)
    f001 = p_lo - ay - (r_lo + q_lo)
    f010 = -p_hi + ay - (r_hi - q_hi)
    f011 = p_hi + ay - (r_hi + q_hi)
    f100 = -p_lo - ay + (r_lo - q_lo)
    f101 = p_lo - ay + (r_lo + q_lo)
    f110 = -p_hi + ay + (r_hi - q_hi)
    f111 = p_hi + ay + (r_hi + q_hi)
    return f000, f001, f010, f011, f100, f101, f110, f111


@njit(cache=True, fastmath=True)
def add_plane_forces(k, u, table, grain, eigen, with_eigen, force):
    """Add the nodal forces of the solid voxels of plane k to `force` (nodes of planes k and
    k + 1 only). Each voxel contributes the gradient of its energy

        E_voxel = (1/2) (e0 - eps*) : C : (e0 - eps*) + sum_m w_m (1/2) e_m : C : e_m

    with e0 = sym(grad u) at the centre and e_m the strain coefficient of monomial m (module
    docstring) to its 8 corners.
    """
    nz, ny, nx = grain.shape
    ux, uy, uz = u[0], u[1], u[2]
    # dE/dq for q = corner sum (1/8) sum xi_a u_a ... carries 1/8 into the spread.
    w0 = 2.0 * 0.125
    w1 = 2.0 * WEIGHT_LINEAR * 0.125
    w2 = 2.0 * WEIGHT_BILINEAR * 0.125
    k1 = k + 1 if k + 1 < nz else 0
    for j in range(ny):
        j1 = j + 1 if j + 1 < ny else 0
        for i in range(nx):
            g = grain[k, j, i]
            if g < 0:
                continue
            i1 = i + 1 if i + 1 < nx else 0
            xgx, xgy, xgz, xhxy, xhxz, xhyz, xh3 = corner_sums(ux, k, k1, j, j1, i, i1)
            ygx, ygy, ygz, yhxy, yhxz, yhyz, yh3 = corner_sums(uy, k, k1, j, j1, i, i1)
            zgx, zgy, zgz, zhxy, zhxz, zhyz, zh3 = corner_sums(uz, k, k1, j, j1, i, i1)

            # Centre: e0 = sym(grad u), grad u_c along d = 2 g_d(c).
            e0 = 2.0 * xgx
            e1 = 2.0 * ygy
            e2 = 2.0 * zgz
            e3 = 2.0 * (ygz + zgy)
            e4 = 2.0 * (xgz + zgx)
            e5 = 2.0 * (xgy + ygx)
            if with_eigen:
                e0 -= eigen[0, k, j, i]
                e1 -= eigen[1, k, j, i]
                e2 -= eigen[2, k, j, i]
                e3 -= eigen[3, k, j, i]
                e4 -= eigen[4, k, j, i]
                e5 -= eigen[5, k, j, i]
            c_xx, c_yy, c_zz, c_yz, c_xz, c_xy = voigt_stress(table, g, e0, e1, e2, e3, e4, e5)

            # xi term: grad u_c = 2 (0, Hxy, Hxz)
            a_xx, a_yy, a_zz, a_yz, a_xz, a_xy = voigt_stress(
                table, g, 0.0, 2.0 * yhxy, 2.0 * zhxz, 2.0 * (yhxz + zhxy), 2.0 * xhxz, 2.0 * xhxy
            )
            # eta term: grad u_c = 2 (Hxy, 0, Hyz)
            b_xx, b_yy, b_zz, b_yz, b_xz, b_xy = voigt_stress(
                table, g, 2.0 * xhxy, 0.0, 2.0 * zhyz, 2.0 * yhyz, 2.0 * (xhyz + zhxy), 2.0 * yhxy
            )
            # zeta term: grad u_c = 2 (Hxz, Hyz, 0)
            d_xx, d_yy, d_zz, d_yz, d_xz, d_xy = voigt_stress(
                table, g, 2.0 * xhxz, 2.0 * yhyz, 0.0, 2.0 * zhyz, 2.0 * zhxz, 2.0 * (xhyz + yhxz)
            )
            # eta zeta, xi zeta, xi eta terms: grad u_c = 2 Hxyz e_x, e_y, e_z
            p_xx, p_yy, p_zz, p_yz, p_xz, p_xy = voigt_stress(table, g, 2.0 * xh3, 0.0, 0.0, 0.0, 2.0 * zh3, 2.0 * yh3)
            q_xx, q_yy, q_zz, q_yz, q_xz, q_xy = voigt_stress(table, g, 0.0, 2.0 * yh3, 0.0, 2.0 * zh3, 0.0, 2.0 * xh3)
            r_xx, r_yy, r_zz, r_yz, r_xz, r_xy = voigt_stress(table, g, 0.0, 0.0, 2.0 * zh3, 2.0 * yh3, 2.0 * xh3, 0.0)

            # dE/dg_d(c) = 2 sigma0_cd; dE/dHxy(c) = 2 w1 (s_xi[c, y] + s_eta[c, x]);
            # dE/dHxz(c) = 2 w1 (s_xi[c, z] + s_zeta[c, x]); dE/dHyz(c) = 2 w1 (s_eta[c, z]
            # + s_zeta[c, y]); dE/dHxyz(c) = 2 w2 (s_etazeta[c, x] + s_xizeta[c, y]
            # + s_xieta[c, z]); each times 1/8 (the corner-sum weight).
            fx = spread_to_corners(
                w0 * c_xx, w0 * c_xy, w0 * c_xz,
                w1 * (a_xy + b_xx), w1 * (a_xz + d_xx), w1 * (b_xz + d_xy),
                w2 * (p_xx + q_xy + r_xz),
            )
            fy = spread_to_corners(
                w0 * c_xy, w0 * c_yy, w0 * c_yz,
                w1 * (a_yy + b_xy), w1 * (a_yz + d_xy), w1 * (b_yz + d_yy),
                w2 * (p_xy + q_yy + r_yz),
            )
            fz = spread_to_corners(
                w0 * c_xz, w0 * c_yz, w0 * c_zz,
                w1 * (a_yz + b_xz), w1 * (a_zz + d_xz), w1 * (b_zz + d_yz),
                w2 * (p_xz + q_yz + r_zz),
            )
            # Scatter to the corners, order 4 cz + 2 cy + cx.
            kk = (k, k, k, k, k1, k1, k1, k1)
            jj = (j, j, j1, j1, j, j, j1, j1)
            ii = (i, i1, i, i1, i, i1, i, i1)
            for corner in range(8):
                force[0, kk[corner], jj[corner], ii[corner]] += fx[corner]
                force[1, kk[corner], jj[corner], ii[corner]] += fy[corner]
                force[2, kk[corner], jj[corner], ii[corner]] += fz[corner]


@njit(parallel=True, cache=True)
def stiffness_force(u, table, grain, eigen, with_eigen, force):
    """force = K u (with_eigen False) or K u - f (with_eigen True): the gradient of the
    total energy with respect to the nodal displacements. u, force (3, nz, ny, nx),
    table (G, 6, 6), grain (nz, ny, nx), eigen (6, nz, ny, nx) Voigt eigenstrain.

    Voxel plane k writes node planes k and k + 1, so the even planes are done in parallel,
    then the odd ones; with an odd number of planes the last one (which wraps onto node
    plane 0) is done on its own.
    """
    nz = grain.shape[0]
    for k in prange(nz):
        force[:, k] = 0.0
    last_alone = nz % 2 == 1 and nz > 1
    even = (nz + 1) // 2 - (1 if last_alone else 0)
    for m in prange(even):
        add_plane_forces(2 * m, u, table, grain, eigen, with_eigen, force)
    for m in prange(nz // 2):
        add_plane_forces(2 * m + 1, u, table, grain, eigen, with_eigen, force)
    if last_alone:
        add_plane_forces(nz - 1, u, table, grain, eigen, with_eigen, force)


@njit(inline="always")
def add_outer(m, weight, scale, vx, vy, vz):
    """m (6 entries xx, yy, zz, yz, xz, xy of a symmetric 3x3) += weight * (mu |v|^2 I
    + (lam + mu) v v^T), with scale = (mu, lam + mu)."""
    mu, lam_mu = scale
    diag = weight * mu * (vx * vx + vy * vy + vz * vz)
    m[0] += diag + weight * lam_mu * vx * vx
    m[1] += diag + weight * lam_mu * vy * vy
    m[2] += diag + weight * lam_mu * vz * vz
    m[3] += weight * lam_mu * vy * vz
    m[4] += weight * lam_mu * vx * vz
    m[5] += weight * lam_mu * vx * vy


@njit(parallel=True, cache=True)
def reference_inverse(sz, cz, sy, cy, sx, cx, lam, mu, inverse):
    """inverse[:, k, j, i] = the 6 entries (xx, yy, zz, yz, xz, xy) of K0^{-1} at each rfft
    frequency, K0 the exactly integrated trilinear operator of the homogeneous isotropic
    medium (lam, mu) (elasticity_solver docstring, h = 1); 0 at the mean."""
    _, nz, ny, nx = inverse.shape
    scale = (mu, lam + mu)
    for k in prange(nz):
        m = np.empty(6)
        for j in range(ny):
            for i in range(nx):
                if k == 0 and j == 0 and i == 0:
                    for q in range(6):
                        inverse[q, 0, 0, 0] = 0.0
                    continue
                s_x, s_y, s_z = sx[i], sy[j], sz[k]
                c_x, c_y, c_z = cx[i], cy[j], cz[k]
                sss = s_x * s_y * s_z
                for q in range(6):
                    m[q] = 0.0
                add_outer(m, 4.0, scale, s_x * c_y * c_z, c_x * s_y * c_z, c_x * c_y * s_z)
                w = 4.0 * WEIGHT_LINEAR
                add_outer(m, w, scale, 0.0, s_x * s_y * c_z, s_x * c_y * s_z)
                add_outer(m, w, scale, s_x * s_y * c_z, 0.0, c_x * s_y * s_z)
                add_outer(m, w, scale, s_x * c_y * s_z, c_x * s_y * s_z, 0.0)
                w = 4.0 * WEIGHT_BILINEAR
                add_outer(m, w, scale, sss, 0.0, 0.0)
                add_outer(m, w, scale, 0.0, sss, 0.0)
                add_outer(m, w, scale, 0.0, 0.0, sss)
                # inverse of the symmetric 3x3 [[m0, m5, m4], [m5, m1, m3], [m4, m3, m2]]
                i00 = m[1] * m[2] - m[3] * m[3]
                i11 = m[0] * m[2] - m[4] * m[4]
                i22 = m[0] * m[1] - m[5] * m[5]
                i12 = m[4] * m[5] - m[0] * m[3]
                i02 = m[5] * m[3] - m[1] * m[4]
                i01 = m[4] * m[3] - m[5] * m[2]
                det = m[0] * i00 + m[5] * i01 + m[4] * i02
                inverse[0, k, j, i] = i00 / det
                inverse[1, k, j, i] = i11 / det
                inverse[2, k, j, i] = i22 / det
                inverse[3, k, j, i] = i12 / det
                inverse[4, k, j, i] = i02 / det
                inverse[5, k, j, i] = i01 / det


@njit(parallel=True, cache=True)
def apply_reference_inverse(r_hat, inverse):
    """r_hat <- K0^{-1} r_hat per frequency (inverse from reference_inverse)."""
    _, nz, ny, nx = r_hat.shape
    for k in prange(nz):
        for j in range(ny):
            for i in range(nx):
                rx = r_hat[0, k, j, i]
                ry = r_hat[1, k, j, i]
                rz = r_hat[2, k, j, i]
                r_hat[0, k, j, i] = inverse[0, k, j, i] * rx + inverse[5, k, j, i] * ry + inverse[4, k, j, i] * rz
                r_hat[1, k, j, i] = inverse[5, k, j, i] * rx + inverse[1, k, j, i] * ry + inverse[3, k, j, i] * rz
                r_hat[2, k, j, i] = inverse[4, k, j, i] * rx + inverse[3, k, j, i] * ry + inverse[2, k, j, i] * rz


@njit(parallel=True, cache=True)
def centre_fields(u, table, grain, eigen, stress_unit, strain, stress, rotation):
    """Voxel-centre (= voxel-average) fields from the nodal u [voxels]: strain
    sym(grad u) (3, 3, ...), stress stress_unit * table[grain] (strain - eps*) (3, 3, ...)
    and rotation omega = axial vector of skew(grad u) (3, ...); NaN in void voxels."""
    nz, ny, nx = grain.shape
    for k in prange(nz):
        k1 = k + 1 if k + 1 < nz else 0
        for j in range(ny):
            j1 = j + 1 if j + 1 < ny else 0
            for i in range(nx):
                g = grain[k, j, i]
                if g < 0:
                    for a in range(3):
                        rotation[a, k, j, i] = np.nan
                        for b in range(3):
                            strain[a, b, k, j, i] = np.nan
                            stress[a, b, k, j, i] = np.nan
                    continue
                i1 = i + 1 if i + 1 < nx else 0
                # du_c/dx_d = 2 g_d(c) at the centre
                xx, xy, xz, _, _, _, _ = corner_sums(u[0], k, k1, j, j1, i, i1)
                yx, yy, yz, _, _, _, _ = corner_sums(u[1], k, k1, j, j1, i, i1)
                zx, zy, zz, _, _, _, _ = corner_sums(u[2], k, k1, j, j1, i, i1)
                e_xx = 2.0 * xx
                e_yy = 2.0 * yy
                e_zz = 2.0 * zz
                e_yz = yz + zy
                e_xz = xz + zx
                e_xy = xy + yx
                rotation[0, k, j, i] = zy - yz  # (du_z/dy - du_y/dz) / 2
                rotation[1, k, j, i] = xz - zx  # (du_x/dz - du_z/dx) / 2
                rotation[2, k, j, i] = yx - xy  # (du_y/dx - du_x/dy) / 2
                strain[0, 0, k, j, i] = e_xx
                strain[1, 1, k, j, i] = e_yy
                strain[2, 2, k, j, i] = e_zz
                strain[1, 2, k, j, i] = strain[2, 1, k, j, i] = e_yz
                strain[0, 2, k, j, i] = strain[2, 0, k, j, i] = e_xz
                strain[0, 1, k, j, i] = strain[1, 0, k, j, i] = e_xy
                s_xx, s_yy, s_zz, s_yz, s_xz, s_xy = voigt_stress(
                    table,
                    g,
                    e_xx - eigen[0, k, j, i],
                    e_yy - eigen[1, k, j, i],
                    e_zz - eigen[2, k, j, i],
                    2.0 * e_yz - eigen[3, k, j, i],
                    2.0 * e_xz - eigen[4, k, j, i],
                    2.0 * e_xy - eigen[5, k, j, i],
                )
                stress[0, 0, k, j, i] = stress_unit * s_xx
                stress[1, 1, k, j, i] = stress_unit * s_yy
                stress[2, 2, k, j, i] = stress_unit * s_zz
                stress[1, 2, k, j, i] = stress[2, 1, k, j, i] = stress_unit * s_yz
                stress[0, 2, k, j, i] = stress[2, 0, k, j, i] = stress_unit * s_xz
                stress[0, 1, k, j, i] = stress[1, 0, k, j, i] = stress_unit * s_xy


@njit(parallel=True, cache=True)
def eigenstrain_voigt(e, grain, eigen):
    """eigen[:, k, j, i] = Voigt eps* (xx, yy, zz, e_yz + e_zy, e_xz + e_zx, e_xy + e_yx) of
    the solid voxels of e (3, 3, nz, ny, nx) (void entries of eigen left as they are).
    Returns (max |e_ij|, max |e_ij - e_ji|, all finite) over the solid."""
    nz, ny, nx = grain.shape
    plane_largest = np.zeros(nz)
    plane_asymmetry = np.zeros(nz)
    plane_finite = np.ones(nz, dtype=np.bool_)
    for k in prange(nz):
        largest = 0.0
        asymmetry = 0.0
        finite = True
        for j in range(ny):
            for i in range(nx):
                if grain[k, j, i] < 0:
                    continue
                for a in range(3):
                    for b in range(3):
                        value = e[a, b, k, j, i]
                        if not np.isfinite(value):
                            finite = False
                        largest = max(largest, abs(value))
                        asymmetry = max(asymmetry, abs(value - e[b, a, k, j, i]))
                eigen[0, k, j, i] = e[0, 0, k, j, i]
                eigen[1, k, j, i] = e[1, 1, k, j, i]
                eigen[2, k, j, i] = e[2, 2, k, j, i]
                eigen[3, k, j, i] = e[1, 2, k, j, i] + e[2, 1, k, j, i]
                eigen[4, k, j, i] = e[0, 2, k, j, i] + e[2, 0, k, j, i]
                eigen[5, k, j, i] = e[0, 1, k, j, i] + e[1, 0, k, j, i]
        plane_largest[k] = largest
        plane_asymmetry[k] = asymmetry
        plane_finite[k] = finite
    return plane_largest.max(), plane_asymmetry.max(), plane_finite.all()


@njit(parallel=True, cache=True)
def dot(a, b):
    """sum(a * b) over all entries of two (3, nz, ny, nx) arrays."""
    _, nz, ny, nx = a.shape
    total = 0.0
    for k in prange(nz):
        for c in range(3):
            for j in range(ny):
                for i in range(nx):
                    total += a[c, k, j, i] * b[c, k, j, i]
    return total


@njit(parallel=True, cache=True)
def two_dots(a, b, c):
    """(sum(a * c), sum(b * c)) over all entries of three (3, nz, ny, nx) arrays."""
    _, nz, ny, nx = a.shape
    ac = 0.0
    bc = 0.0
    for k in prange(nz):
        for m in range(3):
            for j in range(ny):
                for i in range(nx):
                    ac += a[m, k, j, i] * c[m, k, j, i]
                    bc += b[m, k, j, i] * c[m, k, j, i]
    return ac, bc


@njit(parallel=True, cache=True)
def cg_update(u, r, r_old, r_low, p, q, alpha):
    """r_old = r, then u += alpha p, r -= alpha q, r_low = r in r_low's precision."""
    _, nz, ny, nx = u.shape
    for k in prange(nz):
        for c in range(3):
            for j in range(ny):
                for i in range(nx):
                    r_old[c, k, j, i] = r[c, k, j, i]
                    u[c, k, j, i] += alpha * p[c, k, j, i]
                    r[c, k, j, i] -= alpha * q[c, k, j, i]
                    r_low[c, k, j, i] = r[c, k, j, i]


@njit(parallel=True, cache=True)
def cg_direction(p, z, beta):
    """p = z + beta p (in place)."""
    _, nz, ny, nx = p.shape
    for k in prange(nz):
        for c in range(3):
            for j in range(ny):
                for i in range(nx):
                    p[c, k, j, i] = z[c, k, j, i] + beta * p[c, k, j, i]
