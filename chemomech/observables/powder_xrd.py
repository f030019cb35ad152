"""Synthetic operando powder XRD of a run (transmission, area detector, azimuthally
integrated), one pattern per snapshot.

Method. Every voxel (or radial shell of the 1-D sphere) is a small crystal with its local
hexagonal cell

    a = a(x) (1 + eps_a),   c = c(x) (1 + eps_c)

(a(x), c(x) the material's lattice functions of the local Li content x; eps_a, eps_c the
elastic normal strains along the crystal a and c axes where the run has them - voxel runs
with mechanics; they are taken as 0 where absent or NaN, e.g. sphere-1d runs, whose 1-D
mechanics has no crystal-axis strains). Each reflection hkl of the cell contributes the
integrated intensity

    I_hkl = V_voxel m_hkl |F_hkl(x)|^2 LP(2 theta_hkl)

at 2 theta_hkl = 2 asin(lambda / (2 d_hkl)), with the R-3m LiMO2 structure factor, the
powder multiplicity and the Lorentz-polarisation factor of crystallography.py. Solid voxels
have equal volumes; sphere shells are weighted by their exact volume (r_out^3 - r_in^3).
Voxels are not looped over in Python: a numba kernel deposits every (voxel, reflection)
onto a fine 2 theta grid per snapshot (linear "cloud-in-cell" split between the two nearest
grid points, which keeps the first moment exact, so no binning shift of the peaks), with
a(x), c(x) and m |F(x)|^2 read from tables on a fine x grid (4001 points, linear
interpolation; the form factors follow each x's own cell). Each reflection's histogram is
then convolved (FFT) with the instrument profile, a pseudo-Voigt of fixed mixing eta whose
FWHM follows Caglioti, Paoletti & Ricci, Nucl. Instrum. 3 (1958) 223:

    FWHM^2 = U tan^2 theta + V tan theta + W   [deg^2]

evaluated at the reflection's mean angle in that snapshot. Default U, V, W = 0.04, 0, 3.6e-4
deg^2: a FWHM of 0.019 deg at (003) rising to 0.023 deg at (113), representative of CeO2
(NIST SRM 674b) calibrations at high-energy beamlines with a flat-panel area detector ~1-1.5 m
from the sample (200 um pixels, ~0.008-0.011 deg per pixel; FWHM ~2-3 pixels, e.g. APS
11-ID-C/-B at 0.1173 / 0.2113 Angstrom); it is a default to replace with one's own CeO2 fit.
No sample size broadening is added: the width beyond the instrument comes from the
particle's own spread of lattice parameters.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numba import njit

from chemomech.errors import ConfigError
from chemomech.geometry.sphere import shell_volumes_from_centres
from chemomech.observables import crystallography as cr
from chemomech.io.results import is_voxel_run, run_material
from chemomech.observables.xrd_analysis import pseudo_voigt

DEFAULT_WAVELENGTH_A = 0.1173  # APS 11-ID-C, the study's operando XRD
DEFAULT_CAGLIOTI_DEG2 = (0.04, 0.0, 3.6e-4)  # U, V, W [deg^2], module docstring
DEFAULT_ETA = 0.5  # pseudo-Voigt Lorentzian fraction of the instrument profile
DEFAULT_STEP_DEG = 0.001
X_TABLE_POINTS = 4001
MARGIN_DEG = 0.15


def _flat_fields(ds: xr.Dataset, snapshots=None):
    """x, eps_a, eps_c as (snapshot, cells) arrays (views of the run's arrays where
    possible; eps None where the run has none), the indices of the solid cells and their
    volume fractions (sum 1). Voxel runs: the voxels with finite x in the first snapshot,
    equal volumes. sphere-1d: uniform cells with centres r, weights proportional to the
    exact shell volumes r_out^3 - r_in^3."""
    if "x_li" not in ds:
        raise ConfigError("the Dataset has no 'x_li' field; pass a run's result.nc or a cm.simulate result")
    index = slice(None) if snapshots is None else np.asarray(snapshots, dtype=int)

    def flat(name):
        values = ds[name].values
        values = values if snapshots is None else values[index]
        return np.ascontiguousarray(values.reshape(values.shape[0], -1))

    x = flat("x_li")
    if is_voxel_run(ds):
        eps_a = flat("elastic_strain_a") if "elastic_strain_a" in ds else None
        eps_c = flat("elastic_strain_c") if "elastic_strain_c" in ds else None
        cells = np.flatnonzero(np.isfinite(x[0]))
        weight = np.full(cells.size, 1.0 / max(cells.size, 1))
        return x, eps_a, eps_c, cells, weight
    r = ds["r"].values
    shell = shell_volumes_from_centres(r)  # uniform or graded radial mesh
    return x, None, None, np.arange(r.size), shell / shell.sum()


def voxel_states(ds: xr.Dataset, snapshots=None):
    """Per-cell inputs of the pattern from a run of either kind: (x, eps_a, eps_c, weight),
    x, eps_a, eps_c of shape (snapshot, n) for the n solid voxels or radial shells (strains
    0 where the run has none or NaN), weight (n,) the volume fractions (sum 1; voxels equal,
    shells by exact volume r_out^3 - r_in^3)."""
    x, eps_a, eps_c, cells, weight = _flat_fields(ds, snapshots)
    x = x[:, cells]
    strains = [np.zeros_like(x) if e is None else np.nan_to_num(e[:, cells], nan=0.0) for e in (eps_a, eps_c)]
    return x, strains[0], strains[1], weight


def caglioti_fwhm_deg(two_theta_deg, caglioti_deg2=DEFAULT_CAGLIOTI_DEG2):
    """Instrument FWHM [deg] = sqrt(U tan^2 theta + V tan theta + W), theta = 2theta/2."""
    u, v, w = caglioti_deg2
    t = np.tan(np.radians(np.asarray(two_theta_deg, dtype=float)) / 2.0)
    return np.sqrt(np.maximum(u * t * t + v * t + w, 1e-12))


@njit(cache=True, fastmath=True)
def _deposit(x, eps_a, eps_c, has_strain, cells, weight, table_a, table_c, table_f2, g_ab, g_c,
             wavelength, start_deg, step_deg, hist, mean_ac):
    """For every snapshot s and solid cell n = cells[i]: the local cell a = a(x)(1 + eps_a),
    c = c(x)(1 + eps_c) (strains 0 if has_strain is False or NaN), then for each reflection r
    hist[s, r, j] += weight_i m_r |F_r(x)|^2, split linearly between the grid points j, j+1
    around 2 theta_r (cloud-in-cell). mean_ac[s] accumulates the volume-mean a and c.
    Tables are on x = k / (nx - 1)."""
    n_snap = x.shape[0]
    n_refl = g_ab.shape[0]
    nx = table_a.shape[0]
    n_grid = hist.shape[2]
    scale = nx - 1
    rad2deg = 180.0 / np.pi
    for s in range(n_snap):
        for i in range(cells.shape[0]):
            n = cells[i]
            xv = x[s, n]
            if not np.isfinite(xv):
                continue
            u = min(max(xv, 0.0), 1.0) * scale
            k = min(int(u), nx - 2)
            f = u - k
            ea = 0.0
            ec = 0.0
            if has_strain:
                ea = eps_a[s, n]
                ec = eps_c[s, n]
                if not np.isfinite(ea):
                    ea = 0.0
                if not np.isfinite(ec):
                    ec = 0.0
            a = (table_a[k] + f * (table_a[k + 1] - table_a[k])) * (1.0 + ea)
            c = (table_c[k] + f * (table_c[k + 1] - table_c[k])) * (1.0 + ec)
            mean_ac[s, 0] += weight[i] * a
            mean_ac[s, 1] += weight[i] * c
            inv_a2 = 1.0 / (a * a)
            inv_c2 = 1.0 / (c * c)
            for r in range(n_refl):
                sin_theta = 0.5 * wavelength * np.sqrt(g_ab[r] * inv_a2 + g_c[r] * inv_c2)
                if sin_theta >= 1.0:
                    continue
                tt = 2.0 * np.arcsin(sin_theta) * rad2deg
                p = (tt - start_deg) / step_deg
                j = int(np.floor(p))
                if j < 0 or j >= n_grid - 1:
                    continue
                fr = p - j
                w = weight[i] * (table_f2[r, k] + f * (table_f2[r, k + 1] - table_f2[r, k]))
                hist[s, r, j] += w * (1.0 - fr)
                hist[s, r, j + 1] += w * fr


def _tables(material, wavelength_A, reflections):
    """a(x), c(x) [Angstrom] and m |F(x)|^2 [electrons^2] per reflection on x in [0, 1]."""
    x = np.linspace(0.0, 1.0, X_TABLE_POINTS)
    a, c = material.lattice_a(x), material.lattice_c(x)
    f2 = np.empty((len(reflections), x.size))
    for r, hkl in enumerate(reflections):
        coef_a, coef_b, coef_c = cr.structure_factor_coefficients(
            hkl, a, c, wavelength_A, material.formula, material.li_ni_disorder
        )
        f2[r] = cr.multiplicity(hkl) * (coef_a + coef_b * x + coef_c * x * x)
    return a, c, f2


def default_two_theta_grid(material, x_range, strain_ranges, wavelength_A, reflections, step_deg=DEFAULT_STEP_DEG):
    """2 theta grid [deg] covering every reflection for x in x_range and elastic strains
    (eps_a, eps_c) within strain_ranges, with a margin of 0.15 deg, at `step_deg`."""
    xs = np.linspace(x_range[0], x_range[1], 201)
    a, c = material.lattice_a(xs), material.lattice_c(xs)
    (ea_lo, ea_hi), (ec_lo, ec_hi) = strain_ranges
    a_range = (a.min() * (1 + ea_lo), a.max() * (1 + ea_hi))
    c_range = (c.min() * (1 + ec_lo), c.max() * (1 + ec_hi))
    angles = [cr.two_theta_deg(hkl, aa, cc, wavelength_A) for hkl in reflections for aa in a_range for cc in c_range]
    low = max(min(angles) - MARGIN_DEG, step_deg)
    high = max(angles) + MARGIN_DEG
    return np.arange(np.floor(low / step_deg) * step_deg, high + step_deg, step_deg)


def xrd(ds: xr.Dataset, wavelength_A: float = DEFAULT_WAVELENGTH_A, two_theta_deg=None,
        caglioti_deg2=DEFAULT_CAGLIOTI_DEG2, eta: float = DEFAULT_ETA, snapshots=None,
        material=None, reflections=cr.REFLECTIONS) -> xr.Dataset:
    """Synthetic powder pattern of every snapshot of run `ds` (module docstring).

    intensity(snapshot, two_theta) = sum_r [sum_n w_n m_r |F_r(x_n)|^2 delta(2theta -
    2theta_r,n)] LP(2theta) convolved with the pseudo-Voigt instrument profile
    [arbitrary units: electrons^2 per unit cell per degree, volume-fraction weighted].
    wavelength_A > 0 [Angstrom]; two_theta_deg: an evenly spaced grid [deg] or None for the
    default (0.001 deg steps over all reflections); caglioti_deg2 = (U, V, W) [deg^2];
    eta in [0, 1]; snapshots: indices or None (all)."""
    wavelength_A = float(wavelength_A)
    if not wavelength_A > 0:
        raise ConfigError(f"wavelength_A = {wavelength_A:g} must be positive (Angstrom)")
    if not 0.0 <= eta <= 1.0:
        raise ConfigError(f"eta = {eta:g} is out of range; allowed [0, 1]")
    if len(caglioti_deg2) != 3:
        raise ConfigError("caglioti_deg2 must be three numbers (U, V, W) in deg^2")
    material = run_material(ds) if material is None else material
    reflections = tuple(tuple(int(i) for i in hkl) for hkl in reflections)
    x, eps_a, eps_c, cells, weight = _flat_fields(ds, snapshots)
    has_strain = eps_a is not None and eps_c is not None
    if not has_strain:
        eps_a = eps_c = np.zeros((1, 1), dtype=x.dtype)
    if two_theta_deg is None:
        x_range = (float(np.nanmin(x)), float(np.nanmax(x)))
        strain_ranges = ((float(np.nanmin(eps_a)), float(np.nanmax(eps_a))),
                         (float(np.nanmin(eps_c)), float(np.nanmax(eps_c)))) if has_strain else ((0.0, 0.0), (0.0, 0.0))
        grid = default_two_theta_grid(material, x_range, strain_ranges, wavelength_A, reflections)
    else:
        grid = np.asarray(two_theta_deg, dtype=float)
        steps = np.diff(grid)
        if grid.ndim != 1 or grid.size < 3 or np.any(steps <= 0) or np.ptp(steps) > 1e-6 * steps.mean() + 1e-12:
            raise ConfigError("two_theta_deg must be an evenly spaced increasing grid of >= 3 angles [deg]")
    step = float(grid[1] - grid[0])
    table_a, table_c, table_f2 = _tables(material, wavelength_A, reflections)
    g_ab = np.array([4.0 / 3.0 * (h * h + h * k + k * k) for h, k, _ in reflections], dtype=float)
    g_c = np.array([float(l * l) for _, _, l in reflections])
    hist = np.zeros((x.shape[0], len(reflections), grid.size))
    mean_ac = np.zeros((x.shape[0], 2))
    _deposit(x, eps_a, eps_c, has_strain, cells.astype(np.int64), weight, table_a, table_c, table_f2, g_ab, g_c,
             wavelength_A, float(grid[0]), step, hist, mean_ac)
    hist *= cr.lorentz_polarisation(grid)[None, None, :] / step  # per degree

    # instrument profile: FWHM at each reflection's mean angle in each snapshot
    total = hist.sum(axis=2)
    mean_angle = np.where(total > 0, (hist * grid).sum(axis=2) / np.where(total > 0, total, 1.0), grid.mean())
    fwhm = caglioti_fwhm_deg(mean_angle, caglioti_deg2)
    n = grid.size
    n_fft = 2 * n
    offsets = np.fft.fftfreq(n_fft, d=1.0 / n_fft) * step  # 0, step, ..., -step
    profile = pseudo_voigt(offsets[None, None, :], 0.0, fwhm[:, :, None], eta) * step
    spectrum = np.fft.rfft(hist, n=n_fft, axis=2) * np.fft.rfft(profile, axis=2)
    pattern = np.fft.irfft(spectrum, n=n_fft, axis=2)[:, :, :n]
    intensity = pattern.sum(axis=1)
    reflection_area = total * step  # integrated intensity per reflection (with LP)

    index = np.arange(ds.sizes["snapshot"]) if snapshots is None else np.asarray(snapshots, dtype=int)
    coords = {"snapshot": index, "two_theta": ("two_theta", grid, {"units": "deg", "long_name": "2 theta"})}
    for name, units in (("snapshot_time", "s"), ("snapshot_soc", "-"), ("snapshot_voltage", "V")):
        if name in ds.variables:
            coords[name] = ("snapshot", np.asarray(ds[name].values)[index], {"units": units})
    labels = [cr.reflection_label(hkl) for hkl in reflections]
    coords["reflection"] = labels
    homogeneous = np.array([cr.two_theta_deg(hkl, material.a_ref, material.c_ref, wavelength_A) for hkl in reflections])
    lattice_a_mean, lattice_c_mean = mean_ac[:, 0], mean_ac[:, 1]
    data = {
        "intensity": (("snapshot", "two_theta"), intensity,
                      {"units": "arbitrary (electrons^2 per cell per deg)", "long_name": "diffracted intensity"}),
        "reflection_intensity": (("snapshot", "reflection"), reflection_area,
                                 {"units": "arbitrary (electrons^2 per cell)", "long_name": "integrated intensity m |F|^2 LP"}),
        "reflection_two_theta_mean": (("snapshot", "reflection"), mean_angle,
                                      {"units": "deg", "long_name": "intensity-weighted mean 2 theta"}),
        "reflection_two_theta_homogeneous": (("reflection",), homogeneous,
                                             {"units": "deg", "long_name": "2 theta of the pristine cell (a_ref, c_ref)"}),
        "reflection_multiplicity": (("reflection",), np.array([cr.multiplicity(h) for h in reflections]), {"units": "1"}),
        "instrument_fwhm": (("snapshot", "reflection"), fwhm, {"units": "deg", "long_name": "Caglioti FWHM"}),
        "lattice_a_mean": (("snapshot",), lattice_a_mean, {"units": "angstrom", "long_name": "volume-mean local a"}),
        "lattice_c_mean": (("snapshot",), lattice_c_mean, {"units": "angstrom", "long_name": "volume-mean local c"}),
    }
    attrs = {
        "title": f"synthetic operando powder XRD of {ds.attrs.get('title', 'a run')}",
        "material": material.name,
        "formula": material.formula,
        "wavelength_A": wavelength_A,
        "caglioti_U_deg2": float(caglioti_deg2[0]),
        "caglioti_V_deg2": float(caglioti_deg2[1]),
        "caglioti_W_deg2": float(caglioti_deg2[2]),
        "pseudo_voigt_eta": float(eta),
        "a_ref_A": float(material.a_ref),
        "c_ref_A": float(material.c_ref),
        "li_ni_disorder": float(material.li_ni_disorder),
        "oxygen_z": cr.OXYGEN_Z,
        "geometry": "transmission Debye-Scherrer, azimuthally integrated; LP = (1 + cos^2 2theta)/(2 sin^2 theta cos theta)",
        "cells": int(cells.size),
        "elastic_strain": "local elastic strains along a and c included" if has_strain else "no elastic strain in the run (taken as 0)",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
