"""Cycle life on voxel particles: the damaged voxel stepper, grain-boundary fatigue, the
electronic wiring of grains, cycle jumping on a small crystal and a polycrystal's
result and export (chemomech/degradation/voxels.py, boundary_fatigue.py)."""

from __future__ import annotations

from dataclasses import replace

import meshio
import numpy as np
import pytest

import chemomech as cm
from chemomech.degradation.boundary_fatigue import crack_growth
from chemomech.degradation.cycle_jumping import JumpOptions, run_cycle_life
from chemomech.degradation.parameters import degradation_parameters
from chemomech.degradation.state import DamageState
from chemomech.degradation.voxels import VoxelDamage
from chemomech.geometry.voxel import VoxelParticle, single_crystal
from chemomech.io.export import export_run
from chemomech.protocol import Block, Experiment, step_from_any
from chemomech.transport.coupling import PhysicsOptions
from chemomech.transport.integrator import SolverOptions, run_protocol
from chemomech.transport.voxel_transport import VoxelStepper, voxel_li_balance

NC91 = cm.load_material("nc91")
PARAMS = replace(degradation_parameters(NC91), inactivation_rate_per_s=2.78e-7)  # fixed: independent of the fit
CYCLE = (step_from_any("Charge at 0.5C until 4.5 V"), step_from_any("Discharge at 0.5C until 2.8 V"))
FORMATION = (step_from_any("Charge at C/10 until 4.5 V"), step_from_any("Discharge at C/10 until 2.8 V"))
SOLVER = SolverOptions(tolerance=1e-3, max_step_fraction=0.05)  # the voxel defaults


def small_crystal(radius=0.4e-6, voxel=100e-9):
    return single_crystal("sphere", radius, voxel, np.eye(3))


def nested_grains() -> VoxelParticle:
    """A 10^3 cube of three nested grains: grain 2 the central 2^3, grain 1 the 6^3 around
    it, grain 0 the outer shell; only grain 0 touches the outer surface."""
    grain = np.zeros((10, 10, 10), dtype=np.int32)
    grain[2:8, 2:8, 2:8] = 1
    grain[4:6, 4:6, 4:6] = 2
    return VoxelParticle(grain=grain, rotations=np.repeat(np.eye(3)[None], 3, axis=0), voxel_size=100e-9)


# ---- fatigue ------------------------------------------------------------------------------


def test_paris_law_growth_per_cycle():
    """dl/dN = k (b dsigma sqrt(pi l))^m for the tensile range; compression does not count,
    a broken face does not grow, and a peak stress intensity at K_IC breaks the face."""
    params = replace(PARAMS, paris_prefactor=1e-20, paris_exponent=2.0, paris_geometry_factor=1.0,
                     fracture_toughness_pa_m05=1e6)
    length = np.full(4, 50e-9)
    normal = np.array([[0.0, -300e6, 0.0, 0.0],      # sampled tractions over a cycle (S, F)
                       [200e6, -100e6, 200e6, 3e9]])
    growth = crack_growth(length, np.array([False, False, True, False]), normal, 100e-9, params)
    expected = 1e-20 * (200e6 * np.sqrt(np.pi * 50e-9)) ** 2
    assert growth[0] == pytest.approx(expected, rel=1e-12)
    assert growth[1] == 0.0  # compression only
    assert growth[2] == 0.0  # already broken
    assert growth[3] == pytest.approx(50e-9)  # K_max = 3e9 sqrt(pi 5e-8) = 1.19e6 >= 1e6: through the face


# ---- wiring ---------------------------------------------------------------------------------


def test_grain_wiring_is_the_widest_path_to_the_outer_surface():
    """Nested grains 0 (outer) > 1 > 2: w_0 = 1, w_1 = the intact share of boundary 0-1,
    w_2 = min(share 0-1, share 1-2); a boundary broken through cuts off what lies inside."""
    particle = nested_grains()
    damage = VoxelDamage(NC91, particle, PARAMS, ("boundary_fatigue",), 298.15, PhysicsOptions())
    faces = damage.faces
    grains = damage.pair_grains[:, damage.pair_of_face]
    outer_boundary = (grains[0] == 0) & (grains[1] == 1)
    inner_boundary = (grains[0] == 1) & (grains[1] == 2)
    assert outer_boundary.sum() == 6 * 36 and inner_boundary.sum() == 6 * 4
    crack = np.zeros(faces)
    crack[np.flatnonzero(outer_boundary)[: 6 * 36 // 4]] = 100e-9  # a quarter broken
    crack[inner_boundary] = 20e-9  # 20 % of every inner face cracked
    state = DamageState(np.zeros(damage.n), np.zeros(damage.n), 0.0, crack, crack >= 100e-9)
    assert damage.grain_wiring(state) == pytest.approx([1.0, 0.75, 0.75])
    crack[inner_boundary] = 90e-9
    assert damage.grain_wiring(state) == pytest.approx([1.0, 0.75, 0.1])
    crack[outer_boundary] = 100e-9
    cut = DamageState(np.zeros(damage.n), np.zeros(damage.n), 0.0, crack, crack >= 100e-9)
    assert damage.grain_wiring(cut) == pytest.approx([1.0, 0.0, 0.0])
    assert damage.wired_share(cut) == pytest.approx((1000 - 216) / 1000)


# ---- the damaged stepper -----------------------------------------------------------------------


def charge_discharge(stepper, x):
    return run_protocol(stepper, x, NC91.x_initial, Experiment((Block(CYCLE, 1),)), SOLVER, NC91.capacity_nominal)


def test_undamaged_scales_reproduce_the_plain_stepper():
    """Active fraction 1, face scales 1, wiring 1 and no film: the same cycle as the plain
    stepper, to round-off."""
    particle = small_crystal()
    plain = VoxelStepper(NC91, particle)
    n = plain.n
    damaged = VoxelStepper(NC91, particle, active_fraction=np.ones(n), face_scale=np.ones((n, 6)),
                           surface_resistance=0.0, face_wiring=np.ones(plain.connectivity.face_cell.size))
    x = np.full(n, NC91.x_initial)
    a, b = charge_discharge(plain, x), charge_discharge(damaged, x)
    assert b.time.size == a.time.size
    assert b.cycle_capacity[1] == pytest.approx(a.cycle_capacity[1], rel=1e-12)


def test_damaged_cycle_conserves_li():
    """A cycle on a damaged crystal (a third of its voxels half inactive, slower faces, a
    film): the Li the active lattice lost, c_max V sum phi_i dx_i, equals the charge passed,
    to the Newton tolerance of the voxel solver (1e-6 in x)."""
    particle = small_crystal()
    damage = VoxelDamage(NC91, particle, PARAMS, ("surface_layer", "lattice_inactivation"), 298.15, PhysicsOptions())
    state = damage.pristine()
    loss = np.where(np.arange(damage.n) % 3 == 0, np.log(2.0), 0.0)
    state = DamageState(loss, np.full(damage.n, 0.2), (3e-9) ** 2)
    stepper = damage.stepper(state)
    x = np.full(damage.n, NC91.x_initial)
    history = charge_discharge(stepper, x)
    assert voxel_li_balance(stepper, NC91.c_max, x, history) < 1e-6
    pristine = charge_discharge(damage.stepper(damage.pristine()), x)
    assert history.cycle_capacity[1][1] < 0.9 * pristine.cycle_capacity[1][1]  # a sixth of the lattice gone


@pytest.mark.slow
def test_cycle_jumping_on_a_small_crystal_agrees_with_every_cycle():
    """The issue's test on a small voxel crystal (R = 0.4 um, 100 nm voxels): retention
    after 100 cycles at 0.5C (3 formation cycles at C/10 first) from cycle jumping within
    1 % of the run with every cycle simulated (the reference), with stress-driven and
    oxygen-loss inactivation and the surface layer."""
    particle = small_crystal()
    experiment = Experiment((Block(FORMATION, 3), Block(CYCLE, 100)))

    def retention(jumps):
        damage = VoxelDamage(NC91, particle, PARAMS, ("surface_layer", "lattice_inactivation"), 298.15,
                             PhysicsOptions(), samples=3)
        run = run_cycle_life(damage, np.full(damage.n, NC91.x_initial), experiment, SOLVER,
                             NC91.capacity_nominal, jumps)
        return run.discharge_capacity[-1] / run.discharge_capacity[3], run

    full, reference = retention(JumpOptions(enabled=False))
    jumped, run = retention(JumpOptions())
    assert abs(jumped - full) < 0.01
    assert run.simulated.sum() < 40 and reference.simulated.all()
    assert full < 0.98


# ---- a polycrystal run ------------------------------------------------------------------------------


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` near a minute
def test_polycrystal_cycle_life_result_and_export(tmp_path):
    """A small polycrystal with every mechanism, 4 cycles: cracks only grow, the wiring
    stays in [0, 1], and the damage fields are in result.nc and in the ParaView export."""
    config = {
        "material": "nc91",
        "particle": {"geometry": "polycrystal", "radius_um": 0.5, "voxel_nm": 100.0, "grain_size_um": 0.3, "seed": 2},
        "protocol": {"kind": "experiment", "blocks": [{"repeat": 1, "steps": [s.describe() for s in FORMATION]},
                                                      {"repeat": 3, "steps": [s.describe() for s in CYCLE]}]},
        "output": {"snapshot_cycles": [4], "snapshots": 2},
        "degradation": {"mechanisms": ["surface_layer", "lattice_inactivation", "boundary_fatigue"]},
    }
    ds = cm.simulate(config)
    crack = ds["gb_crack_length"].values
    assert np.all(np.diff(crack, axis=0) >= 0) and crack.max() <= 100e-9 + 1e-15
    wiring = ds["grain_wiring"].values
    assert np.all((wiring >= 0) & (wiring <= 1))
    for name in ("cracked_boundary_fraction", "wired_lattice_fraction", "active_fraction_mean"):
        assert ds[name].sizes["cycle"] == 4
    run_dir = tmp_path / "pc"
    run_dir.mkdir()
    ds.to_netcdf(run_dir / "result.nc")
    mesh = meshio.read(export_run(run_dir, snapshot=ds.sizes["snapshot"] - 1))
    for name in ("active_fraction", "inactive_x_li", "rock_salt_thickness_voxel", "cracked_faces_voxel", "wiring_voxel"):
        assert name in mesh.cell_data


def test_faces_cut_off_do_not_end_a_step():
    """surface_range, which ends a step when a reacting surface empties or fills, reads only
    faces that pass current: a grain cut off (wiring 0) may sit at x = 1 on discharge."""
    particle = small_crystal()
    plain = VoxelStepper(NC91, particle)
    faces = plain.connectivity.face_cell
    wiring = np.ones(faces.size)
    wiring[: faces.size // 2] = 0.0
    stepper = VoxelStepper(NC91, particle, face_wiring=wiring)
    x = np.full(plain.n, 0.5)
    x[faces[: faces.size // 2]] = 1.0
    x[faces[faces.size // 2:]] = 0.6
    assert plain.surface_range(x)[1] == 1.0
    assert stepper.surface_range(x) == (0.6, 0.6)


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` near a minute
def test_cycled_particle_goes_through_the_measurements():
    """A small crystal after 4 cycles with strong oxygen loss: XRD, SXDM and XANES of its
    discharged snapshot work, and XANES sees the inactive lattice still oxidised - the
    quarter of voxels that lost most lattice has a higher white line (higher Ni valence,
    from the x the lost lattice kept) than the quarter that lost least (x_li is the layered
    lattice's mix, phi x + (1 - phi) x_kept)."""
    ds = cm.simulate({
        "material": "nc91", "material_overrides": {"degradation.inactivation_rate_per_s": 3e-4},
        "particle": {"geometry": "single-crystal", "radius_um": 0.4, "voxel_nm": 100.0},
        "protocol": {"kind": "experiment", "blocks": [{"repeat": 4, "steps": [s.describe() for s in CYCLE]}]},
        "output": {"snapshot_cycles": [4], "snapshots": 2},
        "degradation": {"mechanisms": ["lattice_inactivation"], "cycle_jumping": False},
    })
    last = ds.isel(snapshot=-1)
    assert last.snapshot_voltage < 3.0 and int(last.snapshot_cycle) == 4  # the end of the last discharge
    pattern = cm.observables.xrd(ds, wavelength_A=0.1173)
    assert np.all(np.isfinite(pattern["intensity"].values))
    maps = cm.observables.sxdm(ds, snapshot=ds.sizes["snapshot"] - 1, reflection="003", beam_nm=50, step_nm=100,
                               rocking_deg=2)
    assert np.isfinite(maps["d_rel"].values).any()
    xanes = cm.observables.xanes(ds, snapshot=ds.sizes["snapshot"] - 1, voxel_nm=100, spectra=False)
    white = xanes["white_line_energy"].values
    phi = last["active_fraction"].values
    low, high = np.nanpercentile(phi, [25, 75])
    assert low < high  # the damage is uneven: the surface lost more
    assert np.nanmean(white[phi <= low]) > np.nanmean(white[phi >= high])
