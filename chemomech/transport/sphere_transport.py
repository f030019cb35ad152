"""A spherical particle (1-D radial finite volumes) under any protocol: charge, discharge,
holds, rests and cycles.

The protocol and the adaptive time stepping are in transport.integrator (shared with the
voxel particles); this module binds the radial kernels to them: sphere_kernels (Fickian
diffusion, every coupling option off) or sphere_coupled_kernels (the optional coupling
physics of transport/coupling.py: stress-assisted diffusion, Li-slab-spacing diffusivity,
phase separation). A positive current density delithiates (charge), a negative one
lithiates it (discharge).

Stress in the 1-D sphere: the traction-free isotropic sphere of mechanics/sphere_stress.py
(E, nu of the Voigt-Reuss-Hill average of the crystal stiffness) with the isotropic
eigenstrain beta(x) = (2 eps_a + eps_c)/3; its hydrostatic stress is
    sigma_h,i = K (beta_mean - beta(x_i)),  K = 2E/(3(1-nu)),  beta_mean = sum V_j beta_j / sum V_j   [Pa]
(the closed form (sigma_r + 2 sigma_theta)/3 of sphere_stress.free_sphere_stress). For the
Li-slab-spacing diffusivity the orientation-averaged sphere takes the elastic strain
across the slab as the mean elastic normal strain sigma_h/(3 K_bulk), K_bulk = E/(3(1-2nu))
(an approximation: the 1-D sphere has no crystal axes; the c-axis component of the
elastic strain of a real grain differs from this mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.mechanics.elastic_constants import isotropic_moduli
from chemomech.mechanics.sphere_stress import linear_eigenstrain
from chemomech.protocol import Experiment
from chemomech.transport.coupling import (
    BOLTZMANN_EV,
    PhysicsOptions,
    chemical_potential_slope,
    check_material_parameters,
    partial_molar_strain,
)
from chemomech.transport.integrator import SolverOptions, TransportSolution, run_protocol
from chemomech.transport.kinetics import thermal_voltage_2rt_f
from chemomech.transport.sphere_coupled_kernels import (
    cell_fields,
    coupled_step,
    field_arrays,
    coupled_voltage,
    slab_factor,
)
from chemomech.transport.sphere_kernels import (
    TABLE_BETA,
    TABLE_D,
    TABLE_DMU,
    TABLE_I0,
    TABLE_MU_GAP,
    TABLE_OMEGA_V,
    TABLE_ROWS,
    TABLE_U,
    implicit_step,
    table_lookup,
    voltage_at,
)

__all__ = ["SolverOptions", "SphereSolution", "SphereStepper", "run_sphere", "material_tables",
           "hydrostatic_stress", "extra_chemical_potential", "face_diffusivity"]

TABLE_POINTS = 4001
NEWTON_TOL = 1e-12
NEWTON_MAX_ITERATIONS = 30


@dataclass
class SphereSolution(TransportSolution):
    """A 1-D sphere run; `states` (stored rows, cells) [-] at the rows history.state_rows
    (every row unless only some cycles were kept)."""

    mesh: SphereMesh = None

    @property
    def states(self) -> np.ndarray:
        return np.array(self.history.states)


def material_tables(material: Material, diffusivity=None, points: int = TABLE_POINTS,
                    coupling_rows: bool = True) -> np.ndarray:
    """The material functions sampled on x = linspace(0, 1, points), one row each
    (sphere_kernels.TABLE_*):

        TABLE_D        D(x) [m2/s]: `diffusivity` (a function of x) or, by default, the
                       orientation average of the diffusivity tensor used by the 1-D sphere
        TABLE_U        U(x) [V]
        TABLE_I0       i0(x) [A/m2]
        TABLE_DMU      dmu_ocv/dx = -F dU/dx [J/mol] (coupling.chemical_potential_slope)
        TABLE_BETA     beta(x) = (2 eps_a + eps_c)/3 [-] (sphere_stress.linear_eigenstrain)
        TABLE_OMEGA_V  Omega_v(x) = 2 Omega_a + Omega_c [m3/mol] (coupling.partial_molar_strain)
        TABLE_MU_GAP   mu_gap(x) [J/mol] (phase_field.gap_chemical_potential; zeros when the
                       material has no [phase_separation] table)

    The Fickian kernels read only the first three rows; coupling_rows False leaves the
    others zero (saves ~1 ms of sampling for a Fickian run)."""
    x = np.linspace(0.0, 1.0, points)
    table = np.zeros((TABLE_ROWS, points))
    table[TABLE_D] = (diffusivity or material.diffusivity_orientation_average)(x)
    table[TABLE_U] = material.ocv(x)
    table[TABLE_I0] = material.exchange_current(x)
    if not coupling_rows:
        return table
    table[TABLE_DMU] = chemical_potential_slope(material, x)
    table[TABLE_BETA] = linear_eigenstrain(material, x)
    omega_a, omega_c = partial_molar_strain(material, x)
    table[TABLE_OMEGA_V] = 2.0 * omega_a + omega_c
    if material.gradient_energy_j_m2_mol is not None:
        from chemomech.transport.phase_field import gap_chemical_potential

        table[TABLE_MU_GAP] = gap_chemical_potential(material, x)[0]
    return table


class SphereStepper:
    """Binds the kernel's constant arguments into the stepper of integrator.run_protocol:
    step(x, dt, hold_voltage, current) -> (x_new, ok, current density [A/m2]).

    A damaged particle (degradation/) gives active_fraction (N,) [-], the share of each
    cell's lattice that stores Li (its volume in the balance is V_i phi_i), face_scale
    (N-1,) [-], the scale of each interior face's conductance, and surface_resistance
    [Ohm m2], a film resistance in series with the electronic one.

    physics: the coupling options (transport/coupling.py); all off (physics.fickian) runs
    the Fickian kernel sphere_kernels.implicit_step, anything on runs
    sphere_coupled_kernels.coupled_step."""

    current_limited = False  # the surface cell always passes the current (voxel_transport.VoxelStepper.check_current)

    def __init__(self, material: Material, mesh: SphereMesh, temperature: float = TEMPERATURE_DEFAULT,
                 physics: PhysicsOptions = PhysicsOptions(), active_fraction=None, face_scale=None,
                 surface_resistance: float = 0.0):
        self.volumes = mesh.volumes
        self.areas = mesh.face_areas
        if active_fraction is not None:  # a damaged particle (degradation/): lattice that stores Li
            self.volumes = mesh.volumes * np.asarray(active_fraction, dtype=float)
        if face_scale is not None:  # ... and the conductance of the N-1 interior faces
            self.areas = mesh.face_areas.copy()
            self.areas[1:-1] *= np.asarray(face_scale, dtype=float)
        self.gaps = mesh.gaps  # centre distance per face [m] (dr on a uniform mesh)
        self.half_width = mesh.surface_half_width  # outer centre to the surface [m]
        self.material = material
        self.physics = physics
        self.coupled = not physics.fickian
        self.coupling_rows = self.coupled  # whether the table holds the coupling rows
        self.table = material_tables(material, coupling_rows=self.coupling_rows)
        self.two_rt_f = thermal_voltage_2rt_f(temperature)
        self.ohmic = mesh.radius / material.electronic_conductivity + surface_resistance  # [Ohm m2]
        self.flux_per_current = 1.0 / (FARADAY * material.c_max)  # (m/s) per (A/m2)
        self.specific_charge = 3.0 / (material.density * mesh.radius)  # (C/kg) per (A/m2 s)
        check_material_parameters(material, physics)
        youngs_modulus, poisson_ratio = isotropic_moduli(material.stiffness_voigt())
        self.sphere_modulus = 2.0 * youngs_modulus / (3.0 * (1.0 - poisson_ratio))  # K [Pa]
        bulk_modulus = youngs_modulus / (3.0 * (1.0 - 2.0 * poisson_ratio))  # K_bulk [Pa]
        self.strain_per_stress = 1.0 / (3.0 * bulk_modulus)  # mean elastic normal strain per Pa
        self.slab_gain = 0.0  # s h_slab / (k_B T) [-]
        if physics.slab_spacing_diffusivity:
            self.slab_gain = (material.barrier_slope_ev_per_angstrom * material.li_slab_height_angstrom
                              / (BOLTZMANN_EV * temperature))
        self.kappa = material.gradient_energy_j_m2_mol if physics.phase_separation else 0.0  # J m2/mol
        if self.coupled:  # compile (or load) the coupled kernels now, before a progress bar starts
            uniform = np.full(self.volumes.size, material.x_initial)
            self.step(uniform, 1e-9, None, 0.0)
            self.voltage(uniform, 0.0)

    def _options(self):
        """The coupling arguments shared by the coupled kernels."""
        p = self.physics
        return p.stress_assisted_diffusion, p.slab_spacing_diffusivity, p.phase_separation

    def step(self, x, dt, hold_voltage, current):
        """Constant current density `current` [A/m2] (hold_voltage None) or constant cell
        voltage hold_voltage [V]."""
        hold = hold_voltage is not None
        if not self.coupled:
            x_new, ok, n_s, _ = implicit_step(
                x, dt, self.volumes, self.areas, self.gaps, self.half_width, self.table,
                self.flux_per_current * current, hold, hold_voltage if hold else 0.0,
                self.flux_per_current, self.two_rt_f, self.ohmic, NEWTON_TOL, NEWTON_MAX_ITERATIONS,
            )
        else:
            x_new, ok, n_s, _ = coupled_step(
                x, dt, self.volumes, self.areas, self.gaps, self.half_width, self.table,
                self.flux_per_current * current, hold, hold_voltage if hold else 0.0,
                self.flux_per_current, self.two_rt_f, self.ohmic, NEWTON_TOL, NEWTON_MAX_ITERATIONS,
                *self._options(), self.sphere_modulus, self.strain_per_stress, self.slab_gain, self.kappa,
            )
        return x_new, ok, n_s / self.flux_per_current

    def voltage(self, x, current):
        """Cell voltage [V] of state x under `current` [A/m2]."""
        half_dr_flux = self.half_width * self.flux_per_current
        if not self.coupled:
            return voltage_at(x[-1], current, self.table, self.two_rt_f, self.ohmic, half_dr_flux)
        return coupled_voltage(np.ascontiguousarray(x, dtype=float), current, self.table, self.volumes,
                               self.areas, self.gaps, self.two_rt_f, self.ohmic, half_dr_flux,
                               *self._options(), self.sphere_modulus, self.strain_per_stress,
                               self.slab_gain, self.kappa)

    def initial_voltage(self, x_initial, current):
        """V of the uniform state x_initial under `current` [A/m2] (no surface gradient;
        no stress and no Laplacian, so mu_extra = mu_gap(x_initial) with phase separation)."""
        v = voltage_at(x_initial, current, self.table, self.two_rt_f, self.ohmic, 0.0)
        if self.physics.phase_separation:
            v -= table_lookup(self.table, TABLE_MU_GAP, x_initial)[0] / FARADAY
        return v

    def fields(self, x):
        """(mu_extra [J/mol], sigma_h [Pa]) per cell of state x (shape (N,)), as the coupled
        kernel sees them; sigma_h is computed whatever the options."""
        if not self.coupling_rows:  # a Fickian stepper sampled only D, U, i0: add the rest
            self.table = material_tables(self.material)
            self.coupling_rows = True
        x = np.ascontiguousarray(x, dtype=float)
        n = x.shape[0]
        mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx, weights, lap_mid = field_arrays(n)
        stress_drift, slab, phase = self._options()
        cell_fields(x, self.table, self.volumes, self.areas, self.gaps, stress_drift, True, phase,
                    self.sphere_modulus, self.kappa, mu, dmu_dx, dmu_dbeta, sigma, dsigma_dx, weights, lap_mid)
        return mu, sigma

    def face_diffusivity(self, x):
        """D at the N-1 interior faces [m2/s]: D(x_f) at x_f = (x_a + x_b)/2, times
        exp(g eps_f) with slab_spacing_diffusivity on (eps_f = (sigma_a + sigma_b)/2 /
        (3 K_bulk))."""
        x = np.asarray(x, dtype=float)
        sigma = self.fields(x)[1]
        out = np.empty(x.shape[0] - 1)
        for f in range(1, x.shape[0]):
            d, _ = table_lookup(self.table, TABLE_D, 0.5 * (x[f - 1] + x[f]))
            if self.physics.slab_spacing_diffusivity:
                d *= slab_factor(sigma[f - 1], sigma[f], self.strain_per_stress, self.slab_gain)
            out[f - 1] = d
        return out

    @staticmethod
    def surface_range(x):
        return x[-1], x[-1]

    @staticmethod
    def store(x):
        return x


def _per_state(function, states):
    """Apply function(state (N,)) -> (N',) to states of shape (N,) or (..., N)."""
    states = np.asarray(states, dtype=float)
    if states.ndim == 1:
        return function(states)
    flat = states.reshape(-1, states.shape[-1])
    return np.array([function(row) for row in flat]).reshape(*states.shape[:-1], -1)


def hydrostatic_stress(material: Material, mesh: SphereMesh, states) -> np.ndarray:
    """Hydrostatic stress sigma_h = K (beta_mean - beta(x_i)) [Pa] per cell of states
    (N,) or (..., N), K = 2E/(3(1-nu)) (module docstring), from the sphere tables: the
    stress the coupled transport sees. Tension positive."""
    stepper = SphereStepper(material, mesh)
    return _per_state(lambda x: stepper.fields(x)[1], states)


def extra_chemical_potential(material: Material, mesh: SphereMesh, states,
                             physics: PhysicsOptions = PhysicsOptions()) -> np.ndarray:
    """mu_extra [J/mol] per cell of states (N,) or (..., N): the sum of the terms of the
    options switched on (sphere_coupled_kernels; zeros when none is)."""
    stepper = SphereStepper(material, mesh, physics=physics)
    return _per_state(lambda x: stepper.fields(x)[0], states)


def face_diffusivity(material: Material, mesh: SphereMesh, state, temperature: float = TEMPERATURE_DEFAULT,
                     physics: PhysicsOptions = PhysicsOptions()) -> np.ndarray:
    """Effective diffusivity [m2/s] at the N-1 interior faces of `state` (N,):
    D(x_f) times slab_diffusivity_factor(material, sigma_h,f/(3 K_bulk), T) with
    slab_spacing_diffusivity on (the face stress the mean of its two cells')."""
    return SphereStepper(material, mesh, temperature, physics).face_diffusivity(state)


def run_sphere(material: Material, mesh: SphereMesh, experiment: Experiment,
               solver: SolverOptions = SolverOptions(), temperature: float = TEMPERATURE_DEFAULT,
               progress=None, keep_cycles=None, physics: PhysicsOptions = PhysicsOptions()) -> SphereSolution:
    """Run `experiment` on a uniformly lithiated sphere (x = material.x_initial).

    progress: optional callable(fraction_done, label) for progress bars; keep_cycles: the
    cycles whose states are stored (None: all); physics: the coupling options (all off:
    the Fickian model)."""
    stepper = SphereStepper(material, mesh, temperature, physics)
    x = np.full(mesh.cells, material.x_initial)
    history = run_protocol(stepper, x, material.x_initial, experiment, solver, material.capacity_nominal,
                           progress, keep_cycles, resolution_hint="more particle.cells or ")
    return SphereSolution(history=history, li_balance_error=sphere_li_balance(stepper, mesh, x, history), mesh=mesh)


def sphere_li_balance(stepper: SphereStepper, mesh: SphereMesh, x_start: np.ndarray, history) -> float:
    """Relative Li balance error of a run from x_start: per steradian, the Li the solid
    lost, c_max sum_i V_i (x_start,i - x_end,i) (V_i of the stepper: the active lattice of
    a damaged particle), against the charge through r = R, over the charge passed either way."""
    c_max = stepper.material.c_max
    lost = c_max * stepper.volumes @ (x_start - history.final_state)  # mol/sr
    passed = history.charge[-1] / stepper.specific_charge * mesh.radius**2 / FARADAY  # mol/sr
    throughput = history.throughput / stepper.specific_charge * mesh.radius**2 / FARADAY
    return float(abs(lost - passed) / throughput) if throughput > 0 else 0.0
