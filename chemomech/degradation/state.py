"""The damage state of a particle and its arithmetic for cycle jumping.

Every variable grows additively cycle by cycle at fixed drivers, so that a jump of k cycles
is the increment of one cycle times k (forward Euler in the cycle number):

    lattice_loss  s_i = -ln phi_i  per cell or voxel [-]  (lattice_inactivation.py)
    layer_sq      L^2 of the rock-salt layer [m2]        (surface_layer.py)
    crack_length  l_f per grain-boundary face [m]        (boundary_fatigue.py)

plus x_inactive, the mean Li fraction of the inactive lattice of each cell (the Li it held
at the top of the charge in which it was lost), which mixes in as lattice is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class DamageIncrement:
    """What one simulated cycle adds: d(lattice_loss) (N,) [-], the Li fraction at the
    top of the cycle's charge x_top (N,) [-], d(layer_sq) [m2] and d(crack_length) (F,) [m]."""

    lattice_loss: np.ndarray
    x_top: np.ndarray
    layer_sq: float
    crack_length: np.ndarray


@dataclass(frozen=True)
class DamageState:
    """The damage of a particle at the start of a cycle (module docstring)."""

    lattice_loss: np.ndarray
    x_inactive: np.ndarray
    layer_sq: float
    crack_length: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cracked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # faces broken through

    @classmethod
    def pristine(cls, cells: int, layer_initial: float, faces: int = 0, flaw: float = 0.0) -> "DamageState":
        """No lattice lost, the initial layer thickness [m], every boundary face with the
        initial flaw [m]."""
        return cls(lattice_loss=np.zeros(cells), x_inactive=np.zeros(cells), layer_sq=layer_initial**2,
                   crack_length=np.full(faces, flaw), cracked=np.zeros(faces, dtype=bool))

    @property
    def lattice_fraction(self) -> np.ndarray:
        """phi = exp(-s): the active fraction of the lattice of each cell [-]."""
        return np.exp(-self.lattice_loss)

    @property
    def layer_thickness(self) -> float:
        """L [m]."""
        return float(np.sqrt(self.layer_sq))

    def advance(self, increment: DamageIncrement, cycles: int, face_size: float = np.inf) -> "DamageState":
        """The state after `cycles` cycles at this increment; a face whose crack reaches
        face_size [m] is broken through (and stays so)."""
        loss = self.lattice_loss + cycles * increment.lattice_loss
        lost_before = 1.0 - np.exp(-self.lattice_loss)
        lost_after = 1.0 - np.exp(-loss)
        newly = lost_after - lost_before
        with np.errstate(invalid="ignore", divide="ignore"):
            x_inactive = np.where(lost_after > 0,
                                  (lost_before * self.x_inactive + newly * increment.x_top) / lost_after, 0.0)
        crack = self.crack_length + cycles * increment.crack_length
        cracked = self.cracked | (crack >= face_size)
        crack = np.where(cracked, face_size, crack)  # a broken face's crack spans the face
        return DamageState(lattice_loss=loss, x_inactive=x_inactive, layer_sq=self.layer_sq + cycles * increment.layer_sq,
                           crack_length=crack, cracked=cracked)

    def difference(self, other: "DamageState", layer_scale: float, face_size: float) -> float:
        """Difference between two states, each variable on the scale of its effect on
        capacity [-]: the largest of the root mean square over the cells of the difference
        in active fraction phi (as the time integrator's error norm: one voxel of many does
        not set the jump of the whole particle), the layer thickness difference over
        layer_scale [m], and the difference in the mean over the faces of the crack length
        over face_size [m] (the share of boundary broken: single faces break suddenly once
        their stress intensity reaches the toughness, so face by face two runs differ in
        which faces broke first; what the particle feels is how much of the boundary did)."""
        parts = [_rms(self.lattice_fraction - other.lattice_fraction),
                 abs(self.layer_thickness - other.layer_thickness) / layer_scale]
        if self.crack_length.size:
            a = np.minimum(self.crack_length, face_size)
            b = np.minimum(other.crack_length, face_size)
            parts.append(abs(float(np.mean(a - b))) / face_size)
        return max(parts)

def _rms(values: np.ndarray) -> float:
    """sqrt(mean(values^2)), 0 for no values."""
    return float(np.sqrt(np.mean(values**2))) if values.size else 0.0
