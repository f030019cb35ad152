"""Galvanostatic charge of a spherical particle (1-D radial finite volumes).

Protocol: constant current (CC) at `c_rate` until the voltage reaches `v_max`, then an
optional constant-voltage (CV) hold at v_max until the current falls below
`cv_end_c_rate` or `cv_max_h` has passed.

Time stepping: backward Euler (sphere_kernels.implicit_step) with an adaptive step. The
local error of a step is estimated from the difference between the implicit solution and a
linear extrapolation of the last two states,
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

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
from chemomech.errors import ConfigError, SolverError
from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.transport.kinetics import galvanostatic_current_density, thermal_voltage_2rt_f
from chemomech.transport.sphere_kernels import (
    TABLE_D,
    TABLE_I0,
    TABLE_U,
    implicit_step,
    voltage_at,
)

TABLE_POINTS = 4001
NEWTON_TOL = 1e-12
NEWTON_MAX_ITERATIONS = 30
SURFACE_DELITHIATED = 1e-4  # the charge ends if the outer cell's x falls to this [-]


@dataclass(frozen=True)
class ChargeProtocol:
    """CC charge to v_max [V] at c_rate [1/h], optionally followed by a CV hold."""

    c_rate: float
    v_max: float
    cv_hold: bool = False
    cv_end_c_rate: float = 0.05
    cv_max_h: float = 10.0


@dataclass(frozen=True)
class SolverOptions:
    """tolerance: local error per step in x [-]; max_step_fraction: largest step as a
    fraction of the nominal charge time 1/c_rate hours (keeps the curves resolved)."""

    tolerance: float = 2e-4
    max_step_fraction: float = 0.005


@dataclass
class SphereSolution:
    """States at every accepted step. time [s], voltage [V], current_density [A/m2]
    (positive on charge), states x (steps, cells) [-], charge_removed [C/kg]."""

    mesh: SphereMesh
    time: np.ndarray
    voltage: np.ndarray
    current_density: np.ndarray
    states: np.ndarray
    charge_removed: np.ndarray
    end_reason: str
    rejected_steps: int
    li_balance_error: float


def material_tables(material: Material, points: int = TABLE_POINTS) -> np.ndarray:
    """Rows D_eff(x) [m2/s] (orientation average of the diffusivity tensor), U(x) [V],
    i0(x) [A/m2] sampled on x = linspace(0, 1, points)."""
    x = np.linspace(0.0, 1.0, points)
    table = np.empty((3, points))
    table[TABLE_D] = material.diffusivity_orientation_average(x)
    table[TABLE_U] = material.ocv(x)
    table[TABLE_I0] = material.exchange_current(x)
    return table


class _Stepper:
    """Binds the kernel's constant arguments: step(x, dt, mode) -> (x_new, ok, n_s)."""

    def __init__(self, material: Material, mesh: SphereMesh, protocol: ChargeProtocol,
                 temperature: float):
        self.volumes = mesh.volumes
        self.areas = mesh.face_areas
        self.dr = mesh.spacing
        self.table = material_tables(material)
        self.two_rt_f = thermal_voltage_2rt_f(temperature)
        self.ohmic = mesh.radius / material.electronic_conductivity
        self.flux_per_current = 1.0 / (FARADAY * material.c_max)  # (m/s) per (A/m2)
        self.i_cc = galvanostatic_current_density(
            protocol.c_rate, material.capacity_nominal, material.density, mesh.radius
        )
        self.v_max = protocol.v_max

    def step(self, x, dt, hold_voltage):
        x_new, ok, n_s, _ = implicit_step(
            x, dt, self.volumes, self.areas, self.dr, self.table,
            self.flux_per_current * self.i_cc, hold_voltage, self.v_max,
            self.flux_per_current, self.two_rt_f, self.ohmic, NEWTON_TOL, NEWTON_MAX_ITERATIONS,
        )
        return x_new, ok, n_s / self.flux_per_current

    def voltage(self, x, current):
        return voltage_at(x[-1], current, self.table, self.two_rt_f, self.ohmic,
                          0.5 * self.dr * self.flux_per_current)



def _locate_event(stepper, x, dt, hold_voltage, event, target):
    """Find dt* in (0, dt] with event(x_new, current) = target, by Illinois false position
    on the step length; event(step(dt)) - target changes sign over (0, dt]. Returns
    (dt*, x_new, current)."""
    lo, hi = 0.0, dt
    f_lo = event(x, None) - target
    x_hi, _, i_hi = stepper.step(x, hi, hold_voltage)
    f_hi = event(x_hi, i_hi) - target
    best = (hi, x_hi, i_hi)
    side = 0
    for _ in range(60):
        trial = hi - f_hi * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)
        if not lo < trial < hi:
            trial = 0.5 * (lo + hi)
        x_t, ok, i_t = stepper.step(x, trial, hold_voltage)
        if not ok:
            trial = 0.5 * (lo + hi)
            x_t, ok, i_t = stepper.step(x, trial, hold_voltage)
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


def charge_sphere(material: Material, mesh: SphereMesh, protocol: ChargeProtocol,
                  solver: SolverOptions = SolverOptions(), temperature: float = TEMPERATURE_DEFAULT,
                  progress=None) -> SphereSolution:
    """Charge a uniformly lithiated sphere (x = material.x_initial) under `protocol`.

    progress: optional callable(fraction_done) for progress bars; fraction_done is the
    nominal SoC reached (the CC part) and 1 at the end.
    """
    stepper = _Stepper(material, mesh, protocol, temperature)
    i_cc = stepper.i_cc
    t_nominal = 3600.0 / protocol.c_rate
    dt_max = solver.max_step_fraction * t_nominal
    specific = 3.0 / (material.density * mesh.radius)  # (C/kg) per (A/m2 * s)

    x = np.full(mesh.cells, material.x_initial)
    # at t = 0 the surface holds x_initial (no gradient yet): V = U(x0) + eta(i, x0)
    v_start = voltage_at(material.x_initial, i_cc, stepper.table, stepper.two_rt_f, stepper.ohmic, 0.0)
    times, voltages, currents, states, charges = [0.0], [v_start], [i_cc], [x], [0.0]
    if v_start >= protocol.v_max:
        raise ConfigError(
            f"protocol.v_max = {protocol.v_max:g}: the starting voltage {v_start:.3f} V "
            f"(OCV plus overpotential at {protocol.c_rate:g}C) is already at or above it; "
            f"allowed: v_max > {v_start:.3f}"
        )

    hold = False
    cv_start = 0.0
    i_end = protocol.cv_end_c_rate * i_cc / protocol.c_rate
    dt = 1e-7 * t_nominal
    x_prev, dt_prev = None, None
    rejected = 0
    end_reason = None
    t = 0.0
    charge = 0.0

    def voltage_event(x_new, current):
        return stepper.voltage(x_new, i_cc if current is None else current)

    def current_event(x_new, current):
        return currents[-1] if current is None else current

    while end_reason is None:
        dt = min(dt, dt_max)
        if hold:
            dt = min(dt, cv_start + protocol.cv_max_h * 3600.0 - t)
        x_new, ok, current = stepper.step(x, dt, hold)
        if not ok or not np.all(np.isfinite(x_new)):
            rejected += 1
            dt *= 0.25
            if dt < 1e-12 * t_nominal:
                raise SolverError(
                    f"time step fell below {1e-12 * t_nominal:.2e} s at t = {t:.1f} s: the Newton "
                    "iteration does not converge; try more particle.cells or a smaller solver.tolerance"
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

        if not hold:
            v_new = stepper.voltage(x_new, current)
            if v_new >= protocol.v_max:
                dt, x_new, current = _locate_event(
                    stepper, x, dt, False, voltage_event, protocol.v_max
                )
                v_new = stepper.voltage(x_new, current)
                if protocol.cv_hold:
                    hold, cv_start = True, t + dt
                else:
                    end_reason = "v_max"
            elif x_new[-1] <= SURFACE_DELITHIATED:
                end_reason = "surface delithiated"
        else:
            v_new = stepper.voltage(x_new, current)
            if current <= i_end:
                dt, x_new, current = _locate_event(stepper, x, dt, True, current_event, i_end)
                v_new = stepper.voltage(x_new, current)
                end_reason = "cv current below end value"
            elif t + dt >= cv_start + protocol.cv_max_h * 3600.0 * (1 - 1e-12):
                end_reason = "cv time limit"

        x_prev, dt_prev = x, dt
        x = x_new
        t += dt
        charge += current * dt * specific
        times.append(t)
        voltages.append(v_new)
        currents.append(current)
        states.append(x)
        charges.append(charge)
        dt = dt_next
        if progress is not None:
            progress(min(1.0, t / t_nominal) if end_reason is None else 1.0)

    states = np.array(states)
    removed_from_solid = material.c_max * mesh.volumes @ (states[0] - states[-1])  # mol/sr
    passed = charge / specific * mesh.radius**2 / FARADAY  # mol/sr through the surface
    balance = abs(removed_from_solid - passed) / passed if passed > 0 else 0.0
    return SphereSolution(
        mesh=mesh,
        time=np.array(times),
        voltage=np.array(voltages),
        current_density=np.array(currents),
        states=states,
        charge_removed=np.array(charges),
        end_reason=end_reason,
        rejected_steps=rejected,
        li_balance_error=float(balance),
    )
