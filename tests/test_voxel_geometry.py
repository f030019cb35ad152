"""Voxel particle geometry: rotations, shapes, Voronoi polycrystals, faces, area weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from chemomech.geometry import (
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

angles = st.floats(-720.0, 720.0, allow_nan=False)
components = st.floats(-1e3, 1e3, allow_nan=False)


def assert_rotation(rot: np.ndarray) -> None:
    """R^T R = I and det R = +1 to round-off."""
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-12)


def solid_centres(particle_mask: np.ndarray, voxel_size: float) -> np.ndarray:
    """Lab coordinates (x, y, z) of the solid voxel centres [m], shape (N, 3)."""
    iz, iy, ix = np.nonzero(particle_mask)
    z, y, x = ((np.arange(n) - 0.5 * (n - 1)) * voxel_size for n in particle_mask.shape)
    return np.column_stack([x[ix], y[iy], z[iz]])


def box_faces_empty(particle_mask: np.ndarray) -> bool:
    """True if the outermost voxel layer on all six sides of the box is void."""
    m = particle_mask
    return not (m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any()
                or m[:, :, 0].any() or m[:, :, -1].any())


# --- rotations -------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.tuples(components, components, components).filter(lambda v: np.linalg.norm(v) > 1e-6))
def test_rotation_from_c_axis_is_a_rotation_with_c_along_the_vector(c_axis):
    rot = rotation_from_c_axis(c_axis)
    assert_rotation(rot)
    np.testing.assert_allclose(rot @ [0.0, 0.0, 1.0], np.array(c_axis) / np.linalg.norm(c_axis), atol=1e-12)


def test_rotation_from_c_axis_special_cases():
    np.testing.assert_allclose(rotation_from_c_axis([0, 0, 2.5]), np.eye(3), atol=1e-15)
    # c along x: e_y is the lab axis least aligned with c, so a = y and b = c x a = z
    np.testing.assert_allclose(rotation_from_c_axis([3, 0, 0]), [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-15)
    with pytest.raises(ValueError, match="c_axis"):
        rotation_from_c_axis([0.0, 0.0, 0.0])


@settings(max_examples=50, deadline=None)
@given(angles, angles, angles)
def test_rotation_from_euler_is_a_rotation(phi1, big_phi, phi2):
    assert_rotation(rotation_from_euler(phi1, big_phi, phi2))


def bunge_orientation_matrix(phi1: float, big_phi: float, phi2: float) -> np.ndarray:
    """Bunge's passive orientation matrix g (sample -> crystal), written out as in
    Bunge, Texture Analysis in Materials Science (1982), eq. 2.39."""
    c1, s1 = math.cos(math.radians(phi1)), math.sin(math.radians(phi1))
    c, s = math.cos(math.radians(big_phi)), math.sin(math.radians(big_phi))
    c2, s2 = math.cos(math.radians(phi2)), math.sin(math.radians(phi2))
    return np.array([
        [c1 * c2 - s1 * s2 * c, s1 * c2 + c1 * s2 * c, s2 * s],
        [-c1 * s2 - s1 * c2 * c, -s1 * s2 + c1 * c2 * c, c2 * s],
        [s1 * s, -c1 * s, c],
    ])


def test_rotation_from_euler_special_cases():
    np.testing.assert_allclose(rotation_from_euler(0, 0, 0), np.eye(3), atol=1e-15)
    # phi1 = 90: a quarter turn about z takes the a axis (x_c) to lab y
    np.testing.assert_allclose(rotation_from_euler(90, 0, 0) @ [1, 0, 0], [0, 1, 0], atol=1e-15)
    # Phi = 90 about x: the c axis goes to -y, the a axis stays along x
    rot = rotation_from_euler(0, 90, 0)
    np.testing.assert_allclose(rot @ [0, 0, 1], [0, -1, 0], atol=1e-15)
    np.testing.assert_allclose(rot @ [1, 0, 0], [1, 0, 0], atol=1e-15)
    # Phi = 0: phi1 and phi2 add up
    np.testing.assert_allclose(rotation_from_euler(25, 0, 35), rotation_from_euler(60, 0, 0), atol=1e-15)
    # the crystal-to-lab matrix is the transpose of Bunge's g
    np.testing.assert_allclose(rotation_from_euler(30, 50, 70), bunge_orientation_matrix(30, 50, 70).T, atol=1e-15)
    # angles broadcast
    assert rotation_from_euler([0, 10, 20], 5, 0).shape == (3, 3, 3)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_rotations_are_rotations(seed):
    rots = random_rotations(5, np.random.default_rng(seed))
    assert rots.shape == (5, 3, 3)
    for rot in rots:
        assert_rotation(rot)


def test_random_rotations_are_uniform_on_so3():
    """Haar measure: every matrix entry has mean 0 and variance 1/3; the c axis is uniform
    on the sphere, so its z component is uniform on [-1, 1]; the rotation angle w has the
    CDF (w - sin w)/pi. Fixed seed, so the outcome is deterministic; the thresholds are
    what a correct sampler passes with probability > 0.999 (mean: 4 standard errors;
    KS tests: p > 0.001)."""
    n = 20000
    rots = random_rotations(n, np.random.default_rng(12345))
    standard_error = math.sqrt(1.0 / 3.0 / n)
    assert np.abs(rots.mean(axis=0)).max() < 4.0 * standard_error
    assert stats.kstest(rots[:, 2, 2], stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3
    angle = np.arccos(np.clip((np.trace(rots, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0))
    assert stats.kstest(angle, lambda w: (w - np.sin(w)) / np.pi).pvalue > 1e-3


# --- shapes ----------------------------------------------------------------------------


def test_sphere_mask_box_rule():
    # R/h = 10 -> 2*10 covering voxels + 2 void layers; R/h = 10.2 -> 2*11 + 2
    assert sphere_mask(1.0e-6, 0.1e-6).shape == (22, 22, 22)
    assert sphere_mask(1.02e-6, 0.1e-6).shape == (24, 24, 24)
    for radius in (1.0e-6, 1.02e-6, 0.37e-6):
        assert box_faces_empty(sphere_mask(radius, 0.1e-6))


def test_sphere_volume_converges():
    """Counting voxel centres: the error comes from voxels cut by the surface, so
    |V_vox - V| <= A h / 2 = 1.5 V h / R, and it shrinks with resolution."""
    errors = []
    for cells_per_radius in (10, 20, 40):
        h = 1e-6 / cells_per_radius
        volume = np.count_nonzero(sphere_mask(1e-6, h)) * h**3
        error = abs(volume / (4.0 / 3.0 * math.pi * 1e-18) - 1.0)
        assert error <= 1.5 / cells_per_radius
        errors.append(error)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3  # R = 40 voxels


PLATELET_ROTATIONS = [np.eye(3), rotation_from_euler(30, 40, 50), rotation_from_c_axis([1, 2, 3])]


@pytest.mark.parametrize("aspect", [1.0, 3.0])
@pytest.mark.parametrize("rotation", PLATELET_ROTATIONS)
def test_platelet_volume_is_the_hexagonal_prism_volume(rotation, aspect):
    """V = 3 sqrt(3)/2 r^2 t. Sampling voxel centres moves each planar face by at most h/2
    (the worst case is a face parallel to the grid), so |V_vox - V| <= A h / 2 with A the
    prism's surface area. When every face is oblique to all three grid axes (the Euler
    rotation here) the errors largely cancel: < 1 % (observed < 0.1 %)."""
    radius, h = 1e-6, 0.05e-6  # r = 20 voxels
    thickness = 2.0 * radius / aspect
    exact = 1.5 * math.sqrt(3.0) * radius**2 * thickness
    area = 3.0 * math.sqrt(3.0) * radius**2 + 6.0 * radius * thickness
    mask = platelet_mask(radius, h, aspect, rotation)
    volume = np.count_nonzero(mask) * h**3
    assert abs(volume - exact) <= 0.5 * area * h
    if rotation is PLATELET_ROTATIONS[1]:
        assert abs(volume / exact - 1.0) < 0.01
    assert box_faces_empty(mask)


def test_platelet_faces_follow_the_rotated_crystal():
    """The basal faces are normal to the rotated c axis: the thinnest direction of the
    voxel cloud (smallest second moment) is R c, and the solid reaches t/2 along it.
    The hexagon's corners lie along the a axes (reach r) and its {100} faces across the
    a* directions (reach r sqrt(3)/2), within one voxel."""
    radius, h, aspect = 1e-6, 0.05e-6, 3.0
    rot = rotation_from_euler(20, 55, 10)
    points = solid_centres(platelet_mask(radius, h, aspect, rot), h)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(points.T))
    assert abs(eigenvectors[:, 0] @ rot[:, 2]) > 0.999
    assert np.abs(points @ rot[:, 2]).max() == pytest.approx(radius / aspect, abs=h)
    a_axis, a_star = rot @ [1.0, 0.0, 0.0], rot @ [math.cos(math.pi / 6), math.sin(math.pi / 6), 0.0]
    assert np.abs(points @ a_axis).max() == pytest.approx(radius, abs=h)
    assert np.abs(points @ a_star).max() == pytest.approx(radius * math.sqrt(3) / 2, abs=h)


def test_single_crystal():
    rot = rotation_from_c_axis([1, 1, 0])
    sphere = single_crystal("sphere", 0.5e-6, 0.1e-6, rot)
    assert sphere.n_grains == 1 and sphere.shape == (12, 12, 12)
    np.testing.assert_allclose(sphere.rotations[0], rot)
    assert set(np.unique(sphere.grain)) == {-1, 0}
    np.testing.assert_array_equal(sphere.mask, sphere_mask(0.5e-6, 0.1e-6))
    assert sphere.volume == pytest.approx(np.count_nonzero(sphere.mask) * 1e-21)
    z, y, x = sphere.coordinates
    np.testing.assert_allclose(x, (np.arange(12) - 5.5) * 0.1e-6)
    platelet = single_crystal("platelet", 0.5e-6, 0.1e-6, rot, aspect=2.0)
    np.testing.assert_array_equal(platelet.mask, platelet_mask(0.5e-6, 0.1e-6, 2.0, rot))
    with pytest.raises(ValueError, match="sphere.*platelet"):
        single_crystal("cube", 0.5e-6, 0.1e-6, rot)


def test_voxel_particle_validates_its_arrays():
    with pytest.raises(ValueError, match="grain indices"):
        VoxelParticle(1e-7, np.full((2, 2, 2), 1), np.eye(3)[None])
    with pytest.raises(ValueError, match="rotations"):
        VoxelParticle(1e-7, np.zeros((2, 2, 2)), np.eye(3))


# --- polycrystal -----------------------------------------------------------------------


def test_polycrystal_is_reproducible_and_has_the_expected_grains():
    radius, h, grain_size = 2e-6, 0.1e-6, 0.5e-6
    first = polycrystal(radius, h, grain_size, seed=7)
    again = polycrystal(radius, h, grain_size, seed=7)
    other = polycrystal(radius, h, grain_size, seed=8)
    np.testing.assert_array_equal(first.grain, again.grain)
    np.testing.assert_array_equal(first.rotations, again.rotations)
    assert not np.array_equal(first.grain, other.grain)
    np.testing.assert_array_equal(first.mask, sphere_mask(radius, h))

    seeds = round((4 / 3 * math.pi * radius**3) / (math.pi / 6 * grain_size**3))  # = 512
    # a seed loses all its voxels only when its Voronoi cell holds no voxel centre
    # (rare at ~65 voxels per grain): allow 5 %
    assert 0.95 * seeds <= first.n_grains <= seeds
    np.testing.assert_array_equal(np.unique(first.grain[first.mask]), np.arange(first.n_grains))
    for rot in first.rotations[:20]:
        assert_rotation(rot)


def test_polycrystal_grains_are_nearest_seed_regions():
    """Rebuild the seeds with the documented recipe and check the assignment by brute force."""
    radius, h, grain_size, seed = 1e-6, 0.1e-6, 0.5e-6, 3
    particle = polycrystal(radius, h, grain_size, seed)
    rng = np.random.default_rng(seed)
    n_seeds = round(8 * (radius / grain_size) ** 3)
    direction = rng.standard_normal((n_seeds, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    seeds = direction * (radius * rng.random(n_seeds) ** (1 / 3))[:, None]
    nearest = np.argmin(((solid_centres(particle.mask, h)[:, None, :] - seeds[None]) ** 2).sum(-1), axis=1)
    _, expected = np.unique(nearest, return_inverse=True)
    np.testing.assert_array_equal(particle.grain[particle.mask], expected)


# --- faces -----------------------------------------------------------------------------


def test_grain_boundary_faces_of_a_hand_made_grid():
    # flat index = 6 z + 3 y + x
    grain = np.array([[[0, 0, 1],
                       [0, 1, -1]],
                      [[0, 0, 0],
                       [-1, 1, 1]]])
    faces = grain_boundary_faces(grain)
    # along z: (0,0,2)|(1,0,2) = 1|0; along y: (0,0,1)|(0,1,1), (1,0,1)|(1,1,1),
    # (1,0,2)|(1,1,2); along x: (0,0,1)|(0,0,2), (0,1,0)|(0,1,1). Pairs with a void
    # voxel (-1) or with equal grains are not grain boundaries.
    np.testing.assert_array_equal(faces.axis, [0, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(faces.lower, [2, 1, 7, 8, 1, 3])
    np.testing.assert_array_equal(faces.upper, [8, 4, 10, 11, 2, 4])
    assert len(faces) == 6


def test_grain_boundary_faces_match_a_loop():
    grain = np.random.default_rng(0).integers(-1, 3, size=(4, 5, 6))
    faces = grain_boundary_faces(grain)
    expected = set()
    for index in np.ndindex(grain.shape):
        for a in range(3):
            other = list(index)
            other[a] += 1
            if other[a] < grain.shape[a]:
                g, k = grain[index], grain[tuple(other)]
                if g >= 0 and k >= 0 and g != k:
                    expected.add((np.ravel_multi_index(index, grain.shape),
                                  np.ravel_multi_index(other, grain.shape), a))
    assert set(zip(faces.lower.tolist(), faces.upper.tolist(), faces.axis.tolist())) == expected
    assert len(faces) == len(expected)


def test_surface_faces():
    single = np.zeros((3, 3, 3), dtype=bool)
    single[1, 1, 1] = True
    faces = surface_faces(single)
    np.testing.assert_array_equal(faces.cell, [13] * 6)
    np.testing.assert_array_equal(faces.direction, np.arange(6))

    mask = np.random.default_rng(1).random((4, 5, 6)) < 0.5
    steps = [(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)]
    expected = set()
    for index in zip(*np.nonzero(mask)):
        for d, step in enumerate(steps):
            other = np.add(index, step)
            inside = np.all(other >= 0) and np.all(other < mask.shape)
            if not inside or not mask[tuple(other)]:  # the box edge counts as void
                expected.add((np.ravel_multi_index(index, mask.shape), d))
    faces = surface_faces(mask)
    assert set(zip(faces.cell.tolist(), faces.direction.tolist())) == expected
    assert len(faces) == len(expected)


def test_surface_area_weights_recover_the_sphere_area():
    """R = 20 voxels: the raw staircase area is ~1.5 x 4 pi R^2 (mean of |n_x|+|n_y|+|n_z|
    over a sphere = 3/2); the weighted area is within 2 % of 4 pi R^2."""
    radius = 20
    mask = sphere_mask(radius, 1.0)
    faces = surface_faces(mask)
    area = 4.0 * math.pi * radius**2
    assert len(faces) / area == pytest.approx(1.5, rel=0.03)
    weights = surface_area_weights(mask, faces)
    assert weights.sum() / area == pytest.approx(1.0, rel=0.02)
    assert weights.min() >= 1 / math.sqrt(3) - 1e-12 and weights.max() <= 1 + 1e-12


def test_surface_normals_point_radially_on_a_sphere():
    mask = sphere_mask(20, 1.0)
    faces = surface_faces(mask)
    normals = surface_normals(mask, faces)
    centre = solid_centres(mask, 1.0)  # all solid voxels, in flat-index order
    flat = np.flatnonzero(mask)
    position = centre[np.searchsorted(flat, faces.cell)]
    position /= np.linalg.norm(position, axis=1, keepdims=True)
    assert (normals * position).sum(axis=1).min() > 0.98  # within ~11 degrees


def test_surface_area_weights_are_one_on_flat_cube_faces():
    """Away from the edges (farther than the Gaussian's reach, 4 sigma = 6 voxels, plus
    the 1-voxel difference stencil) the smoothed mask varies only across the face, so the
    normal is the face's axis and the weight is 1."""
    mask = np.zeros((30, 30, 30), dtype=bool)
    mask[5:25, 5:25, 5:25] = True
    faces = surface_faces(mask)
    weights = surface_area_weights(mask, faces, sigma=1.5)
    index = np.array(np.unravel_index(faces.cell, mask.shape)).T  # (n, 3) in z, y, x
    axis = faces.direction // 2
    tangential = np.ones(index.shape, dtype=bool)
    tangential[np.arange(len(axis)), axis] = False
    interior = np.all(~tangential | ((index >= 5 + 7) & (index < 25 - 7)), axis=1)
    assert interior.sum() == 6 * 6 * 6  # a 6 x 6 patch on each face
    np.testing.assert_allclose(weights[interior], 1.0, atol=1e-12)
    assert len(faces) == 6 * 20 * 20
