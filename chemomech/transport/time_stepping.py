"""Adaptive backward-Euler time stepping of a charge protocol, shared by all geometries.

Protocols: constant current (CC) at `c_rate` until the voltage reaches `v_max`, then an
optional constant-voltage (CV) hold at v_max until the current falls below
`cv_end_c_rate` or `cv_max_h` has passed; or GITT (pulse_s given): a piecewise-constant
current schedule of CC pulses at `c_rate` lasting pulse_s, each followed by an
open-circuit rest (zero current) of rest_s, from t = 0 until a pulse reaches v_max; that
pulse is cut at v_max (event location as in CC) and a final rest of rest_s follows, so the
last pulse also has its relaxed voltage (end_reason "v_max"). A pulse that empties the
surface (end_reason "surface delithiated") ends the run at once, as in CC.

Switches of the current (pulse start and end) are hit exactly: a step that would pass the
next switch time is shortened to land on it, and after every switch the step restarts at
1e-7 of the nominal charge time and the error estimate restarts (the state's time
derivative jumps there), so the sharp voltage changes after each switch are resolved and
the LTE control grows the steps again. The entry stored at a switch time is the state at
the end of the segment that ended there (the last pulse step carries the pulse current,
the last rest step zero current); `pulse` marks each stored step with the pulse number
during which it ended, or -1 for rests (and for the initial state of a GITT run, which is
at rest: zero current, V = OCV).

The geometry supplies a stepper with
    step(x, dt, hold_voltage, current=None) -> (x_new, converged, current)
                                        one backward-Euler step; `current` is the applied
                                        current density [A/m2] (None: i_cc), unused under CV
    voltage(x, current) -> V                                    cell voltage of a state
    initial_voltage(x_initial, current) -> V                    V at t = 0 (uniform x_initial)
    surface_delithiated(x) -> bool                              the surface ran out of Li
    i_cc                                                        CC current density [A/m2]
    specific_charge                                             (C/kg) per (A/m2 * s)
    store(x) -> array                                           the copy kept per step
where `current` is the (mean) surface current density [A/m2], positive on charge.

The local error of a step is estimated from the difference between the implicit solution
and a linear extrapolation of the last two states,
    LTE ~ dt / (2 dt + dt_prev) * max_i |x_i^BE - x_i^pred|,
(for smooth x, x^BE - x^pred = -(dt/2)(2 dt + dt_prev) x'' and LTE(BE) = -(dt^2/2) x'');
steps with LTE > tolerance are rejected, and the next step is dt * 0.9 sqrt(tol / LTE),
growing at most 3x. Events (voltage reaching v_max, the CV current reaching its end value)
are located by re-solving the last step with a shorter dt (Illinois false position on dt)
until the event quantity matches to 1e-6 relative, so the cutoff is not overshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.errors import ConfigError, SolverError


@dataclass(frozen=True)
class ChargeProtocol:
    """CC charge to v_max [V] at c_rate [1/h], optionally followed by a CV hold; or, with
    pulse_s [s] given, GITT: CC pulses of pulse_s at c_rate, each followed by a rest of
    rest_s [s] at zero current, until a pulse reaches v_max (then a final rest)."""

    c_rate: float
    v_max: float
    cv_hold: bool = False
    cv_end_c_rate: float = 0.05
    cv_max_h: float = 10.0
    pulse_s: float | None = None
    rest_s: float = 3600.0

    def __post_init__(self):
        if self.pulse_s is not None:
            if self.cv_hold:
                raise ConfigError("protocol.cv_hold = true: not allowed with GITT pulses; allowed: false")
            if not self.pulse_s > 0 or not self.rest_s > 0:
                raise ConfigError(f"GITT pulse_s = {self.pulse_s!r}, rest_s = {self.rest_s!r}: both must be > 0")

    @property
    def gitt(self) -> bool:
        return self.pulse_s is not None


@dataclass(frozen=True)
class SolverOptions:
    """tolerance: local error per step in x [-]; max_step_fraction: largest step as a
    fraction of the nominal charge time 1/c_rate hours (keeps the curves resolved)."""

    tolerance: float = 2e-4
    max_step_fraction: float = 0.005


@dataclass
class StepHistory:
    """Every accepted step: time [s], voltage [V], current [A/m2], stored states (as
    stepper.store returns them), charge_removed [C/kg], why the run ended, how many steps
    were rejected, the last state as the stepper computed it (final_state), and for GITT
    the pulse number of each step (pulse; -1 for steps that ended at rest)."""

    time: np.ndarray
    voltage: np.ndarray
    current: np.ndarray
    states: list
    charge_removed: np.ndarray
    end_reason: str
    rejected_steps: int
    final_state: np.ndarray
    pulse: np.ndarray | None = None  # GITT: pulse number of each step, -1 at rest


def locate_event(stepper, x, dt, hold_voltage, event, target, current=None):
    """Find dt* in (0, dt] with event(x_new, current) = target, by Illinois false position
    on the step length; event(step(dt)) - target changes sign over (0, dt]. Returns
    (dt*, x_new, current)."""
    lo, hi = 0.0, dt
    f_lo = event(x, None) - target
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
        if abs(f_t) <= 1e-6 * abs(target) or hi - lo <= 1e-12 * dt:
            return trial, x_t, i_t
    return best


def integrate_charge(stepper, x_start: np.ndarray, x_initial: float, protocol: ChargeProtocol,
                     solver: SolverOptions, progress=None, resolution_hint: str = "") -> StepHistory:
    """Run `protocol` from the state x_start (uniform x_initial) with adaptive steps.

    progress: optional callable(fraction_done) for progress bars; fraction_done is the
    nominal SoC reached (time under current / nominal charge time) and 1 at the end.
    """
    i_cc = stepper.i_cc
    t_nominal = 3600.0 / protocol.c_rate
    dt_max = solver.max_step_fraction * t_nominal
    dt_restart = 1e-7 * t_nominal
    specific = stepper.specific_charge
    gitt = protocol.gitt

    x = x_start
    # at t = 0 the surface holds x_initial (no gradient yet): V = U(x0) + eta(i, x0)
    v_start = stepper.initial_voltage(x_initial, i_cc)
    if v_start >= protocol.v_max:
        raise ConfigError(
            f"protocol.v_max = {protocol.v_max:g}: the starting voltage {v_start:.3f} V "
            f"(OCV plus overpotential at {protocol.c_rate:g}C) is already at or above it; "
            f"allowed: v_max > {v_start:.3f}"
        )
    i_start = 0.0 if gitt else i_cc  # a GITT run starts at rest: V(0) = OCV(x0)
    if gitt:
        v_start = stepper.initial_voltage(x_initial, 0.0)
    times, voltages, currents, states, charges = [0.0], [v_start], [i_start], [stepper.store(x)], [0.0]
    pulses = [-1]

    hold = False
    cv_start = 0.0
    i_end = protocol.cv_end_c_rate * i_cc / protocol.c_rate
    # the piecewise-constant current: on (i_cc) or off (rest) until switch_at [s]
    on = True
    pulse = 0
    final_rest = False
    switch_at = protocol.pulse_s if gitt else np.inf
    dt = dt_restart
    x_prev, dt_prev = None, None
    rejected = 0
    end_reason = None
    t = 0.0
    t_on = 0.0
    charge = 0.0

    def voltage_event(x_new, current):
        return stepper.voltage(x_new, i_cc if current is None else current)

    def current_event(x_new, current):
        return currents[-1] if current is None else current

    while end_reason is None:
        dt = min(dt, dt_max)
        if hold:
            dt = min(dt, cv_start + protocol.cv_max_h * 3600.0 - t)
        lands = t + dt >= switch_at - 1e-9 * dt_restart
        if lands:
            dt = switch_at - t
        applied = i_cc if on else 0.0
        x_new, ok, current = stepper.step(x, dt, hold, applied)
        if not ok or not np.all(np.isfinite(x_new)):
            rejected += 1
            dt *= 0.25
            if dt < 1e-12 * t_nominal:
                raise SolverError(
                    f"time step fell below {1e-12 * t_nominal:.2e} s at t = {t:.1f} s: the Newton "
                    f"iteration does not converge; try {resolution_hint}a smaller solver.tolerance"
                )
            continue
        if x_prev is not None:
            predicted = x + dt * (x - x_prev) / dt_prev
            error = dt / (2.0 * dt + dt_prev) * np.max(np.abs(x_new - predicted))
        else:
            error = 0.0
        if error > solver.tolerance:
            rejected += 1
            dt *= max(0.2, 0.9 * np.sqrt(solver.tolerance / error))
            continue
        dt_next = dt * min(3.0, 0.9 * np.sqrt(solver.tolerance / error)) if error > 0 else 3.0 * dt

        switched = lands
        v_new = stepper.voltage(x_new, current)
        if on and not hold:
            if v_new >= protocol.v_max:
                dt, x_new, current = locate_event(stepper, x, dt, False, voltage_event, protocol.v_max, applied)
                v_new = stepper.voltage(x_new, current)
                if protocol.cv_hold:
                    hold, cv_start = True, t + dt
                elif gitt:
                    final_rest, switched, switch_at = True, True, t + dt
                else:
                    end_reason = "v_max"
            elif stepper.surface_delithiated(x_new):
                end_reason = "surface delithiated"
        elif hold:
            if current <= i_end:
                dt, x_new, current = locate_event(stepper, x, dt, True, current_event, i_end)
                v_new = stepper.voltage(x_new, current)
                end_reason = "cv current below end value"
            elif t + dt >= cv_start + protocol.cv_max_h * 3600.0 * (1 - 1e-12):
                end_reason = "cv time limit"

        x_prev, dt_prev = x, dt
        x = x_new
        t = switch_at if switched else t + dt
        if on:
            t_on += dt
        charge += current * dt * specific
        times.append(t)
        voltages.append(v_new)
        currents.append(current)
        states.append(stepper.store(x))
        charges.append(charge)
        pulses.append(pulse if on else -1)
        dt = dt_next
        if switched and end_reason is None:
            if on:  # a pulse ended (by time or at v_max): rest
                on, switch_at = False, t + protocol.rest_s
            elif final_rest:
                end_reason = "v_max"
            else:  # a rest ended: the next pulse
                on, pulse, switch_at = True, pulse + 1, t + protocol.pulse_s
            dt, x_prev, dt_prev = dt_restart, None, None
        if progress is not None:
            progress(min(1.0, t_on / t_nominal) if end_reason is None else 1.0)

    return StepHistory(
        time=np.array(times),
        voltage=np.array(voltages),
        current=np.array(currents),
        states=states,
        charge_removed=np.array(charges),
        end_reason=end_reason,
        rejected_steps=rejected,
        final_state=x,
        pulse=np.array(pulses, dtype=np.int32) if gitt else None,
    )
