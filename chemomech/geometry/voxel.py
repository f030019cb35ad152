"""Voxel particles: single crystals (sphere, hexagonal platelet) and Voronoi polycrystals.

Conventions used everywhere in the voxel code:

- Grid arrays are indexed [z, y, x] (axis 0 = z, axis 1 = y, axis 2 = x, so axis -1 is x).
  Flat indices are into the grid in C order: flat = (iz * ny + iy) * nx + ix.
- Voxel centres lie at (i - (n - 1)/2) h along each axis: the origin is the box centre.
- Vectors and tensors have their components in x, y, z order (not grid order).
- A rotation matrix R (3, 3) maps crystal-frame components to lab components,
  v_lab = R @ v_crystal, so its columns are the crystal axes seen in the lab. The crystal
  frame is Cartesian with x_c along the hexagonal a axis (a1) and z_c along the c axis.
- Face directions 0..5 mean -z, +z, -y, +y, -x, +x (grid axis a = direction // 2, sign
  -1 for even and +1 for odd directions), as in the transport kernels' neighbour table.
- Every box has at least one empty (void) voxel layer on each side: the mechanics solver
  needs void around the particle.

Lengths are in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Relative slack when counting voxels: R/h = 20.000000001 from floating-point round-off
# still counts as 20 voxels.
_COUNT_SLACK = 1e-9

SHAPES = ("sphere", "platelet")


@dataclass(frozen=True, eq=False)
class VoxelParticle:
    """A particle on a uniform voxel grid of edge `voxel_size` [m].

    grain: int32 array (nz, ny, nx), indexed [z, y, x]; -1 outside the particle (void),
        else the index 0..n_grains-1 of the grain the voxel belongs to.
    rotations: float64 array (n_grains, 3, 3); rotations[g] maps grain g's crystal-frame
        components to lab components (x, y, z order): v_lab = R @ v_crystal.

    The origin is the box centre. (eq=False: particles compare by identity, because numpy
    arrays have no single truth value for ==.)
    """

    voxel_size: float
    grain: np.ndarray
    rotations: np.ndarray

    def __post_init__(self):
        grain = np.ascontiguousarray(self.grain, dtype=np.int32)
        rotations = np.ascontiguousarray(self.rotations, dtype=np.float64)
        if not self.voxel_size > 0.0:
            raise ValueError(f"voxel_size must be > 0 m, got {self.voxel_size!r}")
        if grain.ndim != 3:
            raise ValueError(f"grain must be a 3-D array [z, y, x], got shape {grain.shape}")
        if rotations.ndim != 3 or rotations.shape[1:] != (3, 3):
            raise ValueError(f"rotations must have shape (n_grains, 3, 3), got {rotations.shape}")
        if grain.size and (grain.min() < -1 or grain.max() >= rotations.shape[0]):
            raise ValueError(
                f"grain indices must lie in -1..{rotations.shape[0] - 1} (one rotation per grain), "
                f"got {grain.min()}..{grain.max()}"
            )
        object.__setattr__(self, "voxel_size", float(self.voxel_size))
        object.__setattr__(self, "grain", grain)
        object.__setattr__(self, "rotations", rotations)

    @property
    def mask(self) -> np.ndarray:
        """True for voxels inside the particle (grain >= 0), shape (nz, ny, nx)."""
        return self.grain >= 0

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape (nz, ny, nx)."""
        return self.grain.shape

    @property
    def n_grains(self) -> int:
        """Number of grains (= number of rotations)."""
        return self.rotations.shape[0]

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel h^3 [m3]."""
        return self.voxel_size**3

    @property
    def volume(self) -> float:
        """Particle volume: number of solid voxels times h^3 [m3]."""
        return int(np.count_nonzero(self.mask)) * self.voxel_volume

    @property
    def coordinates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voxel-centre coordinates (z, y, x), 1-D arrays [m], origin at the box centre:
        c_i = (i - (n - 1)/2) h."""
        return tuple(_centres(n, self.voxel_size) for n in self.shape)


def _centres(n: int, voxel_size: float) -> np.ndarray:
    """Voxel-centre coordinates (i - (n - 1)/2) h, i = 0..n-1 [m]."""
    return (np.arange(n) - 0.5 * (n - 1)) * voxel_size


def _box_count(half_extent: float, voxel_size: float) -> int:
    """Voxels along one axis for a body reaching +-half_extent from the box centre:
    the smallest even count covering [-half_extent, half_extent], 2 ceil(half_extent/h),
    plus one void layer on each side."""
    return 2 * math.ceil(half_extent / voxel_size * (1.0 - _COUNT_SLACK)) + 2


# --- rotations -------------------------------------------------------------------------


def rotation_from_c_axis(c_axis) -> np.ndarray:
    """Rotation whose crystal c axis (z_c) points along the lab vector `c_axis` (x, y, z).

    c = c_axis / |c_axis|. The a axis (x_c) is chosen deterministically: take the lab unit
    vector e_k with the smallest |c_k| (the first of x, y, z on ties), remove its component
    along c and normalise, a = (e_k - (e_k . c) c) / |...|; then b = c x a. The columns of
    R are (a, b, c), so R @ (0, 0, 1) = c and det R = +1. c_axis = (0, 0, 1) gives R = I.
    """
    c = np.asarray(c_axis, dtype=np.float64).reshape(3)
    norm = np.linalg.norm(c)
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError(f"c_axis must be a finite non-zero vector (x, y, z), got {c_axis!r}")
    c = c / norm
    e = np.zeros(3)
    e[np.argmin(np.abs(c))] = 1.0
    a = e - (e @ c) * c
    a /= np.linalg.norm(a)
    b = np.cross(c, a)
    return np.column_stack([a, b, c])


def _rotation_about_z(angle):
    """Active rotation by `angle` [rad] about z, shape (..., 3, 3)."""
    cos, sin = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(cos), np.ones_like(cos)
    return np.stack([np.stack([cos, -sin, zero], -1), np.stack([sin, cos, zero], -1),
                     np.stack([zero, zero, one], -1)], -2)


def _rotation_about_x(angle):
    """Active rotation by `angle` [rad] about x, shape (..., 3, 3)."""
    cos, sin = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(cos), np.ones_like(cos)
    return np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cos, -sin], -1),
                     np.stack([zero, sin, cos], -1)], -2)


def rotation_from_euler(phi1, Phi, phi2) -> np.ndarray:
    """Crystal-to-lab rotation from Bunge (ZXZ) Euler angles in DEGREES.

    Bunge's orientation matrix g = Rz(phi2) Rx(Phi) Rz(phi1) (passive: it takes lab/sample
    components to crystal components, v_crystal = g v_lab). This returns its transpose,

        R = g^T = Rz(phi1) Rx(Phi) Rz(phi2),   v_lab = R @ v_crystal,

    with Rz, Rx the active rotation matrices (Rz(t) = [[cos t, -sin t, 0], [sin t, cos t, 0],
    [0, 0, 1]]). So the crystal c axis lies along R[:, 2] = (sin phi1 sin Phi,
    -cos phi1 sin Phi, cos Phi). Angles broadcast; the result has shape (..., 3, 3).
    """
    phi1, Phi, phi2 = (np.radians(angle) for angle in np.broadcast_arrays(phi1, Phi, phi2))
    return _rotation_about_z(phi1) @ _rotation_about_x(Phi) @ _rotation_about_z(phi2)


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """n rotations uniformly distributed on SO(3) (Haar measure), shape (n, 3, 3).

    Shoemake (1992), "Uniform random rotations", Graphics Gems III: with u1, u2, u3 uniform
    on [0, 1), the unit quaternion
        q = (w, x, y, z) = (sqrt(1-u1) sin 2 pi u2, sqrt(1-u1) cos 2 pi u2,
                            sqrt(u1) sin 2 pi u3,   sqrt(u1) cos 2 pi u3)
    is uniform on the 3-sphere, and its rotation matrix is uniform on SO(3).
    """
    u1, u2, u3 = rng.random((3, n))
    w = np.sqrt(1.0 - u1) * np.sin(2.0 * np.pi * u2)
    x = np.sqrt(1.0 - u1) * np.cos(2.0 * np.pi * u2)
    y = np.sqrt(u1) * np.sin(2.0 * np.pi * u3)
    z = np.sqrt(u1) * np.cos(2.0 * np.pi * u3)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


# --- shapes ----------------------------------------------------------------------------


def sphere_mask(radius: float, voxel_size: float) -> np.ndarray:
    """Voxels whose centres lie inside the sphere |r| <= radius, bool array (n, n, n).

    n = 2 ceil(R/h) + 2: the smallest even number of voxels covering the diameter 2R,
    plus one empty void layer on each side. The sphere is centred at the box centre.
    """
    _check_positive(radius=radius, voxel_size=voxel_size)
    n = _box_count(radius, voxel_size)
    c2 = _centres(n, voxel_size) ** 2
    return c2[:, None, None] + c2[None, :, None] + c2[None, None, :] <= radius**2


def platelet_vertices(radius: float, aspect: float) -> np.ndarray:
    """The 12 corners of the hexagonal platelet in the crystal frame, shape (12, 3) [m]:
    hexagon corners at angles 0, 60, ..., 300 deg from x_c (the a axes) at distance
    `radius`, at z_c = +-t/2 with thickness t = 2 radius / aspect."""
    angle = np.radians(60.0 * np.arange(6))
    half_thickness = radius / aspect
    ring = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return np.vstack([np.column_stack([ring, np.full(6, -half_thickness)]),
                      np.column_stack([ring, np.full(6, half_thickness)])])


def platelet_mask(radius: float, voxel_size: float, aspect: float, rotation) -> np.ndarray:
    """Voxels whose centres lie inside a hexagonal platelet, bool array (nz, ny, nx).

    The platelet is the habit of layered-oxide single crystals: a hexagonal prism whose
    basal (003) faces are normal to the crystal c axis and whose six prism faces are the
    {100} planes (Miller-Bravais {10-10}). A {100} plane contains c and one a axis, so its
    normal is a reciprocal a* direction, 30 deg from the a axes: the hexagon's corners point
    along +-a1, +-a2, +-a3 (x_c is a corner direction). In the crystal frame p_c = R^T p:

        |z_c| <= t/2,   |p_c . n_k| <= r sqrt(3)/2,   n_k = (cos(30 + 60 k), sin(30 + 60 k), 0),
        k = 0, 1, 2,

    radius r = circumradius of the hexagon (centre to corner) [m]; aspect = 2 r / t (width
    across corners over thickness; 1 = as thick as wide). Prism volume 3 sqrt(3)/2 r^2 t.

    rotation: crystal-to-lab matrix, so a tilted crystal gives a tilted platelet. The box is
    tight per axis: along each lab axis, 2 ceil(e/h) + 2 voxels where e is the largest
    |coordinate| of the rotated corners, i.e. the smallest even count covering the platelet
    plus one void layer on each side. The platelet is centred at the box centre.
    """
    _check_positive(radius=radius, voxel_size=voxel_size, aspect=aspect)
    rot = _check_rotation(rotation)
    corners_lab = platelet_vertices(radius, aspect) @ rot.T  # (12, 3) in x, y, z
    half_extent = np.abs(corners_lab).max(axis=0)  # x, y, z
    nx, ny, nz = (_box_count(e, voxel_size) for e in half_extent)
    z = _centres(nz, voxel_size)[:, None, None]
    y = _centres(ny, voxel_size)[None, :, None]
    x = _centres(nx, voxel_size)[None, None, :]
    # crystal-frame components p_c = R^T p_lab, i.e. p_c,i = sum_j R[j, i] p_j
    xc = rot[0, 0] * x + rot[1, 0] * y + rot[2, 0] * z
    yc = rot[0, 1] * x + rot[1, 1] * y + rot[2, 1] * z
    zc = rot[0, 2] * x + rot[1, 2] * y + rot[2, 2] * z
    inside = np.abs(zc) <= radius / aspect
    apothem = radius * math.sqrt(3.0) / 2.0
    for k in range(3):
        angle = math.radians(30.0 + 60.0 * k)
        inside &= np.abs(math.cos(angle) * xc + math.sin(angle) * yc) <= apothem
    return inside


def single_crystal(shape: str, radius: float, voxel_size: float, rotation, aspect: float = 2.0) -> VoxelParticle:
    """One-grain particle: shape "sphere" (radius R) or "platelet" (hexagonal platelet of
    circumradius R and aspect = 2R / thickness, see platelet_mask; ignored for a sphere),
    crystal orientation `rotation` (crystal-to-lab, 3x3)."""
    rot = _check_rotation(rotation)
    if shape == "sphere":
        mask = sphere_mask(radius, voxel_size)
    elif shape == "platelet":
        mask = platelet_mask(radius, voxel_size, aspect, rot)
    else:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    grain = np.where(mask, 0, -1).astype(np.int32)
    return VoxelParticle(voxel_size, grain, rot[None])


def polycrystal_seed_count(radius: float, grain_size: float) -> int:
    """Grain seeds of a polycrystal: N = max(1, round(8 R^3 / d^3)), the particle volume
    over the volume of a grain of equivalent-sphere diameter d (any one length unit).
    N = 1 (a single grain) once d >= 2R, and already from d ~ 1.747 R where 8 (R/d)^3 < 1.5."""
    return max(1, round((radius / grain_size) ** 3 * 8.0))


def polycrystal(radius: float, voxel_size: float, grain_size: float, seed: int) -> VoxelParticle:
    """Spherical secondary particle of radius R tessellated into Voronoi grains.

    Seeds: N = max(1, round((4/3 pi R^3) / (pi/6 d^3))) = round(8 R^3 / d^3), d = grain_size
    (equivalent-sphere diameter of a grain) [m]; points uniform in the sphere drawn from
    numpy.random.default_rng(seed) (radius R u^(1/3), direction from a normalised Gaussian
    vector). Each solid voxel of sphere_mask(R, h) belongs to its nearest seed. Seeds that
    got no voxel are dropped and the grain indices compacted (seed order kept).
    Orientations: random_rotations(N, rng) with the same rng, drawn after the seeds (one per
    seed, then those of the surviving grains kept). Same seed -> identical particle.
    """
    _check_positive(radius=radius, voxel_size=voxel_size, grain_size=grain_size)
    rng = np.random.default_rng(seed)
    n_seeds = polycrystal_seed_count(radius, grain_size)
    direction = rng.standard_normal((n_seeds, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    seeds = direction * (radius * rng.random(n_seeds) ** (1.0 / 3.0))[:, None]  # x, y, z
    rotations = random_rotations(n_seeds, rng)

    mask = sphere_mask(radius, voxel_size)
    iz, iy, ix = np.nonzero(mask)
    centres = [_centres(n, voxel_size) for n in mask.shape]
    points = np.column_stack([centres[2][ix], centres[1][iy], centres[0][iz]])  # x, y, z
    from scipy.spatial import cKDTree  # scipy.spatial and .ndimage load in ~0.3 s: imported where used

    _, nearest = cKDTree(seeds).query(points, workers=-1)
    used, compact = np.unique(nearest, return_inverse=True)
    grain = np.full(mask.shape, -1, dtype=np.int32)
    grain[iz, iy, ix] = compact
    return VoxelParticle(voxel_size, grain, rotations[used])


# --- faces -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GrainBoundaryFaces:
    """Faces between two solid voxels of different grains. For face f, `lower[f]` is the
    flat index of the voxel on the low side and `upper[f]` = lower[f] + stride(axis[f]) the
    voxel one step further along grid axis `axis[f]` (0, 1, 2 = z, y, x)."""

    lower: np.ndarray
    upper: np.ndarray
    axis: np.ndarray

    def __len__(self) -> int:
        return self.lower.shape[0]


@dataclass(frozen=True, eq=False)
class SurfaceFaces:
    """Faces between a solid voxel and void (or the box edge). `cell[f]` is the flat index
    of the solid voxel, `direction[f]` its outward direction 0..5 = -z, +z, -y, +y, -x, +x."""

    cell: np.ndarray
    direction: np.ndarray

    def __len__(self) -> int:
        return self.cell.shape[0]


def _strides(shape) -> np.ndarray:
    """Flat-index step for one voxel along each grid axis (C order): (ny nx, nx, 1)."""
    return np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)


def grain_boundary_faces(grain: np.ndarray) -> GrainBoundaryFaces:
    """All faces between voxel pairs (a, b = a + one step along an axis) that are both solid
    (grain >= 0) and belong to different grains; concatenated over axes z, y, x, each
    block in ascending flat index of the lower voxel."""
    grain = np.asarray(grain)
    strides = _strides(grain.shape)
    lower, upper, axis = [], [], []
    for a in range(3):
        low = [slice(None)] * 3
        high = [slice(None)] * 3
        low[a] = slice(0, -1)
        high[a] = slice(1, None)
        g_low, g_high = grain[tuple(low)], grain[tuple(high)]
        boundary = np.zeros(grain.shape, dtype=bool)
        boundary[tuple(low)] = (g_low >= 0) & (g_high >= 0) & (g_low != g_high)
        flat = np.flatnonzero(boundary)
        lower.append(flat)
        upper.append(flat + strides[a])
        axis.append(np.full(flat.shape, a, dtype=np.int8))
    return GrainBoundaryFaces(np.concatenate(lower), np.concatenate(upper), np.concatenate(axis))


def surface_faces(mask: np.ndarray) -> SurfaceFaces:
    """All faces between a solid voxel and void; the grid edge counts as void. Ordered by
    direction 0..5 (-z, +z, -y, +y, -x, +x), then ascending flat index of the solid voxel."""
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1, constant_values=False)
    inner = (slice(1, -1),) * 3
    cells, directions = [], []
    for d in range(6):
        a, step = d // 2, (1 if d % 2 else -1)
        neighbour = [slice(1, -1)] * 3
        neighbour[a] = slice(1 + step, padded.shape[a] - 1 + step)
        exposed = padded[inner] & ~padded[tuple(neighbour)]
        flat = np.flatnonzero(exposed)
        cells.append(flat)
        directions.append(np.full(flat.shape, d, dtype=np.int8))
    return SurfaceFaces(np.concatenate(cells), np.concatenate(directions))


def surface_normals(mask: np.ndarray, faces: SurfaceFaces, sigma: float = 1.5) -> np.ndarray:
    """Outward unit normal (x, y, z components) of the smooth surface at each surface face,
    shape (n_faces, 3): n = -grad(s) / |grad(s)| with s the mask smoothed by a Gaussian of
    width `sigma` voxels, the gradient taken at the face centre (mean of central
    differences at the solid voxel and at its void neighbour across the face). Where the
    gradient vanishes, n is the face's own axis direction."""
    from scipy.ndimage import gaussian_filter

    smooth = np.pad(gaussian_filter(np.asarray(mask, dtype=np.float64), sigma, mode="constant"), 2, mode="edge")
    strides = _strides(smooth.shape)
    iz, iy, ix = np.unravel_index(faces.cell, np.shape(mask))
    cell = (iz + 2) * strides[0] + (iy + 2) * strides[1] + (ix + 2)
    axis = faces.direction // 2
    sign = np.where(faces.direction % 2 == 1, 1, -1)
    across = cell + sign * strides[axis]
    s = smooth.ravel()
    grad_zyx = np.empty((cell.size, 3))
    for a in range(3):
        grad_zyx[:, a] = 0.25 * (s[cell + strides[a]] - s[cell - strides[a]]
                                 + s[across + strides[a]] - s[across - strides[a]])
    normal = -grad_zyx[:, ::-1]  # x, y, z components
    length = np.linalg.norm(normal, axis=1)
    flat_axis = length < 1e-12
    normal[~flat_axis] /= length[~flat_axis, None]
    normal[flat_axis] = 0.0
    normal[flat_axis, 2 - axis[flat_axis]] = sign[flat_axis]
    return normal


def surface_area_weights(mask: np.ndarray, faces: SurfaceFaces, sigma: float = 1.5) -> np.ndarray:
    """Staircase correction of the surface area, one weight per face, shape (n_faces,).

    A staircase (voxel) surface approximating a smooth surface with outward unit normal n
    has area int (|n_x| + |n_y| + |n_z|) dA (Cauchy's projection formula: the faces normal
    to x project the surface onto the yz plane, and so on). Weighting each face by

        w = 1 / (|n_x| + |n_y| + |n_z|)        (1/sqrt(3) <= w <= 1)

    makes sum_f w_f h^2 approximate the smooth area int dA. n comes from surface_normals
    (gradient of the Gaussian-smoothed mask, sigma in voxels). Flat axis-aligned faces
    (farther than the smoothing range from an edge) get w = 1.
    """
    normal = surface_normals(mask, faces, sigma)
    return 1.0 / np.abs(normal).sum(axis=1)


# --- checks ----------------------------------------------------------------------------


def _check_positive(**values):
    for name, value in values.items():
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_rotation(rotation) -> np.ndarray:
    rot = np.asarray(rotation, dtype=np.float64)
    if rot.shape != (3, 3):
        raise ValueError(f"rotation must be a 3x3 matrix, got shape {rot.shape}")
    if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-8) or np.linalg.det(rot) < 0:
        raise ValueError("rotation must be a proper rotation matrix (orthonormal, det +1)")
    return rot
