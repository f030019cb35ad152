"""FiPy Grid3D reference solution of the galvanostatic (CC) charge of a voxel single crystal.

What it is: an independent finite-volume formulation, in FiPy, of the voxel equations that
the default driver (voxel_transport.run_voxels with the numba kernels of voxel_kernels)
solves. It serves as (1) the reference the default is tested against
(tests/test_fipy_voxel_reference.py) and (2) the speed reference of the default
(benchmarks/bench_fipy_grid3d.py). It is not for production: FiPy assembles and solves its
sparse system in Python at every sweep, several sweeps per step, with a fixed step.

Equation, in the Li site fraction x = c / c_max [-] of every voxel of edge h [m] (volume
balance divided by h^3, backward Euler with a fixed step dt [s]):

    (x_i - x_i^old)/dt = (1/h) sum_faces F_f  -  S_i(x_i),
    F_f = n . D_f grad x    (D_f = d(x_f) M, d = material.diffusivity, the in-plane D_ab),
    S_i = sum_{surface faces of i} w_f h^2 n_f / h^3,     n_f = i_f / (F c_max)  [m/s].

Mesh and unknowns. fipy.Grid3D(nx, ny, nz, dx = dy = dz = h) over the particle's whole box.
FiPy numbers cells x fastest, then y, then z, which is numpy's C order of the (z, y, x)
particle grid: FiPy cell id = flat grid index (checked in the tests). One CellVariable x
holds every cell; the void cells are inert: D is zero on every face that touches a void
cell and they get no source, so no Li enters or leaves them. Li is counted over the solid.

Diffusion. DiffusionTerm with the face coefficient D_f = d(x_f) M, x_f the arithmetic face
mean of the two cells, M = R diag(1, 1, D_c/D_ab) R^T of the single grain in FiPy's
(x, y, z) component order, D_f = 0 on faces next to void. d(x) is the material's own
PCHIP function (the default interpolates 4001-point tables), lagged by the sweeps (below).
When M is diagonal (the c axis along a grid axis) the coefficient is the scalar face field
d(x_f) M_aa (a = the face's axis): the same flux, since n . M . t = 0 for every face
tangent t, solved by FiPy's isotropic two-point path without an anisotropy source.
Otherwise it is the rank-2 FaceVariable d(x_f) M.

How FiPy 4.0.3 treats a rank-2 coefficient (fipy/terms/abstractDiffusionTerm.py,
_anisotropicOrNonorthogonalCoeff and _calcAnisotropySource). On every face it builds an
orthonormal frame (n, t1, t2) (_getRotationTensor; on a Grid3D the t_k are +-unit axis
vectors) and writes the flux n . D grad x A_f as

    (n . D . n) A_f (x_j - x_i)/d_ij          implicit: the matrix (two-point flux)
  + sum_k (n . D . t_k) A_f (t_k . G_f)        explicit: a right-hand-side source,

with G_f = x.grad.harmonicFaceValue: the cell-centred Gauss gradient
(1/V) sum_faces x_face n A (central differences of arithmetic face values), averaged to
the face *harmonically* per component (2 g_i g_j / (g_i + g_j), 0 where g_i and g_j differ
in sign), at the latest iterate. FiPy's matrix is therefore symmetric for any M (the
tangential part is a deferred correction that the sweeps converge), so CG applies. Its
tangential flux differs from the default's (voxel_kernels: arithmetic face mean of
gradients taken over connected cells, one-sided next to the void) in two ways:
  - the harmonic instead of the arithmetic face mean (equal to second order where the
    field is smooth; zero across a sign change of a gradient component);
  - the Gauss gradient of a surface cell uses the face value (x_i + x_void)/2 across a
    face to the void. Left at x_initial, the void would put a spurious gradient
    ~ (x_i - x_initial)/(2h) into every surface cell once the surface has delithiated
    (measured: x off by up to 0.18 from the default at 50 % SoC, 0.4 um sphere, c tilted
    37 deg). So with tangential_gradient="fipy" every void cell next to the solid is set,
    before each sweep, to the mean of its solid face neighbours: for a flat surface this
    is FiPy's own treatment of a domain boundary (exterior face value = cell value, so the
    gradient there is (x_j - x_i)/(2h), half the default's one-sided difference). Void
    values enter nothing else (D = 0 on their faces, no source).
tangential_gradient="connected" keeps FiPy's matrix, frame and deferred correction but
feeds it the default's tangential gradient (a DiffusionTerm subclass whose
_calcAnisotropySource uses the connected-cell gradient with the arithmetic face mean):
then FiPy solves exactly the default's discrete equations, and the remaining difference
of the two formulations is the gradient reconstruction alone (see the tests).

Surface reaction (the kinetics reuse the default's numba routine
voxel_kernels.electrode_potential on the default's tables voxel_tables: the purpose of this
reference is the finite-volume transport and FiPy's solver). Every face between a solid
cell and the void (geometry.voxel.surface_faces) carries the outward Li flux
n_f = i_f / (F c_max) with Butler-Volmer

    i_f = 2 i0(x_s) sinh((phi - U(x_s)) / (2RT/F)),   x_s = x_i - (h/2) n_f / (d(x_i) M_nn),

(the half-voxel extrapolation of the default), the staircase area weight w_f of
geometry.voxel.surface_area_weights, and the one electrode potential phi [V] set so that
sum_f w_f h^2 i_f = I = c_rate * capacity_nominal * mass [A] (mass = density n_solid h^3).
It enters FiPy linearised about the latest iterate x* at that iterate's phi* = phi(x*):
S(x) ~ S* + S' (x - x*), S' = sum_f w_f h^2 di_f/dx_i / (F c_max h^3), as
    TransientTerm() == DiffusionTerm(D_f) - (S* - S' x*) - ImplicitSourceTerm(S')
(S' >= 0 on the diagonal keeps the sweeps stable).

Sweeps. Each step starts from the linear extrapolation of the last two states (as the
default's Newton iteration does). A sweep takes d(x_f), phi*, the linearised source and
FiPy's tangential source from the latest x, and solves. Holding phi at phi* makes the
step's Li removal drift from dt I / (F c_max) by dt sum S' (x - x*), and that error decays
only by ~dt S'/(1 + dt S') per sweep (measured: 45-95 sweeps per 180 s step of a 0.4 um
sphere with 50 nm voxels, against 2-5 with the correction below). So phi is eliminated
as in the default's bordered Newton step (a Schur complement): once per step (first
sweep) FiPy also solves the response z = dx/dphi of the same operator,
    0 == DiffusionTerm(D_f, z) - B - ImplicitSourceTerm(1/dt + S', z),
    B = sum_f w_f h^2 di_f/dphi / (F c_max h^3),
and after every solve x += mu z with mu set so that the step's Li balance holds exactly,
sum_solid (x^old - x) h^3 c_max = dt I / F. At a fixed point mu = 0 (summing the solved
equation over the cells), so z only steers the sweeps and need not be exact. The sweeps
end when the largest change of x over the solid is below `sweep_tolerance` (1e-8); the
fixed point is the default's backward-Euler step. With M diagonal that takes 3-6 sweeps;
with a tilted c axis 30-50 (the explicit tangential flux converges by a factor ~0.6 per
sweep when |M_ab| ~ M_aa).

Agreement with the default, stepped with the same dt (tests/test_fipy_voxel_reference.py,
0.4 um NC91 sphere, 50 nm voxels, 1C, 3 x 600 s to 50 % SoC): c along z, x to 3e-9 and
V to 3e-9 V (the default's Newton stopping error); c tilted 37 deg with
tangential_gradient="connected", x to 3e-8 (the slow sweeps' stopping error), V to 1e-9 V;
with FiPy's own tangential gradient, x differs by
up to 2e-3 in the surface layer and 5e-4 deeper, V by 1e-4 V: a difference of the
discretisations, not of the solvers.

Linear solver (default_solver): FiPy's scipy-suite LinearPCGSolver (= LinearCGSolver,
scipy.sparse.linalg.cg; FiPy adds no preconditioner unless asked) with a Jacobi
preconditioner (v / diag L, a FiPy ScipyPreconditioner; FiPy's own JacobiPreconditioner
is the same preconditioner applied through a sparse LU solve, available with
stock_jacobi=True), criterion "RHS" (|L x - b| <= tol |b|), tol = 1e-10:
|b| ~ (h^3/dt) |x| sqrt(N), so the residual is ~1e-10 per cell in units of x, below the
sweep tolerance (FiPy's default tolerance 1e-5 would stall the sweeps near 1e-6).
FiPy's scipy default solver (LinearLUSolver) would factorise the 3-D matrix every sweep.

Protocol: one constant-current charge until a voltage limit, given as an Experiment of
that single step (protocol.cc_charge(c_rate, v_max)); anything else is a ValueError.

Voltage after each step, as the default: V = phi + (I / A) L / sigma with phi at the new
state, A = sum_f w_f h^2, L the equivalent-sphere radius. The t = 0 row is the pristine
uniform state at open circuit, as the default records it: current 0, V = phi = U(x0). A
run without max_steps ends when V >= v_max (the state, time and charge interpolated
linearly within the last step, from V = U(x0) + (2RT/F) asinh(i/(2 i0(x0))) + i L / sigma
of the uniform state under the current at t = 0) or when a surface cell's x falls to
integrator.SURFACE_EMPTY.
"""

from __future__ import annotations

import time as wall_clock
from dataclasses import dataclass

import numpy as np

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
from chemomech.geometry.voxel import SurfaceFaces, VoxelParticle, surface_area_weights, surface_faces
from chemomech.materials.material import Material
from chemomech.transport.kinetics import thermal_voltage_2rt_f
from chemomech.transport.sphere_kernels import voltage_at
from chemomech.protocol import Experiment, Step
from chemomech.transport.integrator import SURFACE_EMPTY
from chemomech.transport.voxel_transport import voxel_tables
from chemomech.transport.voxel_kernels import electrode_potential

SWEEP_TOLERANCE = 1e-8     # largest change of x in a sweep that ends the step [-]
MAX_SWEEPS = 200
LINEAR_TOLERANCE = 1e-10   # PCG: |L x - b| <= tol |b| (FiPy criterion "RHS")
LINEAR_MAX_ITERATIONS = 5000
RESPONSE_TOLERANCE = 1e-6  # PCG for the potential response z (it only steers the sweeps)
DIAGONAL_TOLERANCE = 1e-12  # |M_ab| / max M_aa below which M counts as diagonal
TANGENTIAL_GRADIENTS = ("fipy", "connected")


@dataclass
class FipyVoxelSolution:
    """States at every step over the solid voxels `cells` (flat grid indices, C order).

    time [s], voltage [V], potential (phi [V], interface side), current_density [A/m2]
    (mean over the reacting area; 0 in the t = 0 row, at open circuit), charge_passed
    [C/kg] (cumulative, positive on charge), states (steps + 1, N) [-].
    Per step: sweeps; linear_iterations (PCG iterations of all its solves);
    step_seconds (wall time); solve_balance_error (|Li removed by the last FiPy solve,
    before the potential correction, - dt I / F| / (dt I / F): the correction the
    converged step still needed). li_balance_error: relative, over the run.
    solver: the linear solver and preconditioner."""

    particle: VoxelParticle
    cells: np.ndarray
    time: np.ndarray
    voltage: np.ndarray
    potential: np.ndarray
    current_density: np.ndarray
    states: np.ndarray
    charge_passed: np.ndarray
    end_reason: str
    li_balance_error: float
    reacting_area: float
    sweeps: np.ndarray
    linear_iterations: np.ndarray
    step_seconds: np.ndarray
    solve_balance_error: np.ndarray
    solver: str

    def field(self, state: np.ndarray) -> np.ndarray:
        """A per-voxel state on the (z, y, x) grid, NaN outside the particle."""
        grid = np.full(self.particle.grain.size, np.nan)
        grid[self.cells] = state
        return grid.reshape(self.particle.grain.shape)


def grain_tensor_xyz(material: Material, rotation: np.ndarray) -> np.ndarray:
    """M = R diag(1, 1, D_c/D_ab) R^T [-] in (x, y, z) component order (FiPy's)."""
    return rotation @ np.diag([1.0, 1.0, material.out_of_plane_ratio]) @ rotation.T


def default_solver(tolerance: float = LINEAR_TOLERANCE, iterations: int = LINEAR_MAX_ITERATIONS,
                   stock_jacobi: bool = False):
    """FiPy's scipy-suite preconditioned CG, LinearPCGSolver, criterion "RHS"
    (|L x - b| <= tolerance |b|), with a Jacobi preconditioner: the diagonal's reciprocal
    applied as a product (default) or, stock_jacobi=True, FiPy's own JacobiPreconditioner.
    FiPy 4.0.3's JacobiPreconditioner applies diag(L)^-1 through scipy's spsolve, a SuperLU
    solve with the diagonal matrix at every CG iteration: the same preconditioner, but
    ~70 % of the CG time (measured, 39k cells)."""
    from fipy.solvers.scipy import JacobiPreconditioner, LinearPCGSolver
    from fipy.solvers.scipy.preconditioners.scipyPreconditioner import ScipyPreconditioner
    from scipy.sparse.linalg import LinearOperator

    class DiagonalPreconditioner(ScipyPreconditioner):
        """Jacobi preconditioner for FiPy's scipy solvers: v -> v / diag(L)."""

        def _applyToMatrix(self, matrix):
            inverse = 1.0 / matrix.diagonal()
            return LinearOperator(matrix.shape, lambda v: inverse * v.ravel()), matrix

    precon = JacobiPreconditioner() if stock_jacobi else DiagonalPreconditioner()
    return LinearPCGSolver(tolerance=tolerance, criterion="RHS", iterations=iterations,
                           precon=precon)


def connected_gradients(x: np.ndarray, solid: np.ndarray, h: float) -> np.ndarray:
    """The default's cell gradient [1/m] (voxel_kernels.cell_gradients) on the full grid:
    central differences over solid neighbours, one-sided where only one is solid, zero
    where none is and in the void. x flat (C order), solid (nz, ny, nx); returns (3, N)
    with components in FiPy's (x, y, z) order."""
    x = x.reshape(solid.shape)
    out = np.zeros((3,) + solid.shape)
    for axis in range(3):
        pad = [(0, 0)] * 3
        pad[axis] = (1, 1)
        solid_p, x_p = np.pad(solid, pad), np.pad(x, pad)
        lo, hi = [slice(None)] * 3, [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -2), slice(2, None)
        solid_lo, solid_hi = solid_p[tuple(lo)], solid_p[tuple(hi)]
        x_lo, x_hi = x_p[tuple(lo)], x_p[tuple(hi)]
        grad = np.where(solid_lo & solid_hi, (x_hi - x_lo) / (2.0 * h),
                        np.where(solid_hi, (x_hi - x) / h, np.where(solid_lo, (x - x_lo) / h, 0.0)))
        out[2 - axis] = np.where(solid, grad, 0.0)
    return out.reshape(3, -1)


def _diffusion_term_class(tangential_gradient: str, solid: np.ndarray, h: float):
    """fipy.DiffusionTerm, or (tangential_gradient="connected") a subclass whose explicit
    tangential source uses connected_gradients with the arithmetic face mean instead of
    FiPy's Gauss gradient with the harmonic face mean."""
    import fipy
    from fipy.variables.addOverFacesVariable import _AddOverFacesVariable

    if tangential_gradient == "fipy":
        return fipy.DiffusionTerm
    if not hasattr(fipy.DiffusionTerm, "_calcAnisotropySource"):
        raise RuntimeError("tangential_gradient='connected' needs FiPy 4's "
                           "DiffusionTerm._calcAnisotropySource")

    class ConnectedGradient(fipy.CellVariable):
        """connected_gradients of `var`, recomputed whenever var changes."""

        def __init__(self, var):
            super().__init__(mesh=var.mesh, rank=1)
            self.source_var = self._requires(var)

        def _calcValue(self):
            return connected_gradients(np.asarray(self.source_var.value, dtype=float), solid, h)

    class ConnectedGradientDiffusionTerm(fipy.DiffusionTerm):
        """FiPy 4.0.3's _calcAnisotropySource with the gradient replaced."""

        def _calcAnisotropySource(self, coeff, var):
            if not hasattr(self, "anisotropySource") and len(coeff) > 1:
                gradients = ConnectedGradient(var).arithmeticFaceValue.dot(
                    self._getRotationTensor(var.mesh))
                self.anisotropySource = (_AddOverFacesVariable(gradients[1:].dot(coeff[1:]))
                                         * var.mesh.cellVolumes)

    return ConnectedGradientDiffusionTerm


def _void_neighbours(solid: np.ndarray, faces: SurfaceFaces) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (void cell, solid cell) of face neighbours, flat grid indices: the surface
    faces `faces` = surface_faces(solid) less those on the box edge; solid (nz, ny, nx)."""
    axis = faces.direction // 2
    step = np.where(faces.direction % 2 == 1, 1, -1)
    along = np.array(np.unravel_index(faces.cell, solid.shape))[axis, np.arange(len(faces))] + step
    inside = (along >= 0) & (along < np.array(solid.shape)[axis])
    strides = np.array([solid.shape[1] * solid.shape[2], solid.shape[2], 1])
    return (faces.cell + step * strides[axis])[inside], faces.cell[inside]


def single_cc_charge(experiment: Experiment) -> Step:
    """The one step of an experiment that is a single constant-current charge until a
    voltage limit; ValueError otherwise."""
    steps = [step for _, _, cycle_steps in experiment.cycles() for step in cycle_steps]
    step = steps[0]
    if (len(steps) != 1 or experiment.stops or step.mode != "current" or step.direction != "charge"
            or step.until_V is None or step.duration_s is not None):
        raise ValueError(
            "charge_voxels_fipy covers one constant-current charge until a voltage limit "
            f"(cc_charge(c_rate, v_max) with cv_hold=False); got the steps "
            f"{', '.join(repr(step.describe()) for step in steps)}")
    return step


def charge_voxels_fipy(material: Material, particle: VoxelParticle, protocol: Experiment,
                       dt: float, max_steps: int | None = None,
                       temperature: float = TEMPERATURE_DEFAULT,
                       sweep_tolerance: float = SWEEP_TOLERANCE, solver=None,
                       tangential_gradient: str = "fipy") -> FipyVoxelSolution:
    """CC charge of a uniformly lithiated voxel single crystal (x = material.x_initial)
    with FiPy on a Grid3D, fixed backward-Euler step dt [s] (equations: module docstring).

    protocol: an Experiment of one constant-current charge step until v_max, as
        cc_charge(c_rate, v_max) makes (ValueError otherwise).
    max_steps: stop after this many steps (None: run to v_max).
    solver: a FiPy solver for the steps (default: default_solver(), Jacobi-preconditioned
        CG to 1e-10); the potential response is solved with default_solver(1e-6).
    tangential_gradient: "fipy" (FiPy's own anisotropic treatment) or "connected" (the
        default's tangential gradient inside FiPy's treatment); no effect when M is
        diagonal.
    """
    import fipy

    charge_step = single_cc_charge(protocol)
    c_rate = charge_step.c_rate(material.capacity_nominal)  # 1/h
    v_max = charge_step.until_V  # V
    if particle.n_grains != 1:
        raise ValueError(
            f"charge_voxels_fipy takes a single crystal (one grain); got {particle.n_grains} grains"
        )
    if not dt > 0.0:
        raise ValueError(f"dt = {dt!r}; allowed: dt > 0 s")
    if tangential_gradient not in TANGENTIAL_GRADIENTS:
        raise ValueError(f"tangential_gradient = {tangential_gradient!r}; "
                         f"allowed: {', '.join(map(repr, TANGENTIAL_GRADIENTS))}")
    solver = default_solver() if solver is None else solver
    response_solver = default_solver(RESPONSE_TOLERANCE)

    h = particle.voxel_size
    nz, ny, nx = particle.shape
    solid_grid = particle.mask
    solid = solid_grid.ravel()
    cells = np.flatnonzero(solid)
    n_solid = cells.size
    volume = h**3
    mesh = fipy.Grid3D(nx=nx, ny=ny, nz=nz, dx=h, dy=h, dz=h)
    n_cells = mesh.numberOfCells

    # diffusion: faces joining two solid cells are the only ones with D != 0
    face_cells = np.asarray(mesh.faceCellIDs.filled(-1))
    solid_face = (face_cells[0] >= 0) & (face_cells[1] >= 0)
    solid_face[solid_face] = solid[face_cells[0, solid_face]] & solid[face_cells[1, solid_face]]
    face_a, face_b = face_cells[0, solid_face], face_cells[1, solid_face]
    tensor = grain_tensor_xyz(material, particle.rotations[0])
    off_diagonal = tensor - np.diag(np.diag(tensor))
    diagonal = np.max(np.abs(off_diagonal)) <= DIAGONAL_TOLERANCE * np.max(np.diag(tensor))
    if diagonal:  # scalar coefficient d(x_f) M_aa, a = the face's axis
        face_axis = np.argmax(np.abs(np.asarray(mesh.faceNormals)), axis=0)[solid_face]
        face_factor = np.diag(tensor)[face_axis]
        d_face = fipy.FaceVariable(mesh=mesh, value=0.0)
        d_face_value = np.zeros(mesh.numberOfFaces)
    else:
        face_factor = tensor[:, :, None]
        d_face = fipy.FaceVariable(mesh=mesh, rank=2, value=0.0)
        d_face_value = np.zeros((3, 3, mesh.numberOfFaces))
    diffusion_term = _diffusion_term_class(tangential_gradient, solid_grid, h)
    extrapolate_void = not diagonal and tangential_gradient == "fipy"

    # reaction: every face between a solid cell and the void (the grid edge counts as void)
    faces = surface_faces(solid_grid)
    void_pairs, solid_pairs = _void_neighbours(solid_grid, faces)
    void_cells = np.unique(void_pairs)
    void_counts = np.bincount(void_pairs, minlength=n_cells)[void_cells]
    face_cell = faces.cell.astype(np.int64)
    face_area = surface_area_weights(solid_grid, faces) * h**2  # m2
    axis_xyz = 2 - faces.direction // 2  # grid axis z, y, x -> component 2, 1, 0
    face_m_normal = tensor[axis_xyz, axis_xyz]
    reacting_area = float(face_area.sum())
    table = voxel_tables(material)
    two_rt_f = thermal_voltage_2rt_f(temperature)
    flux_per_current = 1.0 / (FARADAY * material.c_max)  # (m/s) per (A/m2)
    mass = material.density * n_solid * volume  # kg
    total_current = c_rate * material.capacity_nominal * mass  # A
    i_mean = total_current / reacting_area  # A/m2
    radius_equivalent = (3.0 * n_solid * volume / (4.0 * np.pi)) ** (1.0 / 3.0)
    ohmic = radius_equivalent / material.electronic_conductivity  # V per A/m2
    specific = reacting_area / mass  # (C/kg) per (A/m2 s)
    step_removal = dt * total_current * flux_per_current / volume  # sum over cells of x [-]
    current = np.zeros(face_cell.size)
    di_dphi = np.zeros(face_cell.size)
    di_dx = np.zeros(face_cell.size)

    def potential(x_grid, phi_guess):
        """phi [V] passing total_current at state x_grid (the face currents and their
        derivatives land in current, di_dphi, di_dx); q = h / (2 F c_max d(x_i) M_nn)."""
        q = 0.5 * h * flux_per_current / (material.diffusivity(x_grid[face_cell]) * face_m_normal)
        return electrode_potential(x_grid, face_cell, q, face_area, table, two_rt_f,
                                   total_current, phi_guess, current, di_dphi, di_dx)

    def per_cell(face_values):
        """sum over each cell's reacting faces of A_f * value / (F c_max h^3) [1/s per unit]."""
        return np.bincount(face_cell, face_area * face_values, n_cells) * flux_per_current / volume

    x = fipy.CellVariable(mesh=mesh, value=material.x_initial, hasOld=True)
    source_explicit = fipy.CellVariable(mesh=mesh, value=0.0)  # S* - S' x*  [1/s]
    source_slope = fipy.CellVariable(mesh=mesh, value=0.0)     # S'  [1/s]
    equation = (fipy.TransientTerm()
                == diffusion_term(coeff=d_face) - source_explicit
                - fipy.ImplicitSourceTerm(coeff=source_slope))
    response = fipy.CellVariable(mesh=mesh, value=0.0)           # z = dx/dphi [1/V]
    response_source = fipy.CellVariable(mesh=mesh, value=0.0)    # B [1/(s V)]
    response_diagonal = fipy.CellVariable(mesh=mesh, value=0.0)  # 1/dt + S' [1/s]
    response_equation = (0.0 == diffusion_term(coeff=d_face, var=response) - response_source
                         - fipy.ImplicitSourceTerm(coeff=response_diagonal, var=response))

    def solve(term, var, linear_solver, **kwargs):
        """One FiPy sweep; returns the PCG iterations. FiPy's face frame divides by zero
        on z faces before discarding the result, hence the errstate."""
        with np.errstate(divide="ignore", invalid="ignore"):
            term.sweep(var=var, solver=linear_solver, **kwargs)
        if linear_solver.convergence.status_code != 0:  # scipy: +1 maxiter, -1 breakdown
            raise RuntimeError(f"FiPy linear solve failed: {linear_solver.convergence}")
        if not np.all(np.isfinite(var.value)):
            raise RuntimeError("FiPy linear solve returned non-finite values")
        return int(linear_solver.convergence.iterations)

    x_start = np.array(x.value, dtype=float)
    # phi = U(x0) + (2RT/F) asinh(i/(2 i0(x0))): voltage_at without ohmic drop or extrapolation
    phi = float(voltage_at(material.x_initial, i_mean, table, two_rt_f, 0.0, 0.0))
    v_old, phi_old = phi + i_mean * ohmic, phi
    if v_old >= v_max:
        raise ValueError(
            f"v_max = {v_max:g}: the starting voltage {v_old:.3f} V is "
            f"already at or above it; allowed: v_max > {v_old:.3f}")
    ocv_start = float(material.ocv(material.x_initial))  # the t = 0 row, at open circuit
    times, voltages, potentials, states, charges = [0.0], [ocv_start], [ocv_start], [x_start[cells]], [0.0]
    sweeps_per_step, iterations_per_step, seconds_per_step, solve_balance = [], [], [], []
    previous = None  # full-grid state before the last step
    t, charge = 0.0, 0.0
    end_reason = None
    while end_reason is None:
        started = wall_clock.perf_counter()
        x.updateOld()
        x_prev = np.array(x.value, dtype=float)
        if previous is not None:  # first sweep from the linear extrapolation of the last two
            guess = x_prev.copy()
            guess[cells] = np.clip(2.0 * x_prev[cells] - previous[cells], 0.0, 1.0)
            x.setValue(guess)
        iterations = 0
        for sweep in range(1, MAX_SWEEPS + 1):
            x_now = np.array(x.value, dtype=float)
            if extrapolate_void:
                neighbour_sum = np.bincount(void_pairs, x_now[solid_pairs], n_cells)
                x_now[void_cells] = neighbour_sum[void_cells] / void_counts
                x.setValue(x_now)
            d_face_value[..., solid_face] = face_factor * material.diffusivity(
                0.5 * (x_now[face_a] + x_now[face_b]))
            d_face.setValue(d_face_value)
            phi = potential(x_now, phi)
            slope = per_cell(di_dx)
            source_explicit.setValue(per_cell(current) - slope * x_now)
            source_slope.setValue(slope)
            iterations += solve(equation, x, solver, dt=dt)
            if sweep == 1:
                response_source.setValue(per_cell(di_dphi))
                response_diagonal.setValue(1.0 / dt + slope)
                iterations += solve(response_equation, response, response_solver)
                z = np.array(response.value, dtype=float)
            x_solved = np.array(x.value, dtype=float)
            # potential correction: x += mu z with the step's Li balance exact
            mismatch = float(np.sum(x_prev[cells] - x_solved[cells])) - step_removal
            x_solved += mismatch / float(np.sum(z[cells])) * z
            x.setValue(x_solved)
            change = float(np.max(np.abs(x_solved[cells] - x_now[cells])))
            if change < sweep_tolerance:
                break
        else:
            raise RuntimeError(f"FiPy sweeps did not converge at t = {t:g} s (change {change:g})")
        x_new = np.array(x.value, dtype=float)
        phi = potential(x_new, phi)
        seconds_per_step.append(wall_clock.perf_counter() - started)
        sweeps_per_step.append(sweep)
        iterations_per_step.append(iterations)
        solve_balance.append(abs(mismatch) / step_removal)
        v_new = phi + i_mean * ohmic
        step = dt
        state = x_new[cells]
        if v_new >= v_max:
            theta = (v_max - v_old) / (v_new - v_old)  # fraction of the step
            state = states[-1] + theta * (state - states[-1])
            step = theta * dt
            phi = phi_old + theta * (phi - phi_old)
            v_new = v_max
            end_reason = "v_max"
        elif np.min(x_new[face_cell]) <= SURFACE_EMPTY:
            end_reason = "surface delithiated"
        elif max_steps is not None and len(times) >= max_steps:  # this was step len(times)
            end_reason = "max_steps"
        t += step
        charge += i_mean * step * specific
        times.append(t)
        voltages.append(v_new)
        potentials.append(phi)
        states.append(state)
        charges.append(charge)
        previous = x_prev
        v_old, phi_old = v_new, phi

    states = np.array(states)
    removed = material.c_max * volume * float(np.sum(states[0] - states[-1]))  # mol
    passed = charge * mass / FARADAY  # mol through the surface
    balance = abs(removed - passed) / passed if passed > 0 else 0.0
    return FipyVoxelSolution(
        particle=particle,
        cells=cells,
        time=np.array(times),
        voltage=np.array(voltages),
        potential=np.array(potentials),
        current_density=np.concatenate(([0.0], np.full(len(times) - 1, i_mean))),
        states=states,
        charge_passed=np.array(charges),
        end_reason=end_reason,
        li_balance_error=float(balance),
        reacting_area=reacting_area,
        sweeps=np.array(sweeps_per_step),
        linear_iterations=np.array(iterations_per_step),
        step_seconds=np.array(seconds_per_step),
        solve_balance_error=np.array(solve_balance),
        solver=f"{type(solver).__name__} + {type(solver.preconditioner).__name__}"
               f" (tolerance {solver.tolerance:g}, criterion {solver.criterion!r})",
    )
