"""A voxel particle under any protocol: anisotropic diffusion in every grain, one
electrode potential for the whole surface; charge, discharge, holds, rests and cycles.

Equations and discretisation: voxel_kernels. This module builds the voxel connectivity
of a particle, binds the kernels into a backward-Euler step and runs the protocol with
integrator.run_protocol. A positive current delithiates (charge), a negative one
lithiates (discharge).

Which faces react. Every face between a solid voxel and the void is particle surface in
the electrolyte. In a polycrystal, the secondary particle's grain boundaries are taken as
electrolyte-filled (the porous secondary particle of a real polycrystal is infiltrated
through its pores and open boundaries): a face between two grains is a reacting surface
for both grains, and there is no solid-state flux across it. Each grain is then lithiated
from its own boundary, with the anisotropic D of its own orientation, and all grains share
the one electrode potential. Faces next to the void carry the staircase area weight of
geometry.voxel.surface_area_weights (so the total reacting area is that of the smooth
surface); grain-boundary faces count their full voxel-face area.

Coupling physics (physics: PhysicsOptions, transport/coupling.py). With every option off
(the default) the step is the Fickian one, operation for operation. With
stress_assisted_diffusion or slab_spacing_diffusivity a VoxelCoupling (voxel_coupling)
holds the particle's stress and elastic strain, solved from the x field at the start of
the run and again at the start of a time step once x has moved by more than
physics.stress_update_x in some voxel (staggered; with a local stress predictor, see
voxel_coupling). Per Newton iterate it scales the face diffusivities by the slab-spacing
factor and adds the drift in mu_extra = -Omega : sigma to the divergence, and its
derivative to the Jacobian: the two-point part to the stencil (voxel_kernels.
add_drift_stencil), the tangential part matrix-free (voxel_kernels.jacobian_apply), so
Newton's method stays exact at fixed lagged stress.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
from chemomech.geometry.voxel import SurfaceFaces, VoxelParticle, surface_area_weights
from chemomech.materials.material import Material
from chemomech.transport.coupling import PhysicsOptions
from chemomech.transport.kinetics import thermal_voltage_2rt_f
from chemomech.protocol import Experiment
from chemomech.transport.integrator import SolverOptions, TransportSolution, run_protocol
from chemomech.transport.sphere_kernels import TABLE_D, voltage_at
from chemomech.transport.sphere_transport import material_tables
from chemomech.transport.voxel_coupling import VoxelCoupling
from chemomech.transport.voxel_kernels import (
    ELL_WIDTH,
    MU_GAP,
    add_laplacian_stencil,
    assemble_stencil,
    bicgstab,
    cell_gradients,
    diffusion_divergence,
    electrode_potential,
    face_coefficients,
    laplacian,
    phase_matrix,
    phase_structure,
    shifted_electrode_potential,
    shifted_surface_currents,
    surface_currents,
    surface_rates,
)
from chemomech.transport.sphere_kernels import table_lookup

NEWTON_TOL = 1e-6          # largest Newton update of x that ends the iteration [-]
NEWTON_MAX_ITERATIONS = 25
LINEAR_REL_TOL = 1e-2      # BiCGSTAB relative residual per Newton iteration (inexact Newton)
LINEAR_MAX_ITERATIONS = 200  # a healthy solve takes 1-60 (SSOR, up to 128 across); past 200 it has stalled: reject the step
SSOR_OMEGA = 1.5           # relaxation of the SSOR preconditioner (voxel_kernels.ssor_apply)
STEPS = ((0, -1), (0, 1), (1, -1), (1, 1), (2, -1), (2, 1))  # direction k: (grid axis, step)


@dataclass(frozen=True)
class VoxelConnectivity:
    """Solid voxels in C order and how they connect.

    cells: flat grid index of each solid voxel (N,); grain: its grain (N,);
    nbr: (N, 6) neighbour in directions -z, +z, -y, +y, -x, +x, or -1 where the face is a
    reacting surface (void or another grain);
    face_cell, face_direction: the reacting faces; face_weight: their area weight [-];
    face_on_boundary: True for faces between grains (grain boundaries)."""

    cells: np.ndarray
    grain: np.ndarray
    nbr: np.ndarray
    face_cell: np.ndarray
    face_direction: np.ndarray
    face_weight: np.ndarray
    face_on_boundary: np.ndarray


def voxel_connectivity(particle: VoxelParticle) -> VoxelConnectivity:
    """Neighbour table and reacting faces of a voxel particle (vectorised)."""
    grain_grid = particle.grain
    shape = grain_grid.shape
    mask = grain_grid >= 0
    index = np.full(shape, -1, dtype=np.int64)
    index[mask] = np.arange(int(mask.sum()))
    position = np.nonzero(mask)
    grain = grain_grid[mask].astype(np.int32)
    nbr = np.full((grain.size, 6), -1, dtype=np.int32)  # int32 halves the memory traffic of the stencil
    neighbour_solid = np.zeros((grain.size, 6), dtype=bool)
    for k, (axis, step) in enumerate(STEPS):
        moved = [p.copy() for p in position]
        moved[axis] += step
        inside = (moved[axis] >= 0) & (moved[axis] < shape[axis])
        neighbour = np.full(grain.size, -1, dtype=np.int64)
        neighbour[inside] = index[tuple(p[inside] for p in moved)]
        solid = neighbour >= 0
        same_grain = solid.copy()
        same_grain[solid] = grain[neighbour[solid]] == grain[solid]
        nbr[:, k] = np.where(same_grain, neighbour, -1)
        neighbour_solid[:, k] = solid
    face_cell, face_direction = np.nonzero(nbr < 0)
    on_boundary = neighbour_solid[face_cell, face_direction]
    weight = np.ones(face_cell.size)
    to_void = ~on_boundary
    flat_cells = np.flatnonzero(mask.ravel())
    weight[to_void] = surface_area_weights(
        mask, SurfaceFaces(flat_cells[face_cell[to_void]], face_direction[to_void]))
    return VoxelConnectivity(
        cells=flat_cells, grain=grain, nbr=nbr, face_cell=face_cell.astype(np.int64),
        face_direction=face_direction.astype(np.int64), face_weight=weight,
        face_on_boundary=on_boundary,
    )


def diffusivity_tensors(material: Material, rotations: np.ndarray) -> np.ndarray:
    """M = R diag(1, 1, D_c/D_ab) R^T per grain, in grid-axis order (z, y, x) [-]; the
    diffusivity tensor of a grain is D_ab(x) M."""
    crystal = np.diag([1.0, 1.0, material.out_of_plane_ratio])
    lab = np.einsum("gip,pq,gjq->gij", rotations, crystal, rotations)  # components x, y, z
    return np.ascontiguousarray(lab[:, ::-1, ::-1])


def voxel_tables(material: Material) -> np.ndarray:
    """material_tables with the in-plane D_ab(x) in the diffusivity row (the voxel
    solver applies the tensor factor M itself)."""
    return material_tables(material, material.diffusivity)


@dataclass
class VoxelSolution(TransportSolution):
    """A voxel run: its History (states as float32 copies over the solid voxels `cells`,
    at the rows history.state_rows), the particle and its connectivity, the reacting area
    [m2], the Newton and BiCGSTAB iterations of the accepted and rejected steps together,
    the face currents [A/m2] at the end, and the elastic solves made during transport by
    the coupling options (0 without them)."""

    particle: VoxelParticle = None
    connectivity: VoxelConnectivity = None
    reacting_area: float = 0.0
    newton_iterations: int = 0
    linear_iterations: int = 0
    face_current_end: np.ndarray = None
    stress_solves: int = 0

    @property
    def states(self) -> list:
        return self.history.states

    def field(self, state: np.ndarray) -> np.ndarray:
        """A per-voxel state on the (z, y, x) grid, NaN outside the particle."""
        grid = np.full(self.particle.grain.size, np.nan)
        grid[self.connectivity.cells] = state
        return grid.reshape(self.particle.grain.shape)


class VoxelStepper:
    """Backward-Euler step of the voxel particle for integrator.run_protocol; with
    coupling options on (`physics`), self.coupling is their VoxelCoupling, else None.

    A damaged particle (degradation/) gives active_fraction (N,) [-], the share of each
    voxel's lattice that stores Li (the balance becomes phi_i dx_i/dt = div(...) - rate_i),
    face_scale (N, 6) [-], the scale of each voxel face's conductance (also of the half
    voxel under a reacting face), surface_resistance [Ohm m2] in series with the electronic
    one, and face_wiring (faces,) [-], the share of each reacting face's area the
    electrode reaches (0 for a grain cut off from the electronic network; the C-rate keeps
    its pristine reacting area)."""

    def __init__(self, material: Material, particle: VoxelParticle, temperature: float = TEMPERATURE_DEFAULT,
                 physics: PhysicsOptions = PhysicsOptions(), active_fraction=None, face_scale=None,
                 surface_resistance: float = 0.0, face_wiring=None):
        self.connectivity = voxel_connectivity(particle)
        con = self.connectivity
        self.h = particle.voxel_size
        self.volume = self.h**3
        self.n = con.cells.size
        self.table = voxel_tables(material)
        self.tensors = diffusivity_tensors(material, particle.rotations)
        off_diagonal = self.tensors - np.einsum("gii->gi", self.tensors)[:, :, None] * np.eye(3)
        self.cross = bool(np.abs(off_diagonal).max() > 1e-12 * np.abs(self.tensors).max())
        self.two_rt_f = thermal_voltage_2rt_f(temperature)
        self.flux_per_current = 1.0 / (FARADAY * material.c_max)
        self.face_area = con.face_weight * self.h**2
        self.reacting_area = float(self.face_area.sum())
        self.mass = material.density * self.n * self.volume  # [kg]
        self.specific_charge = self.reacting_area / self.mass  # (C/kg) per (A/m2 s)
        radius_equivalent = (3.0 * self.n * self.volume / (4.0 * np.pi)) ** (1.0 / 3.0)
        self.ohmic = radius_equivalent / material.electronic_conductivity + surface_resistance  # [V per A/m2]
        self.storage = None if active_fraction is None else np.asarray(active_fraction, dtype=float)
        self.face_scale = None if face_scale is None else np.asarray(face_scale, dtype=float)
        if face_wiring is not None:  # grains (partly) cut off: their faces carry less current
            self.face_area = self.face_area * np.asarray(face_wiring, dtype=float)
        self.reacting_cells = con.face_cell[self.face_area > 0] if np.any(self.face_area > 0) else con.face_cell
        # normal diffusivity factor M_nn of each reacting face's own voxel
        axis = con.face_direction // 2
        self.face_m_normal = self.tensors[con.grain[con.face_cell], axis, axis]
        n, nf = self.n, con.face_cell.size
        self.face_current = np.zeros(nf)
        self.di_dphi = np.zeros(nf)
        self.di_dx = np.zeros(nf)
        self.rate = np.zeros(n)
        self.rate_slope = np.zeros(n)
        self.grad = np.zeros((n, 3))
        self.d_face = np.zeros((n, 6))
        self.dd_face = np.zeros((n, 6))
        self.flux_shape = np.zeros((n, 6))
        self.divergence = np.zeros(n)
        self.weight = np.zeros((n, 6))
        self.centre = np.zeros(n)
        self.phi = material.ocv(np.array([material.x_initial]))[0]
        self.newton_iterations = 0
        self.linear_iterations = 0
        self.current_limited = False  # the last constant-current solve could not pass the current (check_current)
        self.last_step = None  # (x_old, x_new, dt) of the last converged step
        self.no_drift_face = np.zeros((0, 6))  # the drift arguments of bicgstab without the drift
        self.no_drift = np.zeros(0)
        self.coupling = None
        if not physics.fickian:
            self.coupling = VoxelCoupling(material, particle, con.nbr, con.grain, physics, temperature,
                                          self.table.shape[1])
        self.phase = physics.phase_separation
        # the Butler-Volmer equilibrium potential is U(x_s) - mu_extra,i/F whenever an option
        # gives mu_extra (stress-assisted diffusion, phase separation), as in the 1-D sphere
        # (the options that give mu_extra; its potential(x) at each Newton iterate also feeds add_drift)
        self.shifted = self.coupling is not None and self.coupling.drift_on
        self.no_ell = (np.zeros((0, ELL_WIDTH), dtype=np.int32), np.zeros((0, ELL_WIDTH)), np.zeros(0, dtype=np.int32),
                       np.zeros(0))
        self.ell = self.no_ell
        if self.phase:
            # the phase-separation matrix (voxel_kernels.phase_matrix): columns, values, entry
            # counts and diagonal per row, in slots fixed once here (phase_structure)
            cols, counts = np.zeros((n, ELL_WIDTH), dtype=np.int32), np.zeros(n, dtype=np.int32)
            self.slot_n = np.zeros((n, 6), dtype=np.int8)
            self.slot_nn = np.zeros((n, 6, 6), dtype=np.int8)
            phase_structure(con.nbr, cols, counts, self.slot_n, self.slot_nn)
            self.ell = (cols, np.zeros((n, ELL_WIDTH)), counts, np.zeros(n))
            self.rate_mu = np.zeros(n)
            self.rate_lap = np.zeros(n)
            self.laplacian_factor = np.zeros(n)

    def face_q(self, x):
        """q = h / (2 F c_max D_nn(x_cell)) [m2/A] of each reacting face (with coupling
        options, D_nn times VoxelCoupling.surface_factor); 0 with phase separation (x_s = x
        of the voxel: the natural boundary condition, zero gradient of x)."""
        if self.phase:
            return np.zeros(self.connectivity.face_cell.size)
        d = np.interp(x[self.connectivity.face_cell], np.linspace(0.0, 1.0, self.table.shape[1]),
                      self.table[TABLE_D])
        if self.coupling is not None:
            d = d * self.coupling.surface_factor(self.connectivity.face_cell)
        if self.face_scale is not None:
            d = d * self.face_scale[self.connectivity.face_cell, self.connectivity.face_direction]
        return 0.5 * self.h * self.flux_per_current / (d * self.face_m_normal)

    def solve_surface(self, x, total_current=None, phi=None, mu=None):
        """Face currents at state x, either for a given total current [A] (phi found) or
        a given phi [V]. Returns phi. With stress-assisted diffusion or phase separation the
        equilibrium potential of a face is U(x_s) - mu_extra,i/F (mu: mu_extra [J/mol] of
        state x; computed when None)."""
        con = self.connectivity
        q = self.face_q(x)
        if self.shifted:
            if mu is None:
                mu = self.coupling.potential(x)
            shift = mu[con.face_cell] / FARADAY
            if phi is None:
                phi = shifted_electrode_potential(x, shift, con.face_cell, q, self.face_area, self.table,
                                                  self.two_rt_f, total_current, self.phi, self.face_current,
                                                  self.di_dphi, self.di_dx)
                self.check_current(total_current)
            else:
                shifted_surface_currents(x, phi, shift, con.face_cell, q, self.face_current, self.table,
                                         self.two_rt_f, self.face_current, self.di_dphi, self.di_dx)
            return phi
        if phi is None:
            phi = electrode_potential(x, con.face_cell, q, self.face_area, self.table, self.two_rt_f,
                                      total_current, self.phi, self.face_current, self.di_dphi, self.di_dx)
            self.check_current(total_current)
        else:
            surface_currents(x, phi, con.face_cell, q, self.face_current, self.table, self.two_rt_f,
                             self.face_current, self.di_dphi, self.di_dx)
        return phi

    def check_current(self, total_current):
        """Set self.current_limited: whether the face currents of the last electrode-potential
        solve miss total_current [A] by more than 1e-6 of it (plus 1e-9 A/m2 over the
        reacting area, for rest at zero current). Each face passes at
        most x_cell / q (its half-voxel extrapolation empties the surface, x_s = 0), so a
        current above sum_f A_f x_cell,f / q_f has no electrode potential at this state: the
        voxels are too coarse for the current (the potential search then climbs without
        bound)."""
        passed = float(self.face_current @ self.face_area)
        self.current_limited = abs(passed - total_current) > 1e-6 * abs(total_current) + 1e-9 * self.reacting_area

    def step(self, x_old, dt, hold_voltage, current):
        """One backward-Euler step under the mean current density `current` [A/m2]
        (hold_voltage None) or at the cell voltage hold_voltage [V]."""
        hold = hold_voltage is not None
        total_current = current * self.reacting_area
        con = self.connectivity
        coupling = self.coupling
        self.current_limited = False  # set by check_current at each constant-current iterate
        if coupling is not None:
            coupling.begin_step(x_old, con.face_cell)  # staggered: a new stress once x has moved past stress_update_x
        x = x_old.copy()
        if self.last_step is not None and self.last_step[1] is x_old:
            # start Newton from the linear extrapolation of the last accepted step
            start, end, dt_last = self.last_step
            x += (dt / dt_last) * (end - start)
            np.clip(x, 0.0, 1.0, out=x)
        converged = False
        phi = self.phi
        mean_current = total_current / self.reacting_area
        for _ in range(NEWTON_MAX_ITERATIONS):
            self.newton_iterations += 1
            mu = coupling.potential(x) if self.shifted else None
            if hold:
                phi = self.solve_surface(x, phi=hold_voltage - mean_current * self.ohmic, mu=mu)
                mean_current = float(self.face_current @ self.face_area) / self.reacting_area
            else:
                phi = self.solve_surface(x, total_current=total_current, mu=mu)
                if self.current_limited:  # no electrode potential passes the current: reject the step
                    return x, False, mean_current
            surface_rates(self.n, con.face_cell, self.face_area, self.face_current, self.di_dx,
                          self.flux_per_current, self.volume, self.rate, self.rate_slope)
            if self.shifted:
                # the surface rate depends on mu_extra,i: d rate_i = rate_mu_i (dmu_i dx_i -
                # kappa lap_h(dx)_i), rate_mu_i = sum_f A_f (di_f/dphi)/F / (F c_max V)
                self.rate_mu = np.bincount(con.face_cell, self.face_area * self.di_dphi, self.n) * (
                    self.flux_per_current / (self.volume * FARADAY))
                self.rate_slope += self.rate_mu * coupling.dmu
            cell_gradients(x, con.nbr, self.h, self.grad)
            face_coefficients(x, con.nbr, con.grain, self.tensors, self.table, self.h, self.grad,
                              self.d_face, self.dd_face, self.flux_shape)
            if coupling is not None:
                coupling.scale_faces(self.d_face, self.dd_face)
            if self.face_scale is not None:
                self.d_face *= self.face_scale
                self.dd_face *= self.face_scale
            diffusion_divergence(self.d_face, self.flux_shape, self.h, self.divergence)
            if coupling is not None:
                coupling.add_drift(x, con.grain, self.tensors, self.h, self.divergence)
            residual = (x - x_old) / dt - self.divergence + self.rate
            assemble_stencil(con.nbr, con.grain, self.tensors, self.h, dt, self.d_face, self.dd_face,
                             self.flux_shape, self.rate_slope, self.weight, self.centre)
            if self.storage is not None:  # phi_i (x_i - x_old,i)/dt: only the storage term changes
                residual += (self.storage - 1.0) * (x - x_old) / dt
                self.centre += (self.storage - 1.0) / dt
            if coupling is not None:
                coupling.add_drift_jacobian(con.grain, self.tensors, self.h, self.weight, self.centre)
            if self.phase:
                self.laplacian_factor = -coupling.kappa * self.rate_mu / self.h**2
                add_laplacian_stencil(con.nbr, self.laplacian_factor, self.weight, self.centre)
                _, ell_vals, _, ell_diag = self.ell  # filled in place
                phase_matrix(con.nbr, con.grain, self.tensors, self.h, coupling.kappa, coupling.b_face,
                             self.weight, self.centre, self.slot_n, self.slot_nn, ell_vals, ell_diag)
            # the Newton system with the potential update d_phi as unknown N (bordered):
            # J dx + b d_phi = -r,  a.dx + beta d_phi = 0 (the total current stays fixed;
            # under CV d_phi = 0). Rows of the border are scaled like the rate rows [1/s].
            scale = self.flux_per_current / self.volume
            if hold:
                column = np.zeros(self.n)
                row = np.zeros(self.n)
                corner = 1.0
            else:
                column = np.bincount(con.face_cell, self.face_area * self.di_dphi, self.n) * scale
                row = self.rate_slope
                if self.phase:  # d(total rate) = sum_i rate_mu_i (-kappa lap_h(dx)_i) + ...: lap_h is symmetric
                    laplacian(self.rate_mu, con.nbr, self.h, self.rate_lap)
                    row = self.rate_slope - coupling.kappa * self.rate_lap
                corner = float(self.face_area @ self.di_dphi) * scale
            delta, ok = self.linear_solve(np.append(-residual, 0.0), column, row, corner, dt)
            if not ok:
                return x, False, mean_current
            delta = delta[:-1]
            x += delta
            if np.max(np.abs(delta)) < NEWTON_TOL:
                converged = True
                break
        if not converged:
            return x, False, mean_current
        if hold:
            self.solve_surface(x, phi=hold_voltage - mean_current * self.ohmic)
            mean_current = float(self.face_current @ self.face_area) / self.reacting_area
        else:
            self.phi = phi
        self.last_step = (x_old, x, dt)
        return x, True, mean_current

    def linear_solve(self, rhs, column, row, corner, dt):
        """The bordered Newton system (voxel_kernels.bordered_apply) y = rhs, assembled at
        the current iterate."""
        con = self.connectivity
        if self.coupling is not None and self.coupling.drift_on:
            drift, b_face, dmu = True, self.coupling.b_face, self.coupling.dmu
        else:
            drift, b_face, dmu = False, self.no_drift_face, self.no_drift
        kappa = self.coupling.kappa if self.phase else 0.0
        y, iterations, ok = bicgstab(rhs, SSOR_OMEGA, con.nbr, self.weight, self.centre, self.cross, con.grain,
                                     self.tensors, self.h, self.d_face, column, row, corner,
                                     LINEAR_REL_TOL, LINEAR_MAX_ITERATIONS, drift, b_face, dmu,
                                     self.phase, *self.ell, kappa)
        self.linear_iterations += iterations
        return y, ok

    def voltage(self, x, current):
        """V = phi + i L / sigma [V] with phi the electrode potential that passes the mean
        current density `current` [A/m2] at state x."""
        phi = self.solve_surface(x, total_current=current * self.reacting_area)
        return phi + current * self.ohmic

    def initial_voltage(self, x_initial, current):
        """V at t = 0 under `current` [A/m2]: uniform x_initial on every face (with phase
        separation minus mu_gap(x_initial)/F: no Laplacian in a uniform state)."""
        v = voltage_at(x_initial, current, self.table, self.two_rt_f, self.ohmic, 0.0)
        if self.phase:
            v -= table_lookup(self.coupling.table, MU_GAP, x_initial)[0] / FARADAY
        return v

    def surface_range(self, x):
        """(lowest, highest) x under the reacting faces that pass current (a grain cut off
        from the electrode, face_wiring 0, does not end a step by its own x)."""
        surface = x[self.reacting_cells]
        return float(surface.min()), float(surface.max())

    @staticmethod
    def store(x):
        return x.astype(np.float32)


def run_voxels(material: Material, particle: VoxelParticle, experiment: Experiment,
               solver: SolverOptions = SolverOptions(), temperature: float = TEMPERATURE_DEFAULT,
               progress=None, keep_cycles=None, physics: PhysicsOptions = PhysicsOptions()) -> VoxelSolution:
    """Run `experiment` on a uniformly lithiated voxel particle (x = material.x_initial).

    progress, keep_cycles: as for sphere_transport.run_sphere; physics: the coupling
    options (all off: the Fickian model)."""
    stepper = VoxelStepper(material, particle, temperature, physics)
    x = np.full(stepper.n, material.x_initial)
    history = run_protocol(stepper, x, material.x_initial, experiment, solver, material.capacity_nominal,
                           progress, keep_cycles, resolution_hint="a smaller particle.voxel_nm or ")
    return VoxelSolution(
        history=history,
        li_balance_error=voxel_li_balance(stepper, material.c_max, x, history),
        particle=particle,
        connectivity=stepper.connectivity,
        reacting_area=stepper.reacting_area,
        newton_iterations=stepper.newton_iterations,
        linear_iterations=stepper.linear_iterations,
        face_current_end=stepper.face_current.copy(),
        stress_solves=stepper.coupling.solves if stepper.coupling is not None else 0,
    )


def voxel_li_balance(stepper: VoxelStepper, c_max: float, x_start: np.ndarray, history) -> float:
    """Relative Li balance error of a run from x_start: the Li the solid lost, c_max V sum_i
    phi_i (x_start,i - x_end,i) [mol] (phi_i = 1 unless damaged), against the charge
    through the surface, over the charge passed either way."""
    storage = 1.0 if stepper.storage is None else stepper.storage
    lost = c_max * stepper.volume * float(np.sum(storage * (x_start - history.final_state)))  # mol
    passed = history.charge[-1] * stepper.mass / FARADAY  # mol through the surface
    throughput = history.throughput * stepper.mass / FARADAY
    return float(abs(lost - passed) / throughput) if throughput > 0 else 0.0
