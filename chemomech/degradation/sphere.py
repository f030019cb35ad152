"""Damage of the 1-D sphere: the single crystal seen radially (no grain boundaries).

Per radial cell the active lattice fraction is
    phi_i = exp(-s_i) (1 - f_i(L))
with s_i the intragranular lattice loss (lattice_inactivation.py) and f_i(L) the share of
the cell inside the rock-salt layer of thickness L at the surface (surface_layer.py). The
stepper stores Li in V_i phi_i, scales each interior face's conductance by the
transmissibility of its two cells (lattice_inactivation.face_transmissibility) and puts
R_rs = L / kappa_rs in series with the surface reaction. The hydrostatic stress that
drives stress inactivation is the free sphere's (transport.sphere_transport, computed from
the active lattice's x).
"""

from __future__ import annotations

import numpy as np

from chemomech.degradation.lattice_inactivation import face_transmissibility, inactivation_rate, integrated_rate
from chemomech.degradation.state import DamageIncrement, DamageState
from chemomech.degradation.surface_layer import layer_growth, layer_resistance, sphere_shell_fractions, time_above
from chemomech.transport.sphere_transport import SphereStepper, sphere_li_balance

MECHANISMS = ("surface_layer", "lattice_inactivation")  # those the 1-D sphere has (no grain boundaries)
PHI_FLOOR = 1e-6  # smallest active fraction a cell keeps in the balance (a cell of no lattice is singular)


class SphereDamage:
    """Binds the damage of a 1-D sphere to its steppers and increments
    (cycle_jumping.run_cycle_life's `model`)."""

    face_size = np.inf  # no grain-boundary faces
    layer_scale = 100e-9  # layer thickness that counts as 1 in the jump error [m]
    resolution_hint = "more particle.cells or "

    def __init__(self, material, mesh, params, mechanisms, temperature, physics):
        self.material, self.mesh, self.params = material, mesh, params
        self.mechanisms = tuple(mechanisms)
        self.temperature, self.physics = temperature, physics
        self.x_initial = material.x_initial
        self.edges = mesh.faces

    def pristine(self) -> DamageState:
        initial = self.params.rock_salt_initial_m if "surface_layer" in self.mechanisms else 0.0
        return DamageState.pristine(self.mesh.cells, initial)

    def active_fraction(self, state: DamageState) -> np.ndarray:
        """phi_i = exp(-s_i) (1 - f_i(L)) [-] (module docstring)."""
        shell = sphere_shell_fractions(self.edges, state.layer_thickness)
        return state.lattice_fraction * (1.0 - shell)

    def difference(self, one: DamageState, two: DamageState) -> float:
        """The jump error of cycle_jumping (DamageState.difference)."""
        return one.difference(two, self.layer_scale, self.face_size)

    def stepper(self, state: DamageState) -> SphereStepper:
        phi = np.maximum(self.active_fraction(state), PHI_FLOOR)
        scale = face_transmissibility(phi[:-1], phi[1:], self.params.inactive_diffusivity_ratio)
        resistance = layer_resistance(state.layer_thickness, self.params.rock_salt_conductivity_s_m)
        return SphereStepper(self.material, self.mesh, self.temperature, self.physics, active_fraction=phi,
                             face_scale=scale, surface_resistance=resistance)

    def increment(self, state: DamageState, stepper: SphereStepper, history) -> DamageIncrement:
        """The damage one cycle adds, from its stored states (every row) and voltages."""
        rows = np.asarray(history.state_rows)
        states = np.asarray(history.states, dtype=float)
        time = history.time[rows]
        loss = np.zeros(self.mesh.cells)
        if "lattice_inactivation" in self.mechanisms:
            sigma = np.array([stepper.fields(x)[1] for x in states])
            loss = integrated_rate(time, inactivation_rate(states, sigma, self.params))
        layer = 0.0
        if "surface_layer" in self.mechanisms:
            layer = layer_growth(self.params.rock_salt_growth_m2_s,
                                 time_above(history.time, history.voltage, self.params.rock_salt_onset_v))
        return DamageIncrement(lattice_loss=loss, x_top=states.min(axis=0), layer_sq=layer, crack_length=np.zeros(0))

    def li_balance(self, stepper, x_start, history) -> float:
        return sphere_li_balance(stepper, self.mesh, x_start, history)
