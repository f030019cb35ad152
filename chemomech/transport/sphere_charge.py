"""Galvanostatic (CC, CC-CV, GITT) charge of a spherical particle (1-D radial finite volumes).

The protocol and the adaptive time stepping are in time_stepping (shared with the voxel
particles); this module binds the radial kernels of sphere_kernels to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
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
from chemomech.transport.time_stepping import (
    ChargeProtocol,
    SolverOptions,
    integrate_charge,
)

__all__ = ["ChargeProtocol", "SolverOptions", "SphereSolution", "charge_sphere", "material_tables"]

TABLE_POINTS = 4001
NEWTON_TOL = 1e-12
NEWTON_MAX_ITERATIONS = 30
SURFACE_DELITHIATED = 1e-4  # the charge ends if the outer cell's x falls to this [-]


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
    pulse: np.ndarray | None = None  # GITT: pulse number of each step, -1 at rest


def material_tables(material: Material, diffusivity=None, points: int = TABLE_POINTS) -> np.ndarray:
    """Rows D(x) [m2/s], U(x) [V], i0(x) [A/m2] sampled on x = linspace(0, 1, points).
    D is `diffusivity` (a function of x) or, by default, the orientation average of the
    diffusivity tensor used by the 1-D sphere."""
    x = np.linspace(0.0, 1.0, points)
    table = np.empty((3, points))
    table[TABLE_D] = (diffusivity or material.diffusivity_orientation_average)(x)
    table[TABLE_U] = material.ocv(x)
    table[TABLE_I0] = material.exchange_current(x)
    return table


class _Stepper:
    """Binds the kernel's constant arguments into the stepper of
    time_stepping.integrate_charge: step(x, dt, hold_voltage, current) -> (x_new, ok,
    current density [A/m2])."""

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
        self.specific_charge = 3.0 / (material.density * mesh.radius)  # (C/kg) per (A/m2 s)

    def step(self, x, dt, hold_voltage, current=None):
        """current: applied current density [A/m2] (None: i_cc; 0 during GITT rests)."""
        applied = self.i_cc if current is None else current
        x_new, ok, n_s, _ = implicit_step(
            x, dt, self.volumes, self.areas, self.dr, self.table,
            self.flux_per_current * applied, hold_voltage, self.v_max,
            self.flux_per_current, self.two_rt_f, self.ohmic, NEWTON_TOL, NEWTON_MAX_ITERATIONS,
        )
        return x_new, ok, n_s / self.flux_per_current

    def voltage(self, x, current):
        return voltage_at(x[-1], current, self.table, self.two_rt_f, self.ohmic,
                          0.5 * self.dr * self.flux_per_current)

    def initial_voltage(self, x_initial, current):
        """V at t = 0 under `current` [A/m2]: the surface holds x_initial."""
        return voltage_at(x_initial, current, self.table, self.two_rt_f, self.ohmic, 0.0)

    def surface_delithiated(self, x):
        return x[-1] <= SURFACE_DELITHIATED

    @staticmethod
    def store(x):
        return x


def charge_sphere(material: Material, mesh: SphereMesh, protocol: ChargeProtocol,
                  solver: SolverOptions = SolverOptions(), temperature: float = TEMPERATURE_DEFAULT,
                  progress=None) -> SphereSolution:
    """Charge a uniformly lithiated sphere (x = material.x_initial) under `protocol`.

    progress: optional callable(fraction_done) for progress bars; fraction_done is the
    nominal SoC reached (the CC part) and 1 at the end.
    """
    stepper = _Stepper(material, mesh, protocol, temperature)
    x = np.full(mesh.cells, material.x_initial)
    history = integrate_charge(stepper, x, material.x_initial, protocol, solver, progress,
                               resolution_hint="more particle.cells or ")
    states = np.array(history.states)
    removed_from_solid = material.c_max * mesh.volumes @ (states[0] - states[-1])  # mol/sr
    charge = history.charge_removed[-1]
    passed = charge / stepper.specific_charge * mesh.radius**2 / FARADAY  # mol/sr through the surface
    balance = abs(removed_from_solid - passed) / passed if passed > 0 else 0.0
    return SphereSolution(
        mesh=mesh,
        time=history.time,
        voltage=history.voltage,
        current_density=history.current,
        states=states,
        charge_removed=history.charge_removed,
        end_reason=history.end_reason,
        rejected_steps=history.rejected_steps,
        li_balance_error=float(balance),
        pulse=history.pulse,
    )
