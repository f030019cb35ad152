"""FiPy reference solution of galvanostatic (CC) charge and discharge of a spherical particle.

What it is: an independent finite-volume formulation, in FiPy, of the same equations that
the default driver (sphere_transport.run_sphere with the numba kernels of sphere_kernels)
solves. It exists to verify the default, not for production: FiPy rebuilds and solves
its sparse system in Python at every sweep (~5 ms per sweep for 50-100 cells, ~5 sweeps per
step, so ~25 ms per step against ~0.02 ms per step for the default) and the step is fixed.
It covers protocols made of constant-current segments only, each in either direction and
ended by its voltage limit: "Charge at 1C until 4.5 V", "Discharge at 1C until 2.8 V", ...

Equation, in the Li site fraction x = c / c_max [-] of a sphere of radius R [m]:
    dx/dt = (1/r^2) d/dr ( r^2 D(x) dx/dr ),        0 < r < R,
    D(x) dx/dr = 0                                  at r = 0,
    -D(x) dx/dr = n_s = i / (F c_max)   [m/s]       at r = R (outward Li flux),
with D(x) = material.diffusivity_orientation_average(x) [m2/s], i the segment's constant
current density [A/m2] (Step.specific_current times the mass per area density R / 3;
kinetics.galvanostatic_current_density for a C-rate), F [C/mol], c_max [mol/m3].
Sign convention (as the default's): i > 0 on charge (delithiation, Li leaves, n_s > 0),
i < 0 on discharge (lithiation, n_s < 0).

Discretisation (identical to the default's, so that only the time step separates them),
per steradian, cell i = 1..N, faces i-1/2 and i+1/2:
    V_i (x_i - x_i^old)/dt = A_{i+1/2} D(x_{i+1/2}) (x_{i+1} - x_i)/g_{i+1/2}
                           - A_{i-1/2} D(x_{i-1/2}) (x_i - x_{i-1})/g_{i-1/2} - [i = N] R^2 n_s,
    - N uniform radial cells, dr = R/N, on FiPy's spherical 1-D mesh (face areas r^2 per
      steradian, centre distances g = dr, dr/2 at the boundaries); or a mesh graded towards
      the surface (geometry.sphere) on FiPy's non-uniform spherical grid with the same shell
      widths (g the distance between neighbouring centres, half the outer shell at r = R). FiPy 4.0.3's
      SphericalUniformGrid1D uses the midpoint cell volume r_c^2 dr, which is smaller than
      the exact shell volume (r_out^3 - r_in^3)/3 by dr^3/12 (total volume R^3/3 (1 - 1/(4N^2)));
      by default the mesh here overrides `cellVolumes` with the exact shell volumes that
      chemomech.geometry.SphereMesh uses (cell_volumes="exact"); cell_volumes="fipy"
      keeps FiPy's own volumes (an O(dr^2) different discretisation of the same PDE; it
      lowers the SoC at cutoff by the volume deficit, a relative 1/(4N^2)). Do not pass an
      array dr: FiPy 4.0.3's SphericalNonUniformGrid1D has volumes (r_out^3 - r_in^3)/2,
      3/2 of the shell volume for face areas r^2, which slows diffusion by a factor 2/3.
    - Face diffusivity D(x_f), x_f = (x_i + x_{i+1})/2 the arithmetic face mean
      (face_mean; FiPy's x.arithmeticFaceValue on a uniform mesh), as a FaceVariable: TransientTerm() == DiffusionTerm(D_face).
    - Surface flux as an explicit source: the divergence of the face vector field that is
      n_s * (outward normal) on the outer face and zero elsewhere,
          - (mesh.facesRight * n_s * mesh.faceNormals).divergence   [1/s],
      which adds exactly -A_R n_s = -R^2 n_s [m3/s per sr] to the outer cell's balance, while
      FiPy's default no-flux condition applies to the diffusive flux on both exterior faces
      (n_s is constant within a segment, so the divergence is evaluated once per segment and
      held in a CellVariable). This form conserves Li exactly (to round-off): every interior
      diffusive flux enters two cells with opposite signs whatever the value of D_face, so
      sum_i V_i (x_i - x_i^old) = -R^2 n_s dt after every linear solve, converged or not.
      (A faceGrad constraint -n_s / D on the outer face would instead make the boundary
      flux D_lagged * n_s / D, exact only once the sweeps have converged.)
    - Backward Euler with a fixed step per segment, dt = 3600 / (c_rate * steps_per_hour)
      [s]. D(x) is nonlinear: each step is swept (Picard iteration: D_face from the latest
      x, then one linear solve with FiPy's LU solver) until the residual of the step's
      equations, scaled to units of x (|L x - b|_i / (V_i / dt), max over cells, evaluated
      before the solve), is below 1e-10. The first sweep starts from the linear
      extrapolation of the segment's last two states (from the last state at a segment's
      first step). FiPy's solvers skip the solve when |L x - b| <= tolerance |b| (default
      tolerance 1e-5), which stalls the sweeps near 1e-6; the LU solver is therefore asked
      for tolerance 1e-14.

Voltage after each step, as in the default (kinetics.py, sphere_kernels.voltage_at):
    x_R = x_N - (dr/2) n_s / D(x_N)     (surface value extrapolated from the outer cell,
                                         clipped to [0, 1]),
    V = U(x_R) + (2RT/F) asinh(i / (2 i0(x_R))) + i R / sigma      [V].
The t = 0 row is the pristine uniform state at open circuit, as the default records it:
current 0, V = U(x_initial). A segment ends when V reaches its limit (rises to it on
charge, falls to it on discharge), and the next segment starts from the state there. V
depends on the state through x_N only, so the limit is a value x_N* of the outer cell
(found by bisection on V(x_N) between the values before and after the step that crossed
it); the last step is then re-solved with the length h in (0, dt] whose x_N equals x_N* to
1e-9 (Illinois false position on h, a few backward-Euler solves), as the default re-solves
it. The located end is then itself a backward-Euler step, and the charge at the limit
carries the plain first-order error of the fixed step. Its row records V = limit: at a
discharge cliff V(x_N) is all but vertical (NC91, 1C, 20 cells: 0.2 V per 1e-9 of x_N, the
surface extrapolation with the small D near x = 1 putting x_R within 1e-6 of 1), so V of
the located state means nothing below the 1e-9 to which x_N is located, while the time and
charge there are exact to ~1e-6 s. Interpolating linearly within the last step instead, V
(as this reference did for charge only) or the state, adds an error of the same order but
erratic in dt (NC91, 20 cells, 1C: with V interpolated, the error of the discharge
capacity changed sign between 180 and 360 steps per hour; with the state interpolated, n
times the error of the charge capacity, constant for a clean first order, ranged over
0.043-0.073 for 24-96 steps per hour, against 0.034-0.040 with the step re-solved): the
outer cell follows a change of the surface flux within dr^2/D (~10 s for 20 cells in 2
um), shorter than the step, so it is far from linear in time within one; and at a
discharge cutoff the surface fills up, i0(x_R) -> 0 and V falls off a cliff (NC91 at 1C:
from 3.3 V to 2.8 V within 0.1 s), so a straight line through the voltages before and
after the last step misplaces the cutoff by up to a whole step. A segment that would start
at or beyond its limit is an error; the voltage checked there is that of the starting
state under the segment's current, without the surface extrapolation at t = 0 (uniform
state; the surface holds x_initial) and with it at later segment starts. A segment also
ends, as in the default, after the step in which the outer cell's x falls to
integrator.SURFACE_EMPTY on charge ("surface delithiated") or rises to
integrator.SURFACE_FULL on discharge ("surface lithiated").

Material functions: the same `Material` methods as the default (ocv, exchange_current,
diffusivity_orientation_average), evaluated directly rather than through the default's
4001-point tables, so the comparison also checks the tabulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.protocol import Experiment, Step
from chemomech.transport.integrator import SURFACE_EMPTY, SURFACE_FULL
from chemomech.transport.kinetics import thermal_voltage_2rt_f

SWEEP_RESIDUAL_TOL = 1e-10  # max residual per cell, in units of x [-]
MAX_SWEEPS = 50
LU_TOLERANCE = 1e-14  # relative to |b|: one LU solve plus at most a few refinements
EVENT_X_TOL = 1e-9  # outer-cell x of the located limit [-]: 10x the sweeps' 1e-10
EVENT_MAX_SOLVES = 30


@dataclass
class FipySphereSolution:
    """A FiPy run: one row per time step (the t = 0 row at open circuit, the last row of
    each segment interpolated to its voltage limit).

    time [s], voltage [V], current_density [A/m2] (positive on charge; 0 in the t = 0
    row), states (rows, cells) [-], charge_passed [C/kg] (cumulative, signed: positive on
    charge), step (segment index of each row, 0 for the t = 0 row).
    Per segment: texts (its sentence), end_rows (the row where it ends), end_reasons
    ("v_max", "v_min", "surface delithiated", "surface lithiated").
    li_balance_error: |Li lost by the solid - Li passed through the surface| / (Li passed
    either way), with the volumes FiPy conserves.
    """

    mesh: SphereMesh
    time: np.ndarray
    voltage: np.ndarray
    current_density: np.ndarray
    states: np.ndarray
    charge_passed: np.ndarray
    step: np.ndarray
    texts: list
    end_rows: list
    end_reasons: list
    li_balance_error: float

    @property
    def end_reason(self) -> str:
        """Why the run ended: the last segment's end reason."""
        return self.end_reasons[-1]


def face_mean(x_cells) -> np.ndarray:
    """x at the N+1 faces of a 1-D mesh: (x_a + x_b)/2 between cells a and b, the cell's own
    value on the two boundary faces. FiPy's arithmeticFaceValue on a uniform mesh; on a
    graded one FiPy would weight by distance, the default kernels take the plain mean."""
    x_cells = np.asarray(x_cells, dtype=float)
    faces = np.empty(x_cells.size + 1)
    faces[1:-1] = 0.5 * (x_cells[:-1] + x_cells[1:])
    faces[0], faces[-1] = x_cells[0], x_cells[-1]
    return faces


def _fipy_mesh(mesh: SphereMesh, cell_volumes: str):
    """FiPy's spherical 1-D mesh for `mesh` [m] (uniform, or FiPy's non-uniform grid with
    the shell widths of a graded mesh); with cell_volumes="exact" its cellVolumes are the
    exact shell volumes (r_out^3 - r_in^3)/3 [m3/sr]."""
    import fipy
    from fipy.meshes.sphericalNonUniformGrid1D import SphericalNonUniformGrid1D
    from fipy.meshes.sphericalUniformGrid1D import SphericalUniformGrid1D

    if cell_volumes == "fipy":
        if mesh.graded:
            return fipy.SphericalGrid1D(dr=np.diff(mesh.faces))
        return fipy.SphericalGrid1D(nr=mesh.cells, dr=mesh.spacing)
    if cell_volumes != "exact":
        raise ValueError(f"cell_volumes = {cell_volumes!r}; allowed: 'exact', 'fipy'")

    exact_volumes = mesh.volumes.copy()
    base = SphericalNonUniformGrid1D if mesh.graded else SphericalUniformGrid1D

    class ExactShellSphericalGrid1D(base):
        """FiPy's spherical grid with exact shell volumes instead of r_c^2 dr."""

        @property
        def cellVolumes(self):
            return exact_volumes

    if mesh.graded:
        return ExactShellSphericalGrid1D(dx=np.diff(mesh.faces))
    return ExactShellSphericalGrid1D(dx=mesh.spacing, nx=mesh.cells)


def constant_current_segments(experiment: Experiment) -> list[Step]:
    """The experiment's steps in the order they run (cycles unrolled); each must be a
    constant-current step with a voltage limit and no time limit, else ValueError."""
    if experiment.stops:
        raise ValueError(
            f"run_sphere_fipy runs every step to its voltage limit; stop conditions "
            f"({', '.join(stop.describe() for stop in experiment.stops)}) are not supported")
    segments = []
    for cycle, _, steps in experiment.cycles():
        for step in steps:
            if step.mode != "current" or step.until_V is None or step.duration_s is not None:
                raise ValueError(
                    f'run_sphere_fipy covers constant-current steps until a voltage limit only; '
                    f'step "{step.describe()}" (cycle {cycle}) is not one (holds, rests and time '
                    f'limits are not supported)')
            segments.append(step)
    return segments


def _outer_value_at_limit(excess, outer_old: float, outer_new: float) -> float | None:
    """The outer-cell value x_N between outer_old and outer_new at which
    excess(x_N) = V(x_N) - limit [V] is zero (bisection to round-off), or None when the
    limit is already reached at outer_old."""
    sign_new = np.sign(excess(outer_new))
    if np.sign(excess(outer_old)) in (0.0, sign_new):
        return None
    low, high = outer_old, outer_new
    for _ in range(100):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if np.sign(excess(middle)) == sign_new:
            high = middle
        else:
            low = middle
    return high


def run_sphere_fipy(material: Material, mesh: SphereMesh, experiment: Experiment,
                    steps_per_hour: int = 720, temperature: float = TEMPERATURE_DEFAULT,
                    cell_volumes: str = "exact") -> FipySphereSolution:
    """Constant-current segments (charge and/or discharge, each until its voltage limit) of
    a uniformly lithiated sphere (x = material.x_initial), solved with FiPy (see the module
    docstring for the equations).

    steps_per_hour: fixed backward-Euler steps per nominal time 1/c_rate [h] of each
        segment, so dt = 3600 / (c_rate * steps_per_hour) [s].
    cell_volumes: "exact" (shell volumes, as the default driver) or "fipy" (r_c^2 dr).
    Raises ValueError for a step it does not cover (module docstring) and for a segment
    that starts at or beyond its voltage limit.
    """
    import fipy

    segments = constant_current_segments(experiment)
    fmesh = _fipy_mesh(mesh, cell_volumes)
    volumes = np.asarray(fmesh.cellVolumes, dtype=float)  # m3/sr, the volumes FiPy conserves
    radius, half_width = mesh.radius, mesh.surface_half_width  # outer centre to the surface [m]
    two_rt_f = thermal_voltage_2rt_f(temperature)  # V
    ohmic = radius / material.electronic_conductivity  # (V) per (A/m2)
    specific = 3.0 / (material.density * radius)  # (C/kg) per (A/m2 * s)

    def voltage(x_outer, current, extrapolate=True):
        """V [V] under the current density `current` [A/m2] from the outer cell value, with
        the surface extrapolation unless extrapolate is False (the uniform state at t = 0)."""
        n_s = current / (FARADAY * material.c_max)
        d = float(material.diffusivity_orientation_average(x_outer))
        x_s = min(max(x_outer - half_width * n_s / d * extrapolate, 0.0), 1.0)
        i0 = max(float(material.exchange_current(x_s)), 1e-30)
        return float(material.ocv(x_s) + two_rt_f * np.arcsinh(current / (2.0 * i0)) + current * ohmic)

    x = fipy.CellVariable(mesh=fmesh, value=material.x_initial, hasOld=True)
    d_face = fipy.FaceVariable(mesh=fmesh, value=0.0)
    unit_outflux = fmesh.facesRight * 1.0 * fmesh.faceNormals  # outward normal on the outer face
    unit_sink = np.asarray(unit_outflux.divergence.value, dtype=float)  # 1/m, per (m/s) of n_s
    surface_sink = fipy.CellVariable(mesh=fmesh, value=0.0)  # 1/s, set per segment
    equation = fipy.TransientTerm() == fipy.DiffusionTerm(coeff=d_face) - surface_sink
    # FiPy's solvers skip the solve when |L x - b| <= tolerance |b| (default 1e-5), which
    # would stall the sweeps near a residual of 1e-6; ask the LU solver for round-off instead.
    solver = fipy.LinearLUSolver(tolerance=LU_TOLERANCE, criterion="RHS", iterations=5)
    transient_diagonal = np.zeros_like(volumes)  # the TransientTerm's diagonal V_i/dt [m3/s per sr]

    def scaled_residual(var, matrix, rhs):
        """max_i |L x - b|_i / (V_i / dt): the residual as a change of x [-]."""
        vector = matrix * np.asarray(var.value, dtype=float) - np.asarray(rhs, dtype=float)
        return float(np.max(np.abs(vector) / transient_diagonal))

    def backward_euler(x_old, step, guess):
        """The state [-] one backward-Euler step of `step` [s] after x_old, swept from guess."""
        transient_diagonal[:] = volumes / step
        x.setValue(x_old)
        x.updateOld()
        x.setValue(np.clip(guess, 0.0, 1.0))
        for _ in range(MAX_SWEEPS):
            d_face.setValue(material.diffusivity_orientation_average(face_mean(x.value)))
            residual = equation.sweep(var=x, dt=step, solver=solver, residualFn=scaled_residual)
            if residual < SWEEP_RESIDUAL_TOL:
                return np.array(x.value, dtype=float)
        raise RuntimeError(f"FiPy sweeps did not converge at t = {t:g} s (residual {residual:g})")

    def locate_limit(x_old, x_full, dt, target):
        """(step [s], state) of the backward-Euler step from x_old whose outer cell ends at
        `target`, the step in (0, dt] found by Illinois false position on its length (x_N of
        the step is smooth and monotone in it); x_full is the state after the full dt."""
        low, g_low = 0.0, x_old[-1] - target
        high, g_high, x_high = dt, x_full[-1] - target, x_full
        side = 0
        for _ in range(EVENT_MAX_SOLVES):
            if abs(g_high) <= EVENT_X_TOL or high - low <= 1e-12 * dt:
                break
            trial = high - g_high * (high - low) / (g_high - g_low)
            if not low < trial < high:
                trial = 0.5 * (low + high)
            x_trial = backward_euler(x_old, trial, x_old + (trial / dt) * (x_full - x_old))
            g_trial = x_trial[-1] - target
            if np.sign(g_trial) == np.sign(g_high):  # the target lies in (low, trial]
                high, g_high, x_high = trial, g_trial, x_trial
                if side == -1:
                    g_low *= 0.5
                side = -1
            else:
                low, g_low = trial, g_trial
                if side == 1:
                    g_high *= 0.5
                side = 1
        return high, x_high

    x0 = np.array(x.value, dtype=float)
    t, charge = 0.0, 0.0
    # the t = 0 row: the pristine state at open circuit
    times, voltages, currents = [0.0], [float(material.ocv(material.x_initial))], [0.0]
    states, charges = [x0], [0.0]
    rows_step, texts, end_rows, end_reasons = [0], [], [], []
    for index, step in enumerate(segments):
        charging = step.direction == "charge"
        c_rate = step.c_rate(material.capacity_nominal)  # 1/h
        current = step.specific_current(material.capacity_nominal) * material.density * radius / 3.0  # A/m2
        dt = 3600.0 / (c_rate * steps_per_hour)  # s
        surface_sink.setValue(current / (FARADAY * material.c_max) * unit_sink)
        limit = step.until_V

        def beyond(v):
            return v >= limit if charging else v <= limit

        v_start = voltage(states[-1][-1], current, extrapolate=t > 0.0)
        if beyond(v_start):
            side = "above" if charging else "below"
            raise ValueError(f'step "{step.describe()}" starts at {v_start:.3f} V, already {side} '
                             f"its limit {limit:g} V")
        segment_start = len(states) - 1
        end_reason = None
        while end_reason is None:
            x_prev = states[-1]
            # first sweep from the linear extrapolation of the segment's last two states
            guess = 2.0 * x_prev - states[-2] if len(states) - 1 > segment_start else x_prev
            x_new = backward_euler(x_prev, dt, guess)
            length = dt
            v_new = voltage(x_new[-1], current)
            if beyond(v_new):
                target = _outer_value_at_limit(lambda outer: voltage(outer, current) - limit,
                                               x_prev[-1], x_new[-1])
                if target is None:  # reached at the start of the step (first step only)
                    length, x_new = 0.0, x_prev
                else:
                    length, x_new = locate_limit(x_prev, x_new, dt, target)
                v_new = limit
                end_reason = "v_max" if charging else "v_min"
            elif charging and x_new[-1] <= SURFACE_EMPTY:
                end_reason = "surface delithiated"
            elif not charging and x_new[-1] >= SURFACE_FULL:
                end_reason = "surface lithiated"
            t += length
            charge += current * length * specific
            times.append(t)
            voltages.append(v_new)
            currents.append(current)
            states.append(x_new)
            charges.append(charge)
            rows_step.append(index)
        texts.append(step.describe())
        end_rows.append(len(times) - 1)
        end_reasons.append(end_reason)

    states = np.array(states)
    charges = np.array(charges)
    per_mol = radius**2 / (specific * FARADAY)  # (mol/sr) per (C/kg) through the surface
    lost = material.c_max * volumes @ (states[0] - states[-1])  # mol/sr
    passed = charges[-1] * per_mol
    throughput = float(np.sum(np.abs(np.diff(charges)))) * per_mol
    balance = abs(lost - passed) / throughput if throughput > 0 else 0.0
    return FipySphereSolution(
        mesh=mesh,
        time=np.array(times),
        voltage=np.array(voltages),
        current_density=np.array(currents),
        states=states,
        charge_passed=charges,
        step=np.array(rows_step, dtype=np.int32),
        texts=texts,
        end_rows=end_rows,
        end_reasons=end_reasons,
        li_balance_error=float(balance),
    )
