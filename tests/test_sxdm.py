"""Synthetic SXDM: the forward model (simulate_frames) and the centroid reduction
(reduce_frames) recover fields planted in small synthetic voxel particles; frames
round-trip through HDF5; bad inputs give one-line errors; the CLI writes its files.

Each expected number comes from the planted field and the geometry of the scan, stated at
the test. The synthetic particles are spheres 24 voxels across (50 nm voxels) in the
result.nc voxel layout, c axis along z, so the default scan has the beam along -x, the
rocking axis along +y (maps' y) and the third axis t along -x."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import xarray as xr

from chemomech.cli.main import main
from chemomech.errors import ChemomechError, ConfigError, ReadError
from chemomech.observables.sxdm_scan import (
    read_sxdm_frames,
    reduce_frames,
    simulate_frames,
    sxdm,
    wavelength_angstrom,
    write_sxdm_frames,
)

D0 = 4.70  # Angstrom, planted (003) spacing
N = 24  # voxels across
VOXEL_NM = 50.0
RADIUS = 0.5 * N * VOXEL_NM * 1e-9  # m
TILT_EDGE = math.radians(0.5)  # planted tilts reach 0.5 deg at the particle's rim
SLOPE = TILT_EDGE / RADIUS  # rad/m


def sphere_dataset(strain=None, rotation=None, n: int = N, voxel_nm: float = VOXEL_NM) -> xr.Dataset:
    """A single-crystal voxel sphere (c = z) in the result.nc layout with d = D0 (1 +
    strain(x, y, z)) and lattice_rotation = rotation(x, y, z) (3 lab components, rad)."""
    h = voxel_nm * 1e-9
    coord = (np.arange(n) - 0.5 * (n - 1)) * h
    z, y, x = np.meshgrid(coord, coord, coord, indexing="ij")
    solid = x**2 + y**2 + z**2 <= (0.5 * n * h) ** 2
    eps = np.zeros_like(x) if strain is None else strain(x, y, z)
    omega = np.zeros((3, *x.shape)) if rotation is None else np.asarray(rotation(x, y, z), dtype=float) * np.ones((3, *x.shape))
    return xr.Dataset(
        {
            "d_spacing_003": (("snapshot", "z", "y", "x"), np.where(solid, D0 * (1 + eps), np.nan)[None].astype(np.float32)),
            "lattice_rotation": (("snapshot", "component", "z", "y", "x"), np.where(solid, omega, np.nan)[None].astype(np.float32)),
            "grain_orientation": (("grain", "lab", "crystal"), np.eye(3)[None]),
            "snapshot_voltage": (("snapshot",), [4.5]),
        },
        coords={"z": coord, "y": coord, "x": coord, "component": ["x", "y", "z"], "lab": ["x", "y", "z"],
                "crystal": ["a", "b", "c"], "grain": (("z", "y", "x"), np.where(solid, 0, -1).astype(np.int32))},
        attrs={"voxel_nm": voxel_nm, "material": "test"},
    )


def plane_fit(maps: xr.Dataset, name: str) -> tuple[float, float, float]:
    """Least-squares plane value = a X + b Y + c over the points with signal; (a, b, c)."""
    x, y = np.meshgrid(maps["x"].values, maps["y"].values)
    values = maps[name].transpose("y", "x").values
    ok = np.isfinite(values)
    design = np.stack([x[ok], y[ok], np.ones(ok.sum())], axis=1)
    a, b, c = np.linalg.lstsq(design, values[ok], rcond=None)[0]
    return float(a), float(b), float(c)


def test_uniform_strain_recovered_and_bragg_shifts():
    """Planted uniform strain eps = 2e-3 (d = D0 (1 + eps)) with reference_d_A = D0: the
    strain map is eps (within 5 %, issue 4), d_rel is 0; the rocking and 2-theta centroids
    sit at the Bragg angle of d, which the small-angle relations of the module docstring
    put at theta(D0) - eps tan theta and 2 theta(D0) - 2 eps tan theta (within 2 %: the
    linearisation's second-order error ~ eps)."""
    eps = 2e-3
    maps = sxdm(sphere_dataset(strain=lambda x, y, z: eps + 0 * x), reference_d_A=D0)
    strain = maps["strain"].values[np.isfinite(maps["strain"].values)]
    assert strain.size > 300  # the sphere's shadow, pi (0.6 um)^2, holds ~450 raster points of 50 nm (481 with signal)
    assert np.all(np.abs(strain - eps) < 0.05 * eps)
    assert np.nanmax(np.abs(maps["d_rel"].values)) < 1e-6
    assert maps["strain"].attrs["units"] == "1" and maps["tilt_y"].attrs["units"] == "deg"
    theta_ref = math.asin(wavelength_angstrom(12.0) / (2 * D0))
    rocking_shift = math.radians(float(maps["angle_centroid"].mean())) - theta_ref
    two_theta_shift = math.radians(float(maps["delta_centroid"].mean())) - 2 * theta_ref
    assert rocking_shift == pytest.approx(-eps * math.tan(theta_ref), rel=0.02)
    assert two_theta_shift == pytest.approx(-2 * eps * math.tan(theta_ref), rel=0.02)


def test_intensity_conservation():
    """With voxel width = raster step, the beam fractions a voxel receives summed over the
    raster points telescope to exactly 1 per axis (sum_j [Phi(u + h/2 - x_j) - Phi(u - h/2
    - x_j)] = 1 for x_j spaced h), so the summed total intensity is the number of solid
    voxels x path length h [um] when nothing is rocked out of the scan or off the ROI."""
    ds = sphere_dataset()
    maps = sxdm(ds, step_nm=VOXEL_NM)
    solid = int((ds["grain"] >= 0).sum())
    assert float(maps["total_intensity"].sum()) == pytest.approx(solid * VOXEL_NM * 1e-3, rel=1e-5)


@pytest.mark.parametrize("component", ["y", "x"])
def test_linear_tilt_along_rocking_axis_direction(component):
    """A lattice rotation about lab `component` growing linearly along lab y (the maps' y,
    along the rocking axis r = +y, no foreshortening): omega = SLOPE y e_component. The
    beam-averaged tilt about r is omega . r, about the third axis t omega . t (module
    docstring), so the maps are planes with y-slopes SLOPE (e_component . r) and SLOPE
    (e_component . t) (within 5 %, issue 4; the rest of the deviation is the partial
    volume at the rim) and no x-slope."""
    unit = {"x": np.array([1.0, 0, 0]), "y": np.array([0, 1.0, 0])}[component]
    maps = sxdm(sphere_dataset(rotation=lambda x, y, z: np.multiply.outer(unit, SLOPE * y)))
    r, t = maps.attrs["rocking_axis_lab"], maps.attrs["third_axis_lab"]
    for name, axis in (("tilt_y", r), ("tilt_z", t)):
        a, b, c = plane_fit(maps, name)
        expected = math.degrees(SLOPE) * float(unit @ axis)
        if expected == 0:
            assert np.nanmax(np.abs(maps[name].values)) < 1e-3 * math.degrees(TILT_EDGE)
        else:
            assert b == pytest.approx(expected, rel=0.05)
            assert abs(a) < 0.01 * abs(expected) and abs(c) < 1e-3 * math.degrees(TILT_EDGE)


def test_linear_tilt_along_scattering_vector_is_foreshortened():
    """omega = SLOPE z e_y (rotation about the rocking axis growing along c = z). The
    beam crosses the sphere along k (k . z = -sin theta_0); a linear field averaged over a
    chord of a sphere is its value at the chord's midpoint X e_x + Y e_y, whose z is
    X (e_x . z) = X cos theta_0. So tilt_y = SLOPE cos(theta_0) X (within 5 %), tilt_z = 0."""
    maps = sxdm(sphere_dataset(rotation=lambda x, y, z: np.multiply.outer(np.array([0, 1.0, 0]), SLOPE * z)))
    cos_theta = float(maps.attrs["raster_x_axis_lab"][2])
    assert cos_theta == pytest.approx(math.cos(math.radians(maps.attrs["two_theta_deg"] / 2)), rel=1e-12)
    a, b, _ = plane_fit(maps, "tilt_y")
    assert a == pytest.approx(math.degrees(SLOPE) * cos_theta, rel=0.05)
    assert abs(b) < 0.01 * abs(a)
    assert np.nanmax(np.abs(maps["tilt_z"].values)) < 1e-6


def test_strain_gradient_gives_d_rel_slope():
    """Planted d = D0 (1 + G z), G = 1e-2 / R (a 1 % change from centre to rim along c):
    d_rel = (d - dbar)/dbar ~ G X cos theta_0 (the chord-midpoint argument above; d_rel
    subtracts the mean, so the intercept is ~0): the x-slope has the sign of G and its
    size within 5 %, no y-slope, and tilts stay 0."""
    gradient = 1e-2 / RADIUS
    maps = sxdm(sphere_dataset(strain=lambda x, y, z: gradient * z))
    cos_theta = float(maps.attrs["raster_x_axis_lab"][2])
    a, b, c = plane_fit(maps, "d_rel")
    assert a > 0
    assert a == pytest.approx(gradient * cos_theta, rel=0.05)
    assert abs(b) < 0.01 * a and abs(c) < 1e-4
    assert np.nanmax(np.abs(maps["tilt_z"].values)) < 1e-6


def test_frames_round_trip_through_hdf5(tmp_path):
    """Frames written with write_sxdm_frames and read back with read_sxdm_frames reduce to
    identical maps (the same float32 numbers, the same geometry)."""
    ds = sphere_dataset(strain=lambda x, y, z: 5e-3 * z / RADIUS,
                        rotation=lambda x, y, z: np.stack([SLOPE * y, SLOPE * z, 0 * x]))
    frames, geometry = simulate_frames(ds, n_angles=11, detector_pixels=(16, 16))
    direct = reduce_frames(frames, reference_d_A=D0, **geometry)
    path = write_sxdm_frames(tmp_path / "frames.h5", frames, geometry)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    read, read_geometry = read_sxdm_frames(path, "/entry/data/frames")
    np.testing.assert_array_equal(read, frames)
    again = reduce_frames(read, reference_d_A=D0, **read_geometry)
    for name in direct.data_vars:
        np.testing.assert_array_equal(again[name].values, direct[name].values)
    np.testing.assert_array_equal(again["x"].values, direct["x"].values)
    assert read_geometry["reflection"] == "003"


def test_measured_frames_without_attributes_need_arguments(tmp_path):
    """A bare 5-D HDF5 array (as from a beamline) reduces once the geometry is given as
    arguments; without it the error names the missing attributes and arguments."""
    ds = sphere_dataset()
    frames, geometry = simulate_frames(ds, n_angles=7, detector_pixels=(8, 8))
    path = tmp_path / "bare.h5"
    with h5py.File(path, "w") as h5:
        h5["scan/frames"] = frames
    with pytest.raises(ConfigError, match="angles_deg.*two_theta_deg.*pixel_deg.*energy_keV"):
        read_sxdm_frames(path, "scan/frames")
    read, given = read_sxdm_frames(path, "scan/frames", angles_deg=geometry["angles_deg"],
                                   two_theta_deg=geometry["two_theta_deg"], pixel_deg=geometry["pixel_deg"],
                                   energy_keV=12.0, step_nm=50.0)
    maps = reduce_frames(read, **given)
    assert maps["x"].attrs["units"] == "m" and maps.sizes["x"] == frames.shape[2]
    with pytest.raises(ReadError, match="rocking angles"):
        read_sxdm_frames(path, "scan/frames", angles_deg=[1.0, 2.0, 3.0], two_theta_deg=12.0, pixel_deg=0.01,
                         energy_keV=12.0)
    # (first, last) is spread evenly over the frames
    _, spread = read_sxdm_frames(path, "scan/frames", angles_deg=[1.0, 2.0], two_theta_deg=12.0, pixel_deg=0.01,
                                 energy_keV=12.0)
    np.testing.assert_allclose(spread["angles_deg"], np.linspace(1.0, 2.0, frames.shape[0]))


def test_bad_inputs_raise_one_line_errors(tmp_path):
    """4-D frames, a missing dataset, an unknown reflection and a 1-D sphere run are user
    mistakes: ChemomechError subclasses with a one-line message naming the input."""
    path = tmp_path / "four.h5"
    with h5py.File(path, "w") as h5:
        h5["frames"] = np.zeros((3, 4, 5, 6), dtype=np.float32)
    with pytest.raises(ReadError, match="5-D"):
        read_sxdm_frames(path, "frames", angles_deg=[1, 2, 3], two_theta_deg=12.0, pixel_deg=0.01, energy_keV=12.0)
    with pytest.raises(ReadError, match="no dataset"):
        read_sxdm_frames(path, "/entry/data/frames")
    with pytest.raises(ConfigError, match="5-D"):
        reduce_frames(np.zeros((3, 4, 5, 6)), [1, 2, 3], 12.0, 0.01, 12.0)
    with pytest.raises(ConfigError, match="angles_deg has 2 values"):
        reduce_frames(np.zeros((3, 2, 2, 4, 4)), [1, 2], 12.0, 0.01, 12.0)
    ds = sphere_dataset(n=8)
    with pytest.raises(ConfigError, match="reflection '104'.*003"):
        sxdm(ds, reflection="104")
    with pytest.raises(ConfigError, match="snapshot 3"):
        sxdm(ds, snapshot=3)
    sphere = xr.Dataset({"x_li": (("snapshot", "r"), np.ones((2, 5)))}, coords={"r": np.arange(5.0)})
    with pytest.raises(ChemomechError, match="voxel run"):
        sxdm(sphere)
    for error in (ReadError, ConfigError):
        assert issubclass(error, ChemomechError)


@pytest.fixture(scope="module")
def tiny_runs(small_runs):
    """A real voxel run with mechanics (20 voxels across) and a 1-D sphere run, written as
    run directories (tests/conftest.py)."""
    return small_runs


@pytest.mark.slow
def test_cli_writes_maps_figure_and_frames(tiny_runs, tmp_path, capsys):
    """`chemomech sxdm RUN --frames F.h5` on a real run writes sxdm_<k>.nc (maps with
    units), sxdm_<k>.png and the 5-D frames; the frames re-reduce to the same maps; a second
    call refuses to overwrite without --force; a sphere-1d run is a one-line error."""
    run = tiny_runs["voxel"]
    frames_path = tmp_path / "frames.h5"
    out = tmp_path / "sxdm"
    assert main(["sxdm", str(run), "--frames", str(frames_path), "--n-angles", "11", "--out", str(out)]) == 0
    with xr.open_dataset(run / "result.nc", engine="h5netcdf") as result:
        snapshot = result.sizes["snapshot"] - 1  # the default, the last
    assert (out / f"sxdm_{snapshot}.png").stat().st_size > 10_000
    with xr.open_dataset(out / f"sxdm_{snapshot}.nc", engine="h5netcdf") as maps:
        maps = maps.load()
    assert {"d_rel", "tilt_y", "tilt_z", "total_intensity"} <= set(maps.data_vars)
    assert all("units" in maps[name].attrs for name in maps.variables)
    assert np.isfinite(maps["d_rel"].values).sum() > 50
    frames, geometry = read_sxdm_frames(frames_path)
    assert frames.ndim == 5 and frames.shape[0] == 11
    np.testing.assert_allclose(reduce_frames(frames, **geometry)["d_rel"].values, maps["d_rel"].values, equal_nan=True)
    printed = capsys.readouterr().out
    assert f"wrote {out / f'sxdm_{snapshot}.nc'}" in printed

    assert main(["sxdm", str(run), "--n-angles", "11", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["sxdm", str(run), "--n-angles", "11", "--out", str(out), "--force"]) == 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]

    assert main(["sxdm", str(tiny_runs["sphere"]), "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "voxel run" in err
    assert not (tmp_path / "none").exists()


def test_diffraction_angles_satisfy_the_laue_condition():
    """Independent vector check of the forward model's angles: for planes with random
    strain and rotation, turning the sample by alpha - theta_0 about the rocking axis puts
    Q on the Ewald sphere (|k_i + Q| = |k_i|), and k_f = k_i + Q leaves at the detector
    angles gamma (elevation towards r) and delta (in-plane angle from the beam) returned."""
    from scipy.spatial.transform import Rotation

    from chemomech.observables.sxdm_scan import diffraction_angles, scattering_geometry

    wavelength = wavelength_angstrom(12.0)
    theta0 = math.asin(wavelength / (2 * D0))
    geo = scattering_geometry(np.array([0.1, 0.2, 1.0]), theta0)
    n0, r, k = geo["scattering_vector"], geo["rocking_axis"], geo["beam_direction"]
    assert abs(k @ n0 + math.sin(theta0)) < 1e-12 and abs(k @ r) < 1e-12
    rng = np.random.default_rng(4)
    omega = rng.normal(0.0, 0.01, (20, 3))
    d = D0 * (1 + rng.normal(0.0, 0.01, 20))
    q_hat = Rotation.from_rotvec(omega).apply(np.tile(n0, (20, 1)))
    alpha, delta, gamma = diffraction_angles(q_hat, d, wavelength, n0, r)
    k_in = 2 * math.pi / wavelength * k
    for i in range(20):
        q = 2 * math.pi / d[i] * Rotation.from_rotvec((alpha[i] - theta0) * r).apply(q_hat[i])
        k_out = k_in + q
        assert np.linalg.norm(k_out) == pytest.approx(np.linalg.norm(k_in), rel=1e-12)
        u = k_out / np.linalg.norm(k_out)
        assert math.asin(u @ r) == pytest.approx(gamma[i], abs=1e-12)
        assert math.acos(u @ k / math.cos(gamma[i])) == pytest.approx(delta[i], abs=1e-12)
