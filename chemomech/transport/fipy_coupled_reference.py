"""FiPy reference of the 1-D sphere with the coupling options (transport/coupling.py):
stress-assisted diffusion, Li-slab-spacing diffusivity and phase separation.

What it is: an independent formulation, in FiPy, of the equations that
sphere_coupled_kernels solves by Newton's method, written the way FiPy's own examples
write a Cahn-Hilliard problem: two cell variables, the Li site fraction x [-] and the extra
chemical potential mu [J/mol], and two coupled equations swept to convergence at every
(fixed) backward-Euler step. It checks the default's fluxes, stress, gradient term and
their discretisation, not its voltage or step control, so it covers constant current for
a fixed time only; the comparison is of the states.

Equations (per steradian of a sphere of radius R, c = c_max x; coupling.py):

    dx/dt = div( D_eff grad x ) + div( M grad mu )                               [1/s]
    mu    = mu_local(x) - kappa lap(x)                                           [J/mol]
    mu_local(x) = -Omega_v(x) K (beta_mean - beta(x))   (stress_assisted_diffusion)
                  + mu_gap(x)                           (phase_separation)
    D_eff = D(x) S,  S = exp(g sigma_h / (3 K_bulk))    (slab_spacing_diffusivity; else 1)
    M     = D_eff / (dmu_ocv/dx)                                                 [m2 mol/(J s)]

with D(x) = material.diffusivity_orientation_average, dmu_ocv/dx = -F dU/dx
(coupling.chemical_potential_slope, held at or above 1 J/mol as in the default),
beta = (2 eps_a + eps_c)/3, Omega_v = 2 Omega_a + Omega_c (coupling.partial_molar_strain),
sigma_h = K (beta_mean - beta), K = 2E/(3(1-nu)), K_bulk = E/(3(1-2nu)) (E, nu of the
Voigt-Reuss-Hill average), g = s h_slab/(k_B T), mu_gap from phase_field, kappa the
gradient energy (0 without phase separation). No flux of x or of mu at r = 0; at r = R the
outward Li flux n_s = i/(F c_max) [m/s] as an explicit sink (as fipy_reference), no
diffusive or drift flux through the face, and zero gradient of x (FiPy's default for the
kappa term: the natural boundary condition).

Discretisation, as the default's: FiPy's uniform spherical 1-D mesh with exact shell
volumes (fipy_reference._fipy_mesh), face values D(x_f), dmu_ocv/dx(x_f) at the
arithmetic face mean x_f, the slab factor from the face mean of sigma_h. FiPy evaluates
these coefficients from the latest sweep, and mu_local is linearised there
(mu_local(x*) + mu_local'(x*) (x - x*), beta_mean held at its latest value): the sweeps
are a Picard/Newton hybrid that converges to the same backward-Euler solution. Material
functions are evaluated directly (not through the default's 4001-point tables), so the
comparison also checks the tabulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.mechanics.elastic_constants import isotropic_moduli
from chemomech.mechanics.sphere_stress import linear_eigenstrain
from chemomech.transport.coupling import (
    BOLTZMANN_EV,
    PhysicsOptions,
    chemical_potential_slope,
    partial_molar_strain,
)
from chemomech.transport.fipy_reference import _fipy_mesh, face_mean

SWEEP_TOL = 1e-10  # largest change of x between sweeps that ends a step [-]
MAX_SWEEPS = 200
DMU_FLOOR = 1.0  # J/mol, as sphere_coupled_kernels
DERIVATIVE_STEP = 1e-6  # central differences of the material functions in x


@dataclass
class FipyCoupledSolution:
    """time [s] (one row per step, from 0), states (rows, cells) [-], mu (rows, cells)
    [J/mol] (mu_extra; the first row that of the initial state), charge_passed [C/kg]."""

    mesh: SphereMesh
    time: np.ndarray
    states: np.ndarray
    mu: np.ndarray
    charge_passed: np.ndarray


def _derivative(function, x):
    """Central difference of function at x (held inside [h, 1 - h]) [per unit x]."""
    centre = np.clip(x, DERIVATIVE_STEP, 1.0 - DERIVATIVE_STEP)
    return (function(centre + DERIVATIVE_STEP) - function(centre - DERIVATIVE_STEP)) / (2.0 * DERIVATIVE_STEP)


def run_sphere_fipy_coupled(material: Material, mesh: SphereMesh, physics: PhysicsOptions,
                            current_density: float, duration_s: float, steps: int,
                            temperature: float = TEMPERATURE_DEFAULT,
                            x_start: np.ndarray | None = None) -> FipyCoupledSolution:
    """Constant current density `current_density` [A/m2] (positive: charge) for
    `duration_s` [s] in `steps` equal backward-Euler steps, from x_start (default: uniform
    material.x_initial), with the coupling options `physics` (module docstring)."""
    import fipy

    from chemomech.transport.phase_field import gap_chemical_potential

    fmesh = _fipy_mesh(mesh, "exact")
    volumes = np.asarray(fmesh.cellVolumes, dtype=float)
    youngs, poisson = isotropic_moduli(material.stiffness_voigt())
    sphere_modulus = 2.0 * youngs / (3.0 * (1.0 - poisson))  # K [Pa]
    bulk = youngs / (3.0 * (1.0 - 2.0 * poisson))  # K_bulk [Pa]
    gain = 0.0
    if physics.slab_spacing_diffusivity:
        gain = material.barrier_slope_ev_per_angstrom * material.li_slab_height_angstrom / (BOLTZMANN_EV * temperature)
    kappa = material.gradient_energy_j_m2_mol if physics.phase_separation else 0.0
    stress_on = physics.stress_assisted_diffusion

    def omega_v(values):
        omega_a, omega_c = partial_molar_strain(material, values)
        return 2.0 * omega_a + omega_c

    def beta(values):
        return linear_eigenstrain(material, values)

    def mu_gap(values):
        return gap_chemical_potential(material, values)[0] if physics.phase_separation else 0.0 * values

    def local_parts(values):
        """(mu_local, d mu_local/dx at fixed beta_mean, sigma_h) per cell."""
        b = beta(values)
        sigma = sphere_modulus * (volumes @ b / volumes.sum() - b)  # Pa
        mu = mu_gap(values).copy()
        slope = _derivative(mu_gap, values) if physics.phase_separation else np.zeros_like(values)
        if stress_on:
            om = omega_v(values)
            mu += -om * sigma
            slope += -_derivative(omega_v, values) * sigma + om * sphere_modulus * _derivative(beta, values)
        return mu, slope, sigma

    start = np.full(mesh.cells, material.x_initial) if x_start is None else np.asarray(x_start, dtype=float)
    x = fipy.CellVariable(mesh=fmesh, value=start, hasOld=True)
    mu = fipy.CellVariable(mesh=fmesh, value=local_parts(start)[0])
    d_face = fipy.FaceVariable(mesh=fmesh, value=0.0)
    m_face = fipy.FaceVariable(mesh=fmesh, value=0.0)
    slope_cell = fipy.CellVariable(mesh=fmesh, value=0.0)
    offset_cell = fipy.CellVariable(mesh=fmesh, value=0.0)  # mu_local(x*) - slope x*
    unit_outflux = fmesh.facesRight * 1.0 * fmesh.faceNormals
    unit_sink = np.asarray(unit_outflux.divergence.value, dtype=float)  # 1/m per (m/s)
    sink = fipy.CellVariable(mesh=fmesh, value=current_density / (FARADAY * material.c_max) * unit_sink)

    transport = (fipy.TransientTerm(var=x)
                 == fipy.DiffusionTerm(coeff=d_face, var=x) + fipy.DiffusionTerm(coeff=m_face, var=mu) - sink)
    potential = (fipy.ImplicitSourceTerm(coeff=1.0, var=mu)
                 == fipy.ImplicitSourceTerm(coeff=slope_cell, var=x) + offset_cell
                 - fipy.DiffusionTerm(coeff=kappa, var=x))
    equations = transport & potential
    solver = fipy.LinearLUSolver(tolerance=1e-14, criterion="RHS", iterations=5)

    dt = duration_s / steps
    specific = 3.0 / (material.density * mesh.radius)  # (C/kg) per (A/m2 s)
    times, states, mus, charges = [0.0], [start.copy()], [np.array(mu.value, dtype=float)], [0.0]
    for n in range(steps):
        x.updateOld()
        for _ in range(MAX_SWEEPS):
            current = np.array(x.value, dtype=float)
            x_face = np.clip(face_mean(x.value), 0.0, 1.0)
            mu_local, slope, sigma = local_parts(current)
            slab = np.exp(gain * face_mean(sigma)
                          / (3.0 * bulk)) if gain else 1.0
            d = material.diffusivity_orientation_average(x_face) * slab
            d_face.setValue(d)
            m_face.setValue(d / np.maximum(chemical_potential_slope(material, x_face), DMU_FLOOR))
            slope_cell.setValue(slope)
            offset_cell.setValue(mu_local - slope * current)
            equations.sweep(dt=dt, solver=solver)
            change = float(np.max(np.abs(np.array(x.value, dtype=float) - current)))
            if change < SWEEP_TOL:
                break
        else:
            raise RuntimeError(f"FiPy sweeps did not converge in step {n + 1} (last change {change:g})")
        times.append((n + 1) * dt)
        states.append(np.array(x.value, dtype=float))
        mus.append(np.array(mu.value, dtype=float))
        charges.append(current_density * (n + 1) * dt * specific)
    return FipyCoupledSolution(mesh=mesh, time=np.array(times), states=np.array(states), mu=np.array(mus),
                               charge_passed=np.array(charges))
