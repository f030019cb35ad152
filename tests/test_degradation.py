"""Cycle life on the 1-D sphere: the damage mechanisms, their state arithmetic, cycle
jumping and the errors of a cycle-life configuration (chemomech/degradation/)."""

from __future__ import annotations

import copy
from pathlib import Path
from dataclasses import replace

import numpy as np
import pytest

import chemomech as cm
from chemomech.degradation.cycle_jumping import JumpOptions, run_cycle_life
from chemomech.degradation.lattice_inactivation import face_transmissibility, inactivation_rate, integrated_rate
from chemomech.degradation.parameters import degradation_parameters
from chemomech.degradation.sphere import MECHANISMS, SphereDamage
from chemomech.degradation.state import DamageIncrement, DamageState
from chemomech.degradation.surface_layer import sphere_shell_fractions, time_above
from chemomech.errors import ConfigError, MaterialError, SolverError
from chemomech.geometry import SphereMesh
from chemomech.protocol import Block, Experiment, step_from_any
from chemomech.transport.coupling import PhysicsOptions
from chemomech.transport.integrator import SolverOptions

CYCLE = ("Charge at 0.5C until 4.5 V", "Discharge at 0.5C until 2.8 V")
FORMATION = ("Charge at C/10 until 4.5 V", "Discharge at C/10 until 2.8 V")


def study_protocol(cycles: int = 100) -> Experiment:
    """The study's protocol: 3 formation cycles at C/10, then `cycles` at 0.5C, 2.8-4.5 V."""
    steps = lambda texts: tuple(step_from_any(t) for t in texts)  # noqa: E731
    return Experiment((Block(steps(FORMATION), 3), Block(steps(CYCLE), cycles)))


K_IN = 2.78e-7  # [1/s] a fixed intragranular rate (OKane2022's beta), so these tests do not move with the fit


def cycle_life(material="nc91", cells=40, jumps=JumpOptions(), experiment=None, params=None,
               mechanisms=MECHANISMS):
    material = cm.load_material(material)
    params = params or replace(degradation_parameters(material), inactivation_rate_per_s=K_IN)
    mesh = SphereMesh(2e-6, cells)
    model = SphereDamage(material, mesh, params, mechanisms, 298.15, PhysicsOptions())
    run = run_cycle_life(model, np.full(cells, material.x_initial), experiment or study_protocol(), SolverOptions(),
                         material.capacity_nominal, jumps)
    return run, model


# ---- mechanisms -------------------------------------------------------------------------


def test_time_above_a_linear_ramp_is_its_share_above_the_onset():
    """V rising linearly from 4.0 to 4.5 V over 100 s is above 4.3 V for the last 40 s
    (exact under the linear interpolation the function assumes), also when sampled unevenly."""
    t = np.array([0.0, 13.0, 50.0, 77.0, 100.0])
    v = 4.0 + 0.005 * t
    assert time_above(t, v, 4.3) == pytest.approx(40.0, rel=1e-12)
    assert time_above(t, 4.5 - 0.005 * t, 4.3) == pytest.approx(40.0, rel=1e-12)  # falling: the first 40 s
    assert time_above(t, v, 4.6) == 0.0


def test_shell_fractions_add_up_to_the_volume_of_the_shell():
    """sum_i f_i(L) V_i = (R^3 - (R - L)^3) / 3 per steradian (conservation of volume), for a
    layer inside one cell and one spanning several; no shell: all zero."""
    mesh = SphereMesh(2e-6, 50)  # cells of 40 nm
    for thickness in (5e-9, 130e-9):
        f = sphere_shell_fractions(mesh.faces, thickness)
        shell = (mesh.radius**3 - (mesh.radius - thickness) ** 3) / 3.0
        assert mesh.volumes @ f == pytest.approx(shell, rel=1e-12)
        assert np.all((f >= 0) & (f <= 1))
    assert not sphere_shell_fractions(mesh.faces, 0.0).any()


def test_inactivation_rate_has_its_two_drivers():
    """k_in (1 - x/x_O) below x_O, 0 above; k_in (sigma/sigma_c)^m for tension only; the
    two add."""
    params = replace(degradation_parameters(cm.load_material("nc91")), inactivation_rate_per_s=1e-4)
    assert inactivation_rate(np.array([0.1, 0.2, 0.5]), np.zeros(3), params) == pytest.approx([5e-5, 0.0, 0.0])
    sigma = np.array([-750e6, 0.0, 750e6])
    assert inactivation_rate(np.full(3, 0.5), sigma, params) == pytest.approx([0.0, 0.0, 4e-4], rel=1e-12)
    assert inactivation_rate(np.array([0.1]), np.array([375e6]), params) == pytest.approx([1.5e-4], rel=1e-12)


def test_integrated_rate_is_exact_for_a_linear_rate():
    """The trapezoidal rule integrates a rate linear in time exactly: int_0^10 (1 + t) dt = 60."""
    t = np.array([0.0, 2.0, 3.5, 10.0])
    rates = np.stack([1.0 + t, 2.0 * (1.0 + t)], axis=1)
    assert integrated_rate(t, rates) == pytest.approx([60.0, 120.0], rel=1e-12)


def test_face_transmissibility_limits():
    """Intact cells conduct fully, two fully inactive ones at the ratio r, and the face of
    an intact and an inactive cell is the series value 2r/(1+r)."""
    assert face_transmissibility(1.0, 1.0, 0.01) == pytest.approx(1.0)
    assert face_transmissibility(0.0, 0.0, 0.01) == pytest.approx(0.01)
    assert face_transmissibility(1.0, 0.0, 0.01) == pytest.approx(2 * 0.01 / 1.01)


# ---- damage state -------------------------------------------------------------------------


def test_advance_is_additive_and_keeps_the_inactive_li():
    """k cycles at a fixed increment equal k single cycles in the additive variables, and
    the Li kept by the inactive lattice, sum (1 - phi) x_inactive, grows by exactly the
    newly lost lattice times x_top (conservation of the inactive Li)."""
    start = DamageState.pristine(3, 2e-9, faces=2, flaw=20e-9)
    inc = DamageIncrement(lattice_loss=np.array([0.01, 0.0, 0.05]), x_top=np.array([0.1, 0.2, 0.15]),
                          layer_sq=1e-18, crack_length=np.array([1e-9, 0.0]))
    once = start.advance(inc, 6)
    stepwise = start
    for _ in range(6):
        stepwise = stepwise.advance(inc, 1)
    assert once.lattice_loss == pytest.approx(stepwise.lattice_loss, rel=1e-12)
    assert once.layer_sq == pytest.approx(stepwise.layer_sq, rel=1e-12)
    assert once.crack_length == pytest.approx(stepwise.crack_length, rel=1e-12)
    assert once.x_inactive == pytest.approx(stepwise.x_inactive, rel=1e-12)  # x_top constant here
    lost = 1 - once.lattice_fraction
    assert lost * once.x_inactive == pytest.approx(lost * inc.x_top, abs=1e-15)
    broken = start.advance(inc, 100, face_size=100e-9)
    assert broken.cracked.tolist() == [True, False]


# ---- cycle life and cycle jumping ---------------------------------------------------------------


def test_zero_rates_reproduce_the_undamaged_run():
    """With every damage rate zero (and no initial layer) a cycle-life run is the plain run:
    the same discharge capacities (reference: transport.sphere_transport.run_sphere)."""
    material = cm.load_material("nc91")
    params = replace(degradation_parameters(material), rock_salt_growth_m2_s=0.0, rock_salt_initial_m=0.0,
                     inactivation_rate_per_s=0.0)
    experiment = study_protocol(4)
    run, _ = cycle_life(params=params, experiment=experiment, jumps=JumpOptions(enabled=False))
    plain = cm.transport.sphere_transport.run_sphere(material, SphereMesh(2e-6, 40), experiment)
    expected = [plain.history.cycle_capacity[n][1] for n in range(1, 8)]
    assert run.discharge_capacity == pytest.approx(expected, rel=1e-12)


def test_every_simulated_cycle_conserves_li():
    """Each cycle run in full on the damaged particle balances its Li to round-off (the
    damaged volumes V_i phi_i in the balance)."""
    run, _ = cycle_life(experiment=study_protocol(10), jumps=JumpOptions(enabled=False))
    assert max(c.li_balance_error for c in run.cycles) < 1e-12
    assert run.final_state.lattice_loss.max() > 0  # something was lost


@pytest.mark.slow
@pytest.mark.parametrize("material", ["nc91", "nm91"])
def test_cycle_jumping_agrees_with_every_cycle_in_full(material):
    """The issue's test on the 1-D sphere: over the study's 103 cycles, retention after 100
    cycles from cycle jumping within 1 % of the cycle-by-cycle run (reference: the run
    with every cycle simulated), with far fewer cycles simulated."""
    full, _ = cycle_life(material, jumps=JumpOptions(enabled=False))
    jumped, _ = cycle_life(material)
    retention = lambda run: run.discharge_capacity[-1] / run.discharge_capacity[3]  # noqa: E731
    assert abs(retention(jumped) - retention(full)) < 0.01
    assert full.simulated.all() and jumped.simulated.sum() < 30
    assert retention(full) < 0.99  # the damage is not negligible


class ConstantDamage:
    """A stand-in model whose increment is fixed or grows with the damage itself, around a
    real sphere: what cycle jumping does with either."""

    def __init__(self, feedback: float):
        material = cm.load_material("nc91")
        self.inner = SphereDamage(material, SphereMesh(2e-6, 20), degradation_parameters(material), MECHANISMS,
                                  298.15, PhysicsOptions())
        self.feedback = feedback
        self.x_initial, self.face_size, self.layer_scale = material.x_initial, np.inf, 100e-9
        self.resolution_hint = ""

    def pristine(self):
        return DamageState.pristine(20, 0.0)

    def stepper(self, state):
        return self.inner.stepper(state)

    def increment(self, state, stepper, history):
        rate = 1e-3 * (1.0 + self.feedback * state.lattice_loss)
        return DamageIncrement(rate, np.full(20, 0.2), 0.0, np.zeros(0))

    def li_balance(self, stepper, x_start, history):
        return 0.0

    def difference(self, one, two):
        return one.difference(two, self.layer_scale, self.face_size)


def run_constant(feedback, options):
    material = cm.load_material("nc91")
    return run_cycle_life(ConstantDamage(feedback), np.full(20, material.x_initial), study_protocol(60),
                          SolverOptions(), material.capacity_nominal, options)


def test_a_constant_increment_is_jumped_exactly():
    """A fixed increment per cycle: one jump and two half jumps agree exactly, every jump is
    accepted and grows to max_jump, and the damage is exactly 63 increments."""
    run = run_constant(0.0, JumpOptions(max_jump=16))
    assert run.rejected_jumps == 0 and run.accepted_jumps >= 3
    assert run.final_state.lattice_loss == pytest.approx(np.full(20, 63e-3), rel=1e-12)
    assert run.simulated.sum() < 20


def test_jump_control_shrinks_jumps_and_can_refuse():
    """Damage that feeds back on itself, ds/dN = 1e-3 (1 + 40 s): jumps are rejected and
    shrink, and the result agrees with cycle-by-cycle damage (the discrete map s_(N+1) =
    s_N + a (1 + b s_N), solved exactly: s_N = ((1 + a b)^N - 1) / b) within 1 %; with a
    minimum jump the control cannot meet, a one-line SolverError."""
    options = JumpOptions(tolerance=1e-4, max_jump=25)
    run = run_constant(40.0, options)
    assert run.rejected_jumps >= 1
    exact = ((1 + 1e-3 * 40) ** 63 - 1) / 40
    assert run.final_state.lattice_loss[0] == pytest.approx(exact, rel=0.01)
    with pytest.raises(SolverError, match="cycle jumping cannot converge.*min_jump_cycles = 8"):
        run_constant(40.0, JumpOptions(tolerance=1e-7, max_jump=25, min_jump=8))


# ---- configuration ---------------------------------------------------------------------------


def config(**changes):
    base = {
        "material": "nc91",
        "particle": {"geometry": "sphere-1d", "radius_um": 2.0, "cells": 30},
        "protocol": {"kind": "experiment", "blocks": [{"repeat": 1, "steps": list(FORMATION)},
                                                      {"repeat": 4, "steps": list(CYCLE)}]},
        "degradation": {"mechanisms": ["surface_layer", "lattice_inactivation"]},
    }
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            base.setdefault(section, {})[name] = value
        else:
            base[section] = value
    return copy.deepcopy(base)


@pytest.mark.parametrize("changes, message", [
    ({"degradation__mechanisms": ["cracking"]}, "'cracking': unknown mechanism; allowed"),
    ({"degradation__mechanisms": ["boundary_fatigue"]}, "has no grain boundaries"),
    ({"degradation__mechanisms": ["surface_layer", "surface_layer"]}, "listed twice"),
    ({"protocol": {"kind": "cc-charge"}}, "needs a cycle-life protocol"),
    ({"protocol": {"kind": "experiment", "blocks": [{"repeat": 1, "steps": list(FORMATION)}]}},
     "needs a cycle-life protocol.*1 cycle"),
    ({"degradation": {"jump_tolerance": 1e-3}}, "degradation.jump_tolerance = 0.001 has no effect"),
    ({"degradation__jump_tolerance": 0.0}, "jump_tolerance = 0.0"),
    ({"degradation__min_jump_cycles": 30}, "min_jump_cycles = 30 is above max_jump_cycles = 25"),
    ({"protocol__stops": ["discharge capacity < 80 % of cycle 2"]}, "does not take whole-run stops"),
    ({"material": "nmc811"}, "has no \\[degradation\\] table"),
    ({"material_overrides": {"degradation.oxygen_loss_x": 1.5}}, "oxygen_loss_x = 1.5 is out of range"),
    ({"material_overrides": {"degradation.paris_prefactor": -1.0}}, "paris_prefactor = -1 is out of range"),
])
def test_bad_cycle_life_input_is_one_line(changes, message):
    with pytest.raises(ConfigError, match=message) as info:
        cm.simulate(config(**changes))
    assert "\n" not in str(info.value)


def test_missing_degradation_key_is_named():
    """A [degradation] table is checked when the material is built, so a key missing from
    it is named at once, not when a cycle-life run first reads it."""
    from chemomech.materials.material import build_material

    raw = copy.deepcopy(cm.load_material("nc91").raw)
    del raw["degradation"]["paris_exponent"]
    with pytest.raises(MaterialError, match=r"broken.toml: missing key '\[degradation\] paris_exponent'"):
        build_material(raw, "material file broken.toml")


def test_cycle_life_result_holds_the_damage(tmp_path):
    """A cycle-life run's result: every cycle's capacity (skipped ones flagged), the damage
    per cycle and on the snapshots, and x_li of the layered lattice mixing active and
    inactive lattice."""
    ds = cm.simulate(config(output={"snapshot_cycles": [5], "snapshots": 3}))
    assert ds.sizes["cycle"] == 5
    assert bool(ds.cycle_simulated[0]) and bool(ds.cycle_simulated[-1])
    assert np.all(np.diff(ds.active_fraction_mean.values) <= 0)
    phi = ds.active_fraction.values
    assert np.all((phi > 0) & (phi <= 1)) and phi.min() < 1
    lattice = ds.x_li.values  # a mean of the active and the inactive lattice's x
    low = np.minimum(ds.x_li_active.values, ds.inactive_x_li.values) - 1e-12
    high = np.maximum(ds.x_li_active.values, ds.inactive_x_li.values) + 1e-12
    assert np.all((lattice >= low) & (lattice <= high))
    assert ds.attrs["cycles_simulated"] <= 5


def test_mechanisms_all_are_those_of_the_geometry():
    """mechanisms = ["all"] resolves to every mechanism the geometry has."""
    from chemomech.io.config import MECHANISMS_BY_GEOMETRY, resolve_config

    resolved = resolve_config(config(degradation__mechanisms=["all"]))
    assert resolved["degradation"]["mechanisms"] == list(MECHANISMS_BY_GEOMETRY["sphere-1d"])


def test_cycle_life_sweep_spans_material_architecture_and_rate():
    """runs/cycle_life.sweep.toml: 2 materials x 2 architectures x 2 ageing rates, each
    point with its architecture's mechanisms and its rate in the ageing steps, named by the
    labels of the labelled protocol axis."""
    from pathlib import Path

    from chemomech.sweep.sweep_file import load_sweep

    sweep = load_sweep(Path(__file__).resolve().parents[1] / "runs" / "cycle_life.sweep.toml")
    assert len(sweep.points) == 8
    point = next(p for p in sweep.points if p.name == "material=nm91__geometry=polycrystal__blocks=1C")
    assert point.config["degradation"]["mechanisms"] == ["surface_layer", "lattice_inactivation", "boundary_fatigue"]
    assert point.config["protocol"]["blocks"][1]["steps"][0] == "Charge at 1C until 4.5 V"
    assert [axis.labels for axis in sweep.axes][-1] == ("0.5C", "1C")


@pytest.mark.parametrize("axis, message", [
    ({"labels": ["a"], "values": []}, "two non-empty lists of the same length"),
    ({"labels": ["a", "a"], "values": [1, 2]}, "distinct non-empty strings"),
])
def test_labelled_axis_errors(axis, message):
    from chemomech.sweep.sweep_file import load_sweep

    sweep = {"base": config(), "axes": {"protocol.blocks": axis}}
    with pytest.raises(ConfigError, match=message):
        load_sweep(sweep)


@pytest.mark.parametrize("architecture", ["SC", "PC"])
def test_example_configs_are_the_validation_rows(architecture):
    """runs/cycle_life_sc.toml and _pc.toml run the particles, protocol and mechanisms of
    the cycle-life calibration rows (chemomech/validation/cycle_life.py), so the examples
    and `chemomech validate --case cycle-life` cannot drift apart."""
    from pathlib import Path

    from chemomech.io.config import resolve_config
    from chemomech.validation.cycle_life import cycle_life_config

    runs = Path(__file__).resolve().parents[1] / "runs"
    example = resolve_config(runs / f"cycle_life_{architecture.lower()}.toml")
    row = resolve_config(cycle_life_config(architecture, "nc91", 0.5))
    for section in ("material", "particle", "protocol", "degradation"):
        assert example[section] == row[section], section


def test_a_kept_cycle_starts_where_the_cycle_before_ended():
    """The first snapshot of a kept cycle is the state the previous cycle ended in (here
    cycle 4's end, kept in a second run), though that cycle's states were not kept."""
    def snapshots(cycle):
        return cm.simulate(config(output={"snapshot_cycles": [cycle], "snapshots": 2},
                                  degradation={"mechanisms": ["lattice_inactivation"], "cycle_jumping": False}))

    start = snapshots(5).isel(snapshot=0)  # the start of cycle 5 (the row cycle 4 ended on)
    end = snapshots(4).isel(snapshot=-1)
    assert float(start.snapshot_time) == pytest.approx(float(end.snapshot_time), rel=1e-12)
    assert start.x_li_active.values == pytest.approx(end.x_li_active.values, abs=1e-12)


@pytest.mark.slow  # > 1 s: keeps `-m "not slow"` near a minute
def test_retention_and_damage_plots_from_the_command_line(tmp_path):
    """`chemomech plot RUN RUN` draws retention vs cycle of cycling runs (labelled by the
    ageing rate), `--figure damage` the damage of one; a non-cycle-life run has no damage
    fields: a one-line error (exit 2)."""
    import tomli_w

    from chemomech.cli.main import main
    from chemomech.io.results import open_run
    from chemomech.plotting.cycle_life import retention_label

    runs = []
    for material in ("nc91", "nm91"):
        path = tmp_path / f"{material}.toml"
        path.write_text(tomli_w.dumps(config(material=material)))
        out = tmp_path / material
        assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
        runs.append(str(out))
    assert main(["plot", *runs, "--out", str(tmp_path / "retention.png")]) == 0
    assert main(["plot", runs[0], "--figure", "damage", "--out", str(tmp_path / "damage.png")]) == 0
    assert (tmp_path / "retention.png").stat().st_size > 0 and (tmp_path / "damage.png").stat().st_size > 0
    assert retention_label(open_run(runs[0])) == "NC91, ageing at 0.5C"
    plain = tmp_path / "plain"
    assert main(["run", str(Path(__file__).resolve().parents[1] / "runs" / "sphere_1d.toml"), "--set",
                 "particle.cells=20", "--out", str(plain), "--quiet"]) == 0
    assert main(["plot", str(plain), "--figure", "damage", "--out", str(tmp_path / "no.png")]) == 2


@pytest.mark.slow  # a Dask cluster starts: > 1 s
def test_cycle_life_sweep_runs_and_plots_retention(tmp_path):
    """A small cycle-life sweep with a labelled protocol axis runs on Dask; its summary.nc
    holds the retention and the damage of each point over `cycle`, and `chemomech plot
    DIR` draws retention vs cycle (the sweep has no numeric axis)."""
    import tomli_w
    import xarray as xr

    from chemomech.cli.main import main

    base = config()
    blocks = lambda rate: [{"repeat": 1, "steps": list(FORMATION)},  # noqa: E731
                           {"repeat": 2, "steps": [f"Charge at {rate} until 4.5 V", f"Discharge at {rate} until 2.8 V"]}]
    sweep = {"base": base, "axes": {"protocol.blocks": {"labels": ["0.5C", "1C"], "values": [blocks("0.5C"), blocks("1C")]}}}
    path = tmp_path / "mini.sweep.toml"
    path.write_text(tomli_w.dumps(sweep))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    summary = xr.open_dataset(out / "summary.nc")
    assert list(summary["blocks"].values) == ["0.5C", "1C"]
    assert summary["capacity_retention"].sizes["cycle"] == 3
    assert np.all(summary["active_fraction_mean"].values < 1.0)
    assert main(["plot", str(out), "--out", str(tmp_path / "retention.png")]) == 0
