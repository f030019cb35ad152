"""The 1-D sphere on a radial mesh graded towards the surface (geometry.sphere,
`particle.surface_cell_nm`): the mesh itself, the transport on it (against Crank's
constant-flux series, FiPy's non-uniform spherical grid and Li conservation), the readers
of its results, and the config checks.

A uniform mesh must compute what it always did: tests/test_coupling_sphere.py pins the
uniform kernels bit for bit; here the graded one is checked against references.
"""

from __future__ import annotations

import numpy as np
import pytest

import chemomech as cm
from chemomech.constants import FARADAY
from chemomech.errors import ConfigError
from chemomech.geometry.sphere import SphereMesh, faces_from_centres, geometric_widths, shell_volumes_from_centres
from chemomech.materials import load_material
from chemomech.protocol import cc_charge
from chemomech.transport.integrator import SolverOptions
from chemomech.transport.sphere_transport import SphereStepper, run_sphere
from test_sphere_transport import LOG10_D, constant_d_material, crank_sphere

RADIUS = 2e-6  # m


def test_graded_widths_are_geometric_and_add_up_to_the_radius():
    """w_k = w_s q^(N-1-k): the outermost shell is surface_cell, neighbouring widths have one
    ratio q > 1, they sum to R, and the faces end exactly at R."""
    mesh = SphereMesh(RADIUS, 100, 2e-9)
    widths = np.diff(mesh.faces)
    assert widths[-1] == pytest.approx(2e-9, rel=1e-10)
    ratios = widths[:-1] / widths[1:]
    assert np.all(ratios > 1.0) and np.ptp(ratios) < 1e-9
    assert mesh.faces[-1] == RADIUS and widths.sum() == pytest.approx(RADIUS, rel=1e-14)
    assert mesh.surface_half_width == pytest.approx(1e-9, rel=1e-10)
    assert np.allclose(mesh.gaps[1:-1], np.diff(mesh.centres), rtol=0, atol=1e-22)
    assert mesh.volumes.sum() == pytest.approx(RADIUS**3 / 3.0, rel=1e-13)


def test_uniform_mesh_keeps_its_exact_spacing():
    """A uniform mesh gives gaps of exactly R/N and a surface half width of exactly dr/2:
    the arithmetic of the kernels is the one before grading existed."""
    mesh = SphereMesh(RADIUS, 100)
    assert not mesh.graded
    assert np.all(mesh.gaps == RADIUS / 100) and mesh.surface_half_width == 0.5 * (RADIUS / 100)


@pytest.mark.parametrize("surface_cell", [0.0, -1e-9, 2e-8, 5e-8])
def test_a_surface_cell_not_finer_than_uniform_is_refused(surface_cell):
    """0 < surface_cell < R/N; otherwise a ConfigError naming particle.surface_cell_nm."""
    with pytest.raises(ConfigError, match="surface_cell_nm"):
        SphereMesh(RADIUS, 100, surface_cell)
    with pytest.raises(ConfigError, match="surface_cell_nm"):
        geometric_widths(RADIUS, 100, surface_cell)


@pytest.mark.parametrize("surface_cell", [None, 3e-9])
def test_readers_rebuild_the_shells_from_the_centres(surface_cell):
    """faces_from_centres / shell_volumes_from_centres (what XRD, XANES and TXM use on a
    sphere-1d result, which stores only the centres r) give back the mesh's own faces and
    exact shell volumes, uniform or graded."""
    mesh = SphereMesh(RADIUS, 60, surface_cell)
    np.testing.assert_allclose(faces_from_centres(mesh.centres), mesh.faces, rtol=1e-12, atol=1e-21)
    np.testing.assert_allclose(shell_volumes_from_centres(mesh.centres) / 3.0, mesh.volumes, rtol=1e-11)


def test_graded_mesh_against_crank_series():
    """Constant flux into a sphere with constant D (Crank, Mathematics of Diffusion, eq.
    6.46; tests/test_sphere_transport.crank_sphere): on 40 cells graded to a 5 nm surface
    shell the profile after 0.1 R^2/D agrees with the series to 2e-3 of the drop (measured
    8.2e-4; uniform 40 cells 9.7e-4), within a factor 2 of the uniform mesh's error, and
    the outer cell - 2.5 nm from the surface instead of 25 nm - lies 5x closer to the
    series' surface value (measured 2.3e-3 of the drop against 2.5e-2)."""
    material, d = constant_d_material(), 10.0**LOG10_D
    x0 = material.x_initial
    tau = RADIUS**2 / d
    t_end = 0.1 * tau
    current = 2.0  # A/m2
    n_s = current / (FARADAY * material.c_max)
    surface = crank_sphere([RADIUS], t_end, RADIUS, d, x0, n_s)[0]
    errors, surface_errors = {}, {}
    for surface_cell in (None, 5e-9):
        mesh = SphereMesh(RADIUS, 40, surface_cell)
        stepper = SphereStepper(material, mesh)
        x = np.full(mesh.cells, x0)
        steps = 400
        for _ in range(steps):
            x, ok, _ = stepper.step(x, t_end / steps, None, current)
            assert ok
        exact = crank_sphere(mesh.centres, t_end, RADIUS, d, x0, n_s)
        drop = x0 - crank_sphere([RADIUS], t_end, RADIUS, d, x0, n_s)[0]
        errors[surface_cell] = np.max(np.abs(x - exact)) / drop
        surface_errors[surface_cell] = abs(x[-1] - surface) / drop
    assert errors[5e-9] < 2e-3
    assert errors[5e-9] < 2.0 * errors[None]
    assert surface_errors[5e-9] < 0.2 * surface_errors[None]


def test_graded_run_conserves_lithium_and_converges():
    """NC91 at 1C to 4.5 V: the Li balance closes to round-off on a graded mesh, and the SoC
    at cutoff on 100 cells graded to 2 nm agrees with the uniform 800-cell run to 2e-4
    (measured 1.7e-5; the 800-cell reference's own grid error is of the order of its
    400 -> 800 change, 2.4e-5, so 2e-4 is about eight times that)."""
    material = load_material("nc91")
    protocol = cc_charge(1.0, 4.5)
    graded = run_sphere(material, SphereMesh(RADIUS, 100, 2e-9), protocol)
    fine = run_sphere(material, SphereMesh(RADIUS, 800), protocol)
    assert graded.li_balance_error < 1e-12
    q = [s.charge_passed[-1] for s in (graded, fine)]
    assert abs(q[0] - q[1]) / q[1] < 2e-4


def test_surface_cell_in_a_config():
    """particle.surface_cell_nm grades a sphere-1d run (stored in the resolved config, the
    r coordinate graded); refused for a voxel particle and when not finer than uniform;
    left out of the resolved config when not given."""
    config = {"material": "nm91", "particle": {"geometry": "sphere-1d", "cells": 50, "surface_cell_nm": 4.0},
              "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5}, "output": {"snapshots": 3}}
    ds = cm.simulate(config)
    r = ds["r"].values
    assert 2e-6 - r[-1] == pytest.approx(2e-9, rel=1e-6)
    assert np.diff(r)[0] > 10 * np.diff(r)[-1]
    from chemomech.io.config import resolve_config

    assert "surface_cell_nm" not in resolve_config({"material": "nm91"})["particle"]
    with pytest.raises(ConfigError, match=r"particle.surface_cell_nm = 40.*allowed: 0 < surface_cell_nm < radius / cells = 40 nm"):
        resolve_config({**config, "particle": {**config["particle"], "surface_cell_nm": 40.0}})
    with pytest.raises(ConfigError, match="not a single-crystal particle"):
        resolve_config({"material": "nm91", "particle": {"geometry": "single-crystal", "voxel_nm": 500.0,
                                                         "surface_cell_nm": 4.0}})


@pytest.mark.slow
def test_graded_mesh_agrees_with_fipy_step_by_step():
    """FiPy's non-uniform spherical grid with the same shell widths (fipy_reference), stepped
    with the same fixed dt as the default kernel: the same x and V at every step, to the
    default's table interpolation error (the uniform test's tolerances)."""
    pytest.importorskip("fipy")
    from chemomech.constants import TEMPERATURE_DEFAULT
    from chemomech.transport.fipy_reference import run_sphere_fipy
    from chemomech.transport.kinetics import galvanostatic_current_density

    material = load_material("nm91")
    mesh = SphereMesh(RADIUS, 30, 4e-9)
    reference = run_sphere_fipy(material, mesh, cc_charge(1.0, 4.5), steps_per_hour=30)
    stepper = SphereStepper(material, mesh, TEMPERATURE_DEFAULT)
    i_cc = galvanostatic_current_density(1.0, material.capacity_nominal, material.density, RADIUS)
    x = reference.states[0]
    assert len(reference.time) > 10
    for k in range(1, len(reference.time)):
        x, ok, current = stepper.step(x, reference.time[k] - reference.time[k - 1], None, i_cc)
        assert ok
        assert np.max(np.abs(x - reference.states[k])) < 2e-6
        assert abs(stepper.voltage(x, current) - reference.voltage[k]) < 1e-5
