"""FiPy reference solution of the galvanostatic (CC) charge of a spherical particle.

What it is: an independent finite-volume formulation, in FiPy, of the same equations that
the default driver (sphere_charge.charge_sphere with the numba kernels of sphere_kernels)
solves. It exists to verify the default, not for production: FiPy rebuilds and solves
its sparse system in Python at every sweep (~5 ms per sweep for 50-100 cells, ~5 sweeps per
step, so ~25 ms per step against ~0.02 ms per step for the default) and the step is fixed.

Equation, in the Li site fraction x = c / c_max [-] of a sphere of radius R [m]:
    dx/dt = (1/r^2) d/dr ( r^2 D(x) dx/dr ),        0 < r < R,
    D(x) dx/dr = 0                                  at r = 0,
    -D(x) dx/dr = n_s = i / (F c_max)   [m/s]       at r = R (outward Li flux on charge),
with D(x) = material.diffusivity_orientation_average(x) [m2/s], i the constant current
density [A/m2] (kinetics.galvanostatic_current_density), F [C/mol], c_max [mol/m3].

Discretisation (identical to the default's, so that only the time step separates them),
per steradian, cell i = 1..N, faces i-1/2 and i+1/2:
    V_i (x_i - x_i^old)/dt = A_{i+1/2} D(x_{i+1/2}) (x_{i+1} - x_i)/dr
                           - A_{i-1/2} D(x_{i-1/2}) (x_i - x_{i-1})/dr - [i = N] R^2 n_s,
    - N uniform radial cells, dr = R/N, on FiPy's spherical 1-D mesh (face areas r^2 per
      steradian, centre distances dr, dr/2 at the boundaries). FiPy 4.0.3's
      SphericalUniformGrid1D uses the midpoint cell volume r_c^2 dr, which is smaller than
      the exact shell volume (r_out^3 - r_in^3)/3 by dr^3/12 (total volume R^3/3 (1 - 1/(4N^2)));
      by default the mesh here overrides `cellVolumes` with the exact shell volumes that
      chemomech.geometry.SphereMesh uses (cell_volumes="exact"); cell_volumes="fipy"
      keeps FiPy's own volumes (an O(dr^2) different discretisation of the same PDE; it
      lowers the SoC at cutoff by the volume deficit, a relative 1/(4N^2)). Do not pass an
      array dr: FiPy 4.0.3's SphericalNonUniformGrid1D has volumes (r_out^3 - r_in^3)/2,
      3/2 of the shell volume for face areas r^2, which slows diffusion by a factor 2/3.
    - Face diffusivity D(x_f), x_f = (x_i + x_{i+1})/2 the arithmetic face mean
      (x.arithmeticFaceValue), as a FaceVariable: TransientTerm() == DiffusionTerm(D_face).
    - Surface flux as an explicit source: the divergence of the face vector field that is
      n_s * (outward normal) on the outer face and zero elsewhere,
          - (mesh.facesRight * n_s * mesh.faceNormals).divergence   [1/s],
      which adds exactly -A_R n_s = -R^2 n_s [m3/s per sr] to the outer cell's balance, while
      FiPy's default no-flux condition applies to the diffusive flux on both exterior faces
      (n_s is constant, so the divergence is evaluated once and held in a CellVariable).
      This form conserves Li exactly (to round-off): every interior diffusive flux enters two
      cells with opposite signs whatever the value of D_face, so sum_i V_i (x_i - x_i^old)
      = -R^2 n_s dt after every linear solve, converged or not. (A faceGrad constraint
      -n_s / D on the outer face would instead make the boundary flux D_lagged * n_s / D,
      exact only once the sweeps have converged.)
    - Backward Euler with a fixed step dt = 3600 / (c_rate * steps_per_hour) [s]. D(x) is
      nonlinear: each step is swept (Picard iteration: D_face from the latest x, then one
      linear solve with FiPy's LU solver) until the residual of the step's equations, scaled
      to units of x (|L x - b|_i / (V_i / dt), max over cells, evaluated before the solve),
      is below 1e-10. The first sweep starts from the linear extrapolation of the last two
      states. FiPy's solvers skip the solve when |L x - b| <= tolerance |b| (default
      tolerance 1e-5), which stalls the sweeps near 1e-6; the LU solver is therefore asked
      for tolerance 1e-14.

Voltage after each step, as in the default (kinetics.py, sphere_kernels.voltage_at):
    x_R = x_N - (dr/2) n_s / D(x_N)     (surface value extrapolated from the outer cell),
    V = U(x_R) + (2RT/F) asinh(i / (2 i0(x_R))) + i R / sigma      [V].
The charge stops when V >= v_max; the cutoff time, charge and state are located by linear
interpolation in time within the last step (the default instead re-solves the last step).

Material functions: the same `Material` methods as the default (ocv, exchange_current,
diffusivity_orientation_average), evaluated directly rather than through the default's
4001-point tables, so the comparison also checks the tabulation.
"""

from __future__ import annotations

import numpy as np

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.transport.kinetics import galvanostatic_current_density, thermal_voltage_2rt_f
from chemomech.transport.sphere_charge import SURFACE_DELITHIATED, ChargeProtocol, SphereSolution

SWEEP_RESIDUAL_TOL = 1e-10  # max residual per cell, in units of x [-]
MAX_SWEEPS = 50
LU_TOLERANCE = 1e-14  # relative to |b|: one LU solve plus at most a few refinements


def _fipy_mesh(mesh: SphereMesh, cell_volumes: str):
    """FiPy's uniform spherical 1-D mesh for `mesh` [m]; with cell_volumes="exact" its
    cellVolumes are the exact shell volumes (r_out^3 - r_in^3)/3 [m3/sr]."""
    import fipy
    from fipy.meshes.sphericalUniformGrid1D import SphericalUniformGrid1D

    if cell_volumes == "fipy":
        return fipy.SphericalGrid1D(nr=mesh.cells, dr=mesh.spacing)
    if cell_volumes != "exact":
        raise ValueError(f"cell_volumes = {cell_volumes!r}; allowed: 'exact', 'fipy'")

    exact_volumes = mesh.volumes.copy()

    class ExactShellSphericalGrid1D(SphericalUniformGrid1D):
        """SphericalUniformGrid1D with exact shell volumes instead of r_c^2 dr."""

        @property
        def cellVolumes(self):
            return exact_volumes

    return ExactShellSphericalGrid1D(dx=mesh.spacing, nx=mesh.cells)


def charge_sphere_fipy(material: Material, mesh: SphereMesh, protocol: ChargeProtocol,
                       steps_per_hour: int = 720, temperature: float = TEMPERATURE_DEFAULT,
                       cell_volumes: str = "exact") -> SphereSolution:
    """CC charge of a uniformly lithiated sphere (x = material.x_initial) to protocol.v_max,
    solved with FiPy (see the module docstring for the equations).

    steps_per_hour: fixed backward-Euler steps per nominal charge time 1/c_rate [h], so
        dt = 3600 / (c_rate * steps_per_hour) [s].
    cell_volumes: "exact" (shell volumes, as the default driver) or "fipy" (r_c^2 dr).
    Returns a SphereSolution like charge_sphere's (rejected_steps = 0; states at every
    step, the last one interpolated to the cutoff; li_balance_error measured with the
    volumes FiPy conserves).
    """
    import fipy

    if protocol.cv_hold:
        raise ValueError(
            "charge_sphere_fipy covers the constant-current part only; "
            "use a protocol with cv_hold=False"
        )

    fmesh = _fipy_mesh(mesh, cell_volumes)
    volumes = np.asarray(fmesh.cellVolumes, dtype=float)  # m3/sr, the volumes FiPy conserves
    radius, dr = mesh.radius, mesh.spacing

    i_cc = galvanostatic_current_density(
        protocol.c_rate, material.capacity_nominal, material.density, radius
    )  # A/m2
    n_s = i_cc / (FARADAY * material.c_max)  # m/s, outward flux in units of x
    two_rt_f = thermal_voltage_2rt_f(temperature)  # V
    ohmic = radius / material.electronic_conductivity  # (V) per (A/m2)
    specific = 3.0 / (material.density * radius)  # (C/kg) per (A/m2 * s)
    dt = 3600.0 / (protocol.c_rate * steps_per_hour)  # s

    def voltage(x_outer, extrapolate=True):
        """V [V] from the outer cell value, with the surface extrapolation (none at t = 0,
        when the state is uniform and the surface holds x_initial, as in the default)."""
        d = float(material.diffusivity_orientation_average(x_outer))
        x_s = min(max(x_outer - 0.5 * dr * n_s / d * extrapolate, 0.0), 1.0)
        i0 = max(float(material.exchange_current(x_s)), 1e-30)
        return float(material.ocv(x_s) + two_rt_f * np.arcsinh(i_cc / (2.0 * i0)) + i_cc * ohmic)

    x = fipy.CellVariable(mesh=fmesh, value=material.x_initial, hasOld=True)
    d_face = fipy.FaceVariable(mesh=fmesh, value=0.0)
    outflux = fmesh.facesRight * n_s * fmesh.faceNormals  # m/s, vector FaceVariable
    # n_s is constant: evaluate the divergence [1/s] once instead of at every sweep
    surface_sink = fipy.CellVariable(mesh=fmesh, value=outflux.divergence.value)
    equation = fipy.TransientTerm() == fipy.DiffusionTerm(coeff=d_face) - surface_sink
    # FiPy's solvers skip the solve when |L x - b| <= tolerance |b| (default 1e-5), which
    # would stall the sweeps near a residual of 1e-6; ask the LU solver for round-off instead.
    solver = fipy.LinearLUSolver(tolerance=LU_TOLERANCE, criterion="RHS", iterations=5)
    transient_diagonal = volumes / dt  # the TransientTerm's matrix diagonal [m3/s per sr]

    def scaled_residual(var, matrix, rhs):
        """max_i |L x - b|_i / (V_i / dt): the residual as a change of x [-]."""
        vector = matrix * np.asarray(var.value, dtype=float) - np.asarray(rhs, dtype=float)
        return float(np.max(np.abs(vector) / transient_diagonal))

    x0 = np.array(x.value, dtype=float)
    t, charge = 0.0, 0.0
    v_old = voltage(x0[-1], extrapolate=False)
    if v_old >= protocol.v_max:
        raise ValueError("the starting voltage is already above v_max")
    times, voltages, states, charges = [0.0], [v_old], [x0], [0.0]
    end_reason = None
    while end_reason is None:
        x.updateOld()
        x_prev = states[-1]
        if len(states) > 1:  # first sweep from the linear extrapolation of the last two states
            x.setValue(np.clip(2.0 * x_prev - states[-2], 0.0, 1.0))
        for _ in range(MAX_SWEEPS):
            d_face.setValue(material.diffusivity_orientation_average(
                np.asarray(x.arithmeticFaceValue.value, dtype=float)))
            residual = equation.sweep(var=x, dt=dt, solver=solver, residualFn=scaled_residual)
            if residual < SWEEP_RESIDUAL_TOL:
                break
        else:
            raise RuntimeError(f"FiPy sweeps did not converge at t = {t:g} s (residual {residual:g})")
        x_new = np.array(x.value, dtype=float)
        v_new = voltage(x_new[-1])
        if v_new >= protocol.v_max:
            theta = (protocol.v_max - v_old) / (v_new - v_old)  # fraction of the step
            x_new = x_prev + theta * (x_new - x_prev)
            step = theta * dt
            v_new = protocol.v_max
            end_reason = "v_max"
        else:
            step = dt
            if x_new[-1] <= SURFACE_DELITHIATED:
                end_reason = "surface delithiated"
        t += step
        charge += i_cc * step * specific
        times.append(t)
        voltages.append(v_new)
        states.append(x_new)
        charges.append(charge)
        v_old = v_new

    states = np.array(states)
    removed_from_solid = material.c_max * volumes @ (states[0] - states[-1])  # mol/sr
    passed = charge / specific * radius**2 / FARADAY  # mol/sr through the surface
    balance = abs(removed_from_solid - passed) / passed if passed > 0 else 0.0
    return SphereSolution(
        mesh=mesh,
        time=np.array(times),
        voltage=np.array(voltages),
        current_density=np.full(len(times), i_cc),
        states=states,
        charge_removed=np.array(charges),
        end_reason=end_reason,
        rejected_steps=0,
        li_balance_error=float(balance),
    )
