"""Particle geometries: the 1-D radial sphere mesh and voxel particles (single crystals,
Voronoi polycrystals)."""

from chemomech.geometry.sphere import SphereMesh
from chemomech.geometry.voxel import (
    GrainBoundaryFaces,
    SurfaceFaces,
    VoxelParticle,
    grain_boundary_faces,
    platelet_mask,
    polycrystal,
    random_rotations,
    rotation_from_c_axis,
    rotation_from_euler,
    single_crystal,
    sphere_mask,
    surface_area_weights,
    surface_faces,
    surface_normals,
)

__all__ = [
    "GrainBoundaryFaces",
    "SphereMesh",
    "SurfaceFaces",
    "VoxelParticle",
    "grain_boundary_faces",
    "platelet_mask",
    "polycrystal",
    "random_rotations",
    "rotation_from_c_axis",
    "rotation_from_euler",
    "single_crystal",
    "sphere_mask",
    "surface_area_weights",
    "surface_faces",
    "surface_normals",
]
