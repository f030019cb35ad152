"""Stress-coupled Li transport in a voxel particle: the staggered (lagged) elastic state
that the coupling options of transport/coupling.py feed into voxel_transport.

Quantities per solid voxel i (crystal frame of its grain, c axis n = R e_c, R the grain's
crystal -> lab rotation):

    S_cc,i   = n . sigma_i . n                    stress along c                [Pa]
    S_ab,i   = tr(sigma_i) - S_cc,i               sigma_aa + sigma_bb           [Pa]
    e_cc,i   = n . eps_el,i . n                   elastic strain along c         [-]
    mu_extra,i = -(Omega_a S_ab,i + Omega_c S_cc,i)                              [J/mol]
             = -Omega_kl sigma_kl,i  with Omega = R diag(Omega_a, Omega_a, Omega_c) R^T
    f_i      = slab_diffusivity_factor(e_cc,i)    slab-spacing factor of D_ab    [-]

sigma and eps_el come from the small-strain elasticity of the particle (traction-free
surface, hexagonal stiffness rotated per grain) with the eigenstrain of the x field,
mechanics.lattice_strain.eigenstrain_field and mechanics.voxel_elasticity.
solve_elasticity_grains. Omega_a, Omega_c = coupling.partial_molar_strain.

Discretised drift (voxel_kernels): through the face f between voxels i and j

    F_f = f_f d(x_f) [ G_f(x) + G_f(mu_extra) / mu_ocv'(x_f) ],   f_f = sqrt(f_i f_j),

G_f the flux shape of voxel_kernels (two-point normal difference plus averaged tangential
gradients with the grain's tensor M), mu_ocv' = dmu_ocv/dx = coupling.chemical_potential_slope.
At a reacting face the surface value is extrapolated half a voxel from the centre with
the face flux n_f (voxel_kernels), the drift included to first order, mu_extra(x_s) -
mu_extra(x_i) = (dmu_extra,i/dx_i) (x_s - x_i) with the lagged part of the stress uniform
across the half voxel:

    x_s = x_i - (h/2) n_f / (f_i d(x_i) M_nn g_i),
    g_i = max(1 + (dmu_extra,i/dx_i) / mu_ocv'(x_i), SURFACE_GAIN_FLOOR)

with g_i evaluated at the state at the start of each time step and held during the step
(its x-dependence is not in the surface Jacobian).

Staggering. The elastic field is solved from the accepted state x at the start of the run
and again at the start of a time step whenever max_i |x_i - x_i^s| > physics.stress_update_x
(x^s: the state of the last solve), each solve warm-started from the last displacement.
The elastic strain (slab factor) is held fixed in between. The face mobility d/mu_ocv'
is evaluated at the Newton iterate (implicit), and so is a local predictor of the stress
(below); the rest of the stress and Omega are lagged: Omega = Omega(x_i^s), the partial
molar strain of the state the stress was solved from. (Omega at the iterate adds
-Omega'(x) : sigma to the slope of mu at fixed stress. Where c collapses (H2 -> H3) Omega_c'
is large, and under the ~ -2 GPa of c-axis stress a 2 um NC91 crystal builds at 1C it made
the effective diffusivity negative in ~0.5 % of the voxels: uphill diffusion with no
gradient energy to bound it, ill-posed, time steps of 0.2 s.)

Local stress predictor. Holding the stress fixed while x moves is an explicit treatment of
a stiff local feedback: Li gathering in a voxel expands it, its neighbours compress it,
and the compression pushes the Li out again. With the gain

    gamma = c_max Omega : L : Omega / mu_ocv'      (isotropic: 3 K beta'^2 / (c_max mu_ocv'),
                                                    the relative rise of D of Zhang et al.)

x relaxes between two solves (in ~h^2/D, far shorter than a time step) onto the lagged
potential, overshoots by gamma times its error, and the staggering diverges once gamma > 1
(NC91 in H3, where c collapses, has gamma of several). Within a time step the stress of
voxel i is therefore taken as the last solve plus the response of an Eshelby spherical
inclusion in the isotropic (Hill) average of the crystal to the change of its own
eigenstrain since then (the analogue of the fixed-stress split of poroelasticity; Kim,
Tchelepi & Juanes, Comput. Methods Appl. Mech. Engrg. 200, 2094 (2011)):

    sigma_i(x_i) = sigma_i^s - L : (eps*(x_i) - eps*(x_i^s)),
    mu_extra,i = -Omega(x_i^s) : sigma_i(x_i),
    L : e = K_loc tr(e)/3 I + 2 G_loc dev(e),
    K_loc = 2 E / (3 (1 - nu)),   G_loc = G (7 - 5 nu) / (15 (1 - nu))       [Pa]

(Eshelby, Proc. R. Soc. A 241, 376 (1957): inside a sphere in an infinite isotropic
matrix sigma = -C : (I - S) : eps*, with S the sphere's Eshelby tensor; E, nu, G of the
Hill average, mechanics.elastic_constants). In the crystal frame, with eps* = diag(e_a,
e_a, e_c), S_ab = sigma_aa + sigma_bb and S_cc = sigma_cc:

    S_ab = S_ab^s - L_aa (e_a - e_a^s) - L_ac (e_c - e_c^s),   L_aa = 4 (K_loc + G_loc)/3
    S_cc = S_cc^s - L_ac (e_a - e_a^s) - L_cc (e_c - e_c^s),   L_ac = 2 (K_loc - 2 G_loc)/3,
                                                              L_cc = (K_loc + 4 G_loc)/3

For an isotropic sphere with an isotropic eigenstrain beta this is exact apart from the
lagged mean: sigma_h = K_loc (mean(beta) - beta) (Zhang et al. 2007). The predictor is
zero at each solve, so the scheme converges to the coupled solution as stress_update_x -> 0.
"""

from __future__ import annotations

import numpy as np

from chemomech.errors import ConfigError, MaterialError
from chemomech.geometry.voxel import VoxelParticle
from chemomech.materials.material import Material
from chemomech.mechanics.elastic_constants import voigt_reuss_hill
from chemomech.mechanics.lattice_strain import eigenstrain_field, grain_stiffness
from chemomech.mechanics.tensors import normal_component
from chemomech.mechanics.voxel_elasticity import solve_elasticity_grains
from chemomech.transport.coupling import (
    PhysicsOptions,
    chemical_potential_slope,
    check_material_parameters,
    partial_molar_strain,
    slab_diffusivity_factor,
)
from chemomech.transport.voxel_kernels import (
    DRIFT_MOBILITY,
    EPS_A,
    COUPLING_ROWS,
    EPS_C,
    MU_GAP,
    MU_SLOPE,
    OMEGA_A,
    OMEGA_C,
    add_drift_stencil,
    add_gap_potential,
    cell_gradients,
    diffusion_divergence,
    drift_coefficients,
    extra_potential,
)

STRESS_TOLERANCE = 1e-4  # relative residual of each elastic solve (see VoxelCoupling.solve)
SURFACE_GAIN_FLOOR = 0.1  # lowest drift gain g_i of the surface extrapolation (module docstring)


def coupling_tables(material: Material, points: int) -> np.ndarray:
    """Rows DRIFT_MOBILITY = D_ab(x)/mu_ocv'(x) [m2/s per J/mol], OMEGA_A, OMEGA_C
    [m3/mol], EPS_A, EPS_C [-] (crystal-frame eigenstrain), MU_SLOPE = mu_ocv'(x) [J/mol]
    and MU_GAP = mu_gap(x) [J/mol] (phase_field.gap_chemical_potential; zeros without a
    [phase_separation] table) on x = linspace(0, 1, points) (voxel_kernels reads them by
    linear interpolation). mu_ocv' must be positive: the OCV must fall with x everywhere."""
    x = np.linspace(0.0, 1.0, points)
    slope = chemical_potential_slope(material, x)
    if not np.all(slope > 0.0):
        worst = float(x[np.argmin(slope)])
        raise MaterialError(
            f"{material.source_file}: physics.stress_assisted_diffusion needs an OCV that falls "
            f"strictly with x (dmu_ocv/dx > 0), but it does not near x = {worst:.3f}; allowed: a "
            "strictly falling [ocv] table, or the option off")
    table = np.zeros((COUPLING_ROWS, points))
    table[DRIFT_MOBILITY] = material.diffusivity(x) / slope
    table[MU_SLOPE] = slope
    table[OMEGA_A], table[OMEGA_C] = partial_molar_strain(material, x)
    table[EPS_A], table[EPS_C] = material.eigenstrain_crystal(x)
    if material.gradient_energy_j_m2_mol is not None:
        from chemomech.transport.phase_field import gap_chemical_potential

        table[MU_GAP] = gap_chemical_potential(material, x)[0]
    return table


def local_stiffness(material: Material) -> np.ndarray:
    """(L_aa, L_ac, L_cc) [Pa] of the local stress predictor (module docstring) from the
    Hill average of the crystal's stiffness."""
    hill = voigt_reuss_hill(material.stiffness_voigt())
    bulk, shear = hill.bulk_hill, hill.shear_hill
    nu = (3.0 * bulk - 2.0 * shear) / (2.0 * (3.0 * bulk + shear))
    youngs = 9.0 * bulk * shear / (3.0 * bulk + shear)
    k_loc = 2.0 * youngs / (3.0 * (1.0 - nu))
    g_loc = shear * (7.0 - 5.0 * nu) / (15.0 * (1.0 - nu))
    return np.array([4.0 * (k_loc + g_loc) / 3.0, 2.0 * (k_loc - 2.0 * g_loc) / 3.0, (k_loc + 4.0 * g_loc) / 3.0])


class VoxelCoupling:
    """The lagged elastic state of a voxel particle and what transport takes from it
    (module docstring). Arrays over the solid voxels in the order of
    voxel_transport.voxel_connectivity (C order of the grid).

    stress_ab, stress_cc [Pa], strain_cc [-]: the crystal-frame quantities of the last solve;
    eps_a_solved, eps_c_solved [-]: the crystal-frame eigenstrain it was solved with;
    cell_factor (N,) and face_factor (N, 6): slab-spacing factors f_i and sqrt(f_i f_j)
    (1 where the option is off or a face is not connected); solves: elastic solves made;
    elastic_iterations: their conjugate-gradient iterations."""

    def __init__(self, material: Material, particle: VoxelParticle, nbr: np.ndarray, grain: np.ndarray,
                 physics: PhysicsOptions, temperature: float, table_points: int):
        check_material_parameters(material, physics)
        if not physics.stress_update_x > 0.0:
            raise ConfigError(f"physics.stress_update_x = {physics.stress_update_x!r} must be > 0")
        self.material = material
        self.particle = particle
        self.physics = physics
        self.temperature = temperature
        self.nbr = nbr
        self.stiffness = grain_stiffness(material, particle.rotations)  # (grains, 6, 6) lab frame [Pa]
        self.c_axis = np.ascontiguousarray(particle.rotations[grain][:, :, 2])  # (N, 3) lab x, y, z
        n = grain.size
        self.phase = physics.phase_separation
        self.kappa = material.gradient_energy_j_m2_mol if self.phase else 0.0  # J m2/mol
        self.drift_on = physics.stress_assisted_diffusion or self.phase  # mu_extra is not zero
        self.table = coupling_tables(material, table_points) if self.drift_on else None
        self.local_stiffness = local_stiffness(material)
        self.stress_ab = np.zeros(n)
        self.eps_a_solved = np.zeros(n)
        self.eps_c_solved = np.zeros(n)
        self.stress_cc = np.zeros(n)
        self.strain_cc = np.zeros(n)
        self.cell_factor = np.ones(n)
        self.face_factor = np.ones((n, 6))
        self.surface_gain = np.ones(int(np.count_nonzero(nbr < 0)))  # per reacting face
        self.x_solved = None
        self.displacement = None
        self.solves = 0
        self.elastic_iterations = 0
        # work arrays of the drift
        self.mu = np.zeros(n)
        self.dmu = np.zeros(n)
        self.grad_mu = np.zeros((n, 3))
        self.b_face = np.zeros((n, 6))
        self.db_face = np.zeros((n, 6))
        self.drift_shape = np.zeros((n, 6))
        self.drift = np.zeros(n)
        self.lap = np.zeros(n)

    # ---- staggering ------------------------------------------------------------------
    def begin_step(self, x: np.ndarray, face_cell: np.ndarray) -> bool:
        """At the start of a time step from the accepted state x: solve the elasticity if
        none was solved yet or some voxel's x has moved by more than
        physics.stress_update_x since the last solve (True if solved), and set the surface
        gains g_i of the reacting faces (module docstring)."""
        if not self.physics.needs_stress:  # phase separation alone: no elasticity
            return False
        solved = self.x_solved is None or np.max(np.abs(x - self.x_solved)) > self.physics.stress_update_x
        if solved:
            self.solve(x)
        if self.physics.stress_assisted_diffusion:
            extra_potential(x, self.x_solved, self.stress_ab, self.stress_cc, self.eps_a_solved,
                            self.eps_c_solved, self.local_stiffness, self.table, self.mu, self.dmu)
            slope = np.interp(x[face_cell], np.linspace(0.0, 1.0, self.table.shape[1]), self.table[MU_SLOPE])
            self.surface_gain = np.maximum(1.0 + self.dmu[face_cell] / slope, SURFACE_GAIN_FLOOR)
        return solved

    def solve(self, x: np.ndarray) -> None:
        """Stress and elastic strain of state x (warm-started from the last solve), to a
        relative residual of STRESS_TOLERANCE = 1e-4: the lag of the staggering (x moves
        by up to stress_update_x between solves) is about two orders larger. Measured on the
        2 um NC91 sphere at 32 across, 1C: SoC at 4.5 V and the std and 5/95th percentiles
        of x agree with 1e-5 solves to < 1e-5, in 27 % less time."""
        particle = self.particle
        solid = particle.mask
        x_grid = np.full(particle.shape, np.nan)
        x_grid[solid] = x
        result = solve_elasticity_grains(
            eigenstrain_field(self.material, particle, x_grid), self.stiffness, particle.grain,
            particle.voxel_size, tolerance=STRESS_TOLERANCE, initial=self.displacement)
        self.displacement = result["displacement"]
        self.x_solved = x.copy()
        if self.table is not None:  # the eigenstrain of x as extra_potential reads it (linear in the table)
            grid = np.linspace(0.0, 1.0, self.table.shape[1])
            self.eps_a_solved = np.interp(x, grid, self.table[EPS_A])
            self.eps_c_solved = np.interp(x, grid, self.table[EPS_C])
        self.solves += 1
        self.elastic_iterations += result["iterations"]
        self.set_fields(result["stress"][:, :, solid], result["elastic_strain"][:, :, solid])

    def set_fields(self, stress: np.ndarray, elastic_strain: np.ndarray) -> None:
        """Take the lab-frame stress [Pa] and elastic strain [-] of every solid voxel,
        (3, 3, N) (tensor index 0 = x, 1 = y, 2 = z), as the lagged state: S_cc, S_ab,
        e_cc and the slab factors (module docstring)."""
        n = self.c_axis
        self.stress_cc = normal_component(n, stress)
        self.stress_ab = np.trace(stress) - self.stress_cc
        self.strain_cc = normal_component(n, elastic_strain)
        if self.physics.slab_spacing_diffusivity:
            f = slab_diffusivity_factor(self.material, self.strain_cc, self.temperature)
            connected = self.nbr >= 0
            self.cell_factor = f
            self.face_factor = np.where(connected, np.sqrt(f[:, None] * f[np.where(connected, self.nbr, 0)]), 1.0)

    # ---- what the Newton iteration takes ---------------------------------------------
    def scale_faces(self, d_face: np.ndarray, dd_face: np.ndarray) -> None:
        """Slab spacing: d_f -> f_f d_f and d'_f -> f_f d'_f (in place)."""
        if self.physics.slab_spacing_diffusivity:
            d_face *= self.face_factor
            dd_face *= self.face_factor

    def surface_factor(self, face_cell: np.ndarray) -> np.ndarray:
        """The factor f_i g_i of d(x_i) M_nn in the surface extrapolation of each reacting
        face (module docstring; g_i as set by the last begin_step)."""
        return self.cell_factor[face_cell] * self.surface_gain

    def potential(self, x: np.ndarray) -> np.ndarray:
        """mu_extra [J/mol] of state x into self.mu (returned) and its local slope into
        self.dmu: the stress part (voxel_kernels.extra_potential) with
        stress_assisted_diffusion, plus mu_gap(x_i) - kappa lap_h(x)_i with phase_separation
        (voxel_kernels.add_gap_potential; dmu gets mu_gap', the Laplacian's derivative is
        applied by the Jacobian apart)."""
        if self.physics.stress_assisted_diffusion:
            extra_potential(x, self.x_solved, self.stress_ab, self.stress_cc, self.eps_a_solved,
                            self.eps_c_solved, self.local_stiffness, self.table, self.mu, self.dmu)
        else:
            self.mu[:] = 0.0
            self.dmu[:] = 0.0
        if self.phase:
            add_gap_potential(x, self.nbr, self.particle.voxel_size, self.kappa, self.table, self.mu,
                              self.dmu, self.lap)
        return self.mu

    def add_drift(self, x: np.ndarray, grain: np.ndarray, tensors: np.ndarray, h: float,
                  divergence: np.ndarray) -> None:
        """Stress-assisted diffusion and/or phase separation: add (1/h) sum_f b_f
        G_f(mu_extra) [1/s] at state x to `divergence` (in place), keeping the face terms
        for add_drift_jacobian. Reads mu_extra from the last potential(x) of the same x."""
        if not self.drift_on:
            return
        cell_gradients(self.mu, self.nbr, h, self.grad_mu)
        drift_coefficients(x, self.mu, self.nbr, grain, tensors, self.table, h, self.grad_mu,
                           self.face_factor, self.b_face, self.db_face, self.drift_shape)
        diffusion_divergence(self.b_face, self.drift_shape, h, self.drift)
        divergence += self.drift

    def add_drift_jacobian(self, grain: np.ndarray, tensors: np.ndarray, h: float,
                           weight: np.ndarray, centre: np.ndarray) -> None:
        """Add the two-point part of the drift's Jacobian (voxel_kernels.add_drift_stencil)
        at the state of the last add_drift to the stencil (in place)."""
        if not self.drift_on:
            return
        add_drift_stencil(self.nbr, grain, tensors, h, self.b_face, self.db_face, self.drift_shape,
                          self.dmu, weight, centre)
