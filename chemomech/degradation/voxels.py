"""Damage of voxel particles: single crystals and polycrystals.

Per voxel i the active lattice fraction is
    phi_i = exp(-s_i) (1 - min(1, L A_i / h^3))
with s_i the intragranular lattice loss (lattice_inactivation.py) and the second factor
the share of the voxel converted by the rock-salt layer of thickness L on its reacting
faces (total area A_i [m2]; surface_layer.py). The stepper (transport.voxel_transport.
VoxelStepper) stores Li in phi_i, scales every face's conductance by the transmissibility
of its two voxels and puts R_rs = L / kappa_rs in series with the surface reaction.

Polycrystals (boundary_fatigue.py): each grain-boundary face carries a crack that grows by
the Paris law under the cycle's range of tensile normal traction; a face whose crack
reaches the voxel edge is broken through. Grains touching the particle's outer surface
are wired to the electrode (the carbon and binder around a secondary particle); the others
are wired only through their boundaries with other grains. A boundary conducts electrons
in proportion to its intact share, the mean over its faces of 1 - l_f/h (a broken face
0). A grain's wiring w_g in [0, 1] is the intact share of the weakest boundary on its
best path to the outer surface (the widest path through the boundary network; 1 for
outer grains), and its reacting faces pass current over w_g of their area: a grain cut
off (w_g = 0) keeps its Li (loss of active material), a poorly wired one reacts slowly.
The wiring changes continuously with the crack lengths, which lets cycle jumping follow
it; an on/off connectivity would turn every grain cut off into a step of capacity.

Stresses come from the voxel elasticity (mechanics.lattice_strain.snapshot_mechanics) of
the layered lattice's x (active and inactive lattice mixed) at `samples` states of each
simulated cycle, evenly in the charge passed either way; the stress-driven inactivation
rate is interpolated linearly in time between them. The elasticity keeps every boundary
bonded, broken or not: after a face breaks its own crack needs no more load, but the
load it would shed onto its neighbours is not modelled.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from chemomech.degradation.boundary_fatigue import crack_growth
from chemomech.degradation.lattice_inactivation import (
    face_transmissibility,
    integrated_rate,
    oxygen_driver,
    stress_driver,
)
from chemomech.degradation.state import DamageIncrement, DamageState
from chemomech.degradation.surface_layer import layer_growth, layer_resistance, time_above
from chemomech.geometry.voxel import grain_boundary_faces
from chemomech.mechanics.grain_boundary import boundary_tractions
from chemomech.mechanics.lattice_strain import grain_stiffness, snapshot_mechanics
from chemomech.simulation.records import throughput
from chemomech.transport.voxel_transport import VoxelStepper, voxel_connectivity, voxel_li_balance

PHI_FLOOR = 1e-6  # smallest active fraction a voxel keeps in the balance
STRESS_SAMPLES = 5  # elastic solves per simulated cycle (evenly in charge throughput)


class VoxelDamage:
    """Binds the damage of a voxel particle to its steppers and increments
    (cycle_jumping.run_cycle_life's `model`)."""

    layer_scale = 100e-9  # layer thickness that counts as 1 in the jump error [m]
    resolution_hint = "a smaller particle.voxel_nm or "

    def __init__(self, material, particle, params, mechanisms, temperature, physics, samples: int = STRESS_SAMPLES):
        self.material, self.particle, self.params = material, particle, params
        self.mechanisms = tuple(mechanisms)
        self.temperature, self.physics, self.samples = temperature, physics, samples
        self.x_initial = material.x_initial
        con = self.connectivity = voxel_connectivity(particle)
        self.n = con.cells.size
        self.h = particle.voxel_size
        face_area = con.face_weight * self.h**2
        self.reacting_area_per_voxel = np.bincount(con.face_cell, face_area, self.n)  # [m2]
        self.fatigue = "boundary_fatigue" in self.mechanisms
        self.face_size = self.h if self.fatigue else np.inf
        self.boundaries = grain_boundary_faces(particle.grain) if self.fatigue else None
        if self.fatigue:
            grain = particle.grain.ravel()
            a, b = grain[self.boundaries.lower], grain[self.boundaries.upper]
            pairs = np.stack([np.minimum(a, b), np.maximum(a, b)])  # (2, F) grains of each face
            unique, self.pair_of_face = np.unique(pairs, axis=1, return_inverse=True)
            self.pair_of_face = self.pair_of_face.ravel()
            self.pair_grains = unique  # (2, boundaries)
            self.pair_count = np.bincount(self.pair_of_face).astype(float)  # faces per boundary
        outer = ~con.face_on_boundary
        self.outer_grains = np.unique(con.grain[con.face_cell[outer]])
        self.needs_stress = self.fatigue or ("lattice_inactivation" in self.mechanisms and params.inactivation_rate_per_s > 0)
        self.stiffness = grain_stiffness(material, particle.rotations) if self.needs_stress else None
        self.stress_solves = 0

    @property
    def faces(self) -> int:
        return self.boundaries.lower.size if self.fatigue else 0

    def pristine(self) -> DamageState:
        initial = self.params.rock_salt_initial_m if "surface_layer" in self.mechanisms else 0.0
        flaw = self.params.initial_flaw_m if self.fatigue else 0.0
        return DamageState.pristine(self.n, initial, faces=self.faces, flaw=flaw)

    def active_fraction(self, state: DamageState) -> np.ndarray:
        """phi_i (module docstring) [-]."""
        converted = np.minimum(1.0, state.layer_thickness * self.reacting_area_per_voxel / self.h**3)
        return state.lattice_fraction * (1.0 - converted)

    def grain_wiring(self, state: DamageState) -> np.ndarray:
        """w_g of each grain (module docstring) (grains,) [-]: maximum spanning forest of
        the boundary network (Kruskal, boundaries by intact share, strongest first) grown
        from the outer grains; a grain gets the share of the boundary that joins it to them."""
        grains = self.particle.n_grains
        wiring = np.zeros(grains)
        if not self.fatigue:
            wiring[:] = 1.0
            return wiring
        intact = 1.0 - np.minimum(state.crack_length, self.face_size) / self.face_size
        share = np.bincount(self.pair_of_face, intact, self.pair_count.size) / self.pair_count
        root = list(range(grains + 1))  # union-find; node `grains` is the outer surface
        members = {g: [g] for g in range(grains + 1)}

        def find(g):
            while root[g] != g:
                root[g] = root[root[g]]
                g = root[g]
            return g

        def union(a, b, weight):
            a, b = find(a), find(b)
            if a == b:
                return
            outer = find(grains)
            if a == outer or b == outer:  # the other side joins the outer surface at this weight
                joining = b if a == outer else a
                wiring[[g for g in members[joining] if g < grains]] = weight
            if len(members[a]) < len(members[b]):
                a, b = b, a
            root[b] = a
            members[a] += members.pop(b)

        for g in self.outer_grains:
            union(int(g), grains, 1.0)
        for k in np.argsort(-share, kind="stable"):
            if share[k] <= 0.0:
                break
            union(int(self.pair_grains[0, k]), int(self.pair_grains[1, k]), float(share[k]))
        return wiring

    def wired_share(self, state: DamageState) -> float:
        """Share of the active lattice that the electrode reaches, sum phi_i w_g(i) / sum phi_i [-]."""
        phi = self.active_fraction(state)
        return float(phi @ self.grain_wiring(state)[self.connectivity.grain] / phi.sum())

    def difference(self, one: DamageState, two: DamageState) -> float:
        """The jump error of cycle_jumping: DamageState.difference, and for polycrystals
        also the difference in the share of active lattice the electrode reaches (what
        broken boundaries cost in capacity)."""
        error = one.difference(two, self.layer_scale, self.face_size)
        if self.fatigue:
            error = max(error, abs(self.wired_share(one) - self.wired_share(two)))
        return error

    def cracked_faces_per_voxel(self, state: DamageState) -> np.ndarray:
        """Broken boundary faces touching each solid voxel (N,) [-]."""
        if not self.fatigue:
            return np.zeros(self.n)
        index = np.full(self.particle.grain.size, -1)
        index[self.connectivity.cells] = np.arange(self.n)
        broken = state.cracked
        lower, upper = index[self.boundaries.lower[broken]], index[self.boundaries.upper[broken]]
        return np.bincount(lower, minlength=self.n) + np.bincount(upper, minlength=self.n).astype(float)

    def stepper(self, state: DamageState) -> VoxelStepper:
        con = self.connectivity
        phi = np.maximum(self.active_fraction(state), PHI_FLOOR)
        neighbour = np.where(con.nbr >= 0, con.nbr, np.arange(self.n)[:, None])
        scale = face_transmissibility(phi[:, None], phi[neighbour], self.params.inactive_diffusivity_ratio)
        face_wiring = self.grain_wiring(state)[con.grain[con.face_cell]] if self.fatigue else None
        resistance = layer_resistance(state.layer_thickness, self.params.rock_salt_conductivity_s_m)
        return VoxelStepper(self.material, self.particle, self.temperature, self.physics, active_fraction=phi,
                            face_scale=scale, surface_resistance=resistance, face_wiring=face_wiring)

    def lattice_x(self, state: DamageState, x: np.ndarray) -> np.ndarray:
        """x of the layered lattice, phi_l x + (1 - phi_l) x_inactive (phi_l = exp(-s))."""
        lattice = state.lattice_fraction
        return lattice * x + (1.0 - lattice) * state.x_inactive

    def field(self, values: np.ndarray) -> np.ndarray:
        grid = np.full(self.particle.grain.size, np.nan)
        grid[self.connectivity.cells] = values
        return grid.reshape(self.particle.grain.shape)

    def sample_rows(self, history) -> np.ndarray:
        """`samples` stored rows evenly in charge throughput over the cycle, plus the row of
        the lowest mean x (the top of charge)."""
        axis = throughput(history)[history.state_rows]
        targets = np.linspace(axis[0], axis[-1], self.samples)
        picks = np.searchsorted(axis, targets).clip(0, axis.size - 1)
        top = int(np.argmin([float(np.mean(s)) for s in history.states]))
        return np.unique(np.append(picks, top))

    def stresses(self, state: DamageState, history, picks: np.ndarray):
        """Hydrostatic stress per voxel (S, N) [Pa] and normal traction per boundary face
        (S, F) [Pa] at the stored states `picks`."""
        solid = self.particle.mask
        sigma_h = np.zeros((picks.size, self.n))
        normal = np.zeros((picks.size, self.faces))
        warm = None
        for k, pick in enumerate(picks):
            x = self.lattice_x(state, np.asarray(history.states[pick], dtype=float))
            mech = snapshot_mechanics(self.material, self.particle, self.field(x), self.stiffness, initial=warm)
            warm = mech["displacement"]
            self.stress_solves += 1
            sigma_h[k] = mech["stress_hydrostatic"][solid]
            if self.fatigue:
                normal[k] = boundary_tractions(mech["stress"], self.boundaries)[0]
        return sigma_h, normal

    def increment(self, state: DamageState, stepper, history) -> DamageIncrement:
        """The damage one cycle adds (module docstring)."""
        rows = np.asarray(history.state_rows)
        time = history.time[rows]
        x_top = np.min(history.states, axis=0).astype(float)
        loss = np.zeros(self.n)
        crack = np.zeros(self.faces)
        if "lattice_inactivation" in self.mechanisms or self.fatigue:
            picks = self.sample_rows(history) if self.needs_stress else np.zeros(0, dtype=int)
            sigma_h, normal = self.stresses(state, history, picks) if picks.size else (None, None)
            if "lattice_inactivation" in self.mechanisms:
                loss = self.lattice_loss(history, time, picks, sigma_h)
            if self.fatigue:
                crack = crack_growth(state.crack_length, state.cracked, normal, self.face_size, self.params)
        layer = 0.0
        if "surface_layer" in self.mechanisms:
            layer = layer_growth(self.params.rock_salt_growth_m2_s,
                                 time_above(history.time, history.voltage, self.params.rock_salt_onset_v))
        return DamageIncrement(lattice_loss=loss, x_top=x_top, layer_sq=layer, crack_length=crack)

    def lattice_loss(self, history, time, picks, sigma_h) -> np.ndarray:
        """int rate dt per voxel over the cycle (lattice_inactivation): the oxygen driver on
        every stored state, the stress driver interpolated linearly in time between the
        sampled states (held at the first and last sample towards the cycle's ends)."""
        params = self.params
        total = np.zeros(self.n)
        states = history.states
        previous = oxygen_driver(np.asarray(states[0], dtype=float), params)
        for k in range(1, len(states)):
            current = oxygen_driver(np.asarray(states[k], dtype=float), params)
            total += 0.5 * (time[k] - time[k - 1]) * (previous + current)
            previous = current
        if sigma_h is not None:
            drivers = stress_driver(sigma_h, params)  # (S, N)
            span = np.concatenate([[time[0]], time[picks], [time[-1]]])
            values = np.concatenate([drivers[:1], drivers, drivers[-1:]])
            total += integrated_rate(span, values)
        return params.inactivation_rate_per_s * total

    def li_balance(self, stepper, x_start, history) -> float:
        return voxel_li_balance(stepper, self.material.c_max, x_start, history)
