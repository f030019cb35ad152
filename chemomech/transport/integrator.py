"""One adaptive backward-Euler integrator for every protocol and every geometry.

A protocol (chemomech.protocol.Experiment) is a sequence of cycles, each a tuple of steps:
constant current (charge or discharge) until a voltage limit and/or for a time, a
constant-voltage hold until a current limit and/or for a time, or a rest. Sign convention:
a positive current is a charge, i.e. delithiation (Li leaves the particle); a discharge
lithiates it, with Butler-Volmer running the other way and the voltage falling.

The sample at t = 0 is the pristine uniform state at open circuit (zero current, V =
OCV(x_initial)), or, when the experiment says so (Experiment.start_at_rest False, the
constant-current charge), under the first step's current. Then every step runs from the state the previous one
left, and ends on the first of its limits:
    - time ("for 30 min"): the last time step is shortened to land on it exactly;
    - voltage ("until 4.5 V"; reached from below on charge, from above on discharge) and
      current in a hold ("until C/20", |i| falls to it): located by re-solving the last
      time step with a shorter dt (Illinois false position on dt) until the event quantity
      matches to 1e-6 relative (or its time is bracketed to 1e-12 of the step), so the
      limit is not overshot by a whole step;
    - the surface running out of Li (charge: x <= 1e-4 on the reacting surface) or filling
      up (discharge: x >= 1 - 1e-4): located in the same way on that surface value; or a
      state whose surface can no longer pass the current at any electrode potential (a
      voxel stepper's current_limited, e.g. the half voxels under a damaged surface full
      on discharge): the step ends at the last state that can, found by bisection on dt.
A voltage limit that is already passed when the step starts can never be reached: that is
a ProtocolError naming the step and the voltage it starts at.

Time steps. Within a step the local error is estimated from the difference between the
implicit solution and a linear extrapolation of the last two states, as the root mean
square over the N cells (shells or voxels) of the state,
    LTE ~ dt / (2 dt + dt_prev) * sqrt( (1/N) sum_i (x_i^BE - x_i^pred)^2 ),
(for smooth x, x^BE - x^pred = -(dt/2)(2 dt + dt_prev) x'' and LTE(BE) = -(dt^2/2) x'').
The root mean square (the norm of SUNDIALS' CVODE and IDA, Hindmarsh et al., ACM TOMS 31,
363 (2005), with equal weights) rather than the largest cell's error: a reaction front
that crosses a few percent of the voxels at a time (the H2-H3 collapse of the coupled
models) would otherwise set every step of the whole particle; over a uniform change the
two norms are equal. Steps with LTE > tolerance are rejected, and the next step is
dt * 0.9 sqrt(tol / LTE), growing at most 3x, never above max_step_fraction of the step's nominal time 3600/c_rate
[s] (for holds and rests: the C-rate of the last current step, or of the protocol's first
one). After every switch of step the time step restarts at 1e-7 of that nominal time and
the error estimate restarts (the time derivative of the state jumps there).

The geometry supplies a stepper with
    step(x, dt, hold_voltage, current) -> (x_new, converged, current)
        one backward-Euler step: under constant current `current` [A/m2] when hold_voltage
        is None, else at the cell voltage hold_voltage [V] (current returned)
    voltage(x, current) -> V                    cell voltage of a state under a current
    initial_voltage(x_initial, current) -> V    V of the uniform state x_initial
    surface_range(x) -> (x_min, x_max)          Li fraction on the reacting surface
    specific_charge                             (C/kg) per (A/m2 * s) = area / mass
    store(x) -> array                           the copy kept per stored state
    current_limited                             whether the last step under current failed
                                                because no electrode potential passes it
where `current` is the (mean) surface current density [A/m2], positive on charge.

The History records every accepted time step: time [s], voltage [V], current [A/m2],
charge passed (cumulative, signed: positive on charge) [C/kg], the executed step and the
cycle each time step belongs to; a table of the executed steps (cycle, text, start, end,
why it ended); and the states of the cycles asked for (all by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from chemomech.errors import ConfigError, SolverError
from chemomech.protocol import Experiment, ProtocolError, Step

SURFACE_EMPTY = 1e-4       # a charge step ends when a surface x falls to this [-]
SURFACE_FULL = 1.0 - 1e-4  # a discharge step ends when a surface x rises to this [-]
RESTART_FRACTION = 1e-7    # first time step after a switch, fraction of the nominal time
EVENT_TOLERANCE = 1e-6     # relative match of a located voltage or current limit


@dataclass(frozen=True)
class SolverOptions:
    """tolerance: local error per step in x [-], root mean square over the cells (module
    docstring); max_step_fraction: largest step as a fraction of the nominal time
    3600/c_rate [s] of the step (keeps the curves resolved)."""

    tolerance: float = 2e-4
    max_step_fraction: float = 0.005


@dataclass
class StepRecord:
    """One executed step: its cycle (from 1), block, position in the cycle, sentence,
    start and end time [s], the rows of the time series where it starts and ends, and why
    it ended ("time", "v_max", "v_min", "cv current below end value", "cv time limit",
    "surface delithiated", "surface lithiated")."""

    cycle: int
    block: int
    position: int
    text: str
    mode: str
    direction: str | None
    c_rate: float
    start_time: float
    end_time: float = np.nan
    start_row: int = 0
    end_row: int = 0
    end_reason: str = ""


@dataclass
class History:
    """Every accepted time step of a run (see the module docstring)."""

    time: np.ndarray
    voltage: np.ndarray
    current: np.ndarray
    charge: np.ndarray          # cumulative charge passed [C/kg], positive on charge
    step: np.ndarray            # executed-step index of each row (0 for the t = 0 row)
    cycle: np.ndarray           # cycle number of each row, from 1
    steps: list                 # StepRecord per executed step
    states: list                # stored states (stepper.store)
    state_rows: np.ndarray      # the row of each stored state
    end_reason: str
    rejected_steps: int
    final_state: np.ndarray
    cycle_capacity: dict = field(default_factory=dict)  # cycle -> (charge, discharge) [C/kg]

    @property
    def throughput(self) -> float:
        """Total charge passed either way [C/kg]: sum |dq|."""
        return float(np.sum(np.abs(np.diff(self.charge))))


@dataclass
class TransportSolution:
    """What every geometry's transport returns: the run's History (time series, steps,
    stored states) and the relative Li balance error over the whole run,
    |Li lost by the solid - Li passed through the surface| / (Li passed either way)."""

    history: History
    li_balance_error: float

    @property
    def time(self):
        return self.history.time

    @property
    def voltage(self):
        return self.history.voltage

    @property
    def current_density(self):
        """Mean surface current density [A/m2], positive on charge."""
        return self.history.current

    @property
    def charge_passed(self):
        """Cumulative charge passed [C/kg], positive on charge (delithiation)."""
        return self.history.charge

    @property
    def end_reason(self):
        return self.history.end_reason

    @property
    def rejected_steps(self):
        return self.history.rejected_steps

    @property
    def final_state(self):
        return self.history.final_state


@njit("(float64[::1], float64[::1], float64[::1], float64, float64)", cache=True)
def local_error(x_new, x, x_prev, dt, dt_prev):
    """The local error estimate of a backward-Euler step (module docstring),
    dt / (2 dt + dt_prev) * sqrt(mean_i (x_new_i - (x_i + dt (x_i - x_prev_i) / dt_prev))^2),
    or inf when x_new holds a NaN or inf (one compiled pass instead of five array temporaries)."""
    total = 0.0
    ratio = dt / dt_prev
    for i in range(x_new.shape[0]):
        value = x_new[i]
        if not np.isfinite(value):
            return np.inf
        deviation = value - (x[i] + ratio * (x[i] - x_prev[i]))
        total += deviation * deviation
    return dt / (2.0 * dt + dt_prev) * np.sqrt(total / x_new.shape[0])


def locate_event(stepper, x, dt, hold_voltage, current, event, target, start_value):
    """Find dt* in (0, dt] with event(x_new, current_new) = target, by Illinois false
    position on the step length; start_value - target and event(step(dt)) - target have
    opposite signs. Returns (dt*, x_new, current_new)."""
    lo, hi = 0.0, dt
    f_lo = start_value - target
    x_hi, _, i_hi = stepper.step(x, hi, hold_voltage, current)
    f_hi = event(x_hi, i_hi) - target
    best = (hi, x_hi, i_hi)
    side = 0
    for _ in range(60):
        trial = hi - f_hi * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)
        if not lo < trial < hi:
            trial = 0.5 * (lo + hi)
        x_t, ok, i_t = stepper.step(x, trial, hold_voltage, current)
        if not ok:
            trial = 0.5 * (lo + hi)
            x_t, ok, i_t = stepper.step(x, trial, hold_voltage, current)
        if not ok:  # no state there (e.g. past a current the surface can pass): beyond the event
            hi, side = trial, 0
            if hi - lo <= 1e-12 * dt:
                return best
            continue
        f_t = event(x_t, i_t) - target
        if f_t * f_hi > 0:  # the event lies in (lo, trial]
            hi, f_hi = trial, f_t
            best = (hi, x_t, i_t)
            if side == -1:
                f_lo *= 0.5
            side = -1
        else:
            lo, f_lo = trial, f_t
            if side == 1:
                f_hi *= 0.5
            side = 1
        if abs(f_t) <= EVENT_TOLERANCE * abs(target) or hi - lo <= 1e-12 * dt:
            return trial, x_t, i_t
    return best


def last_passing_state(stepper, x, dt, current, iterations: int = 40):
    """The longest step dt* in (0, dt] from x under `current` whose state still passes the
    current (stepper.current_limited False after its voltage), by bisection on the step
    length to 2^-iterations of dt. Returns (dt*, x_new, current_new, V)."""
    lo, hi = 0.0, dt
    best = None
    for _ in range(iterations):
        trial = 0.5 * (lo + hi)
        x_t, ok, i_t = stepper.step(x, trial, None, current)
        v_t = stepper.voltage(x_t, i_t) if ok else None
        if ok and not stepper.current_limited:
            lo, best = trial, (trial, x_t, i_t, v_t)
        else:
            hi = trial
    if best is None:  # not even the shortest trial passes: stay at x (the step ends where it began)
        return 0.0, x, current, stepper.voltage(x, current)
    return best


class _Run:
    """The growing time series of a run (plain lists; arrays at the end)."""

    def __init__(self, state, voltage, current, store):
        self.time, self.voltage, self.current, self.charge = [0.0], [voltage], [current], [0.0]
        self.step, self.cycle = [0], [1]
        self.states, self.state_rows = [], []
        self.store = store
        self.keep_state = True
        self.states.append(store(state))
        self.state_rows.append(0)

    def append(self, t, v, i, q, step, cycle, state):
        self.time.append(t)
        self.voltage.append(v)
        self.current.append(i)
        self.charge.append(q)
        self.step.append(step)
        self.cycle.append(cycle)
        if self.keep_state:
            self.states.append(self.store(state))
            self.state_rows.append(len(self.time) - 1)

    def keep_from_here(self, keep: bool, state):
        """Store states from now on (the current state too, as the cycle's start)."""
        if keep and self.state_rows[-1] != len(self.time) - 1:
            self.states.append(self.store(state))
            self.state_rows.append(len(self.time) - 1)
        self.keep_state = keep


def run_protocol(stepper, x_start: np.ndarray, x_initial: float, experiment: Experiment,
                 solver: SolverOptions, capacity_nominal: float, progress=None,
                 keep_cycles=None, resolution_hint: str = "", uniform_start: bool = True) -> History:
    """Run `experiment` from the uniform state x_start (= x_initial everywhere), or, with
    uniform_start False, from the state x_start a previous run left (a cycle of a
    cycle-life run): then its voltage is that of x_start, not of the uniform x_initial.

    capacity_nominal [mAh/g] turns C-rates into currents (1C = capacity_nominal mA/g).
    progress: optional callable(fraction_done, label) for progress bars.
    keep_cycles: the cycle numbers whose states are stored (None: all).
    """
    specific = stepper.specific_charge  # (C/kg) per (A/m2 s)
    first_current = experiment.first_current_step()
    reference_rate = first_current.c_rate(capacity_nominal) if first_current is not None else 1.0
    x = x_start
    i_start = 0.0
    if not experiment.start_at_rest and first_current is not None:
        i_start = first_current.specific_current(capacity_nominal) / specific
    v_first = stepper.initial_voltage(x_initial, i_start) if uniform_start else stepper.voltage(x, i_start)
    run = _Run(x, v_first, i_start, stepper.store)
    records: list[StepRecord] = []
    rejected = 0
    t, q = 0.0, 0.0
    total_steps = max(experiment.n_steps, 1)
    end_reason = "protocol complete"
    cycle_capacity = {}
    stopped = False
    finished_blocks = set()  # blocks ended early by stop_on_limit

    cycle = 0  # cycles run so far (a block ended early leaves no gap in the numbering)
    for _, block, steps in experiment.cycles():
        if stopped:
            break
        if block in finished_blocks:
            continue
        cycle += 1
        run.keep_from_here(keep_cycles is None or cycle in keep_cycles, x)
        q_cycle_start_row = len(run.charge) - 1
        for position, step in enumerate(steps):
            rate = step.c_rate(capacity_nominal)
            if step.mode == "current":
                reference_rate = rate
            record = StepRecord(cycle=cycle, block=block, position=position, text=step.describe(),
                                mode=step.mode, direction=step.direction, c_rate=rate,
                                start_time=t, start_row=len(run.time) - 1)
            label = f"cycle {cycle}/{experiment.n_cycles}: {record.text}"
            done_before = len(records) / total_steps

            def report(fraction, _done=done_before, _label=label):
                if progress is not None:
                    progress(min(1.0, _done + fraction / total_steps), _label)

            x, t, q, reason, n_rejected = _run_step(
                stepper, run, x, x_initial, t, q, step, len(records), cycle, specific, capacity_nominal,
                reference_rate, solver, report, resolution_hint, experiment.limit_key, uniform_start)
            rejected += n_rejected
            record.end_time, record.end_row, record.end_reason = t, len(run.time) - 1, reason
            records.append(record)
            end_reason = reason
        charge = np.diff(np.asarray(run.charge[q_cycle_start_row:]))
        cycle_capacity[cycle] = (float(charge[charge > 0].sum()), float(-charge[charge < 0].sum()))
        limit_reason = _limit_reached(records[-len(steps):])
        if experiment.blocks[block].stop_on_limit and limit_reason is not None:
            finished_blocks.add(block)
            end_reason = limit_reason
        for stop in experiment.stops:
            if _stop_reached(stop, cycle_capacity, cycle):
                end_reason, stopped = f"stop: {stop.describe()}", True
    if progress is not None:
        progress(1.0, "done")
    if run.state_rows[-1] != len(run.time) - 1:
        run.states.append(run.store(x))
        run.state_rows.append(len(run.time) - 1)
    return History(
        time=np.array(run.time), voltage=np.array(run.voltage), current=np.array(run.current),
        charge=np.array(run.charge), step=np.array(run.step, dtype=np.int32),
        cycle=np.array(run.cycle, dtype=np.int32), steps=records, states=run.states,
        state_rows=np.array(run.state_rows, dtype=np.int64), end_reason=end_reason,
        rejected_steps=rejected, final_state=x, cycle_capacity=cycle_capacity,
    )


def _limit_reached(cycle_records: list) -> str | None:
    """The first voltage or surface limit that ended a step of a cycle (GITT: the pulse
    that reached v_max before its time), or None."""
    for record in cycle_records:
        if record.end_reason in ("v_max", "v_min", "surface delithiated", "surface lithiated"):
            return record.end_reason
    return None


def _stop_reached(stop, cycle_capacity: dict, cycle: int) -> bool:
    """A whole-run stop condition after `cycle`: capacity < fraction x that of the
    reference cycle (once the reference cycle has run)."""
    if cycle <= stop.reference_cycle or stop.reference_cycle not in cycle_capacity:
        return False
    column = 0 if stop.quantity == "charge capacity" else 1
    return cycle_capacity[cycle][column] < stop.fraction * cycle_capacity[stop.reference_cycle][column]


def _run_step(stepper, run: _Run, x, x_initial: float, t, q, step: Step, step_index: int, cycle: int, specific: float,
              capacity_nominal: float, reference_rate: float, solver: SolverOptions, report,
              resolution_hint: str, limit_key: str | None, uniform_start: bool = True):
    """Integrate one protocol step from state x at time t [s] with charge q [C/kg] passed
    (x is the uniform x_initial when t = 0 and uniform_start). Returns (x, t, q, end
    reason, rejected time steps)."""
    t_nominal = 3600.0 / (reference_rate if reference_rate > 0 else 1.0)
    dt_max = solver.max_step_fraction * t_nominal
    dt_restart = RESTART_FRACTION * t_nominal
    hold_voltage = step.voltage_V if step.mode == "voltage" else None
    applied = step.specific_current(capacity_nominal) / specific if step.mode == "current" else 0.0
    t_start, q_start = t, q
    t_end = t + step.duration_s if step.duration_s is not None else np.inf
    charging = step.direction == "charge"
    v_limit = step.until_V if step.mode == "current" else None
    i_end = None
    if step.mode == "voltage" and step.until_rate is not None:
        i_end = step.end_current(capacity_nominal) / specific

    if v_limit is not None:
        # at t = 0 the pristine surface holds x_initial (no gradient yet)
        pristine = t == 0 and uniform_start
        v_start = stepper.initial_voltage(x_initial, applied) if pristine else stepper.voltage(x, applied)
        if (charging and v_start >= v_limit) or (not charging and v_start <= v_limit):
            side = "above" if charging else "below"
            if pristine and limit_key is not None:
                raise ConfigError(
                    f"{limit_key} = {v_limit:g}: the starting voltage {v_start:.3f} V (OCV plus "
                    f"overpotential at {step.c_rate(capacity_nominal):g}C) is already at or {side} it; "
                    f"allowed: {limit_key.rsplit('.', 1)[-1]} {'>' if charging else '<'} {v_start:.3f}")
            raise ProtocolError(
                f"step \"{step.describe()}\" (cycle {cycle}) starts at {v_start:.3f} V, already {side} "
                f"its limit {v_limit:g} V: the limit can never be reached; allowed: a limit "
                f"{'above' if charging else 'below'} {v_start:.3f} V")

    def voltage_event(x_new, current):
        return stepper.voltage(x_new, applied)

    def current_event(x_new, current):
        return abs(current)

    dt = dt_restart
    x_prev, dt_prev = None, None
    rejected = 0
    last_current = None
    scale = capacity_nominal * 3600.0  # nominal charge [C/kg], for progress
    while True:
        dt = min(dt, dt_max)
        lands = t + dt >= t_end - 1e-9 * dt_restart
        if lands:
            dt = t_end - t
        x_new, ok, current = stepper.step(x, dt, hold_voltage, applied)
        if x_prev is not None:
            error = local_error(x_new, x, x_prev, dt, dt_prev)
        else:
            error = 0.0 if np.all(np.isfinite(x_new)) else np.inf
        if not ok or error == np.inf:
            rejected += 1
            dt *= 0.25
            if dt < 1e-12 * t_nominal:
                if stepper.current_limited:
                    raise SolverError(
                        f"at t = {t:.1f} s in step \"{step.describe()}\" (cycle {cycle}) the surface cannot "
                        f"pass the current at any electrode potential: the half cell or voxel of diffusion "
                        f"under each surface face carries less Li than the current asks; try "
                        f"{resolution_hint}a lower C-rate")
                raise SolverError(
                    f"time step fell below {1e-12 * t_nominal:.2e} s at t = {t:.1f} s in step "
                    f"\"{step.describe()}\" (cycle {cycle}): the Newton iteration does not converge; "
                    f"try {resolution_hint}a smaller solver.tolerance")
            continue
        if error > solver.tolerance:
            rejected += 1
            dt *= max(0.2, 0.9 * np.sqrt(solver.tolerance / error))
            continue
        dt_next = dt * min(3.0, 0.9 * np.sqrt(solver.tolerance / error)) if error > 0 else 3.0 * dt

        reason = "time" if lands else None
        v_new = stepper.voltage(x_new, current)
        limited = step.mode == "current" and stepper.current_limited
        if not limited and v_limit is not None and ((charging and v_new >= v_limit) or (not charging and v_new <= v_limit)):
            v_old = run.voltage[-1] if x_prev is not None else v_start
            dt, x_new, current = locate_event(stepper, x, dt, None, applied, voltage_event, v_limit, v_old)
            v_new = stepper.voltage(x_new, current)
            limited = stepper.current_limited
            reason, lands = ("v_max" if charging else "v_min"), False
        if limited:
            # the new state cannot pass the current at any electrode potential (its surface
            # is full on discharge, empty on charge; a voltage search there runs off towards
            # +-inf, which the event location reads as a crossing): the step ends at the
            # last state that can
            dt, x_new, current, v_new = last_passing_state(stepper, x, dt, applied)
            reason, lands = ("surface delithiated" if charging else "surface lithiated"), False
            if dt == 0.0:  # not even the shortest step passes: the step ends at x, no new row
                return x, t, q, reason, rejected
        elif i_end is not None and abs(current) <= i_end:
            if last_current is not None and abs(last_current) > i_end:  # crossed in this time step
                dt, x_new, current = locate_event(stepper, x, dt, hold_voltage, 0.0, current_event, i_end,
                                                  abs(last_current))
                v_new = stepper.voltage(x_new, current)
            reason, lands = "cv current below end value", False
        elif lands and step.mode == "voltage":
            reason = "cv time limit"
        if step.mode != "rest" and reason in (None, "time", "cv time limit"):
            surface = stepper.surface_range(x_new)  # (lowest, highest) surface x
            emptied, filled = current > 0 and surface[0] <= SURFACE_EMPTY, current < 0 and surface[1] >= SURFACE_FULL
            if emptied or filled:  # located like the voltage: the surface value that ends it
                side, target = (0, SURFACE_EMPTY) if emptied else (1, SURFACE_FULL)
                start = stepper.surface_range(x)[side]
                if (start - target) * (surface[side] - target) < 0:
                    dt, x_new, current = locate_event(
                        stepper, x, dt, hold_voltage, applied,
                        lambda x_trial, _current: stepper.surface_range(x_trial)[side], target, start)
                    v_new = stepper.voltage(x_new, current)
                reason, lands = ("surface delithiated" if emptied else "surface lithiated"), False

        x_prev, dt_prev = x, dt
        x = x_new
        t = t_end if lands else t + dt
        q += current * dt * specific
        last_current = current
        run.append(t, v_new, current, q, step_index, cycle, x)
        dt = dt_next
        if reason is not None:
            return x, t, q, reason, rejected
        if step.duration_s is not None:
            report((t - t_start) / step.duration_s)
        elif step.mode == "current":
            report(min(1.0, abs(q - q_start) / scale))
