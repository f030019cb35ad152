"""Coupling physics in the voxel particles (transport/voxel_coupling.py): stress-assisted
diffusion and the slab-spacing dependence of D, staggered with the elasticity solve.

Where each expected number comes from:
1. Options off: the Fickian step is unchanged, so a run with PhysicsOptions() (any
   stress_update_x) is bit-identical to the plain run (np.array_equal), with no elastic
   solve.
2. Slab spacing: D_ab at a face is multiplied by exactly sqrt(f_i f_j), f =
   coupling.slab_diffusivity_factor(e_cc) (the definition); zero strain gives f = 1 and
   today's D bit for bit.
3. Closed form of Zhang, Shyy & Sastry, J. Electrochem. Soc. 154, A910 (2007): in an
   isotropic sphere with an isotropic eigenstrain beta(x) the hydrostatic stress is
   sigma_h = K (mean(beta) - beta), K = 2E/(3(1 - nu)) (Timoshenko's thermal stresses of
   a sphere: sigma_r + 2 sigma_t = 2E/(1 - nu) (mean(beta) - beta)). With mu_extra =
   -Omega tr(sigma) = -3 Omega sigma_h, Omega = beta'/c_max (tensor Omega I), the flux
   J = -D grad x - D/mu_ocv' grad(mu_extra) = -D [1 + 3 K beta'^2/(c_max mu_ocv')] grad x:
   Fickian with D_eff. Stress-assisted transport in the voxel sphere is compared with a
   Fickian voxel run with D_eff on the same grid.
4. Staggering: the result converges as physics.stress_update_x shrinks (measured table
   in the test's docstring).
5. Li balance (finite volumes conserve Li with the drift too) and Newton's iteration
   count stays close to the Fickian one (the drift's derivative is in the Jacobian).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chemomech as cm
from chemomech.geometry.sphere import SphereMesh
from chemomech.constants import TEMPERATURE_DEFAULT
from chemomech.geometry.voxel import rotation_from_c_axis, rotation_from_euler, single_crystal
from chemomech.protocol import cc_charge, experiment_from_table
from chemomech.transport.coupling import PhysicsOptions, chemical_potential_slope, slab_diffusivity_factor
from chemomech.transport.voxel_kernels import cell_gradients, face_coefficients
from chemomech.transport.sphere_transport import run_sphere
from chemomech.transport.voxel_transport import VoxelStepper, run_voxels

V_MAX = 4.5
STRESS = PhysicsOptions(stress_assisted_diffusion=True)
BOTH = PhysicsOptions(stress_assisted_diffusion=True, slab_spacing_diffusivity=True)


def soc_end(material, solution):
    return solution.charge_passed[-1] / 3600.0 / material.capacity_nominal


def face_diffusivity(stepper, x):
    """d_f (N, 6) [m2/s] of every connected face at state x, as the Newton iteration
    forms it (face_coefficients, then the coupling's slab factors)."""
    con = stepper.connectivity
    n = x.size
    grad = np.zeros((n, 3))
    d_face, dd_face, shape = np.zeros((n, 6)), np.zeros((n, 6)), np.zeros((n, 6))
    cell_gradients(x, con.nbr, stepper.h, grad)
    face_coefficients(x, con.nbr, con.grain, stepper.tensors, stepper.table, stepper.h, grad,
                      d_face, dd_face, shape)
    if stepper.coupling is not None:
        stepper.coupling.scale_faces(d_face, dd_face)
    return d_face


# ---- 1. options off ------------------------------------------------------------------

@pytest.mark.slow
def test_options_off_is_the_plain_run_bit_for_bit():
    material = cm.load_material("nc91")
    particle = single_crystal("sphere", 0.3e-6, 50e-9, rotation_from_euler(20.0, 50.0, 0.0))
    experiment = cc_charge(c_rate=1.0, v_max=V_MAX)
    plain = run_voxels(material, particle, experiment)
    off = run_voxels(material, particle, experiment, physics=PhysicsOptions(stress_update_x=0.05))
    assert VoxelStepper(material, particle, physics=PhysicsOptions(stress_update_x=0.05)).coupling is None
    assert np.array_equal(plain.final_state, off.final_state)
    assert np.array_equal(plain.voltage, off.voltage)
    assert np.array_equal(plain.time, off.time)
    assert plain.newton_iterations == off.newton_iterations
    assert plain.linear_iterations == off.linear_iterations
    assert plain.stress_solves == off.stress_solves == 0


# ---- 2. slab spacing -----------------------------------------------------------------

@pytest.fixture(scope="module")
def slab_setup():
    material = cm.load_material("nc91")
    particle = single_crystal("sphere", 0.3e-6, 50e-9, rotation_from_euler(20.0, 50.0, 0.0))
    plain = VoxelStepper(material, particle)
    slab = VoxelStepper(material, particle, physics=PhysicsOptions(slab_spacing_diffusivity=True))
    rng = np.random.default_rng(3)
    x = 0.5 + 0.1 * rng.random(plain.n)  # any state: the factor does not depend on x
    return material, particle, plain, slab, x


def test_slab_factor_zero_strain_is_todays_diffusivity(slab_setup):
    material, _, plain, slab, x = slab_setup
    uniform = np.full(slab.n, material.x_initial)
    assert slab.coupling.begin_step(uniform, slab.connectivity.face_cell)  # the first elastic solve
    assert slab.coupling.solves == 1
    np.testing.assert_array_equal(slab.coupling.strain_cc, 0.0)  # no eigenstrain, no strain
    assert np.array_equal(face_diffusivity(slab, x), face_diffusivity(plain, x))
    assert np.array_equal(slab.face_q(x), plain.face_q(x))


def test_slab_factor_planted_uniform_strain(slab_setup):
    material, particle, plain, slab, x = slab_setup
    c_axis = particle.rotations[0][:, 2]
    strain_cc = -3e-3  # compression across the layers
    elastic = np.repeat((strain_cc * np.outer(c_axis, c_axis))[:, :, None], slab.n, axis=2)
    slab.coupling.set_fields(np.zeros((3, 3, slab.n)), elastic)
    factor = slab_diffusivity_factor(material, strain_cc, TEMPERATURE_DEFAULT)
    assert 0.5 < factor < 0.9  # exp(1.5 eV/A * 2.6 A * -3e-3 / kT) = 0.63: a real change
    connected = slab.connectivity.nbr >= 0
    np.testing.assert_allclose(face_diffusivity(slab, x)[connected],
                               factor * face_diffusivity(plain, x)[connected], rtol=1e-14)
    np.testing.assert_allclose(slab.face_q(x), plain.face_q(x) / factor, rtol=1e-14)


def test_slab_factor_geometric_mean_at_faces(slab_setup):
    material, particle, plain, slab, x = slab_setup
    c_axis = particle.rotations[0][:, 2]
    strain_cc = np.linspace(-4e-3, 2e-3, slab.n)  # a different strain in every voxel
    elastic = strain_cc[None, None, :] * np.outer(c_axis, c_axis)[:, :, None]
    slab.coupling.set_fields(np.zeros((3, 3, slab.n)), elastic)
    f = slab_diffusivity_factor(material, strain_cc, TEMPERATURE_DEFAULT)
    nbr = slab.connectivity.nbr
    i, k = np.nonzero(nbr >= 0)
    expected = np.sqrt(f[i] * f[nbr[i, k]]) * face_diffusivity(plain, x)[i, k]
    np.testing.assert_allclose(face_diffusivity(slab, x)[i, k], expected, rtol=1e-14)


# ---- 5. conservation and Newton ------------------------------------------------------

@pytest.mark.slow
def test_coupled_run_conserves_li_and_newton_stays_cheap():
    """Tilted NC91 crystal (off-diagonal tensor: tangential drift terms), both options:
    Li balance to the Newton tolerance as in the Fickian run, the stress solved ~once per
    stress_update_x of surface delithiation, and Newton's iterations per time step (accepted
    and rejected) within 30 % of the Fickian run's: the drift is in the Jacobian (measured
    at stress_update_x 0.01: 2.57 against 2.39 per step; 683 against 490 in all, the coupled
    run taking more steps after its stress updates)."""
    material = cm.load_material("nc91")
    particle = single_crystal("sphere", 0.5e-6, 62.5e-9, rotation_from_euler(20.0, 50.0, 0.0))
    experiment = cc_charge(c_rate=1.0, v_max=V_MAX)
    plain = run_voxels(material, particle, experiment)
    coupled = run_voxels(material, particle, experiment, physics=BOTH)
    assert coupled.end_reason == "v_max"
    assert coupled.li_balance_error < 1e-6
    # the fastest voxel falls from x = 0.998 to ~0.17: about 0.83 / stress_update_x solves
    assert 0.7 / BOTH.stress_update_x <= coupled.stress_solves <= 2.0 / BOTH.stress_update_x
    per_step = {name: run.newton_iterations / (len(run.time) - 1 + run.history.rejected_steps)
                for name, run in (("plain", plain), ("coupled", coupled))}
    assert per_step["coupled"] <= 1.3 * per_step["plain"]
    assert abs(soc_end(material, coupled) - soc_end(material, plain)) < 0.02


# ---- 3. Zhang, Shyy & Sastry: isotropic sphere -----------------------------------------

C11, C12 = 320.0, 90.0  # GPa, isotropic: C33 = C11, C13 = C12, C44 = (C11 - C12)/2
STRAIN_PER_X = 0.05     # a/a(1) = c/c(1) = 1 + 0.05 (x - 1): isotropic, linear in x


def isotropic_material():
    base = cm.load_material("nc91")
    x = np.array(base.raw["lattice"]["x"])
    return cm.load_material("nc91", {
        "diffusivity.out_of_plane_ratio": 1.0,
        "stiffness.C11_GPa": C11, "stiffness.C33_GPa": C11, "stiffness.C12_GPa": C12,
        "stiffness.C13_GPa": C12, "stiffness.C44_GPa": (C11 - C12) / 2,
        "lattice.a_angstrom": list(2.872 * (1.0 + STRAIN_PER_X * (x - 1.0))),
        "lattice.c_angstrom": list(14.19 * (1.0 + STRAIN_PER_X * (x - 1.0))),
    })


@pytest.mark.slow
def test_isotropic_sphere_matches_zhang_effective_diffusivity():
    """Isotropic elasticity: E = (C11 - C12)(C11 + 2 C12)/(C11 + C12) = 280.5 GPa,
    nu = C12/(C11 + C12) = 0.2195, K = 2E/(3(1 - nu)) = 239.6 GPa; beta(x) = (a(x) -
    a_ref)/a_ref, beta' = 0.05/(1 - 0.05 (1 - x_initial)) = 0.0500. D_eff/D = 1 +
    3 K beta'^2/(c_max mu_ocv') runs from 1.05 to 1.70 over x.

    Measured (R = 1.5 um, 20 voxels across, "Charge at 1C for 45 min", a fixed charge
    because the closed form is about the fluxes: the coupled cell voltage also carries
    -mu_extra/F of the surface, which a Fickian run with D_eff does not): std of x 0.02081
    coupled, 0.02033 Fickian with D_eff, 0.02773 Fickian with D, so the coupled run is 6.5 %
    of the stress effect from the closed form. The largest voxel difference is 0.0075
    against 0.0160 between D and D_eff: it sits at the surface, where each staircase voxel's
    own stress enters its Butler-Volmer equilibrium potential and shifts the current between
    neighbouring faces (a smooth sphere has the same stress all over its surface; the
    artefact shrinks with the voxel size). (Without the equilibrium-potential shift, at
    cutoff: std 1.5 % and largest difference 3 % of the effect.)
    Tolerances: 10 % of the effect for the std, 60 % for the largest voxel difference."""
    material = isotropic_material()
    youngs = (C11 - C12) * (C11 + 2 * C12) / (C11 + C12) * 1e9
    nu = C12 / (C11 + C12)
    bulk = 2.0 * youngs / (3.0 * (1.0 - nu))
    beta_slope = STRAIN_PER_X / (1.0 + STRAIN_PER_X * (material.x_initial - 1.0))
    effective = copy.copy(material)
    effective.diffusivity = lambda x: material.diffusivity(x) * (
        1.0 + 3.0 * bulk * beta_slope**2 / (material.c_max * chemical_potential_slope(material, x)))

    radius = 1.5e-6
    particle = single_crystal("sphere", radius, 2 * radius / 20, rotation_from_c_axis([0.0, 0.0, 1.0]))
    # a fixed charge (no voltage cutoff): the closed form is about the fluxes; the cell
    # voltage of the coupled run also carries -mu_extra/F of the surface, which D_eff does not
    experiment = experiment_from_table({"kind": "experiment", "blocks": [{"steps": ["Charge at 1C for 45 min"]}]})
    fick_d = run_voxels(material, particle, experiment)
    fick_eff = run_voxels(effective, particle, experiment)
    coupled = run_voxels(material, particle, experiment, physics=STRESS)

    std_effect = fick_d.final_state.std() - fick_eff.final_state.std()
    assert std_effect > 0.005  # stress-assisted diffusion evens the profile out
    assert abs(coupled.final_state.std() - fick_eff.final_state.std()) < 0.1 * std_effect
    largest = np.abs(fick_d.final_state - fick_eff.final_state).max()
    assert np.abs(coupled.final_state - fick_eff.final_state).max() < 0.6 * largest


# ---- 3b. stress-assisted diffusion in 3-D against 1-D: isotropic sphere ------------------

@pytest.mark.slow
def test_stress_coupled_voxel_sphere_agrees_with_the_1d_sphere():
    """Stress-assisted diffusion in 3-D against 1-D for an isotropic sphere.

    For an isotropic material (isotropic stiffness, a and c with the same relative change,
    out_of_plane_ratio 1) the voxel sphere and the 1-D sphere solve the same problem: the
    voxel elasticity gives the hydrostatic stress of the traction-free sphere that the 1-D
    model takes in closed form. What separates them is the voxel discretisation (the staircase
    surface, 20 voxels across), which moves the Fickian SoC at cutoff by 0.0053 between the two
    geometries. Both models lower the Butler-Volmer equilibrium potential by mu_extra/F of the
    surface cell; in the voxel sphere that is the stress of the staircase surface voxel, half a
    voxel (37.5 nm) inside, where the 1-D cell centre is 7.5 nm inside: the surface is where the
    two discretisations differ most. The expected agreement is set by that scale: the stress
    effect on the SoC at cutoff (coupled minus Fickian) must agree within 25 % and the coupled
    SoC of the two geometries must differ by no more than the Fickian SoC of the two, plus
    25 % of the effect.
    Measured: effect 0.0134 (3-D) and 0.0117 (1-D), 14 % apart; geometry gap 0.0053 (Fickian),
    0.0036 (coupled). (Without the equilibrium-potential shift the voxel effect was 0.0153
    against 0.0148 for the Fickian run with the closed-form D_eff in 1-D.)"""
    material = isotropic_material()
    radius = 1.5e-6
    experiment = cc_charge(c_rate=1.0, v_max=4.5)
    particle = single_crystal("sphere", radius, 2 * radius / 20, rotation_from_c_axis([0.0, 0.0, 1.0]))
    mesh = SphereMesh(radius, 100)
    voxel_fick = soc_end(material, run_voxels(material, particle, experiment))
    voxel_coupled = soc_end(material, run_voxels(material, particle, experiment, physics=STRESS))
    sphere_fick = soc_end(material, run_sphere(material, mesh, experiment))
    sphere_coupled = soc_end(material, run_sphere(material, mesh, experiment, physics=STRESS))
    effect_3d, effect_1d = voxel_coupled - voxel_fick, sphere_coupled - sphere_fick
    assert effect_1d > 0.01
    assert abs(effect_3d - effect_1d) < 0.25 * effect_1d
    gap_fick = abs(voxel_fick - sphere_fick)
    assert abs(voxel_coupled - sphere_coupled) <= gap_fick + 0.25 * effect_1d


# ---- 4. staggering convergence -----------------------------------------------------------

@pytest.mark.slow
def test_staggering_converges_as_stress_update_x_shrinks():
    """NC91, R = 1 um, 20 voxels across, tilted (Euler 20, 50, 0 deg), both options, 1C to
    4.5 V; reference stress_update_x = 0.0025. Measured (with the Butler-Volmer equilibrium
    potential lowered by mu_extra/F of the surface voxel, as in 1-D):

        stress_update_x   0.04     0.02     0.01     0.005    0.0025
        SoC at 4.5 V      0.88225  0.89117  0.89151  0.89229  0.89219
        SoC error        -1.0e-2  -1.0e-3  -6.8e-4   1e-4       -
        std of x          0.02049  0.02358  0.02375  0.02401  0.02398
        elastic solves    26       51       96       182      247

    The lagged surface stress now enters the cutoff voltage directly, so the SoC converges
    with stress_update_x too (first order); 0.01, the default, keeps it within 1e-3.
    Tolerances: SoC error < 1e-3 at 0.01 and 0.005 and falling from 0.04; std error falling
    with stress_update_x."""
    material = cm.load_material("nc91")
    radius = 1e-6
    particle = single_crystal("sphere", radius, 2 * radius / 20, rotation_from_euler(20.0, 50.0, 0.0))
    experiment = cc_charge(c_rate=1.0, v_max=V_MAX)
    result = {}
    for update in (0.04, 0.02, 0.01, 0.005, 0.0025):
        physics = PhysicsOptions(stress_assisted_diffusion=True, slab_spacing_diffusivity=True,
                                 stress_update_x=update)
        solution = run_voxels(material, particle, experiment, physics=physics)
        result[update] = (soc_end(material, solution), solution.final_state.std())
    soc_ref, std_ref = result[0.0025]
    soc_error = {u: abs(soc - soc_ref) for u, (soc, _) in result.items()}
    std_error = {u: abs(std - std_ref) for u, (_, std) in result.items()}
    assert soc_error[0.01] < 1e-3 and soc_error[0.005] < 1e-3
    assert soc_error[0.005] < soc_error[0.02] < soc_error[0.04]
    assert std_error[0.01] < std_error[0.04] and std_error[0.005] < 0.5 * std_error[0.04]
