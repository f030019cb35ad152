"""The default voxel solver against the FiPy Grid3D reference
(chemomech.transport.fipy_voxel_reference), step by step with the same fixed dt.

Case: NC91 sphere, R = 0.4 um, 50 nm voxels (16 across, an 18^3 grid), 1C, three
backward-Euler steps of 600 s from uniform x_initial to 50 % SoC. The default's step
(voxel_transport.VoxelStepper.step, Newton with phi in a bordered system) and FiPy's
(Picard sweeps with FiPy's PCG; phi eliminated by a Schur-complement correction) have the
same fixed point when they discretise the same equations, so the remaining differences
are iteration and solver tolerances, the default's 4001-point material tables (FiPy uses
the PCHIP functions), and the tangential-gradient reconstruction where it differs:

- c axis along z (M diagonal): no tangential flux; both are the same two-point scheme.
- c tilted 37 deg (rotation_from_euler(0, 37, 0); M has off-diagonal terms up to 0.48),
  tangential_gradient="connected": FiPy's anisotropic machinery fed the default's
  tangential gradient, i.e. the same discrete equations.
- the same tilt with FiPy's own tangential gradient (Gauss gradient, harmonic face mean):
  a different discretisation of the tangential flux next to the surface (module
  docstring of fipy_voxel_reference), so x differs at the 1e-3 level in the surface layer.

Runs are cached per module (~15-50 s in all, depending on the load; most of it FiPy's
30-50 sweeps per step for the tilted crystal, whose tangential flux FiPy converges as a
deferred correction).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fipy")

from scipy.ndimage import distance_transform_edt  # noqa: E402

from chemomech.constants import TEMPERATURE_DEFAULT  # noqa: E402
from chemomech.geometry.voxel import (  # noqa: E402
    polycrystal,
    rotation_from_euler,
    single_crystal,
)
from chemomech.materials import load_material  # noqa: E402
from chemomech.protocol import cc_charge, experiment_from_table  # noqa: E402
from chemomech.transport.fipy_voxel_reference import charge_voxels_fipy  # noqa: E402
from chemomech.transport.voxel_transport import VoxelStepper  # noqa: E402

RADIUS = 0.4e-6  # m
VOXEL = 50e-9  # m: 16 voxels across
DT = 600.0  # s: 1/6 of the nominal 1C charge per step
STEPS = 3  # to 50 % SoC
V_MAX = 4.5
TILT = 37.0  # deg, Bunge Phi: c axis at 37 deg from z in the y-z plane
NOMINAL_CHARGE = 270.0 * 3600.0  # C/kg

# Same equations (c along z; tilted with the default's tangential gradient). The default
# stops Newton at an update < 1e-6 (voxel_transport.NEWTON_TOL; its inexact linear solves,
# to voxel_transport.LINEAR_REL_TOL = 1e-2, make it converge at least linearly by ~1e-2 per
# iteration, so its error is ~1e-8), FiPy stops its sweeps at a change < 1e-8
# (fipy_voxel_reference.SWEEP_TOLERANCE); the D table error (<= 1.5e-5 relative next to
# the PCHIP knots) moves x by less than that here (small gradients). Observed: c along z
# x 3.1e-9, V 2.6e-9 V; tilted x 2.9e-8, V 3e-10 V; the
# tilted FiPy sweeps converge only by a factor rho ~ 0.6 per sweep (deferred correction of
# the tangential flux), so stopping at a change of 1e-8 leaves ~1e-8 rho/(1 - rho).
# Tolerance: 2e-7 in x (covers rho up to 0.95) and 1e-7 V (dU/dx ~ 0.5 V per unit x).
SAME_EQUATIONS_X_TOL = 2e-7
SAME_EQUATIONS_V_TOL = 1e-7  # V

# FiPy's own tangential gradient. In a surface cell the Gauss gradient (x_j - x_void)/(2h)
# replaces the default's one-sided (x_j - x_i)/h (void cells carry their solid neighbours'
# mean), and the face mean is harmonic: an O(1) relative change of the tangential gradient
# in the surface layer, whose effect on x is set by the tangential flux there. Observed
# (3 steps): surface layer (within 1.5 voxels of the void) max 2.0e-3 (step 1, when x
# spans ~0.01 over the particle), deeper max 4.6e-4, V 1.1e-4 V, shrinking as the field
# flattens (7.2e-4, 1.2e-4, 7.6e-5 V at step 3); rms surface layer / deeper 3.9-4.3.
# Tolerances: 2x the observed maxima; the test also checks that the difference sits in the
# surface layer (its rms there > 2x deeper).
FIPY_GRADIENT_SURFACE_TOL = 4e-3
FIPY_GRADIENT_INTERIOR_TOL = 1e-3
FIPY_GRADIENT_V_TOL = 3e-4  # V

# Li balance. Every sweep ends with the potential correction, which makes the step's Li
# removal exact (round-off); solve_balance_error is the mismatch the last plain FiPy solve
# left before that correction: with the sweep change < 1e-8 per cell, dt S' ~ 30 in the
# surface cells and 1/6 of x removed per step, <~ 1e-8 * 30 * 6 ~ 2e-6 relative; observed
# <= 2e-9 (1.2e-8 with 180 s steps).
LI_BALANCE_TOL = 1e-10
SOLVE_BALANCE_TOL = 1e-6


def run_case(euler_phi: float, tangential_gradient: str) -> dict:
    """FiPy's states and voltages and the default's, stepped with the same dt."""
    material = load_material("nc91")
    particle = single_crystal("sphere", RADIUS, VOXEL, rotation_from_euler(0.0, euler_phi, 0.0))
    protocol = cc_charge(c_rate=1.0, v_max=V_MAX)
    reference = charge_voxels_fipy(material, particle, protocol, DT, max_steps=STEPS,
                                   tangential_gradient=tangential_gradient)
    stepper = VoxelStepper(material, particle, TEMPERATURE_DEFAULT)
    assert np.array_equal(stepper.connectivity.cells, reference.cells)
    # mean current density [A/m2] of the 1C charge: specific current [A/kg] / (area / mass)
    i_cc = protocol.first_current_step().specific_current(material.capacity_nominal) / stepper.specific_charge
    assert reference.current_density[1:] == pytest.approx(i_cc, rel=1e-12)
    x = reference.states[0].astype(float)
    states, voltages = [x], [reference.voltage[0]]
    for _ in range(STEPS):
        x, ok, current = stepper.step(x, DT, None, i_cc)
        assert ok
        states.append(x)
        voltages.append(stepper.voltage(x, current))
    depth = distance_transform_edt(particle.mask).ravel()[reference.cells]  # voxels
    return {"fipy": reference, "states": np.array(states), "voltage": np.array(voltages),
            "surface_layer": depth <= 1.5}


@pytest.fixture(scope="module")
def c_along_z():
    return run_case(0.0, "fipy")


@pytest.fixture(scope="module")
def tilted_connected():
    return run_case(TILT, "connected")


@pytest.fixture(scope="module")
def tilted_fipy():
    return run_case(TILT, "fipy")


def test_grid3d_cell_order_is_c_order_of_zyx():
    """FiPy's Grid3D numbers cells x fastest, then y, then z: the flat C-order index of a
    (z, y, x) array, which the reference relies on (cell id = particle flat index)."""
    import fipy

    particle = single_crystal("sphere", RADIUS, VOXEL, np.eye(3))
    nz, ny, nx = particle.shape
    h = particle.voxel_size
    mesh = fipy.Grid3D(nx=nx, ny=ny, nz=nz, dx=h, dy=h, dz=h)
    centres = np.asarray(mesh.cellCenters)  # (x, y, z) components
    z, y, x = np.meshgrid(*particle.coordinates, indexing="ij")  # (z, y, x) grids, C order
    box_centre = 0.5 * np.array([nx, ny, nz]) * h
    for component, grid in enumerate((x, y, z)):
        np.testing.assert_allclose(centres[component] - box_centre[component], grid.ravel(),
                                   atol=1e-6 * h)


def check_same_equations(case: dict) -> None:
    reference = case["fipy"]
    assert reference.end_reason == "max_steps"
    assert reference.charge_passed[-1] / NOMINAL_CHARGE == pytest.approx(0.5, rel=1e-12)
    for k in range(1, STEPS + 1):
        assert np.max(np.abs(case["states"][k] - reference.states[k])) < SAME_EQUATIONS_X_TOL, k
        assert abs(case["voltage"][k] - reference.voltage[k]) < SAME_EQUATIONS_V_TOL, k


def test_c_along_z_same_equations(c_along_z):
    """M diagonal: FiPy's scalar two-point diffusion equals the default's (3e-9 seen)."""
    check_same_equations(c_along_z)


@pytest.mark.slow
def test_tilted_same_equations_with_the_default_gradient(tilted_connected):
    """M with off-diagonal terms: FiPy's implicit normal flux + explicit tangential
    source, fed the default's tangential gradient, reproduces the default (3e-8 seen)."""
    check_same_equations(tilted_connected)


@pytest.mark.slow
def test_tilted_fipy_gradient_differs_in_the_surface_layer(tilted_fipy):
    """FiPy's own tangential gradient: a 1e-3 difference, in the surface layer."""
    reference, surface = tilted_fipy["fipy"], tilted_fipy["surface_layer"]
    for k in range(1, STEPS + 1):
        difference = np.abs(tilted_fipy["states"][k] - reference.states[k])
        assert np.max(difference[surface]) < FIPY_GRADIENT_SURFACE_TOL, k
        assert np.max(difference[~surface]) < FIPY_GRADIENT_INTERIOR_TOL, k
        rms_surface = np.sqrt(np.mean(difference[surface] ** 2))
        rms_interior = np.sqrt(np.mean(difference[~surface] ** 2))
        assert rms_surface > 2.0 * rms_interior, k
        assert abs(tilted_fipy["voltage"][k] - reference.voltage[k]) < FIPY_GRADIENT_V_TOL, k


@pytest.mark.parametrize("case", ["c_along_z",
                                  pytest.param("tilted_connected", marks=pytest.mark.slow),
                                  pytest.param("tilted_fipy", marks=pytest.mark.slow)])
def test_li_conservation(case, request):
    """Li removed from the solid = charge passed; the plain FiPy solves conserve it to the
    sweep tolerance before the potential correction."""
    reference = request.getfixturevalue(case)["fipy"]
    assert reference.li_balance_error < LI_BALANCE_TOL
    assert np.max(reference.solve_balance_error) < SOLVE_BALANCE_TOL


def test_rejects_what_it_does_not_cover():
    material = load_material("nc91")
    crystal = single_crystal("sphere", RADIUS, VOXEL, np.eye(3))
    with pytest.raises(ValueError, match="constant-current"):
        charge_voxels_fipy(material, crystal, cc_charge(1.0, V_MAX, cv_hold=True), DT)
    cycle = experiment_from_table({"kind": "experiment", "blocks": [
        {"steps": ["Charge at 1C until 4.5 V", "Discharge at 1C until 2.8 V"]}]})
    with pytest.raises(ValueError, match="constant-current"):
        charge_voxels_fipy(material, crystal, cycle, DT)
    with pytest.raises(ValueError, match="single crystal"):
        charge_voxels_fipy(material, polycrystal(RADIUS, VOXEL, 0.3e-6, seed=1),
                           cc_charge(1.0, V_MAX), DT)
    with pytest.raises(ValueError, match="tangential_gradient"):
        charge_voxels_fipy(material, crystal, cc_charge(1.0, V_MAX), DT,
                           tangential_gradient="harmonic")
