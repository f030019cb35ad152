"""The protocol engine (transport.integrator) on the 1-D sphere and the voxel particles:
charge, discharge, holds, rests and cycles.

Where the expected numbers come from:
- Li balance: a conservation law. The finite volumes move Li only between cells and out
  through the surface, so the solid's loss equals the charge passed to round-off, over
  any number of cycles and any step list (hypothesis).
- Coulombic efficiency 1: a fully reversible particle (D so high that x stays uniform,
  no hysteresis in the OCV) returns on discharge exactly the Li it gave on charge, once
  both ends are the same state (cycles after the first).
- Event location: the integrator re-solves the last step until the event quantity
  matches to 1e-6 relative (integrator.EVENT_TOLERANCE); time limits land exactly.
- Rest: at open circuit the particle relaxes to a uniform x, whose voltage is OCV(mean x)
  (the mean is fixed by the balance above).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import chemomech as cm
from chemomech.geometry import SphereMesh
from chemomech.geometry.voxel import rotation_from_c_axis, single_crystal
from chemomech.protocol import ProtocolError, cc_charge, experiment_from_table
from chemomech.transport.integrator import EVENT_TOLERANCE, local_error
from chemomech.transport.sphere_transport import run_sphere
from chemomech.transport.voxel_transport import run_voxels

V_MAX, V_MIN = 4.5, 2.8
MESH = SphereMesh(1e-6, 30)  # small and fast; the checks do not depend on the size
D_POINTS = len(cm.load_material("nc91").raw["diffusivity"]["x"])  # constant D tables of the file's length


def experiment(*blocks, stops=()):
    """An Experiment from (repeat, [sentences]) pairs."""
    table = {"kind": "experiment", "blocks": [{"repeat": r, "steps": list(s)} for r, s in blocks]}
    if stops:
        table["stops"] = list(stops)
    return experiment_from_table(table)


CYCLE = ["Charge at 1C until 4.5 V", "Discharge at 1C until 2.8 V"]


@pytest.fixture(scope="module")
def nc91():
    return cm.load_material("nc91")


@pytest.fixture(scope="module")
def reversible():
    """NC91 with a constant, very high D (x stays uniform: R^2/D = 1 s) and isotropic
    tensor: charge and discharge pass the same states, so nothing is lost."""
    return cm.load_material("nc91", {"diffusivity.log10_m2_s": [-12.0] * D_POINTS,
                                     "diffusivity.out_of_plane_ratio": 1.0})


# ---- conservation -------------------------------------------------------------------------
@pytest.mark.slow
def test_li_balance_over_100_cycles(nc91):
    sol = run_sphere(nc91, MESH, experiment((100, CYCLE)))
    assert sol.history.cycle.max() == 100
    assert sol.li_balance_error < 1e-12  # conservation law, round-off over ~20k steps
    # every cycle ended on its limits, and the same cycle repeats (steady cycling)
    reasons = {s.end_reason for s in sol.history.steps}
    assert reasons == {"v_max", "v_min"}
    capacity = sol.history.cycle_capacity
    assert capacity[100][1] == pytest.approx(capacity[2][1], rel=1e-4)


STEP_TEXTS = st.sampled_from([
    "Charge at 1C for 10 min", "Charge at 2C for 5 min or until 4.5 V", "Discharge at 1C for 5 min or until 2.8 V",
    "Rest for 20 min", "Hold at 4.0 V for 10 min", "Hold at 4.2 V until C/5 or for 30 min",
    "Charge at 54 mA/g for 10 min", "Discharge at C/2 for 10 min or until 3.0 V",
])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP_TEXTS, min_size=1, max_size=5))
def test_li_balance_over_random_step_lists(nc91, steps):
    """Any step list: Li conserved to round-off, time limits hit exactly, the rows of each
    step contiguous."""
    try:
        sol = run_sphere(nc91, MESH, experiment((1, ["Charge at 1C for 5 min", *steps])))
    except ProtocolError as exc:
        # a discharge after the particle is already full (or a charge after it is empty)
        # starts past its voltage limit: the documented error, not a case to integrate
        assert "can never be reached" in str(exc)
        assume(False)
    history = sol.history
    assert sol.li_balance_error < 1e-12
    for record in history.steps:
        duration = record.end_time - record.start_time
        if record.end_reason in ("time", "cv time limit"):
            step_duration = {"10 min": 600, "5 min": 300, "20 min": 1200, "30 min": 1800}
            expected = next(v for k, v in step_duration.items() if k in record.text)
            assert duration == pytest.approx(expected, rel=1e-12)
        rows = np.flatnonzero(history.step == history.steps.index(record))
        assert np.all(np.diff(rows) == 1)


# ---- cycles ------------------------------------------------------------------------------
def test_reversible_particle_coulombic_efficiency_is_one(reversible):
    ds = cm.simulate({"material": "nc91",
                      "material_overrides": {"diffusivity.log10_m2_s": [-12.0] * D_POINTS, "diffusivity.out_of_plane_ratio": 1.0},
                      "particle": {"radius_um": 1.0, "cells": 20},
                      "protocol": {"kind": "experiment", "blocks": [{"repeat": 3, "steps": CYCLE}]}})
    efficiency = ds["coulombic_efficiency"].values
    # from cycle 2 on, each cycle starts where the last ended: CE = 1 up to the event
    # location (1e-6 relative in V, ~1e-6 in charge through dV/dq) and the step error
    assert np.all(np.abs(efficiency[1:] - 1) < 1e-5)
    # cycle 1 starts from x_initial = 0.998 and refills to x ~ 1: CE - 1 is at most the
    # initial vacancy (1 - x_initial) Q_theoretical / Q_charge
    material = cm.load_material("nc91")
    bound = (1 - material.x_initial) * material.capacity_theoretical / ds["charge_capacity"].values[0]
    assert 0 <= efficiency[0] - 1 <= bound + 1e-5
    assert ds.attrs["li_balance_error"] < 1e-12


def test_cycling_result_contract(nc91):
    ds = cm.simulate({"material": "nc91", "particle": {"radius_um": 1.0, "cells": 20},
                      "protocol": {"kind": "experiment", "blocks": [
                          {"repeat": 2, "steps": ["Charge at C/2 until 4.5 V", "Discharge at C/2 until 2.8 V"]},
                          {"repeat": 2, "steps": CYCLE}]},
                      "output": {"snapshot_cycles": [1, 4], "snapshots": 3}})
    assert ds.sizes["cycle"] == 4 and ds.sizes["step"] == 8
    assert list(ds["cycle"].values) == [1, 2, 3, 4]
    for name, units in (("charge_capacity", "mAh/g"), ("discharge_capacity", "mAh/g"), ("coulombic_efficiency", "1"),
                        ("charge_energy", "Wh/kg"), ("discharge_energy", "Wh/kg"), ("mean_charge_voltage", "V"),
                        ("mean_discharge_voltage", "V"), ("capacity_retention", "1")):
        assert ds[name].dims == ("cycle",) and ds[name].attrs["units"] == units
    # the retention reference is the first cycle of the second block (cycle 3)
    assert ds["capacity_retention"].values[2] == pytest.approx(1.0, rel=1e-12)
    # capacities are the sums of the charge passed each way (a conservation check)
    dq = np.diff(ds["capacity"].values)
    assert ds["charge_capacity"].sum() == pytest.approx(dq[dq > 0].sum(), rel=1e-12)
    assert ds["discharge_capacity"].sum() == pytest.approx(-dq[dq < 0].sum(), rel=1e-12)
    # mean voltages lie between the cutoffs
    assert np.all((ds["mean_charge_voltage"] > 3.4) & (ds["mean_charge_voltage"] < V_MAX))
    assert np.all((ds["mean_discharge_voltage"] > V_MIN) & (ds["mean_discharge_voltage"] < ds["mean_charge_voltage"]))
    # step_index and cycle_index over time
    assert ds["cycle_index"].values[0] == 1 and ds["cycle_index"].values[-1] == 4
    assert np.all(np.diff(ds["step_index"].values) >= 0)
    # snapshots: the ends of the steps of cycles 1 and 4 are among them, in time order
    ends = ds["step_end_time"].values[ds["step_cycle"].values != 2]
    ends = ends[ds["step_cycle"].values[ds["step_cycle"].values != 2] != 3]
    for t in ends:
        assert np.min(np.abs(ds["snapshot_time"].values - t)) < 1e-9
    assert np.all(np.diff(ds["snapshot_time"].values) > 0)
    assert set(ds["snapshot_cycle"].values) <= {1, 3, 4}  # the start of cycle 4 is the end of 3
    # fields of a discharged snapshot exist (mechanics on any snapshot)
    last = ds.isel(snapshot=-1)
    assert float(last["snapshot_voltage"]) == pytest.approx(V_MIN, abs=1e-5)
    assert np.all(np.isfinite(last["stress_hoop"].values))
    assert ds.attrs["discharge_capacity_first_mAh_g"] == pytest.approx(float(ds["discharge_capacity"][0]))


def test_whole_run_stop(nc91):
    """Discharges at growing rates: the run stops after the first cycle whose discharge
    capacity falls below 90 % of cycle 1's."""
    rates = ["C/10", "C/2", "1C", "2C", "5C", "10C"]
    blocks = [(1, ["Charge at C/10 until 4.5 V", f"Discharge at {r} until 2.8 V"]) for r in rates]
    sol = run_sphere(nc91, SphereMesh(2e-6, 30), experiment(*blocks, stops=["discharge capacity < 90 % of cycle 1"]))
    capacity = {c: v[1] for c, v in sol.history.cycle_capacity.items()}
    last = max(capacity)
    assert capacity[last] < 0.9 * capacity[1]
    assert all(capacity[c] >= 0.9 * capacity[1] for c in range(1, last))
    assert last < len(rates) and sol.end_reason.startswith("stop: discharge capacity < 90 % of cycle 1")


# ---- holds, rests, limits ------------------------------------------------------------------
def test_cv_hold_ends_at_its_current_limit(nc91):
    sol = run_sphere(nc91, MESH, experiment((1, ["Charge at 1C until 4.2 V", "Hold at 4.2 V until C/20"])))
    hold = sol.history.steps[1]
    assert hold.end_reason == "cv current below end value"
    i_cc = sol.current_density[sol.history.steps[0].end_row]
    assert abs(sol.current_density[-1]) == pytest.approx(i_cc / 20, rel=10 * EVENT_TOLERANCE)
    rows = np.flatnonzero(sol.history.step == 1)
    assert np.max(np.abs(sol.voltage[rows] - 4.2)) < 1e-8  # the hold holds its voltage


def test_discharge_hold_and_limits(nc91):
    """A hold below the OCV lithiates (negative current, decaying toward 0)."""
    sol = run_sphere(nc91, MESH, experiment((1, ["Charge at 1C until 4.3 V", "Discharge at 1C until 3.6 V",
                                                 "Hold at 3.6 V until C/50"])))
    reasons = [s.end_reason for s in sol.history.steps]
    assert reasons == ["v_max", "v_min", "cv current below end value"]
    rows = np.flatnonzero(sol.history.step == 2)
    assert np.all(sol.current_density[rows] < 0)
    assert sol.voltage[sol.history.steps[1].end_row] == pytest.approx(3.6, abs=3.6 * EVENT_TOLERANCE)


def test_rest_relaxes_to_the_ocv_of_the_mean(nc91):
    sol = run_sphere(nc91, MESH, experiment((1, ["Charge at 1C for 30 min", "Rest for 10 h"])))
    x_end = sol.final_state
    assert np.ptp(x_end) < 1e-5  # relaxed: R^2/D ~ 100 s << 10 h
    ocv = float(nc91.ocv(MESH.volume_average(x_end)))
    assert sol.voltage[-1] == pytest.approx(ocv, abs=1e-4)
    assert sol.current_density[-1] == 0.0


def test_unreachable_limit_mid_run_is_a_protocol_error(nc91):
    with pytest.raises(ProtocolError, match="can never be reached"):
        run_sphere(nc91, MESH, experiment((1, ["Charge at 1C until 4.2 V", "Rest for 1 min", "Charge at 1C until 4.1 V"])))


def test_cc_charge_builder_equals_experiment_sentence(nc91):
    a = run_sphere(nc91, MESH, cc_charge(1.0, V_MAX))
    b = run_sphere(nc91, MESH, experiment((1, ["Charge at 1C until 4.5 V"])))
    assert np.array_equal(a.charge_passed, b.charge_passed)


# ---- voxel particles ------------------------------------------------------------------------
@pytest.mark.slow
def test_voxel_single_crystal_two_full_cycles(nc91):
    particle = single_crystal("sphere", 0.3e-6, 50e-9, rotation_from_c_axis([0, 0, 1]))
    sol = run_voxels(nc91, particle, experiment((2, CYCLE)))
    assert [s.end_reason for s in sol.history.steps] == ["v_max", "v_min"] * 2
    # the voxel Newton iteration stops at max |dx| < 1e-6 with BiCGSTAB to 1e-2 per
    # iteration, so Li is conserved to the solver tolerance, not round-off: the bound of
    # tests/test_voxel_transport.py (1e-6) over the whole run
    assert sol.li_balance_error < 1e-6
    charge, discharge = sol.history.cycle_capacity[2]
    assert discharge / charge == pytest.approx(1.0, abs=2e-3)


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` under a minute
def test_mechanics_and_observables_on_discharged_snapshots():
    """A voxel single crystal charged and discharged: the elastic fields exist on every
    snapshot, and XRD, SXDM and XANES work on the discharged one. After discharge the
    particle is back near x = 1, so its mean white line lies below the charged one's
    (Ni valence from charge balance falls as x rises)."""
    ds = cm.simulate({"material": "nc91",
                      "particle": {"geometry": "single-crystal", "radius_um": 0.3, "voxel_nm": 50.0},
                      "protocol": {"kind": "experiment", "blocks": [{"steps": CYCLE}]},
                      "output": {"snapshots": 3, "mechanics": True}})
    charged = int(np.argmax(ds["snapshot_soc"].values))
    assert ds["snapshot_voltage"].values[-1] == pytest.approx(V_MIN, abs=1e-5)
    assert np.isfinite(ds["stress_von_mises"].isel(snapshot=-1)).sum() > 0
    pattern = cm.observables.xrd(ds, wavelength_A=0.1173)
    assert np.all(np.isfinite(pattern["intensity"].values))
    maps = cm.observables.sxdm(ds, snapshot=-1, reflection="003", beam_nm=30, step_nm=50, rocking_deg=2)
    assert np.isfinite(maps["d_rel"].values).any()
    white = [float(cm.observables.xanes(ds, snapshot=k, voxel_nm=50, spectra=False)["white_line_energy"].mean())
             for k in (charged, -1)]
    assert white[1] < white[0]


def test_surface_limit_is_located(nc91):
    """A time-limited charge long enough to empty the surface ends where the outer cell
    reaches integrator.SURFACE_EMPTY (located like a voltage limit, 1e-6 relative), not a
    whole step later."""
    from chemomech.transport.integrator import SURFACE_EMPTY

    slow = cm.load_material("nc91", {"diffusivity.log10_m2_s": [-16.5] * D_POINTS})
    sol = run_sphere(slow, SphereMesh(2e-6, 30), experiment((1, ["Charge at 2C for 2 h", "Rest for 10 min"])))
    first = sol.history.steps[0]
    assert first.end_reason == "surface delithiated"
    assert first.end_time < 2 * 3600.0
    assert sol.states[first.end_row][-1] == pytest.approx(SURFACE_EMPTY, rel=10 * EVENT_TOLERANCE)
    assert sol.history.steps[1].end_reason == "time"  # the protocol goes on


def test_local_error_is_the_root_mean_square_over_the_cells():
    """integrator.local_error (module docstring): dt / (2 dt + dt_prev) times the root mean
    square of x_BE - x_pred over the N cells. Exact cases: a linear history has zero
    error; a deviation d in every cell gives d (root mean square = largest); a deviation d in
    one cell of N gives d / sqrt(N); a NaN gives inf."""
    n, dt, dt_prev = 400, 2.0, 1.0
    factor = dt / (2.0 * dt + dt_prev)
    x_prev = np.linspace(0.2, 0.9, n)
    x = x_prev - 0.01  # moved by -0.01 in dt_prev
    predicted = x + (dt / dt_prev) * (x - x_prev)  # linear extrapolation: -0.02 in dt
    assert local_error(predicted.copy(), x, x_prev, dt, dt_prev) == pytest.approx(0.0, abs=1e-15)
    assert local_error(predicted + 1e-3, x, x_prev, dt, dt_prev) == pytest.approx(factor * 1e-3, rel=1e-9)
    one = predicted.copy()
    one[7] += 1e-3
    assert local_error(one, x, x_prev, dt, dt_prev) == pytest.approx(factor * 1e-3 / np.sqrt(n), rel=1e-9)
    one[3] = np.nan
    assert local_error(one, x, x_prev, dt, dt_prev) == np.inf
