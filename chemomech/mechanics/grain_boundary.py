"""Tractions on the grain boundaries of a voxel polycrystal.

A grain boundary is resolved as the voxel faces between two grains
(geometry.voxel.grain_boundary_faces). On a face with unit normal n = e_a (grid axis a)
the traction is t = sigma_f n with sigma_f the mean of the two voxels' stresses; its
normal part t_n = n.sigma_f.n (positive = tensile, opening the boundary) and its shear
part |t - t_n n| [Pa]. The face normals are those of the voxel staircase, not of the
smooth boundary plane: at the resolution of a few voxels per grain this is the
resolution's own error.
"""

from __future__ import annotations

import numpy as np

from chemomech.geometry.voxel import GrainBoundaryFaces

AXIS_TO_COMPONENT = (2, 1, 0)  # grid axis z, y, x -> tensor component index (x = 0)


def boundary_tractions(stress: np.ndarray, faces: GrainBoundaryFaces) -> tuple[np.ndarray, np.ndarray]:
    """Normal and shear traction [Pa] on each grain-boundary face, from the stress field
    (3, 3, nz, ny, nx)."""
    flat = stress.reshape(3, 3, -1)
    mean = 0.5 * (flat[:, :, faces.lower] + flat[:, :, faces.upper])  # (3, 3, F)
    component = np.asarray(AXIS_TO_COMPONENT)[faces.axis]
    faces_index = np.arange(component.size)
    traction = mean[:, component, faces_index]  # t_i = sigma_ij n_j, (3, F)
    normal = traction[component, faces_index]
    shear = np.sqrt(np.maximum(np.sum(traction**2, axis=0) - normal**2, 0.0))
    return normal, shear


def traction_summary(normal: np.ndarray, shear: np.ndarray) -> dict:
    """Figures of the traction magnitude |t| = sqrt(t_n^2 + t_s^2) and of the tensile
    normal traction [MPa] over all boundary faces."""
    magnitude = np.hypot(normal, shear)
    if magnitude.size == 0:
        return {}
    return {
        "gb_traction_max_mpa": float(magnitude.max() / 1e6),
        "gb_traction_p95_mpa": float(np.percentile(magnitude, 95) / 1e6),
        "gb_traction_mean_mpa": float(magnitude.mean() / 1e6),
        "gb_normal_traction_max_mpa": float(normal.max() / 1e6),
        "gb_shear_traction_max_mpa": float(shear.max() / 1e6),
        "gb_faces": int(magnitude.size),
    }
