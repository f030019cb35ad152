"""The default 1-D coupled kernel (sphere_coupled_kernels, through SphereStepper.step)
against the FiPy formulation of the same equations (transport/fipy_coupled_reference.py).

Both take the same fixed backward-Euler steps from the same planted state, so they solve
the same discrete equations; what separates them is the default's 4001-point material
tables (FiPy evaluates the material functions directly; ~1e-5 relative in the
coefficients) and the solvers' tolerances. The states must agree to 2e-6 in x while the
step moves them by 0.05-0.16: the measured differences are 4e-9 (slab), 2e-7 (stress),
3e-7 (phase separation) and 1e-7 (all three)."""

import numpy as np
import pytest

from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import load_material
from chemomech.transport.coupling import PhysicsOptions
from chemomech.transport.fipy_coupled_reference import run_sphere_fipy_coupled
from chemomech.transport.kinetics import galvanostatic_current_density
from chemomech.transport.sphere_transport import SphereStepper

pytest.importorskip("fipy")

CASES = {
    # name: (material, options, planted x at centre and surface, steps, duration [s])
    "slab": ("nc91", PhysicsOptions(slab_spacing_diffusivity=True), (0.6, 0.4), 10, 300.0),
    "stress": ("nm91", PhysicsOptions(stress_assisted_diffusion=True), (0.6, 0.4), 10, 300.0),
    "phase": ("nc91", PhysicsOptions(phase_separation=True), (0.34, 0.2), 20, 40.0),
    "all": ("nm91", PhysicsOptions(stress_assisted_diffusion=True, slab_spacing_diffusivity=True,
                                   phase_separation=True), (0.34, 0.2), 20, 40.0),
}


@pytest.mark.parametrize("case, surface_cell", [
    ("slab", None),
    pytest.param("stress", None, marks=pytest.mark.slow),
    pytest.param("phase", None, marks=pytest.mark.slow),
    pytest.param("all", None, marks=pytest.mark.slow),
    pytest.param("all", 5e-9, marks=pytest.mark.slow),  # a mesh graded towards the surface
])
@pytest.mark.slow
def test_coupled_kernel_agrees_with_fipy(case, surface_cell):
    name, physics, (centre, surface), steps, duration = CASES[case]
    material = load_material(name)
    mesh = SphereMesh(2e-6, 30, surface_cell)
    x_start = centre + (surface - centre) * (mesh.centres / mesh.radius) ** 2
    current = galvanostatic_current_density(1.0, material.capacity_nominal, material.density, mesh.radius)
    reference = run_sphere_fipy_coupled(material, mesh, physics, current, duration, steps, x_start=x_start)
    stepper = SphereStepper(material, mesh, physics=physics)
    x = x_start.copy()
    for _ in range(steps):
        x, ok, passed = stepper.step(x, duration / steps, None, current)
        assert ok and passed == pytest.approx(current, rel=1e-12)
    assert np.abs(x - x_start).max() > 0.05  # the steps did move the state
    assert np.abs(x - reference.states[-1]).max() < 2e-6
