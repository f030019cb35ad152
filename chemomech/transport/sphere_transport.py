"""A spherical particle (1-D radial finite volumes) under any protocol: charge, discharge,
holds, rests and cycles.

The protocol and the adaptive time stepping are in transport.integrator (shared with the
voxel particles); this module binds the radial kernels of sphere_kernels to them. A
positive current density delithiates (charge), a negative one lithiates (discharge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.constants import FARADAY, TEMPERATURE_DEFAULT
from chemomech.geometry.sphere import SphereMesh
from chemomech.materials.material import Material
from chemomech.protocol import Experiment
from chemomech.transport.integrator import SolverOptions, TransportSolution, run_protocol
from chemomech.transport.kinetics import thermal_voltage_2rt_f
from chemomech.transport.sphere_kernels import (
    TABLE_D,
    TABLE_I0,
    TABLE_U,
    implicit_step,
    voltage_at,
)

__all__ = ["SolverOptions", "SphereSolution", "SphereStepper", "run_sphere", "material_tables"]

TABLE_POINTS = 4001
NEWTON_TOL = 1e-12
NEWTON_MAX_ITERATIONS = 30


@dataclass
class SphereSolution(TransportSolution):
    """A 1-D sphere run; `states` (stored rows, cells) [-] at the rows history.state_rows
    (every row unless only some cycles were kept)."""

    mesh: SphereMesh = None

    @property
    def states(self) -> np.ndarray:
        return np.array(self.history.states)


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


class SphereStepper:
    """Binds the kernel's constant arguments into the stepper of integrator.run_protocol:
    step(x, dt, hold_voltage, current) -> (x_new, ok, current density [A/m2])."""

    def __init__(self, material: Material, mesh: SphereMesh, temperature: float = TEMPERATURE_DEFAULT):
        self.volumes = mesh.volumes
        self.areas = mesh.face_areas
        self.dr = mesh.spacing
        self.table = material_tables(material)
        self.two_rt_f = thermal_voltage_2rt_f(temperature)
        self.ohmic = mesh.radius / material.electronic_conductivity
        self.flux_per_current = 1.0 / (FARADAY * material.c_max)  # (m/s) per (A/m2)
        self.specific_charge = 3.0 / (material.density * mesh.radius)  # (C/kg) per (A/m2 s)

    def step(self, x, dt, hold_voltage, current):
        """Constant current density `current` [A/m2] (hold_voltage None) or constant cell
        voltage hold_voltage [V]."""
        hold = hold_voltage is not None
        x_new, ok, n_s, _ = implicit_step(
            x, dt, self.volumes, self.areas, self.dr, self.table,
            self.flux_per_current * current, hold, hold_voltage if hold else 0.0,
            self.flux_per_current, self.two_rt_f, self.ohmic, NEWTON_TOL, NEWTON_MAX_ITERATIONS,
        )
        return x_new, ok, n_s / self.flux_per_current

    def voltage(self, x, current):
        return voltage_at(x[-1], current, self.table, self.two_rt_f, self.ohmic,
                          0.5 * self.dr * self.flux_per_current)

    def initial_voltage(self, x_initial, current):
        """V of the uniform state x_initial under `current` [A/m2] (no surface gradient)."""
        return voltage_at(x_initial, current, self.table, self.two_rt_f, self.ohmic, 0.0)

    @staticmethod
    def surface_range(x):
        return x[-1], x[-1]

    @staticmethod
    def store(x):
        return x


def run_sphere(material: Material, mesh: SphereMesh, experiment: Experiment,
               solver: SolverOptions = SolverOptions(), temperature: float = TEMPERATURE_DEFAULT,
               progress=None, keep_cycles=None) -> SphereSolution:
    """Run `experiment` on a uniformly lithiated sphere (x = material.x_initial).

    progress: optional callable(fraction_done, label) for progress bars; keep_cycles: the
    cycles whose states are stored (None: all)."""
    stepper = SphereStepper(material, mesh, temperature)
    x = np.full(mesh.cells, material.x_initial)
    history = run_protocol(stepper, x, material.x_initial, experiment, solver, material.capacity_nominal,
                           progress, keep_cycles, resolution_hint="more particle.cells or ")
    # Li balance per steradian: the solid's loss against the charge through r = R
    lost = material.c_max * mesh.volumes @ (x - history.final_state)  # mol/sr
    passed = history.charge[-1] / stepper.specific_charge * mesh.radius**2 / FARADAY  # mol/sr
    throughput = history.throughput / stepper.specific_charge * mesh.radius**2 / FARADAY
    balance = abs(lost - passed) / throughput if throughput > 0 else 0.0
    return SphereSolution(history=history, li_balance_error=float(balance), mesh=mesh)
