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

Solver (elasticity_solver): conjugate gradients on K u = f, preconditioned by the exact
inverse of K for a homogeneous isotropic reference medium (Lame constants lambda0, mu0
from the Voigt averages of the solid's stiffness), which is diagonal in Fourier space
(Zeman et al. 2010; de Geus et al. 2017; Leuschner & Fritzen 2018; its Fourier symbols
are stated in elasticity_solver). The iteration stops when the relative residual

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

from chemomech.errors import SolverError
from chemomech.mechanics.elastic_constants import voigt_moduli
from chemomech.mechanics.elasticity_kernels import centre_fields, eigenstrain_voigt
from chemomech.mechanics.elasticity_solver import PRECONDITIONER_DTYPE, conjugate_gradients

__all__ = ["DEFAULT_MAX_ITERATIONS", "PRECONDITIONER_DTYPE", "solve_elasticity", "solve_elasticity_grains"]

DEFAULT_MAX_ITERATIONS = 2000
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
    largest, asymmetry, finite = eigenstrain_voigt(
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
        u, iterations, residual = conjugate_gradients(
            u, table_scaled, grain_grid, eigen_grid, lambda0 / mu0, 1.0, tolerance, max_iterations, threads
        )
        # Voxel-centre fields on the internal grid (NaN in void), then the rigid motion.
        strain = np.empty((3, 3, *grid))
        stress = np.empty((3, 3, *grid))
        rotation = np.empty((3, *grid))
        centre_fields(u, table_scaled, grain_grid, eigen_grid, mu0, strain, stress, rotation)
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

def _remove_rigid_motion(u, rotation, solid):
    """Give each connected piece of solid zero mean rotation and zero mean nodal
    displacement (in place): rotation -= omega_P, u -= omega_P x (x_node - x_P) + t_P,
    with omega_P the mean rotation over the piece's voxels, x_P the mean position of its
    nodes and t_P the mean remaining displacement there. The pieces never wrap around the
    periodic box (see _solve), so node positions are the plain indices."""
    import scipy.ndimage  # loaded where used: a 1-D run does not need it

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
