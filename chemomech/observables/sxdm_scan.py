"""Synthetic SXDM (nano-focused scanning X-ray diffraction microscopy) of a voxel particle,
and the centroid reduction that turns frames - simulated or measured - into maps of
relative d-spacing, two lattice tilts and diffracted intensity.

The measurement (NSLS-II 3-ID HXN; Nazaretski et al., J. Synchrotron Rad. 24, 1113 (2017);
Holt et al., Annu. Rev. Mater. Res. 43, 183 (2013)): a focused beam (~30 nm) is rastered
over the particle in ~50 nm steps; at each raster point the sample is rocked over ~2 deg
around one Bragg reflection and a 2-D detector records a frame. The data are 5-D,
frames[angle, y, x, det_row, det_col].

Geometry (all vectors in the particle's lab frame x, y, z of result.nc)
-----------------------------------------------------------------------
n0  unit nominal scattering vector: the crystal c axis for (00l) reflections, taken from
    grain_orientation of the particle (a polycrystal: the largest grain), sign chosen so
    that its largest lab component is positive.
b   the beam's lab axis: the lab axis most nearly perpendicular to n0 (first of x, y, z on a
    tie) unless beam_axis is given; its sign is chosen so that r below points along +lab.
r   rocking axis = b x n0 / |b x n0|, perpendicular to the beam and to n0 (the vertical
    axis of a horizontal-scattering diffractometer; the maps' "y").
t   third axis = n0 x r, perpendicular to n0 in the scattering plane (along the beam
    within theta_B; beamline "z").
k   the beam direction in the sample at the nominal Bragg setting: the sample is turned
    about r so that n0 meets the beam at the Bragg angle theta_0,
        k = cos(theta_0) t - sin(theta_0) n0     (k . n0 = -sin theta_0),
    theta_0 = asin(lambda / (2 dbar)) for the particle-mean d-spacing dbar.
Raster: beam lines along k through the points X e_x + Y e_y, e_y = r, e_x = the unit
    component of n0 perpendicular to k (in the scattering plane; e_x . n0 = cos theta_0).
    A voxel at position p is seen at raster coordinates (p . e_x, p . e_y); the maps are
    the particle projected along the real beam direction (a field linear along n0 shows a
    slope cos^2(theta_0) smaller in x for a sphere: the chord's midpoint lies at X e_x).
    The rocking (+- rocking_deg/2) would move a voxel 1.6 um from the rotation axis by
    <= 28 nm; measured maps are registered to remove this, and the model leaves it out.

Forward model (per voxel v, then summed)
----------------------------------------
Local scattering vector Q_v = (2 pi / d_v) R(omega_v) c_v, with d_v the local d-spacing
(d_spacing_003 x 3/l for (00l)), c_v the local c axis (sign nearest n0) and R(omega_v) the
rotation by the local lattice rotation vector omega_v (lattice_rotation, Rodrigues
formula). Its direction is described by two angles (exact, then small-angle):
    psi_v = atan2(Q.(r x n0), Q.n0)  ~ omega_v . r   (tilt about the rocking axis, "tilt Y")
    chi_v = asin(Q_hat . r)           ~ omega_v . t   (tilt about the third axis,  "tilt Z")
and its length by the Bragg angle theta_v = asin(lambda / (2 d_v)) ~ theta_0 - eps tan theta_0,
eps = d_v/dbar - 1. With the sample at rocking angle alpha (the incidence angle of the
nominal planes; alpha = theta_0 at the nominal setting) the voxel diffracts when
    cos(chi_v) sin(alpha + psi_v) = sin(theta_v)
    =>  alpha_v = asin(sin theta_v / cos chi_v) - psi_v  ~ theta_0 - eps tan theta_0 - psi_v,
i.e. rocking offset = -(tilt about the rocking axis) + Bragg-angle shift (-eps tan theta).
The diffracted beam k_f = k_i + Q_v leaves at 2 theta_v from the beam; on the detector
(row = in-plane angle delta, the 2-theta direction; column = out-of-plane angle gamma,
towards +r), from |k_f| = |k_i| and k_f . r = Q_v . r:
    sin(gamma_v) = 2 sin(theta_v) sin(chi_v)             ~ 2 sin(theta_0) chi_v
    cos(delta_v) = cos(2 theta_v) / cos(gamma_v)          delta_v ~ 2 theta_0 - 2 eps tan theta_0.
Intensity of voxel v at raster point (X_j, Y_k): beam fraction x path length,
    I = f(X_v - X_j) f(Y_v - Y_k) h,
    f(u) = 0.5 [erf((u + h/2)/(sqrt2 s)) - erf((u - h/2)/(sqrt2 s))],   s = beam_nm / 2.3548,
the Gaussian beam profile (FWHM beam_nm) integrated over the voxel's width h (the voxel's
shadow taken as an h x h square, exact for a beam along a cube axis), in units of
"beam fraction x um" (the integrated intensity of a 1 um path through a perfect crystal
under the full beam is 1; the structure factor is the same for every voxel and left out).
Deposition: along the rocking axis a Gaussian of FWHM rocking_resolution_deg (default
0.25 deg: the ~4 mrad convergence of a ~30 nm zone-plate/MLL focus at 12 keV, NA ~
1.22 lambda / (2 x 30 nm) ~ 2.5 mrad) sampled at the scan angles; on the detector bilinear
over the four nearest pixels (centroid-preserving). Intensity rocked or scattered outside
the scan/ROI is lost, as in a measurement. Detector ROI: detector_pixels (rows, cols)
centred on (2 theta_0, gamma = 0); pixel_deg (row, col) given, or (default) chosen so the ROI
spans the particle's spread of delta and gamma (99.8 % of the diffracting voxels, +15 %),
never finer than a Merlin pixel (55 um) at 0.5 m, 0.0063 deg. The default energy 12 keV is
in HXN's working range (6-25 keV) above the Ni K edge (8.33 keV).

Reduction (reduce_frames; the same for measured frames)
-------------------------------------------------------
The centre-of-mass (centroid) analysis of SXDM / K-map data (Chahine et al., J. Appl.
Cryst. 47, 762 (2014); Holt et al. 2013; the HXN practice): per raster point the
intensity-weighted means <alpha>, <delta>, <gamma> over the rocking curve and the detector
ROI, then the model's relations inverted exactly,
    2 theta = acos(cos<delta> cos<gamma>),  d = lambda / (2 sin theta),
    chi     = asin(sin<gamma> / (2 sin theta)),                     tilt_z = chi
    psi     = asin(sin theta / cos chi) - <alpha>,                  tilt_y = psi
(the first-order q-space centroid: strain from the centroid along Q, the two tilts from
the perpendicular components). d_rel = (d - dbar)/dbar with dbar the intensity-weighted
mean over the points with signal; strain = (d - reference_d_A)/reference_d_A when a
reference is given; NaN where the total intensity is below threshold x its maximum.
tilt_y is the right-handed rotation of the lattice about the rocking axis r ("twisting"),
tilt_z the right-handed rotation about the third axis t ("bending"), both in degrees;
on a simulated particle they equal omega . r and omega . t averaged along the beam.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr

from chemomech.errors import ChemomechError, ConfigError, ReadError
from chemomech.observables.crystallography import HC_KEV_ANGSTROM
from chemomech.io.results import require_voxel_run, snapshot_index

ENERGY_KEV_DEFAULT = 12.0  # HXN working range 6-25 keV (Nazaretski et al. 2017)
N_ANGLES_DEFAULT = 21  # 0.1 deg steps over the default 2 deg rocking range
DETECTOR_PIXELS_DEFAULT = (32, 32)  # detector ROI (rows, cols) kept per frame
ROCKING_RESOLUTION_DEG = 0.25  # FWHM, the convergence of a ~30 nm focus (module docstring)
MIN_PIXEL_DEG = math.degrees(55e-6 / 0.5)  # a 55 um Merlin pixel at 0.5 m
THRESHOLD_DEFAULT = 0.05  # fraction of the maximum total intensity below which maps are NaN
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
MAX_FRAMES_BYTES = 4e9
REFLECTIONS = {"003": 3, "006": 6, "009": 9, "0012": 12}  # (00l): l
FRAMES_DATASET = "/entry/data/frames"
GEOMETRY_REQUIRED = ("angles_deg", "two_theta_deg", "pixel_deg", "energy_keV")


def wavelength_angstrom(energy_keV: float) -> float:
    """lambda [Angstrom] = h c / E = 12.3984 / E[keV]."""
    return HC_KEV_ANGSTROM / energy_keV


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=float)
    return vector / np.linalg.norm(vector)


def _positive(vector: np.ndarray) -> np.ndarray:
    """The vector with the sign that makes its largest component positive."""
    return vector if vector[np.argmax(np.abs(vector))] > 0 else -vector


def _check_voxel_run(ds: xr.Dataset) -> None:
    require_voxel_run(ds, "SXDM needs")
    for name in ("d_spacing_003", "lattice_rotation", "grain", "grain_orientation"):
        if name not in ds:
            raise ChemomechError(f"SXDM needs the variable {name!r} of a voxel run; the Dataset has none")


def _rodrigues(vectors: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate each row of vectors (N, 3) by the rotation vector rotation (N, 3) [rad]:
    v cos a + (u x v) sin a + u (u . v)(1 - cos a), a = |rotation|, u = rotation / a."""
    angle = np.linalg.norm(rotation, axis=1)
    safe = np.where(angle > 0, angle, 1.0)
    axis = rotation / safe[:, None]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return (vectors * cos + np.cross(axis, vectors) * sin
            + axis * np.sum(axis * vectors, axis=1)[:, None] * (1.0 - cos))


def scattering_geometry(c_axis: np.ndarray, theta0: float, beam_axis: str | None = None) -> dict:
    """Unit vectors of the measurement (module docstring) for nominal scattering vector
    c_axis and Bragg angle theta0 [rad]: scattering_vector n0, beam_axis b, rocking_axis r,
    third_axis t, beam_direction k and raster axes e_x, e_y (lab x, y, z components)."""
    n0 = _positive(_unit(c_axis))
    if beam_axis is None:
        index = int(np.argmin(np.abs(n0)))
    elif beam_axis in ("x", "y", "z"):
        index = "xyz".index(beam_axis)
    else:
        raise ConfigError(f"beam_axis {beam_axis!r} not allowed; allowed: x, y, z (or None for automatic)")
    b = np.eye(3)[index]
    cross = np.cross(b, n0)
    if np.linalg.norm(cross) < 0.2:
        raise ConfigError(f"beam_axis {'xyz'[index]!r} is within 12 deg of the scattering vector {np.round(n0, 3).tolist()}; "
                          "choose an axis nearly perpendicular to it")
    r = _unit(cross)
    if r[np.argmax(np.abs(r))] < 0:  # beam travels along -b so that r points along +lab
        b, r = -b, -r
    t = np.cross(n0, r)
    k = math.cos(theta0) * t - math.sin(theta0) * n0
    e_x = _unit(n0 - np.dot(n0, k) * k)
    return {"scattering_vector": n0 + 0.0, "beam_axis": b + 0.0, "rocking_axis": r + 0.0, "third_axis": t + 0.0,
            "beam_direction": k + 0.0, "raster_x_axis": e_x + 0.0, "raster_y_axis": r + 0.0}


def diffraction_angles(q_hat: np.ndarray, d_A: np.ndarray, wavelength_A: float, n0: np.ndarray,
                       rocking_axis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rocking angle alpha, in-plane detector angle delta and out-of-plane detector angle
    gamma [rad] at which planes of spacing d_A [Angstrom] with unit normal q_hat (N, 3)
    diffract (module docstring, exact forms):
        psi = atan2(q.(r x n0), q.n0),  chi = asin(q.r),  theta = asin(lambda / 2d)
        alpha = asin(sin theta / cos chi) - psi
        gamma = asin(2 sin theta sin chi),  delta = acos(cos 2theta / cos gamma)
    NaN where the reflection cannot be reached (|sin| >= 1)."""
    r = rocking_axis
    psi = np.arctan2(q_hat @ np.cross(r, n0), q_hat @ n0)
    chi = np.arcsin(np.clip(q_hat @ r, -1.0, 1.0))
    theta = np.arcsin(wavelength_A / (2.0 * np.asarray(d_A, dtype=float)))
    sin_in = np.sin(theta) / np.cos(chi)
    sin_gamma = 2.0 * np.sin(theta) * np.sin(chi)
    ok = (np.abs(sin_in) < 1.0) & (np.abs(sin_gamma) < 1.0)
    alpha = np.where(ok, np.arcsin(np.clip(sin_in, -1, 1)) - psi, np.nan)
    gamma = np.where(ok, np.arcsin(np.clip(sin_gamma, -1, 1)), np.nan)
    delta = np.where(ok, np.arccos(np.clip(np.cos(2.0 * theta) / np.cos(gamma), -1, 1)), np.nan)
    return alpha, delta, gamma


def _voxel_fields(ds: xr.Dataset, snapshot: int, reflection: str):
    """Positions (N, 3) [m], d-spacings [Angstrom], c axes (N, 3), rotation vectors (N, 3),
    grain ids of the solid voxels of one snapshot, and the largest grain's id."""
    if reflection not in REFLECTIONS:
        raise ConfigError(f"reflection {reflection!r} not supported; supported: {', '.join(REFLECTIONS)} "
                          "(the (00l) reflections)")
    snap = ds.isel(snapshot=snapshot)
    d003 = snap["d_spacing_003"].transpose("z", "y", "x").values
    grain = ds["grain"].transpose("z", "y", "x").values
    solid = np.isfinite(d003) & (grain >= 0)
    if not solid.any():
        raise ChemomechError("the run has no d_spacing_003 values (mechanics off?); "
                             "SXDM needs a voxel run with output.mechanics = true")
    rotation = snap["lattice_rotation"].transpose("component", "z", "y", "x").values[:, solid].T.astype(float)
    rotation = np.nan_to_num(rotation)
    zz, yy, xx = np.meshgrid(ds["z"].values, ds["y"].values, ds["x"].values, indexing="ij")
    positions = np.stack([xx[solid], yy[solid], zz[solid]], axis=1)
    orientation = ds["grain_orientation"].transpose("grain", "lab", "crystal").values  # (G, lab, crystal)
    grains = grain[solid]
    d = d003[solid].astype(float) * 3.0 / REFLECTIONS[reflection]
    main_grain = int(np.argmax(np.bincount(grains)))
    return positions, d, orientation[:, :, 2], rotation, grains, main_grain


def simulate_frames(ds: xr.Dataset, snapshot: int = -1, reflection: str = "003", beam_nm: float = 30.0,
                    step_nm: float = 50.0, rocking_deg: float = 2.0, n_angles: int = N_ANGLES_DEFAULT,
                    energy_keV: float = ENERGY_KEV_DEFAULT, detector_pixels: tuple[int, int] = DETECTOR_PIXELS_DEFAULT,
                    pixel_deg: tuple[float, float] | None = None, beam_axis: str | None = None,
                    rocking_resolution_deg: float = ROCKING_RESOLUTION_DEG) -> tuple[np.ndarray, dict]:
    """Simulated SXDM frames of snapshot `snapshot` of voxel run `ds` (module docstring):
    returns frames[angle, y, x, det_row, det_col] (float32, "beam fraction x um") and the
    geometry dict (angles_deg: absolute rocking angles, two_theta_deg: 2-theta at the ROI
    centre, pixel_deg (row, col), energy_keV, wavelength_A, y_m and x_m: raster coordinates
    [m], step_nm, beam_nm, reflection, unit vectors of the geometry, ...)."""
    from chemomech.observables.sxdm_kernels import deposit_frames

    _check_voxel_run(ds)
    snapshot = snapshot_index(ds, snapshot)
    for name, value in (("beam_nm", beam_nm), ("step_nm", step_nm), ("rocking_deg", rocking_deg),
                        ("energy_keV", energy_keV), ("rocking_resolution_deg", rocking_resolution_deg)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} = {value!r}: must be a positive number")
    if not (isinstance(n_angles, (int, np.integer)) and n_angles >= 3):
        raise ConfigError(f"n_angles = {n_angles!r}: must be an integer >= 3")
    rows, cols = (int(n) for n in detector_pixels)
    if rows < 2 or cols < 2:
        raise ConfigError(f"detector_pixels = {detector_pixels!r}: need at least 2 x 2 pixels")

    positions, d, c_axes, rotation, grains, main_grain = _voxel_fields(ds, snapshot, reflection)
    wavelength = wavelength_angstrom(energy_keV)
    d_mean = float(np.mean(d[grains == main_grain]))
    if wavelength / (2.0 * d_mean) >= 1.0:
        raise ConfigError(f"energy_keV = {energy_keV}: too low to reach the ({reflection}) reflection (d = {d_mean:.3f} A)")
    theta0 = math.asin(wavelength / (2.0 * d_mean))
    geo = scattering_geometry(c_axes[main_grain], theta0, beam_axis)
    n0, r = geo["scattering_vector"], geo["rocking_axis"]

    # local scattering-vector direction: the grain's c axis (sign nearest n0) turned by omega
    c_local = c_axes[grains]
    c_local = c_local * np.where(c_local @ n0 < 0, -1.0, 1.0)[:, None]
    alpha, delta, gamma = diffraction_angles(_rodrigues(c_local, rotation), d, wavelength, n0, r)
    ok = np.isfinite(alpha)

    angles = math.degrees(theta0) + np.linspace(-rocking_deg / 2.0, rocking_deg / 2.0, n_angles)
    angle_step = float(angles[1] - angles[0])
    two_theta_deg = 2.0 * math.degrees(theta0)
    delta_off = np.degrees(delta) - two_theta_deg
    gamma_deg = np.degrees(gamma)
    in_scan = ok & (np.degrees(alpha) > angles[0] - angle_step) & (np.degrees(alpha) < angles[-1] + angle_step)
    if pixel_deg is None:  # ROI spanning the chosen grain's diffracting voxels
        spread = in_scan & (grains == main_grain)
        pixel_deg = tuple(
            max(2.3 * float(np.percentile(np.abs(values[spread]), 99.8)) / (n - 1) if spread.any() else 0.0, MIN_PIXEL_DEG)
            for values, n in ((delta_off, rows), (gamma_deg, cols))
        )
    pixel_deg = tuple(float(p) for p in pixel_deg)
    if len(pixel_deg) != 2 or min(pixel_deg) <= 0:
        raise ConfigError(f"pixel_deg = {pixel_deg!r}: need two positive angles (row, col) in degrees")

    # raster grid over the particle's shadow plus one beam FWHM and half a voxel each side
    voxel = float(ds.attrs.get("voxel_nm", 1e9 * abs(float(ds["x"][1] - ds["x"][0])))) * 1e-9
    raster_x = positions @ geo["raster_x_axis"]
    raster_y = positions @ geo["raster_y_axis"]
    step = step_nm * 1e-9
    margin = 0.5 * voxel + beam_nm * 1e-9

    def grid(values):
        low, high = float(values.min()) - margin, float(values.max()) + margin
        count = int(math.ceil((high - low) / step)) + 1
        return 0.5 * (low + high) + step * (np.arange(count) - 0.5 * (count - 1))

    x_m, y_m = grid(raster_x), grid(raster_y)
    shape = (n_angles, y_m.size, x_m.size, rows, cols)
    size = 4.0 * np.prod(shape, dtype=float)
    if size > MAX_FRAMES_BYTES:
        raise ConfigError(f"the frames would take {size / 1e9:.1f} GB ({shape}); "
                          "use fewer angles, a smaller detector ROI or larger steps")
    frames = np.zeros(shape, dtype=np.float32)
    keep = np.flatnonzero(in_scan)
    deposit_frames(
        frames, raster_x[keep], raster_y[keep], np.full(keep.size, voxel * 1e6),
        (np.degrees(alpha[keep]) - angles[0]) / angle_step,
        delta_off[keep] / pixel_deg[0] + 0.5 * (rows - 1),
        gamma_deg[keep] / pixel_deg[1] + 0.5 * (cols - 1),
        float(x_m[0]), step, float(y_m[0]), step, 0.5 * voxel, beam_nm * 1e-9 / FWHM_PER_SIGMA,
        rocking_resolution_deg / FWHM_PER_SIGMA / angle_step,
    )
    geometry = {
        "angles_deg": angles,
        "two_theta_deg": two_theta_deg,
        "pixel_deg": np.array(pixel_deg),
        "energy_keV": float(energy_keV),
        "wavelength_A": wavelength,
        "y_m": y_m,
        "x_m": x_m,
        "step_nm": float(step_nm),
        "beam_nm": float(beam_nm),
        "reflection": reflection,
        "rocking_resolution_deg": float(rocking_resolution_deg),
        "snapshot": snapshot,
        "d_mean_A": d_mean,
        "intensity_units": "beam fraction x um",
        **{f"{name}_lab": vector for name, vector in geo.items()},
    }
    return frames, geometry


def reduce_frames(frames: np.ndarray, angles_deg, two_theta_deg: float, pixel_deg, energy_keV: float,
                  y_m=None, x_m=None, reference_d_A: float | None = None,
                  threshold: float = THRESHOLD_DEFAULT, **metadata) -> xr.Dataset:
    """Centroid reduction (module docstring) of frames[angle, y, x, det_row, det_col] to
    maps over (y, x): total_intensity, angle/delta/gamma centroids [deg], d_spacing
    [Angstrom], d_rel [-], strain [-] (with reference_d_A), tilt_y and tilt_z [deg].
    angles_deg: rocking angle of each frame (incidence angle of the nominal planes);
    two_theta_deg: 2-theta at the centre of the detector ROI (rows increase with 2-theta,
    columns with the out-of-plane angle); pixel_deg (row, col); energy_keV; y_m, x_m the
    raster coordinates [m] (default: step_nm from metadata x index). Other keyword
    arguments (a geometry dict's extra entries) are kept as attrs."""
    frames = np.asarray(frames)
    if frames.ndim != 5:
        raise ConfigError(f"SXDM frames must be 5-D [angle, y, x, det_row, det_col]; "
                          f"got {frames.ndim}-D with shape {frames.shape}")
    n_angles, ny, nx, rows, cols = frames.shape
    angles_deg = np.atleast_1d(np.asarray(angles_deg, dtype=float))
    if angles_deg.size != n_angles:
        raise ConfigError(f"angles_deg has {angles_deg.size} values but the frames have {n_angles} angles")
    pixel_deg = np.atleast_1d(np.asarray(pixel_deg, dtype=float))
    if pixel_deg.size == 1:
        pixel_deg = np.repeat(pixel_deg, 2)
    if pixel_deg.size != 2 or np.any(pixel_deg <= 0):
        raise ConfigError(f"pixel_deg = {pixel_deg.tolist()}: need one or two positive angles (row, col) in degrees")
    if not (0 <= threshold < 1):
        raise ConfigError(f"threshold = {threshold}: must be in [0, 1)")
    step_nm = metadata.get("step_nm")
    coords = {}
    for name, value, count in (("y", y_m, ny), ("x", x_m, nx)):
        if value is None:
            value = np.arange(count) * (float(step_nm) * 1e-9 if step_nm is not None else 1.0)
        value = np.atleast_1d(np.asarray(value, dtype=float))
        if value.size != count:
            raise ConfigError(f"{name}_m has {value.size} values but the frames have {count} raster points along {name}")
        coords[name] = value
    wavelength = wavelength_angstrom(float(energy_keV))

    rocking_profile = frames.sum(axis=(3, 4), dtype=np.float64)  # (angle, y, x)
    row_profile = frames.sum(axis=(0, 4), dtype=np.float64)  # (y, x, row)
    col_profile = frames.sum(axis=(0, 3), dtype=np.float64)  # (y, x, col)
    total = rocking_profile.sum(axis=0)
    peak = float(total.max()) if total.size else 0.0
    signal = total > max(threshold * peak, 0.0) if peak > 0 else np.zeros_like(total, dtype=bool)
    safe = np.where(signal, total, 1.0)
    row_offsets = (np.arange(rows) - 0.5 * (rows - 1)) * pixel_deg[0]
    col_offsets = (np.arange(cols) - 0.5 * (cols - 1)) * pixel_deg[1]
    alpha = np.tensordot(angles_deg, rocking_profile, axes=(0, 0)) / safe
    delta = float(two_theta_deg) + row_profile @ row_offsets / safe
    gamma = col_profile @ col_offsets / safe

    two_theta = np.arccos(np.cos(np.radians(delta)) * np.cos(np.radians(gamma)))
    theta = 0.5 * two_theta
    d = wavelength / (2.0 * np.sin(theta))
    chi = np.arcsin(np.clip(np.sin(np.radians(gamma)) / (2.0 * np.sin(theta)), -1, 1))
    psi = np.arcsin(np.clip(np.sin(theta) / np.cos(chi), -1, 1)) - np.radians(alpha)

    def masked(values):
        return np.where(signal, values, np.nan)

    d_mean = float(np.sum(total[signal] * d[signal]) / np.sum(total[signal])) if signal.any() else np.nan
    variables = {
        "total_intensity": (total, metadata.get("intensity_units", "counts"), "diffracted intensity summed over angles and ROI"),
        "angle_centroid": (masked(alpha), "deg", "rocking-curve centroid <alpha>"),
        "delta_centroid": (masked(delta), "deg", "in-plane (2-theta) detector centroid <delta>"),
        "gamma_centroid": (masked(gamma), "deg", "out-of-plane detector centroid <gamma>"),
        "d_spacing": (masked(d), "angstrom", "d-spacing from the Bragg law at the 2-theta centroid"),
        "d_rel": (masked((d - d_mean) / d_mean), "1", "(d - mean d)/mean d, intensity-weighted mean over the points with signal"),
        "tilt_y": (masked(np.degrees(psi)), "deg", "lattice tilt about the rocking axis (twisting)"),
        "tilt_z": (masked(np.degrees(chi)), "deg", "lattice tilt about the third axis, perpendicular to Q in the scattering plane (bending)"),
    }
    if reference_d_A is not None:
        if not (isinstance(reference_d_A, (int, float)) and reference_d_A > 0):
            raise ConfigError(f"reference_d_A = {reference_d_A!r}: must be a positive d-spacing in Angstrom")
        variables["strain"] = (masked((d - reference_d_A) / reference_d_A), "1", f"(d - {reference_d_A:g} A)/{reference_d_A:g} A")
    maps = xr.Dataset(
        {name: (("y", "x"), np.asarray(values, dtype=float), {"units": units, "long_name": long_name})
         for name, (values, units, long_name) in variables.items()},
        coords={
            "y": ("y", coords["y"], {"units": "m" if y_m is not None or step_nm is not None else "1",
                                     "long_name": "raster coordinate along the rocking axis"}),
            "x": ("x", coords["x"], {"units": "m" if x_m is not None or step_nm is not None else "1",
                                     "long_name": "raster coordinate perpendicular to beam and rocking axis"}),
        },
    )
    attrs = {"title": "SXDM centroid maps", "two_theta_deg": float(two_theta_deg), "energy_keV": float(energy_keV),
             "wavelength_A": wavelength, "pixel_deg": pixel_deg, "angles_deg": angles_deg,
             "d_mean_A": d_mean, "threshold": float(threshold)}
    if reference_d_A is not None:
        attrs["reference_d_A"] = float(reference_d_A)
    for key, value in metadata.items():
        if key not in attrs and key not in ("y_m", "x_m"):
            attrs[key] = value
    maps.attrs = attrs
    return maps


def sxdm(ds: xr.Dataset, snapshot: int = -1, reflection: str = "003", beam_nm: float = 30.0,
         step_nm: float = 50.0, rocking_deg: float = 2.0, reference_d_A: float | None = None,
         threshold: float = THRESHOLD_DEFAULT, **options) -> xr.Dataset:
    """SXDM maps of one snapshot of a voxel run: simulate_frames (options: n_angles,
    energy_keV, detector_pixels, pixel_deg, beam_axis, rocking_resolution_deg) then
    reduce_frames. Coordinates y, x in m; maps as in reduce_frames; attrs hold the
    geometry, the frames' shape and size."""
    frames, geometry = simulate_frames(ds, snapshot, reflection, beam_nm, step_nm, rocking_deg, **options)
    return simulated_maps(ds, frames, geometry, reference_d_A, threshold)


def simulated_maps(ds: xr.Dataset, frames: np.ndarray, geometry: dict, reference_d_A: float | None = None,
                   threshold: float = THRESHOLD_DEFAULT) -> xr.Dataset:
    """reduce_frames of the frames simulate_frames made from run `ds`, with the frames'
    shape and size and the snapshot's SoC, voltage and time and the material as attrs."""
    maps = reduce_frames(frames, reference_d_A=reference_d_A, threshold=threshold, **geometry)
    maps.attrs["frames_shape"] = np.array(frames.shape)
    maps.attrs["frames_bytes"] = int(frames.nbytes)
    index = geometry["snapshot"]
    for name in ("snapshot_soc", "snapshot_voltage", "snapshot_time"):
        if name in ds:
            maps.attrs[name] = float(ds[name].isel(snapshot=index))
    if "material" in ds.attrs:
        maps.attrs["material"] = ds.attrs["material"]
    return maps


def write_sxdm_frames(path: str | Path, frames: np.ndarray, geometry: dict, dataset: str = FRAMES_DATASET) -> Path:
    """Write frames[angle, y, x, det_row, det_col] to HDF5 `path` at `dataset` with the
    geometry entries as the dataset's attributes (gzip-compressed; written to a temporary
    file beside `path`, then renamed)."""
    import h5py

    from chemomech.io.atomic import write_file_atomic

    frames = np.asarray(frames)
    if frames.ndim != 5:
        raise ConfigError(f"SXDM frames must be 5-D [angle, y, x, det_row, det_col]; got shape {frames.shape}")
    def write(temporary):
        with h5py.File(temporary, "w") as h5:
            item = h5.create_dataset(dataset, data=frames, compression="gzip", compression_opts=1,
                                     chunks=(1, 1, *frames.shape[2:]))
            item.attrs["layout"] = "angle, y, x, det_row, det_col"
            for key, value in geometry.items():
                item.attrs[key] = value

    return write_file_atomic(path, write)


def read_sxdm_frames(path: str | Path, dataset: str = FRAMES_DATASET, angles_deg=None, two_theta_deg=None,
                     pixel_deg=None, energy_keV=None, step_nm=None) -> tuple[np.ndarray, dict]:
    """Measured (or saved) frames[angle, y, x, det_row, det_col] from HDF5 and their
    geometry: each of angles_deg, two_theta_deg, pixel_deg, energy_keV, step_nm from the
    argument when given, otherwise from the dataset's attribute of that name (angles_deg
    given as (first, last) is spread evenly over the frames); y_m, x_m
    from the attributes when present. Returns (frames, geometry) for
    reduce_frames(frames, **geometry)."""
    from chemomech.io.readers import read_hdf5_dataset

    frames, attrs = read_hdf5_dataset(path, dataset)
    if frames.ndim != 5:
        raise ReadError(f"{path}: dataset {dataset!r} has shape {frames.shape}; "
                        "SXDM frames must be 5-D [angle, y, x, det_row, det_col]")
    given = {"angles_deg": angles_deg, "two_theta_deg": two_theta_deg, "pixel_deg": pixel_deg,
             "energy_keV": energy_keV, "step_nm": step_nm}
    geometry = {key: value for key, value in attrs.items() if key != "layout"}
    geometry.update({key: value for key, value in given.items() if value is not None})
    missing = [key for key in GEOMETRY_REQUIRED if key not in geometry]
    if missing:
        raise ConfigError(f"{path}: dataset {dataset!r} has no attribute {', '.join(missing)}; pass "
                          + ", ".join(f"{key}=..." for key in missing))
    angles = np.atleast_1d(np.asarray(geometry["angles_deg"], dtype=float))
    if angles_deg is not None and angles.size == 2 and frames.shape[0] != 2:
        angles = np.linspace(angles[0], angles[1], frames.shape[0])  # (first, last) given
    if angles.size != frames.shape[0]:
        raise ReadError(f"{path}: {angles.size} rocking angles for {frames.shape[0]} frames along the angle axis of {dataset!r}")
    for key, axis in (("y_m", 1), ("x_m", 2)):
        if key in geometry and np.size(geometry[key]) != frames.shape[axis]:
            raise ReadError(f"{path}: attribute {key} has {np.size(geometry[key])} values for {frames.shape[axis]} raster points")
    geometry["angles_deg"] = angles
    return frames.astype(np.float32, copy=False), geometry
