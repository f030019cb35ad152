"""Particle geometries: the 1-D radial sphere mesh (voxel particles come later)."""

from chemomech.geometry.sphere import SphereMesh

__all__ = ["SphereMesh"]
