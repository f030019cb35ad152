"""Small-strain linear elasticity with an eigenstrain on a voxel grid.

Problem. A body made of cubic voxels of edge h [m] (the solid; the rest of the box is
void) with a local stiffness C(x) [Pa] and an eigenstrain eps*(x) [-] (the stress-free
strain of the lattice, e.g. from its Li content), both uniform inside each voxel, deforms
so that

    div sigma = 0,   sigma = C : (eps - eps*),   eps = sym(grad u) = (grad u + grad u^T) / 2

in the solid, with sigma . n = 0 on its surface (void has zero stiffness, so the surface
is traction free). u [m] is the displacement, eps the total strain, eps - eps* the elastic
strain, sigma [Pa] the stress and omega = (1/2) curl u [rad] the local rotation.

Discretisation: trilinear hexahedral finite elements, one per voxel, with exact (2x2x2
Gauss) integration. u lives on the voxel corners (nodes); the discrete solution minimises

    E(u) = sum_voxels int_voxel (1/2) (eps(u) - eps*) : C : (eps(u) - eps*) dV,

i.e. K u = f with K = D^T C D and f = D^T C eps*. Inside a voxel, with local coordinates
xi, eta, zeta in [-1, 1] along x, y, z, the gradient of the trilinear u_c is

    du_c/dx = (2/h) (gx + eta Hxy + zeta Hxz + eta zeta Hxyz)     (likewise y, z)

where gx = (1/8) sum_corners xi_a u_c,a is the centre gradient (the mean of the four
edge differences along x, divided by h: Willot's "rotated" finite difference) and
Hxy = (1/8) sum xi_a eta_a u_c,a etc. are the hourglass amplitudes. The energy splits
exactly into the centre term plus the hourglass terms with weights <xi^2> = 1/3 and
<xi^2 eta^2> = 1/9. The centre term alone (one-point integration) is Willot's rotated
scheme (Willot 2015), which Schneider, Merkert & Kabel (2017) identify as the
reduced-integration hexahedron; both avoid the Gibbs ringing of the continuous
(Moulinec-Suquet) gradient at void interfaces. With one-point integration a free body
has spurious strain-free modes whose rotation alternates from voxel to voxel (found here:
a uniform eigenstrain in a sphere came back with exact strain but mrad checkerboard
rotations), so the rotation output would be arbitrary. The fully integrated element
(Schneider et al. 2017; Leute et al. 2022) has no such modes: strain and stress are
unique, and omega is fixed up to the rigid rotation of the body. Its price is the usual
bending stiffness of linear hexahedra (shear locking): a bar bent by an eigenstrain
gradient curves 5 % too little with 6 voxels through its thickness, 3 % with 8 (error
~ (h / thickness)^2); smooth fields in a compact particle are hardly affected.

Outputs are voxel averages, which for the trilinear element are the centre values:
strain = sym(grad u)(centre), rotation = skew part of grad u at the centre as an axial
vector, stress = C : (strain - eps*).

Box and boundary conditions. The grid is a periodic cell with zero mean strain
(u periodic). With a mask the solid is a free body: where it reaches a box face, one
plane of void is appended internally along that axis, so that it never shares a node
with its periodic image (one void voxel between solids decouples them); the padding is
removed from the outputs. With mask=None the box is one cell of an infinite periodic
solid with zero mean strain: a uniform eigenstrain then gives strain 0 and stress
-C : eps*.

Solver: conjugate gradients on K u = f, preconditioned by the exact inverse of K for a
homogeneous isotropic reference medium (Lame constants lambda0, mu0 from the Voigt
averages of the solid's stiffness), which is diagonal in Fourier space (Zeman et al.
2010; de Geus et al. 2017; Leuschner & Fritzen 2018). With th_j = 2 pi n_j / N_j,
s_j = sin(th_j / 2), c_j = cos(th_j / 2), each term of the energy has the real symbol
vector g_m (the common phase factor drops out):

    centre (weight 1):         (s_x c_y c_z, c_x s_y c_z, c_x c_y s_z)
    xi, eta, zeta (1/3):       (0, s_x s_y c_z, s_x c_y s_z), (s_x s_y c_z, 0, c_x s_y s_z),
                               (s_x c_y s_z, c_x s_y s_z, 0)
    eta zeta, xi zeta, xi eta (1/9):   s_x s_y s_z e_x, s_x s_y s_z e_y, s_x s_y s_z e_z

    K0 = (4 h) sum_m w_m [ mu0 |g_m|^2 I + (lambda0 + mu0) g_m g_m^T ]   (3x3 per frequency)

inverted in closed form per frequency; the mean (th = 0) is set to zero. The iteration
stops when the relative residual

    sqrt( r . K0^{-1} r / f . K0^{-1} f ) <= tolerance,   r = f - K u,

the out-of-balance nodal force measured by the displacement it would cause in the
reference medium, relative to the one the eigenstrain causes. For a 64-voxel sphere with
a 3 % eigenstrain, tolerance 1e-5 leaves a stress error ~1e-4 of the peak stress and a
rotation error ~2e-6 rad. Void nodes carry no stiffness: they are null directions of K
that CG leaves alone and that enter no output. The preconditioner's FFTs run in float32
(twice as fast; the same iterations and fields as float64 to 1e-13 at tolerance 1e-10),
with the Polak-Ribiere beta that tolerates a slightly inexact preconditioner. Warm start:
pass the previous result's "displacement" as `initial`.

Rigid-body motion. A free body may translate and rotate without stress, so its rigid
motion is not fixed by the equations. Each connected piece of solid (voxels sharing a
face, edge or corner) is given zero mean rotation and zero mean nodal displacement.
(Pieces joined only along an edge or at a corner can hinge relative to each other, as in
any voxel finite-element mesh.) In a periodic box (mask=None) u has zero mean and no rigid
rotation.

Units: SI at the interface; internally lengths are in voxels and stresses in units of mu0,
so all numbers are of order one.

References
- F. Willot (2015) "Fourier-based schemes for computing the mechanical response of
  composites with accurate local fields", C. R. Mecanique 343, 232-245.
- M. Schneider, D. Merkert, M. Kabel (2017) "FFT-based homogenization for microstructures
  discretized by linear hexahedral elements", Int. J. Numer. Meth. Eng. 109, 1461-1489.
- R.J. Leute, M. Ladecky, A. Falsafi, I. Joedicke, I. Pultarova, J. Zeman, T. Junge,
  L. Pastewka (2022) "Elimination of ringing artifacts by finite-element projection in
  FFT-based homogenization", J. Comput. Phys. 453, 110931.
- J. Zeman, J. Vondrejc, J. Novak, I. Marek (2010) "Accelerating a FFT-based solver for
  numerical homogenization of periodic media by conjugate gradients", J. Comput. Phys.
  229, 8065-8071.
- T.W.J. de Geus, J. Vondrejc, J. Zeman, R.H.J. Peerlings, M.G.D. Geers (2017)
  "Finite strain FFT-based non-linear solvers made simple", Comput. Methods Appl. Mech.
  Eng. 318, 412-430.
- M. Leuschner, F. Fritzen (2018) "Fourier-Accelerated Nodal Solvers (FANS) for
  homogenization problems", Comput. Mech. 62, 359-392.
"""

from __future__ import annotations

import contextlib
import numbers

import numba
import numpy as np
import scipy.fft
import scipy.ndimage
from numba import njit, prange

from chemomech.errors import SolverError
from chemomech.mechanics.elastic_constants import voigt_moduli

DEFAULT_MAX_ITERATIONS = 2000
PRECONDITIONER_DTYPE = np.float32  # FFT precision of the preconditioner (see _conjugate_gradients)
# Grids with fewer voxels run on one thread: starting the thread team costs more than the
# work there (~10 us per kernel call on an idle machine, milliseconds on a busy one).
PARALLEL_MIN_VOXELS = 32**3


# ----------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------


def solve_elasticity(
    eigenstrain,
    stiffness,
    voxel_size,
    mask=None,
    *,
    tolerance: float = 1e-6,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    initial=None,
) -> dict:
    """Strain, stress and rotation of a voxel body with eigenstrain eps* (module docstring):

        div sigma = 0,  sigma = C : (sym(grad u) - eps*)  in the solid,  sigma . n = 0 at void.

    Arguments
        eigenstrain  (3, 3, nz, ny, nx) symmetric eps*_ij [-], lab frame; tensor index
                     0 = x, 1 = y, 2 = z; grid axes (z, y, x), array axis -1 is x.
                     Values in void voxels are ignored (they may be NaN).
        stiffness    (6, 6) Voigt stiffness [Pa] (order xx, yy, zz, yz, xz, xy; engineering
                     shear strains, sigma_voigt = C @ [e_xx, e_yy, e_zz, 2e_yz, 2e_xz,
                     2e_xy]), the same everywhere; or one per voxel, (nz, ny, nx, 6, 6)
                     (void entries ignored). Symmetric positive definite.
        voxel_size   h [m], the voxel edge.
        mask         (nz, ny, nx) bool, True in the solid: a free body surrounded by void.
                     None: the whole box is solid and periodic with zero mean strain.
        tolerance    relative residual at which conjugate gradients stop (module docstring).
        max_iterations  SolverError if not converged after this many iterations.
        initial      optional warm start: the "displacement" of an earlier result on the
                     same grid (NaN entries are read as 0).

    Returns a dict (fields on the voxel grid are NaN in void voxels):
        "strain"          (3, 3, nz, ny, nx) total strain sym(grad u) [-] (NOT the
                          elastic strain; it includes the eigenstrain)
        "elastic_strain"  (3, 3, nz, ny, nx) strain - eigenstrain [-]
        "stress"          (3, 3, nz, ny, nx) sigma [Pa]
        "rotation"        (3, nz, ny, nx) omega = (1/2) curl u [rad], components x, y, z:
                          omega_x = (du_z/dy - du_y/dz)/2, omega_y = (du_x/dz - du_z/dx)/2,
                          omega_z = (du_y/dx - du_x/dy)/2; zero mean over each solid piece
        "displacement"    (3, nz+1, ny+1, nx+1) u [m] at the voxel corners, node (k, j, i)
                          at (x, y, z) = (i h, j h, k h); NaN at nodes touching no solid.
                          Pass it as `initial` to warm-start the next solve.
        "iterations"      number of conjugate-gradient iterations
        "residual"        relative residual reached
    """
    eigenstrain = _check_eigenstrain(eigenstrain)
    shape = eigenstrain.shape[2:]
    voxel_size = _check_voxel_size(voxel_size)
    periodic = mask is None
    if mask is None:
        solid = np.ones(shape, dtype=bool)
    else:
        solid = _check_mask(mask, shape)

    c = np.asarray(stiffness, dtype=float)
    if c.shape == (6, 6):
        _check_stiffness_matrices(c[None], "stiffness")
        table = c[None]
        grain = np.where(solid, 0, -1).astype(np.int32)
    elif c.shape == (*shape, 6, 6):
        table = np.ascontiguousarray(c[solid])  # one entry per solid voxel
        _check_stiffness_matrices(table, "stiffness")
        grain = np.full(shape, -1, dtype=np.int32)
        grain[solid] = np.arange(table.shape[0], dtype=np.int32)
    else:
        raise SolverError(
            f"stiffness must have shape (6, 6) or (nz, ny, nx, 6, 6) = {(*shape, 6, 6)}, "
            f"got {c.shape}"
        )
    return _solve(eigenstrain, table, grain, voxel_size, periodic, tolerance, max_iterations, initial)


def solve_elasticity_grains(
    eigenstrain,
    grain_stiffness,
    grain,
    voxel_size,
    *,
    tolerance: float = 1e-6,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    initial=None,
) -> dict:
    """`solve_elasticity` for a polycrystal: voxel v has stiffness grain_stiffness[grain[v]].

        grain_stiffness  (n_grains, 6, 6) Voigt stiffness of each grain in the lab frame [Pa]
                         (e.g. tensors.rotate_stiffness(C_crystal, R_grain)).
        grain            (nz, ny, nx) integer grain index; grain < 0 is void. The solid is a
                         free body (as with a mask in `solve_elasticity`).

    Other arguments and the returned dict as in `solve_elasticity`. No per-voxel 6x6 array
    is formed: the stress kernel reads grain_stiffness[grain[v]].
    """
    eigenstrain = _check_eigenstrain(eigenstrain)
    shape = eigenstrain.shape[2:]
    voxel_size = _check_voxel_size(voxel_size)
    table = np.asarray(grain_stiffness, dtype=float)
    if table.ndim != 3 or table.shape[1:] != (6, 6) or table.shape[0] < 1:
        raise SolverError(
            f"grain_stiffness must have shape (n_grains, 6, 6) with n_grains >= 1, "
            f"got {table.shape}"
        )
    _check_stiffness_matrices(table, "grain_stiffness")
    grain = np.asarray(grain)
    if grain.shape != shape:
        raise SolverError(
            f"grain must have the grid shape of eigenstrain {shape}, got {grain.shape}"
        )
    if not np.issubdtype(grain.dtype, np.integer):
        raise SolverError(f"grain must be an integer array (grain < 0 is void), got dtype {grain.dtype}")
    if grain.max(initial=-1) >= table.shape[0]:
        raise SolverError(
            f"grain indices must be < n_grains = {table.shape[0]} (or < 0 for void), "
            f"got a maximum of {grain.max()}"
        )
    grain = np.where(grain < 0, -1, grain).astype(np.int32)
    return _solve(eigenstrain, table, grain, voxel_size, False, tolerance, max_iterations, initial)


# ----------------------------------------------------------------------------------------
# Input checks (each names the argument, what was received and what is allowed)
# ----------------------------------------------------------------------------------------


def _check_eigenstrain(eigenstrain) -> np.ndarray:
    e = np.asarray(eigenstrain, dtype=float)
    if e.ndim != 5 or e.shape[:2] != (3, 3) or min(e.shape[2:]) < 1:
        raise SolverError(
            f"eigenstrain must have shape (3, 3, nz, ny, nx) with nz, ny, nx >= 1, "
            f"got {e.shape}"
        )
    return e


def _check_voxel_size(voxel_size) -> float:
    if (
        isinstance(voxel_size, bool)
        or not isinstance(voxel_size, numbers.Real)
        or not np.isfinite(voxel_size)
        or voxel_size <= 0
    ):
        raise SolverError(f"voxel_size must be a positive number of metres, got {voxel_size!r}")
    return float(voxel_size)


def _check_mask(mask, shape) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != bool:
        raise SolverError(f"mask must be a bool array (True in the solid), got dtype {m.dtype}")
    if m.shape != shape:
        raise SolverError(f"mask must have the grid shape of eigenstrain {shape}, got {m.shape}")
    return m


def _check_stiffness_matrices(table: np.ndarray, name: str) -> None:
    """Each (6, 6) matrix must be finite, symmetric and positive definite."""
    if not np.all(np.isfinite(table)):
        raise SolverError(f"{name} must be finite, got NaN or infinite values")
    scale = np.max(np.abs(table), axis=(1, 2))
    asymmetry = np.max(np.abs(table - table.transpose(0, 2, 1)), axis=(1, 2))
    if np.any(asymmetry > 1e-10 * scale):
        worst = int(np.argmax(asymmetry / np.maximum(scale, 1e-300)))
        raise SolverError(
            f"{name} must be symmetric, got max |C_IJ - C_JI| = {asymmetry[worst]:.3g} Pa "
            f"(matrix {worst})"
        )
    smallest = np.linalg.eigvalsh(table)[:, 0]
    if np.any(smallest <= 0):
        worst = int(np.argmin(smallest))
        raise SolverError(
            f"{name} must be positive definite, got an eigenvalue {smallest[worst]:.3g} Pa "
            f"(matrix {worst}); allowed: all eigenvalues > 0"
        )


# ----------------------------------------------------------------------------------------
# The solve shared by both entry points
# ----------------------------------------------------------------------------------------


def _solve(eigenstrain, table, grain, voxel_size, periodic, tolerance, max_iterations, initial):
    """Core solve: eigenstrain (3, 3, nz, ny, nx), table (G, 6, 6) [Pa], grain (nz, ny, nx)
    int32 index into table (< 0 void), periodic = True for an all-solid periodic box."""
    if not (isinstance(tolerance, numbers.Real) and 0 < tolerance < 1):
        raise SolverError(f"tolerance must be a number in (0, 1), got {tolerance!r}")
    if (isinstance(max_iterations, bool) or not isinstance(max_iterations, numbers.Integral)
            or max_iterations < 1):
        raise SolverError(f"max_iterations must be a positive integer, got {max_iterations!r}")
    shape = grain.shape
    solid = grain >= 0
    if not solid.any():
        raise SolverError("no solid voxel: mask (or grain >= 0) must select at least one voxel")

    # Reference medium: Voigt-average bulk and shear moduli over the solid voxels [Pa].
    counts = np.bincount(grain[solid], minlength=table.shape[0]).astype(float)
    bulk, shear = voigt_moduli(table)  # per table entry
    bulk0 = np.dot(counts, bulk) / counts.sum()
    mu0 = np.dot(counts, shear) / counts.sum()
    lambda0 = bulk0 - 2 * mu0 / 3
    table_scaled = np.ascontiguousarray(table / mu0)  # stresses in units of mu0

    # Internal periodic grid: append one void plane along every axis where the solid of a
    # free body reaches a box face, so it never touches its periodic image.
    pad = [0, 0, 0]
    if not periodic:
        for axis in range(3):
            first = np.take(solid, 0, axis=axis).any()
            last = np.take(solid, -1, axis=axis).any()
            pad[axis] = 1 if (first or last) else 0
    grid = tuple(n + p for n, p in zip(shape, pad))
    grain_grid = np.full(grid, -1, dtype=np.int32)
    grain_grid[: shape[0], : shape[1], : shape[2]] = grain
    eigen_grid = np.zeros((6, *grid))  # Voigt eps* (engineering shears), 0 in void
    largest, asymmetry, finite = _eigenstrain_voigt(
        eigenstrain, grain, eigen_grid[:, : shape[0], : shape[1], : shape[2]]
    )
    if not finite:
        raise SolverError("eigenstrain must be finite in the solid, got NaN or infinite values")
    if asymmetry > 1e-10 * largest:
        raise SolverError(
            f"eigenstrain must be symmetric (e_ij = e_ji), got max |e_ij - e_ji| = {asymmetry:.3g}"
        )

    # Node indices of the caller's (n + 1)^3 corner grid inside the internal grid.
    node_index = [np.arange(n + 1) % m for n, m in zip(shape, grid)]
    u = np.zeros((3, *grid))
    if initial is not None:
        start = np.asarray(initial, dtype=float)
        expected = (3, shape[0] + 1, shape[1] + 1, shape[2] + 1)
        if start.shape != expected:
            raise SolverError(
                f"initial must be the 'displacement' of an earlier result, shape {expected}, "
                f"got {start.shape}"
            )
        start = np.nan_to_num(start / voxel_size, nan=0.0, posinf=0.0, neginf=0.0)
        u[(slice(None), *np.ix_(*node_index))] = start

    threads = numba.get_num_threads() if np.prod(grid) >= PARALLEL_MIN_VOXELS else 1
    with _numba_threads(threads):
        u, iterations, residual = _conjugate_gradients(
            u, table_scaled, grain_grid, eigen_grid, lambda0 / mu0, 1.0, tolerance, max_iterations, threads
        )
        # Voxel-centre fields on the internal grid (NaN in void), then the rigid motion.
        strain = np.empty((3, 3, *grid))
        stress = np.empty((3, 3, *grid))
        rotation = np.empty((3, *grid))
        _centre_fields(u, table_scaled, grain_grid, eigen_grid, mu0, strain, stress, rotation)
        if not periodic:
            _remove_rigid_motion(u, rotation, grain_grid >= 0)

    # Back to the caller's grid.
    crop = (slice(0, shape[0]), slice(0, shape[1]), slice(0, shape[2]))
    strain = strain[(slice(None), slice(None), *crop)]
    stress = stress[(slice(None), slice(None), *crop)]
    rotation = rotation[(slice(None), *crop)]
    elastic_strain = strain - eigenstrain  # NaN in void, like strain
    corners = np.ix_(*node_index)  # the caller's corner grid inside the internal one
    displacement = (np.where(_corner_maximum(grain_grid >= 0), u, np.nan) * voxel_size)[(slice(None), *corners)]
    return {
        "strain": strain,
        "elastic_strain": elastic_strain,
        "stress": stress,
        "rotation": rotation,
        "displacement": displacement,
        "iterations": int(iterations),
        "residual": float(residual),
    }


@contextlib.contextmanager
def _numba_threads(count):
    """Run the block with `count` numba threads (restored afterwards)."""
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _conjugate_gradients(u, table, grain, eigen, lam, mu, tolerance, max_iterations, threads):
    """Preconditioned CG on K u = f (module docstring); u is the start, updated in place.
    Returns (u, iterations, relative residual). threads: FFT workers.

    The preconditioner's FFTs run in PRECONDITIONER_DTYPE (float32: twice as fast; its
    rounding perturbs K0^{-1} by ~1e-7 relative to each residual, not to f, so any
    tolerance is reachable). The Polak-Ribiere form of beta keeps CG robust to that
    slightly inexact preconditioner (it equals the classical beta for an exact one).
    """
    grid = grain.shape
    inverse = np.empty((6, grid[0], grid[1], grid[2] // 2 + 1), dtype=PRECONDITIONER_DTYPE)
    _reference_inverse(*_reference_symbols(grid), lam, mu, inverse)

    def apply_k(x, out):
        _stiffness_force(x, table, grain, eigen, False, out)
        return out

    def precondition(r_low):
        """z = K0^{-1} r, given and returned in PRECONDITIONER_DTYPE."""
        r_hat = scipy.fft.rfftn(r_low, axes=(1, 2, 3), workers=threads)
        _apply_reference_inverse(r_hat, inverse)
        return scipy.fft.irfftn(r_hat, s=grid, axes=(1, 2, 3), workers=threads)

    # f = D^T C eps*: minus the nodal force of the eigenstress at u = 0.
    f = np.empty((3, *grid))
    _stiffness_force(np.zeros_like(u), table, grain, eigen, True, f)
    f *= -1.0
    f_norm2 = _dot(f, precondition(f.astype(PRECONDITIONER_DTYPE)))
    if f_norm2 == 0.0:
        return np.zeros_like(u), 0, 0.0

    r = f - apply_k(u, np.empty_like(u))
    r_low = r.astype(PRECONDITIONER_DTYPE)  # r in the preconditioner's precision
    z = precondition(r_low)
    rz = _dot(r, z)
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
        curvature = _dot(p, q)
        if not curvature > 0.0:
            raise SolverError(
                f"elasticity solve broke down (p.Kp = {curvature:.3g}) at relative residual "
                f"{residual:.3g} after {iterations} iterations; check the stiffness"
            )
        alpha = rz / curvature
        _update(u, r, r_old, r_low, p, q, alpha)
        z = precondition(r_low)
        rz_new, r_old_z = _two_dots(r, r_old, z)
        beta = (rz_new - r_old_z) / rz
        _direction(p, z, max(beta, 0.0))
        rz = rz_new
        residual = np.sqrt(max(rz, 0.0) / f_norm2)
        iterations += 1
    return u, iterations, residual


def _reference_symbols(grid):
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


def _remove_rigid_motion(u, rotation, solid):
    """Give each connected piece of solid zero mean rotation and zero mean nodal
    displacement (in place): rotation -= omega_P, u -= omega_P x (x_node - x_P) + t_P,
    with omega_P the mean rotation over the piece's voxels, x_P the mean position of its
    nodes and t_P the mean remaining displacement there. The pieces never wrap around the
    periodic box (see _solve), so node positions are the plain indices."""
    labels, count = scipy.ndimage.label(solid, structure=np.ones((3, 3, 3)))
    node_labels = _corner_maximum(labels)

    on_solid = labels > 0
    piece = labels[on_solid]
    size = np.bincount(piece, minlength=count + 1).astype(float)
    size[0] = 1.0  # label 0 is void: never used
    omega = np.stack(
        [np.bincount(piece, weights=rotation[c][on_solid], minlength=count + 1) / size for c in range(3)]
    )  # mean rotation of each piece, (3, count + 1)
    for c in range(3):
        rotation[c][on_solid] -= omega[c][piece]

    nodes = node_labels > 0
    piece = node_labels[nodes]
    z, y, x = np.nonzero(nodes)
    position = np.stack([x, y, z]).astype(float)  # node coordinates [voxels], x, y, z
    size = np.bincount(piece, minlength=count + 1).astype(float)
    size[0] = 1.0
    centre = np.stack([np.bincount(piece, weights=position[c], minlength=count + 1) / size for c in range(3)])
    d = position - centre[:, piece]
    w = omega[:, piece]
    rigid = np.stack([w[1] * d[2] - w[2] * d[1], w[2] * d[0] - w[0] * d[2], w[0] * d[1] - w[1] * d[0]])
    for c in range(3):
        moved = u[c][z, y, x] - rigid[c]
        shift = np.bincount(piece, weights=moved, minlength=count + 1) / size
        u[c][z, y, x] = moved - shift[piece]


def _corner_maximum(voxel_values):
    """(grid) per node: the maximum of the non-negative voxel_values over the 8 voxels it
    is a corner of (node (k, j, i) is the lower corner of voxel (k, j, i), periodic). For a
    bool solid: True at nodes that are a corner of at least one solid voxel."""
    out = np.zeros_like(voxel_values)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                np.maximum(out, np.roll(voxel_values, (dz, dy, dx), axis=(0, 1, 2)), out=out)
    return out


# ----------------------------------------------------------------------------------------
# Compiled kernels. Node (k, j, i) is the lower corner of voxel (k, j, i); indices wrap.
# Lengths in voxels, stresses in units of mu0. Voigt order xx, yy, zz, yz, xz, xy;
# displacement components 0 = x, 1 = y, 2 = z.
#
# In a voxel with local coordinates xi, eta, zeta in [-1, 1] (along x, y, z) the
# trilinear displacement of component c has the gradient (per voxel edge)
#     du_c/dx = 2 (gx + eta Hxy + zeta Hxz + eta zeta Hxyz)
#     du_c/dy = 2 (gy + xi  Hxy + zeta Hyz + xi zeta Hxyz)
#     du_c/dz = 2 (gz + xi  Hxz + eta  Hyz + xi eta Hxyz)
# with the corner sums gx = (1/8) sum_a xi_a u_a, Hxy = (1/8) sum_a xi_a eta_a u_a, ...
# (a over the 8 corners, xi_a = +-1). Its exact (2x2x2 Gauss) energy splits into the
# centre term and six orthogonal monomial terms with weights <xi^2> = 1/3 and
# <xi^2 eta^2> = 1/9 (module docstring).
# ----------------------------------------------------------------------------------------

WEIGHT_LINEAR = 1.0 / 3.0  # mean of xi^2 over the voxel
WEIGHT_BILINEAR = 1.0 / 9.0  # mean of xi^2 eta^2


@njit(inline="always")
def _corner_sums(a, k, k1, j, j1, i, i1):
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
def _stress(c, g, e0, e1, e2, e3, e4, e5):
    """Voigt stress table[g] @ e for a Voigt strain e (engineering shears)."""
    s0 = c[g, 0, 0] * e0 + c[g, 0, 1] * e1 + c[g, 0, 2] * e2 + c[g, 0, 3] * e3 + c[g, 0, 4] * e4 + c[g, 0, 5] * e5
    s1 = c[g, 1, 0] * e0 + c[g, 1, 1] * e1 + c[g, 1, 2] * e2 + c[g, 1, 3] * e3 + c[g, 1, 4] * e4 + c[g, 1, 5] * e5
    s2 = c[g, 2, 0] * e0 + c[g, 2, 1] * e1 + c[g, 2, 2] * e2 + c[g, 2, 3] * e3 + c[g, 2, 4] * e4 + c[g, 2, 5] * e5
    s3 = c[g, 3, 0] * e0 + c[g, 3, 1] * e1 + c[g, 3, 2] * e2 + c[g, 3, 3] * e3 + c[g, 3, 4] * e4 + c[g, 3, 5] * e5
    s4 = c[g, 4, 0] * e0 + c[g, 4, 1] * e1 + c[g, 4, 2] * e2 + c[g, 4, 3] * e3 + c[g, 4, 4] * e4 + c[g, 4, 5] * e5
    s5 = c[g, 5, 0] * e0 + c[g, 5, 1] * e1 + c[g, 5, 2] * e2 + c[g, 5, 3] * e3 + c[g, 5, 4] * e4 + c[g, 5, 5] * e5
    return s0, s1, s2, s3, s4, s5


@njit(inline="always")
def _spread(ax, ay, az, axy, axz, ayz, axyz):
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
def _add_plane_forces(k, u, table, grain, eigen, with_eigen, force):
    """Add the nodal forces of the solid voxels of plane k to `force` (nodes of planes k and
    k + 1 only). Each voxel contributes the gradient of its energy

        E_voxel = (1/2) (e0 - eps*) : C : (e0 - eps*) + sum_m w_m (1/2) e_m : C : e_m

    with e0 = sym(grad u) at the centre and e_m the strain coefficient of monomial m (see
    the comment above) to its 8 corners.
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
            xgx, xgy, xgz, xhxy, xhxz, xhyz, xh3 = _corner_sums(ux, k, k1, j, j1, i, i1)
            ygx, ygy, ygz, yhxy, yhxz, yhyz, yh3 = _corner_sums(uy, k, k1, j, j1, i, i1)
            zgx, zgy, zgz, zhxy, zhxz, zhyz, zh3 = _corner_sums(uz, k, k1, j, j1, i, i1)

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
            c_xx, c_yy, c_zz, c_yz, c_xz, c_xy = _stress(table, g, e0, e1, e2, e3, e4, e5)

            # xi term: grad u_c = 2 (0, Hxy, Hxz)
            a_xx, a_yy, a_zz, a_yz, a_xz, a_xy = _stress(
                table, g, 0.0, 2.0 * yhxy, 2.0 * zhxz, 2.0 * (yhxz + zhxy), 2.0 * xhxz, 2.0 * xhxy
            )
            # eta term: grad u_c = 2 (Hxy, 0, Hyz)
            b_xx, b_yy, b_zz, b_yz, b_xz, b_xy = _stress(
                table, g, 2.0 * xhxy, 0.0, 2.0 * zhyz, 2.0 * yhyz, 2.0 * (xhyz + zhxy), 2.0 * yhxy
            )
            # zeta term: grad u_c = 2 (Hxz, Hyz, 0)
            d_xx, d_yy, d_zz, d_yz, d_xz, d_xy = _stress(
                table, g, 2.0 * xhxz, 2.0 * yhyz, 0.0, 2.0 * zhyz, 2.0 * zhxz, 2.0 * (xhyz + yhxz)
            )
            # eta zeta, xi zeta, xi eta terms: grad u_c = 2 Hxyz e_x, e_y, e_z
            p_xx, p_yy, p_zz, p_yz, p_xz, p_xy = _stress(table, g, 2.0 * xh3, 0.0, 0.0, 0.0, 2.0 * zh3, 2.0 * yh3)
            q_xx, q_yy, q_zz, q_yz, q_xz, q_xy = _stress(table, g, 0.0, 2.0 * yh3, 0.0, 2.0 * zh3, 0.0, 2.0 * xh3)
            r_xx, r_yy, r_zz, r_yz, r_xz, r_xy = _stress(table, g, 0.0, 0.0, 2.0 * zh3, 2.0 * yh3, 2.0 * xh3, 0.0)

            # dE/dg_d(c) = 2 sigma0_cd; dE/dHxy(c) = 2 w1 (s_xi[c, y] + s_eta[c, x]);
            # dE/dHxz(c) = 2 w1 (s_xi[c, z] + s_zeta[c, x]); dE/dHyz(c) = 2 w1 (s_eta[c, z]
            # + s_zeta[c, y]); dE/dHxyz(c) = 2 w2 (s_etazeta[c, x] + s_xizeta[c, y]
            # + s_xieta[c, z]); each times 1/8 (the corner-sum weight).
            fx = _spread(
                w0 * c_xx, w0 * c_xy, w0 * c_xz,
                w1 * (a_xy + b_xx), w1 * (a_xz + d_xx), w1 * (b_xz + d_xy),
                w2 * (p_xx + q_xy + r_xz),
            )
            fy = _spread(
                w0 * c_xy, w0 * c_yy, w0 * c_yz,
                w1 * (a_yy + b_xy), w1 * (a_yz + d_xy), w1 * (b_yz + d_yy),
                w2 * (p_xy + q_yy + r_yz),
            )
            fz = _spread(
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
def _stiffness_force(u, table, grain, eigen, with_eigen, force):
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
        _add_plane_forces(2 * m, u, table, grain, eigen, with_eigen, force)
    for m in prange(nz // 2):
        _add_plane_forces(2 * m + 1, u, table, grain, eigen, with_eigen, force)
    if last_alone:
        _add_plane_forces(nz - 1, u, table, grain, eigen, with_eigen, force)


@njit(inline="always")
def _add_outer(m, weight, scale, vx, vy, vz):
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
def _reference_inverse(sz, cz, sy, cy, sx, cx, lam, mu, inverse):
    """inverse[:, k, j, i] = the 6 entries (xx, yy, zz, yz, xz, xy) of K0^{-1} at each rfft
    frequency, K0 the exactly integrated trilinear operator of the homogeneous isotropic
    medium (lam, mu) (module docstring, h = 1); 0 at the mean."""
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
                _add_outer(m, 4.0, scale, s_x * c_y * c_z, c_x * s_y * c_z, c_x * c_y * s_z)
                w = 4.0 * WEIGHT_LINEAR
                _add_outer(m, w, scale, 0.0, s_x * s_y * c_z, s_x * c_y * s_z)
                _add_outer(m, w, scale, s_x * s_y * c_z, 0.0, c_x * s_y * s_z)
                _add_outer(m, w, scale, s_x * c_y * s_z, c_x * s_y * s_z, 0.0)
                w = 4.0 * WEIGHT_BILINEAR
                _add_outer(m, w, scale, sss, 0.0, 0.0)
                _add_outer(m, w, scale, 0.0, sss, 0.0)
                _add_outer(m, w, scale, 0.0, 0.0, sss)
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
def _apply_reference_inverse(r_hat, inverse):
    """r_hat <- K0^{-1} r_hat per frequency (inverse from _reference_inverse)."""
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
def _centre_fields(u, table, grain, eigen, stress_unit, strain, stress, rotation):
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
                xx, xy, xz, _, _, _, _ = _corner_sums(u[0], k, k1, j, j1, i, i1)
                yx, yy, yz, _, _, _, _ = _corner_sums(u[1], k, k1, j, j1, i, i1)
                zx, zy, zz, _, _, _, _ = _corner_sums(u[2], k, k1, j, j1, i, i1)
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
                s_xx, s_yy, s_zz, s_yz, s_xz, s_xy = _stress(
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
def _eigenstrain_voigt(e, grain, eigen):
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
def _dot(a, b):
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
def _two_dots(a, b, c):
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
def _update(u, r, r_old, r_low, p, q, alpha):
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
def _direction(p, z, beta):
    """p = z + beta p (in place)."""
    _, nz, ny, nx = p.shape
    for k in prange(nz):
        for c in range(3):
            for j in range(ny):
                for i in range(nx):
                    p[c, k, j, i] = z[c, k, j, i] + beta * p[c, k, j, i]

