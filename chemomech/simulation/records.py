"""What every geometry's result holds besides its fields: the time series over the whole
protocol, the executed steps, the per-cycle figures, the choice of snapshots and the
summary figures of the run. Units in attrs["units"]; charge passed is positive on charge
(delithiation)."""

from __future__ import annotations

import numpy as np

from chemomech.materials.material import Material
from chemomech.transport.integrator import History

MAH_G_PER_C_KG = 1.0 / 3600.0  # 1 C/kg = 1/3600 mAh/g
WH_KG_PER_J_KG = 1.0 / 3600.0  # 1 J/kg = 1/3600 Wh/kg


def throughput(history: History) -> np.ndarray:
    """Cumulative charge passed either way at each row [C/kg]: int |dq|."""
    return np.concatenate([[0.0], np.cumsum(np.abs(np.diff(history.charge)))])


def _plan_range(axis: np.ndarray, first: int, last: int, count: int) -> list[tuple[int, float]]:
    """`count` points evenly in `axis` between rows first and last, as (k, w): the state
    (1 - w) s_k + w s_(k+1)."""
    targets = np.linspace(axis[first], axis[last], count)
    plan = []
    for target in targets:
        k = int(np.clip(np.searchsorted(axis, target, side="right") - 1, first, max(first, last - 1)))
        if k >= last:
            plan.append((last, 0.0))
            continue
        span = axis[k + 1] - axis[k]
        w = float(np.clip((target - axis[k]) / span, 0.0, 1.0)) if span > 0 else 0.0
        plan.append((k + 1, 0.0) if w >= 1.0 else (k, w))
    return plan


def snapshot_plan(history: History, count: int, cycles: list[int]) -> list[tuple[int, float]]:
    """The snapshots of a run as (k, w), sorted in time.

    No cycles chosen: `count` snapshots evenly in charge throughput over the whole run
    (for a charge: evenly in charge, the first the initial state, the last the end).
    Cycles chosen: for each, the state at its start and at the end of each of its steps,
    plus `count` evenly in throughput over the cycle."""
    axis = throughput(history)
    last = len(history.time) - 1
    if not cycles:
        return _plan_range(axis, 0, last, count)
    plan = []
    for cycle in cycles:
        rows = np.flatnonzero(history.cycle == cycle)
        if rows.size == 0:
            continue
        start = max(rows[0] - 1, 0)
        plan += _plan_range(axis, start, rows[-1], count)
        plan += [(record.end_row, 0.0) for record in history.steps if record.cycle == cycle]
    times = {}
    for k, w in plan:
        t = history.time[k] if w == 0 else (1 - w) * history.time[k] + w * history.time[k + 1]
        times.setdefault(round(float(t), 9), (k, w))
    return [times[t] for t in sorted(times)]


def plan_rows(plan) -> np.ndarray:
    """The row each snapshot (k, w) of a plan belongs to: k, or k + 1 when it lies inside
    the time step that ends there (w > 0)."""
    return np.array([k + 1 if w > 0 else k for k, w in plan], dtype=np.int64)


def plan_state(history: History, k: int, w: float) -> np.ndarray:
    """The stored state of snapshot (k, w) (linear in time between two stored rows)."""
    n = int(np.searchsorted(history.state_rows, k))  # state_rows is sorted; row k is stored
    state = np.asarray(history.states[n], dtype=np.float64)
    if w == 0:
        return state
    return (1 - w) * state + w * np.asarray(history.states[n + 1], dtype=np.float64)


def snapshot_series(material: Material, history: History, plan) -> tuple[dict, np.ndarray]:
    """Per-snapshot time, SoC, voltage, cycle and step; returns (data_vars, times)."""
    k = np.array([p[0] for p in plan])
    w = np.array([p[1] for p in plan])
    k1 = np.minimum(k + 1, len(history.time) - 1)
    at = lambda values: (1 - w) * values[k] + w * values[k1]  # noqa: E731
    times = at(history.time)
    row = plan_rows(plan)
    capacity = at(history.charge) * MAH_G_PER_C_KG
    return {
        "snapshot_soc": ("snapshot", capacity / material.capacity_nominal,
                         {"units": "1", "long_name": "state of charge at the snapshot (net charge passed)"}),
        "snapshot_voltage": ("snapshot", at(history.voltage), {"units": "V", "long_name": "cell voltage at the snapshot"}),
        "snapshot_cycle": ("snapshot", history.cycle[row].astype(np.int32), {"units": "1", "long_name": "cycle of the snapshot"}),
        "snapshot_step": ("snapshot", history.step[row].astype(np.int32),
                          {"units": "1", "long_name": "executed step of the snapshot (index over `step`)"}),
    }, times


def time_series(material: Material, history: History) -> dict:
    """voltage, soc, capacity, current_density, step_index and cycle_index over `time`."""
    capacity = history.charge * MAH_G_PER_C_KG
    return {
        "voltage": ("time", history.voltage, {"units": "V", "long_name": "cell voltage vs Li/Li+"}),
        "soc": ("time", capacity / material.capacity_nominal,
                {"units": "1", "long_name": f"state of charge, net charge passed on the nominal {material.capacity_nominal:g} mAh/g basis"}),
        "capacity": ("time", capacity, {"units": "mAh/g", "long_name": "net charge passed per mass of active material, positive on charge"}),
        "current_density": ("time", history.current,
                            {"units": "A/m2", "long_name": "surface current density (mean over the reacting surface), positive on charge"}),
        "step_index": ("time", history.step, {"units": "1", "long_name": "executed step the row belongs to (index over `step`)"}),
        "cycle_index": ("time", history.cycle, {"units": "1", "long_name": "cycle the row belongs to, from 1"}),
    }


def step_table(history: History) -> dict:
    """The executed steps over the dimension `step`."""
    steps = history.steps
    return {
        "step_cycle": ("step", np.array([s.cycle for s in steps], dtype=np.int32), {"units": "1", "long_name": "cycle of the step"}),
        "step_text": ("step", np.array([s.text for s in steps], dtype=str), {"long_name": "the step as a sentence"}),
        "step_start_time": ("step", np.array([s.start_time for s in steps]), {"units": "s", "long_name": "time the step starts"}),
        "step_end_time": ("step", np.array([s.end_time for s in steps]), {"units": "s", "long_name": "time the step ends"}),
        "step_end_reason": ("step", np.array([s.end_reason for s in steps], dtype=str), {"long_name": "the limit that ended the step"}),
        "step_c_rate": ("step", np.array([s.c_rate for s in steps]), {"units": "1/h", "long_name": "C-rate of a current step (0 for holds and rests)"}),
    }


def cycle_table(history: History, reference_cycle: int) -> dict:
    """Per-cycle figures over the dimension `cycle` (coordinate: cycle number from 1):
    charge and discharge capacity [mAh/g], coulombic efficiency, energies [Wh/kg] (the
    sum of V dq over the time steps), mean voltages [V] (energy / capacity), capacity
    retention (discharge capacity / that of `reference_cycle`) and the C-rates of each
    cycle's first charge and discharge current steps [1/h]."""
    n = int(history.cycle.max())
    dq = np.diff(history.charge)
    cycle = history.cycle[1:] - 1
    v = history.voltage[1:]
    charged = np.bincount(cycle, np.where(dq > 0, dq, 0.0), n)
    discharged = np.bincount(cycle, np.where(dq < 0, -dq, 0.0), n)
    e_charge = np.bincount(cycle, np.where(dq > 0, v * dq, 0.0), n)
    e_discharge = np.bincount(cycle, np.where(dq < 0, -v * dq, 0.0), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        efficiency = np.where(charged > 0, discharged / charged, np.nan)
        mean_charge = np.where(charged > 0, e_charge / charged, np.nan)
        mean_discharge = np.where(discharged > 0, e_discharge / discharged, np.nan)
        ref = discharged[reference_cycle - 1] if 1 <= reference_cycle <= n else np.nan
        retention = discharged / ref if ref > 0 else np.full(n, np.nan)
    rates = {"charge": np.full(n, np.nan), "discharge": np.full(n, np.nan)}
    for record in history.steps:
        if record.mode == "current" and np.isnan(rates[record.direction][record.cycle - 1]):
            rates[record.direction][record.cycle - 1] = record.c_rate
    return {
        "charge_capacity": ("cycle", charged * MAH_G_PER_C_KG, {"units": "mAh/g", "long_name": "charge passed on charge in the cycle"}),
        "discharge_capacity": ("cycle", discharged * MAH_G_PER_C_KG, {"units": "mAh/g", "long_name": "charge passed on discharge in the cycle"}),
        "coulombic_efficiency": ("cycle", efficiency, {"units": "1", "long_name": "discharge capacity / charge capacity"}),
        "charge_energy": ("cycle", e_charge * WH_KG_PER_J_KG, {"units": "Wh/kg", "long_name": "energy into the cell on charge"}),
        "discharge_energy": ("cycle", e_discharge * WH_KG_PER_J_KG, {"units": "Wh/kg", "long_name": "energy out of the cell on discharge"}),
        "mean_charge_voltage": ("cycle", mean_charge, {"units": "V", "long_name": "charge energy / charge capacity"}),
        "mean_discharge_voltage": ("cycle", mean_discharge, {"units": "V", "long_name": "discharge energy / discharge capacity"}),
        "capacity_retention": ("cycle", retention,
                               {"units": "1", "long_name": f"discharge capacity relative to cycle {reference_cycle}", "reference_cycle": reference_cycle}),
        "cycle_charge_c_rate": ("cycle", rates["charge"], {"units": "1/h", "long_name": "C-rate of the cycle's first charge step"}),
        "cycle_discharge_c_rate": ("cycle", rates["discharge"], {"units": "1/h", "long_name": "C-rate of the cycle's first discharge step"}),
    }


def fill_skipped_cycles(cycles: dict, simulated: np.ndarray, reference_cycle: int) -> dict:
    """A cycle-life run's cycle table (cycle_table) with the cycles skipped by cycle
    jumping filled in: every per-cycle figure interpolated linearly in the cycle number
    between the simulated cycles, the retention recomputed from the filled discharge
    capacities, and cycle_simulated (True for the cycles run in full)."""
    cycle = np.arange(1, simulated.size + 1)
    done = cycle[simulated]
    out = {}
    for name, (dims, values, attrs) in cycles.items():
        values = np.asarray(values, dtype=float)[:simulated.size]
        out[name] = (dims, np.interp(cycle, done, values[simulated]), attrs)
    discharge = out["discharge_capacity"][1]
    dims, _, attrs = out["capacity_retention"]
    out["capacity_retention"] = (dims, discharge / discharge[reference_cycle - 1], attrs)
    out["cycle_simulated"] = ("cycle", simulated.copy(),
                              {"long_name": "cycle run in full (false: skipped by cycle jumping, figures interpolated)"})
    return out


def run_figures(material: Material, solution, cycles: dict) -> dict:
    """The summary figures every geometry reports (units in the names)."""
    history = solution.history
    capacity = history.charge[-1] * MAH_G_PER_C_KG
    discharge = cycles["discharge_capacity"][1]
    retention = cycles["capacity_retention"][1]
    figures = {
        "soc_end": capacity / material.capacity_nominal,
        "capacity_mAh_g": capacity,
        "voltage_end": float(history.voltage[-1]),
        "time_end_s": float(history.time[-1]),
        "steps": int(len(history.time) - 1),
        "rejected_steps": int(history.rejected_steps),
        "end_reason": history.end_reason,
        "li_balance_error": solution.li_balance_error,
        "cycles": int(discharge.size),
        "protocol_steps": len(history.steps),
    }
    if np.any(discharge > 0):
        figures.update({
            "discharge_capacity_first_mAh_g": float(discharge[0]),
            "discharge_capacity_last_mAh_g": float(discharge[-1]),
            "capacity_retention_last": float(retention[-1]),
            "coulombic_efficiency_first": float(cycles["coulombic_efficiency"][1][0]),
        })
    return figures


def pulse_index(history: History) -> np.ndarray:
    """GITT: the pulse (cycle - 1) during whose current step each row ended, -1 at rest
    and for the initial row."""
    position = np.array([s.position for s in history.steps] + [-1])
    index = np.where(position[history.step] == 0, history.cycle - 1, -1).astype(np.int32)
    index[0] = -1
    return index


def gitt_pulse_series(time: np.ndarray, pulse: np.ndarray) -> dict:
    """Per-pulse times of a GITT run over the dimension `pulse` [s]: pulse_start_time (the
    stored row where the current switched on), pulse_end_time (the last row under current:
    the pulse length, or the v_max event) and rest_end_time (the end of the rest that
    follows the pulse)."""
    count = int(pulse.max()) + 1 if pulse.size and pulse.max() >= 0 else 0
    start, end, rest_end = (np.empty(count) for _ in range(3))
    for n in range(count):
        k = np.flatnonzero(pulse == n)
        start[n], end[n] = time[k[0] - 1], time[k[-1]]
        later = np.flatnonzero(pulse[k[-1] + 1:] >= 0)
        rest_end[n] = time[k[-1] + later[0]] if later.size else time[-1]
    return {
        "pulse_start_time": ("pulse", start, {"units": "s", "long_name": "time the GITT pulse starts"}),
        "pulse_end_time": ("pulse", end, {"units": "s", "long_name": "time the GITT pulse ends (pulse_s, or the v_max event)"}),
        "rest_end_time": ("pulse", rest_end, {"units": "s", "long_name": "time the rest after the pulse ends"}),
    }
