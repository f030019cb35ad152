"""Radial finite-volume mesh of a spherical particle.

N uniform shells between r = 0 and r = R. Cell i spans [r_{i-1/2}, r_{i+1/2}]; its volume
per steradian is the exact shell volume (r_{i+1/2}^3 - r_{i-1/2}^3) / 3 and its faces carry
areas r^2 per steradian (PyBaMM's lesson: r^2 dr is not exact on a coarse mesh). Values are
per steradian because the 4 pi cancels in every balance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SphereMesh:
    """Cell-centred radial mesh of a sphere of radius `radius` [m] with `cells` shells."""

    radius: float
    cells: int

    @property
    def faces(self) -> np.ndarray:
        """Face radii r_{i+1/2}, i = -1..N-1, shape (N+1,) [m]; faces[0] = 0, faces[-1] = R."""
        return np.linspace(0.0, self.radius, self.cells + 1)

    @property
    def centres(self) -> np.ndarray:
        """Cell-centre radii (midpoints of the faces), shape (N,) [m]."""
        f = self.faces
        return 0.5 * (f[:-1] + f[1:])

    @property
    def volumes(self) -> np.ndarray:
        """Exact shell volumes per steradian (r_out^3 - r_in^3) / 3, shape (N,) [m3/sr]."""
        f = self.faces
        return (f[1:] ** 3 - f[:-1] ** 3) / 3.0

    @property
    def face_areas(self) -> np.ndarray:
        """Face areas per steradian r^2, shape (N+1,) [m2/sr]."""
        return self.faces**2

    @property
    def spacing(self) -> float:
        """Distance between neighbouring cell centres dr = R / N [m]."""
        return self.radius / self.cells

    def volume_average(self, field: np.ndarray) -> np.ndarray:
        """Volume-weighted mean over the last axis: sum V_i f_i / sum V_i."""
        v = self.volumes
        return np.asarray(field) @ v / v.sum()
