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

import numpy as np
import pytest

import chemomech as cm
from chemomech.geometry.sphere import SphereMesh
from chemomech.geometry.voxel import rotation_from_c_axis, single_crystal
from chemomech.protocol import cc_charge
from chemomech.transport.coupling import PhysicsOptions
from chemomech.transport.sphere_transport import run_sphere
from chemomech.transport.voxel_transport import run_voxels

STRESS = PhysicsOptions(stress_assisted_diffusion=True)
C11, C12 = 320.0, 90.0  # GPa: C33 = C11, C13 = C12, C44 = (C11 - C12)/2 (isotropic)
STRAIN_PER_X = 0.05     # a/a(1) = c/c(1) = 1 + 0.05 (x - 1)


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


def soc(material, solution):
    return solution.charge_passed[-1] / 3600.0 / material.capacity_nominal


@pytest.mark.slow
def test_stress_coupled_voxel_sphere_agrees_with_the_1d_sphere():
    material = isotropic_material()
    radius = 1.5e-6
    experiment = cc_charge(c_rate=1.0, v_max=4.5)
    particle = single_crystal("sphere", radius, 2 * radius / 20, rotation_from_c_axis([0.0, 0.0, 1.0]))
    mesh = SphereMesh(radius, 100)
    voxel_fick = soc(material, run_voxels(material, particle, experiment))
    voxel_coupled = soc(material, run_voxels(material, particle, experiment, physics=STRESS))
    sphere_fick = soc(material, run_sphere(material, mesh, experiment))
    sphere_coupled = soc(material, run_sphere(material, mesh, experiment, physics=STRESS))
    effect_3d, effect_1d = voxel_coupled - voxel_fick, sphere_coupled - sphere_fick
    assert effect_1d > 0.01
    assert abs(effect_3d - effect_1d) < 0.25 * effect_1d
    gap_fick = abs(voxel_fick - sphere_fick)
    assert abs(voxel_coupled - sphere_coupled) <= gap_fick + 0.25 * effect_1d
