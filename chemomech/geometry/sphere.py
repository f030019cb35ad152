"""Radial finite-volume mesh of a spherical particle.

N shells between r = 0 and r = R: uniform (dr = R/N), or graded towards the surface so that
a thin surface layer is resolved without refining the core (surface_cell: the width of the
outermost shell [m]; the widths grow geometrically inwards, w_k = surface_cell q^(N-1-k),
k = 0 .. N-1 from the centre, with the ratio q > 1 that makes them add up to R). Cell i
spans [r_{i-1/2}, r_{i+1/2}]; its centre is the midpoint; its volume per steradian is the
exact shell volume (r_{i+1/2}^3 - r_{i-1/2}^3) / 3 and its faces carry areas r^2 per
steradian (PyBaMM's lesson: r^2 dr is not exact on a coarse mesh). Values are per steradian
because the 4 pi cancels in every balance.

The transport kernels take the distance between neighbouring centres at each inner face
(gaps) and the half width of the outermost shell (the surface extrapolation distance);
on a uniform mesh both are exactly dr and dr/2, so a uniform mesh computes what it always
did, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.errors import ConfigError


def geometric_widths(radius: float, cells: int, surface_cell: float) -> np.ndarray:
    """Shell widths [m] from the centre out, w_k = surface_cell q^(N-1-k), whose sum is
    `radius`: q > 1 solves surface_cell (q^N - 1)/(q - 1) = radius (bisection on log q,
    the sum rises monotonically with q). Needs 0 < surface_cell < radius / cells."""
    if not 0.0 < surface_cell < radius / cells:
        raise ConfigError(
            f"particle.surface_cell_nm = {surface_cell * 1e9:g}: the outermost shell must be thinner than a "
            f"uniform one; allowed: 0 < surface_cell_nm < radius / cells = {radius / cells * 1e9:g} nm")
    k = np.arange(cells)

    def total(log_q):
        return surface_cell * np.exp(log_q * k).sum()

    lo, hi = 0.0, 1.0
    while total(hi) < radius:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if total(mid) < radius:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    widths = surface_cell * np.exp(0.5 * (lo + hi) * k)[::-1]
    return widths * (radius / widths.sum())  # the sum is R to round-off


@dataclass(frozen=True)
class SphereMesh:
    """Cell-centred radial mesh of a sphere of radius `radius` [m] with `cells` shells,
    uniform (surface_cell None) or graded to an outermost shell `surface_cell` [m] wide."""

    radius: float
    cells: int
    surface_cell: float | None = None

    def __post_init__(self):
        if self.surface_cell is not None:
            geometric_widths(self.radius, self.cells, self.surface_cell)  # refuses a bad width

    @property
    def graded(self) -> bool:
        return self.surface_cell is not None

    @property
    def faces(self) -> np.ndarray:
        """Face radii r_{i+1/2}, i = -1..N-1, shape (N+1,) [m]; faces[0] = 0, faces[-1] = R."""
        if not self.graded:
            return np.linspace(0.0, self.radius, self.cells + 1)
        faces = np.concatenate([[0.0], np.cumsum(geometric_widths(self.radius, self.cells, self.surface_cell))])
        faces[-1] = self.radius
        return faces

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
        """Distance between neighbouring cell centres dr = R / N [m] of a uniform mesh (on a
        graded mesh: the mean shell width; the kernels take gaps and surface_half_width)."""
        return self.radius / self.cells

    @property
    def gaps(self) -> np.ndarray:
        """Distance between the centres on either side of each face, shape (N+1,) [m]:
        r_c,i - r_c,i-1 at the inner faces 1..N-1; entries 0 (r = 0) and N (the surface)
        carry no flux between cells and hold the neighbouring inner value. Exactly dr on a
        uniform mesh."""
        if not self.graded:
            return np.full(self.cells + 1, self.spacing)
        c = self.centres
        gaps = np.empty(self.cells + 1)
        gaps[1:-1] = np.diff(c)
        gaps[0] = gaps[1] if self.cells > 1 else self.radius
        gaps[-1] = gaps[-2] if self.cells > 1 else self.radius
        return gaps

    @property
    def surface_half_width(self) -> float:
        """Distance from the outermost centre to the surface, R - r_c,N-1 [m] (dr/2 exactly
        on a uniform mesh): the distance of the surface extrapolation."""
        if not self.graded:
            return 0.5 * self.spacing
        f = self.faces
        return 0.5 * (f[-1] - f[-2])

    def volume_average(self, field: np.ndarray) -> np.ndarray:
        """Volume-weighted mean over the last axis: sum V_i f_i / sum V_i."""
        v = self.volumes
        return np.asarray(field) @ v / v.sum()


def _uniform_spacing(r: np.ndarray) -> float | None:
    """dr of centres r [m] that are evenly spaced (to 1e-9 relative), else None."""
    if r.size == 1:
        return 2.0 * r[0]
    spacing = np.diff(r)
    return float(r[1] - r[0]) if np.allclose(spacing, spacing[0], rtol=1e-9, atol=0.0) else None


def faces_from_centres(r) -> np.ndarray:
    """The face radii [m], shape (N+1,), of a cell-centred radial mesh given its cell
    centres r [m] (the midpoints of the faces, from r = 0): on a uniform mesh r_i +- dr/2;
    on any other (graded) mesh the recursion f_0 = 0, f_i+1 = 2 r_i - f_i. What readers
    of a sphere-1d result (coordinate r) use for shell volumes and the radius."""
    r = np.asarray(r, dtype=float)
    dr = _uniform_spacing(r)
    if dr is not None:
        return np.concatenate([[max(r[0] - 0.5 * dr, 0.0)], r + 0.5 * dr])
    faces = np.zeros(r.size + 1)
    for i, centre in enumerate(r):
        faces[i + 1] = 2.0 * centre - faces[i]
    return faces


def shell_volumes_from_centres(r) -> np.ndarray:
    """Shell volumes r_out^3 - r_in^3 [m3, times 4 pi/3 for the real volume] of the cells
    centred on r (faces_from_centres; on a uniform mesh r_in,out = r -+ dr/2, r_in >= 0)."""
    r = np.asarray(r, dtype=float)
    dr = _uniform_spacing(r)
    if dr is not None:
        return (r + 0.5 * dr) ** 3 - np.maximum(r - 0.5 * dr, 0.0) ** 3
    faces = faces_from_centres(r)
    return faces[1:] ** 3 - faces[:-1] ** 3
