"""Heterogeneity figures of one run at the end of its charge (the C-rate heterogeneity
study, validation/rate_heterogeneity.py), and the run configurations of that study.

Every figure is measured on a run as it is, with the package's own synthetic measurements;
nothing here is fitted to the study. Definitions (x: Li site fraction of Li_xMO2; all
statistics over the particle volume at the last snapshot, the end of the charge at 4.5 V,
unless said otherwise):

- soc_end: nominal SoC reached at 4.5 V, charge removed / capacity_nominal [-].
- x_mean, x_std, x_p5, x_p95: volume-weighted mean, standard deviation and 5th / 95th
  percentiles of x [-]. Voxel runs: the solid voxels, equal weights; sphere-1d runs: the
  radial cells weighted by their shell volumes (powder_xrd.voxel_states). A percentile is
  the smallest x whose cumulative volume fraction reaches q.
- fraction_beyond_91: volume fraction with x below x_91, the x of a uniform particle at
  91 % nominal SoC: SoC = (x_initial - x) Q_theoretical / Q_nominal (Material.soc_of_x),
  so x_91 = x_initial - 0.91 Q_nominal / Q_theoretical [-]. 91 % is the SoC NC91 reaches
  at C/10 (the study), i.e. "charged beyond what the whole particle reaches when slow".
- fwhm_003_deg: full width at half maximum of the synthetic (003) powder peak [deg
  2 theta, 0.1173 Angstrom]: the outermost half-maximum crossings of the profile above its
  window minimum, linearly interpolated (model-free; for a split peak it spans both parts).
- n_components, c_components_A, weights: the (003) deconvolution of
  xrd_analysis.deconvolve_003 (1-3 pseudo-Voigt components, count by BIC) in the (003)
  window of xrd_analysis.window_003, with the counting noise of a pattern of COUNTS_FOR_BIC
  counts at its strongest point (sigma = sqrt(counts), as `chemomech xrd`). Each component's
  lattice parameter c = 3 d_003 = 3 lambda / (2 sin theta) [Angstrom] (elastic strain
  included, as measured); weight = its share of the fitted (003) area [-] (its volume
  fraction when |F_003|^2 LP is the same for the components).
- split_onset_V, split_onset_soc: the voltage [V] and SoC of the first snapshot (in order)
  whose (003) peak needs more than one component; NaN if none does. Resolution: the
  snapshot spacing (output.snapshots evenly in charge).
- sxdm_d_rel_std_pct, sxdm_tilt_y_std_deg, sxdm_tilt_z_std_deg: standard deviations over
  the scan points of the SXDM centroid maps (sxdm_scan.sxdm: (003), 30 nm beam, 50 nm
  steps, 2 deg rocking, 12 keV) of d_rel = d/mean(d) - 1 [% ] and of the two tilts [deg];
  voxel runs only (NaN for sphere-1d).
- xanes_white_line_std_eV: standard deviation of the fitted Ni K-edge white-line energy
  over the TXM voxels (txm_xanes.xanes: 40 nm voxels, spectra fitted, noise 0) [eV].
"""

from __future__ import annotations

import inspect
import math

import numpy as np

WAVELENGTH_A = 0.1173  # the study's operando XRD (APS 11-ID-C) [Angstrom]
COUNTS_FOR_BIC = 1e5  # counts at the strongest point, for the BIC noise level (as `chemomech xrd`)
SOC_THRESHOLD = 0.91  # NC91's SoC at 4.5 V at C/10 (the study)
XANES_VOXEL_NM = 40.0  # TXM voxel of the study [nm]
OPTIONS = ("baseline", "stress_assisted_diffusion", "slab_spacing_diffusivity", "phase_separation", "all")
COUPLINGS = OPTIONS[1:4]  # the [physics] switches; "all" is the three together
PLATELET_ASPECT = 3.0  # width across corners / thickness, as runs/platelet.toml


# ---------------------------------------------------------------------------------------
# run configurations
# ---------------------------------------------------------------------------------------
def physics_table(option: str) -> dict:
    """The [physics] table of a study option: {} for the baseline (the Fickian model), one
    switch on, or all three for "all"."""
    if option == "baseline":
        return {}
    if option == "all":
        return {name: True for name in COUPLINGS}
    if option in COUPLINGS:
        return {option: True}
    raise ValueError(f"unknown option {option!r}; allowed: {', '.join(OPTIONS)}")


def platelet_radius_um(sphere_radius_um: float, aspect: float = PLATELET_ASPECT) -> float:
    """Circumradius R_p [um] of the hexagonal platelet (particle.shape = "platelet") with the
    volume of a sphere of radius R [um]. Platelet: hexagon of circumradius R_p (area
    3 sqrt(3)/2 R_p^2), thickness t = 2 R_p / aspect, volume 3 sqrt(3) R_p^3 / aspect;
    equal to 4/3 pi R^3 for R_p = (4 pi aspect / (9 sqrt(3)))^(1/3) R."""
    return (4.0 * math.pi * aspect / (9.0 * math.sqrt(3.0))) ** (1.0 / 3.0) * sphere_radius_um


def run_config(material: str, c_rate: float, option: str = "baseline", shape: str = "sphere",
               radius_um: float = 2.0, voxel_nm: float = 50.0, cells: int | None = None,
               aspect: float = PLATELET_ASPECT, snapshots: int = 20, v_max: float = 4.5,
               surface_cell_nm: float | None = None) -> dict:
    """Run configuration of one study row: a single crystal (shape "sphere" of radius
    radius_um, or the equal-volume "platelet" of `aspect`, c axis along z) on voxel_nm
    voxels, or - with `cells` - the 1-D sphere of radius_um on that many radial cells
    (graded to an outermost cell surface_cell_nm wide when given, geometry.sphere);
    constant-current charge at c_rate [1/h] to v_max [V]; `snapshots` field snapshots
    evenly in charge (mechanics on for voxel runs)."""
    protocol = {"kind": "cc-charge", "c_rate": float(c_rate), "v_max": float(v_max)}
    if cells is not None:
        particle = {"geometry": "sphere-1d", "radius_um": float(radius_um), "cells": int(cells)}
        if surface_cell_nm:
            particle["surface_cell_nm"] = float(surface_cell_nm)
        output = {"snapshots": int(snapshots)}
    else:
        particle = {"geometry": "single-crystal", "shape": shape, "voxel_nm": float(voxel_nm), "c_axis": [0.0, 0.0, 1.0]}
        if shape == "platelet":
            particle.update(radius_um=platelet_radius_um(radius_um, aspect), aspect=float(aspect))
        else:
            particle["radius_um"] = float(radius_um)
        output = {"snapshots": int(snapshots), "mechanics": True}
    config = {"material": material, "particle": particle, "protocol": protocol, "output": output}
    physics = physics_table(option)
    if physics:
        config["physics"] = physics
    return config


def option_unavailable(option: str, material: str, geometry: str) -> str | None:
    """Why `option` cannot run yet (a reason, without the "not available: " prefix), or None.

    Checked before running, because a transport function that takes no `physics` argument
    would otherwise run the Fickian model under the option's name: the transport entry
    point of the geometry (run_voxels / run_sphere) must accept `physics`, and the
    material must carry the option's table ([slab_spacing] for slab_spacing_diffusivity,
    [phase_separation] for phase_separation)."""
    if option == "baseline":
        return None
    from chemomech.materials.material import load_material

    if geometry == "sphere-1d":
        from chemomech.transport.sphere_transport import run_sphere as entry
    else:
        from chemomech.transport.voxel_transport import run_voxels as entry
    if "physics" not in inspect.signature(entry).parameters:
        return f"{entry.__module__}.{entry.__name__} takes no physics argument (the coupling is not implemented there yet)"
    switched = COUPLINGS if option == "all" else (option,)
    mat = load_material(material)
    if "slab_spacing_diffusivity" in switched and mat.li_slab_height_angstrom is None:
        return f"{mat.name} has no [slab_spacing] table"
    if "phase_separation" in switched and getattr(mat, "gap_barrier_j_mol", None) is None:
        return f"{mat.name} has no [phase_separation] table"
    return None


# ---------------------------------------------------------------------------------------
# Li distribution
# ---------------------------------------------------------------------------------------
def x_at_soc(material, soc: float) -> float:
    """x of a uniform particle at nominal SoC `soc`: the inverse of Material.soc_of_x,
    x = x_initial - soc Q_nominal / Q_theoretical [-]."""
    return float(material.x_initial - soc * material.capacity_nominal / material.capacity_theoretical)


def weighted_percentile(values, weights, q: float) -> float:
    """The smallest value whose cumulative weight fraction reaches q/100 (q in [0, 100]):
    the lower (inverted-CDF) percentile of a weighted sample. NaN values are dropped."""
    values = np.asarray(values, dtype=float).ravel()
    weights = np.asarray(weights, dtype=float).ravel()
    keep = np.isfinite(values)
    values, weights = values[keep], weights[keep]
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    index = int(np.searchsorted(cumulative, q / 100.0 - 1e-12, side="left"))
    return float(values[order][min(index, values.size - 1)])


def x_statistics(x, weights, x_threshold: float) -> dict:
    """Volume statistics of the Li fraction x (cells with volume weights; module docstring):
    x_mean, x_std, x_p5, x_p95 [-] and fraction_beyond_91 = volume fraction with
    x < x_threshold [-]."""
    x = np.asarray(x, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    keep = np.isfinite(x)
    x, w = x[keep], w[keep] / w[keep].sum()
    mean = float(w @ x)
    return {
        "x_mean": mean,
        "x_std": float(np.sqrt(w @ (x - mean) ** 2)),
        "x_p5": weighted_percentile(x, w, 5.0),
        "x_p95": weighted_percentile(x, w, 95.0),
        "fraction_beyond_91": float(w[x < x_threshold].sum()),
    }


def snapshot_x_statistics(ds, snapshot: int = -1, material=None) -> dict:
    """x_statistics of one snapshot of a run (voxel or sphere-1d), with x_threshold = x_91."""
    from chemomech.io.results import run_material, snapshot_index
    from chemomech.observables.powder_xrd import voxel_states

    material = run_material(ds) if material is None else material
    index = snapshot_index(ds, snapshot)
    x, _, _, weight = voxel_states(ds, [index])
    return x_statistics(x[0], weight, x_at_soc(material, SOC_THRESHOLD))


# ---------------------------------------------------------------------------------------
# (003) peak
# ---------------------------------------------------------------------------------------
def c_of_two_theta(two_theta_deg, wavelength_A: float = WAVELENGTH_A):
    """Lattice parameter c = 3 d_003 = 3 lambda / (2 sin(2theta / 2)) [Angstrom] of an (003)
    peak at two_theta_deg [deg]."""
    theta = np.radians(np.asarray(two_theta_deg, dtype=float) / 2.0)
    return 3.0 * wavelength_A / (2.0 * np.sin(theta))


def half_maximum_width(two_theta, intensity) -> float:
    """FWHM [deg] of a peak profile: distance between the outermost crossings of half the
    height above the profile minimum, linearly interpolated between grid points."""
    t = np.asarray(two_theta, dtype=float)
    y = np.asarray(intensity, dtype=float)
    base = float(y.min())
    half = base + 0.5 * (float(y.max()) - base)
    above = np.flatnonzero(y >= half)
    first, last = int(above[0]), int(above[-1])
    left = t[first] if first == 0 else np.interp(half, [y[first - 1], y[first]], [t[first - 1], t[first]])
    right = t[last] if last == t.size - 1 else np.interp(half, [y[last + 1], y[last]], [t[last + 1], t[last]])
    return float(right - left)


def peak_003_window(pattern, material, wavelength_A: float = WAVELENGTH_A):
    """(two_theta [deg], intensity (snapshot, two_theta)) of a synthetic pattern Dataset
    (powder_xrd.xrd) inside the (003) window of xrd_analysis.window_003."""
    from chemomech.observables.xrd_analysis import window_003

    low, high = window_003(wavelength_A, material.c_ref)
    t = pattern["two_theta"].values
    inside = (t >= low) & (t <= high)
    return t[inside], np.atleast_2d(pattern["intensity"].values)[:, inside]


def deconvolve_peak(two_theta, intensity, counts: float = COUNTS_FOR_BIC):
    """deconvolve_003 of one (003) window with the counting noise of a measurement of
    `counts` counts at its strongest point: sigma = sqrt(max(I s, 1)) / s, s = counts /
    max(I) (as `chemomech xrd`; the synthetic pattern itself is noise-free)."""
    from chemomech.observables.xrd_analysis import deconvolve_003

    y = np.asarray(intensity, dtype=float)
    scale = counts / max(float(y.max()), 1e-300)
    sigma = np.sqrt(np.maximum(y * scale, 1.0)) / scale
    return deconvolve_003(two_theta, y, max_components=3, sigma=sigma)


def peak_003_figures(two_theta, intensity, wavelength_A: float = WAVELENGTH_A, counts: float = COUNTS_FOR_BIC):
    """FWHM and deconvolution of one (003) window: (dict of figures, Deconvolution)."""
    dec = deconvolve_peak(two_theta, intensity, counts)
    weights = dec.area / dec.area.sum() if dec.area.sum() > 0 else np.full(dec.n_components, np.nan)
    figures = {
        "fwhm_003_deg": half_maximum_width(two_theta, intensity),
        "n_components": int(dec.n_components),
        "c_components_A": [float(c) for c in c_of_two_theta(dec.position, wavelength_A)],
        "weights": [float(w) for w in weights],
    }
    return figures, dec


def split_onset(ds, two_theta, intensity, counts: float = COUNTS_FOR_BIC, last_count: int | None = None) -> dict:
    """Scan the snapshots in order; the first whose (003) peak needs more than one
    component gives split_onset_V [V], split_onset_soc [-] and split_onset_snapshot (NaN /
    -1 if none). last_count: the component count of the last snapshot when already known
    (not fitted again)."""
    last = intensity.shape[0] - 1
    for k in range(last + 1):
        if k == last and last_count is not None:
            count = last_count
        else:
            count = deconvolve_peak(two_theta, intensity[k], counts).n_components
        if count > 1:
            return {"split_onset_V": float(ds["snapshot_voltage"].values[k]),
                    "split_onset_soc": float(ds["snapshot_soc"].values[k]), "split_onset_snapshot": k}
    return {"split_onset_V": math.nan, "split_onset_soc": math.nan, "split_onset_snapshot": -1}


# ---------------------------------------------------------------------------------------
# SXDM and TXM-XANES
# ---------------------------------------------------------------------------------------
def sxdm_spreads(ds, snapshot: int = -1, beam_nm: float = 30.0, step_nm: float = 50.0) -> dict:
    """Standard deviations over the scan points of the SXDM maps of one snapshot
    (sxdm_scan.sxdm, (003), 2 deg rocking, 12 keV; beam_nm and step_nm default to the
    study's 30 nm beam and 50 nm raster): d_rel [%], tilt_y, tilt_z [deg]; NaN for a run
    without voxels."""
    from chemomech.io.results import is_voxel_run

    if not is_voxel_run(ds):
        return {"sxdm_d_rel_std_pct": math.nan, "sxdm_tilt_y_std_deg": math.nan, "sxdm_tilt_z_std_deg": math.nan}
    from chemomech.observables.sxdm_scan import sxdm

    maps = sxdm(ds, snapshot=snapshot, beam_nm=beam_nm, step_nm=step_nm)
    return {"sxdm_d_rel_std_pct": 100.0 * float(np.nanstd(maps["d_rel"].values)),
            "sxdm_tilt_y_std_deg": float(np.nanstd(maps["tilt_y"].values)),
            "sxdm_tilt_z_std_deg": float(np.nanstd(maps["tilt_z"].values))}


def xanes_spread(ds, snapshot: int = -1, voxel_nm: float = XANES_VOXEL_NM, noise: float = 0.0) -> float:
    """Standard deviation of the fitted white-line energy over the TXM voxels [eV]
    (txm_xanes.xanes, spectra fitted, Gaussian noise `noise` x edge step)."""
    from chemomech.observables.txm_xanes import xanes

    return float(xanes(ds, snapshot=snapshot, voxel_nm=voxel_nm, spectra=True, noise=noise)["white_line_std"])


# ---------------------------------------------------------------------------------------
# all figures of a run
# ---------------------------------------------------------------------------------------
FIGURES = ("soc_end", "voltage_end", "x_mean", "x_std", "x_p5", "x_p95", "fraction_beyond_91",
           "fwhm_003_deg", "n_components", "c_components_A", "weights", "split_onset_V", "split_onset_soc",
           "sxdm_d_rel_std_pct", "sxdm_tilt_y_std_deg", "sxdm_tilt_z_std_deg", "xanes_white_line_std_eV")


def heterogeneity_figures(ds, sxdm: bool = True, xanes: bool = True, onset: bool = True,
                          counts: float = COUNTS_FOR_BIC, sxdm_beam_nm: float = 30.0, sxdm_step_nm: float = 50.0,
                          xanes_voxel_nm: float = XANES_VOXEL_NM) -> tuple[dict, dict]:
    """Every figure of the module docstring for run `ds` (a cm.simulate result or an opened
    result.nc), at its last snapshot; sxdm / xanes / onset False skip those figures (NaN),
    sxdm_beam_nm, sxdm_step_nm and xanes_voxel_nm set the measurement grids (the defaults
    are the study's; coarser ones only for quick development runs). Returns (figures, peak) with figures the dict of
    FIGURES (NaN for what was switched off or does not apply) and peak the (003) window of
    the last snapshot for plotting: two_theta [deg], intensity, and the fitted components
    ("components": list of arrays over two_theta, "background": array)."""
    from chemomech.io.results import run_material
    from chemomech.observables.powder_xrd import xrd

    material = run_material(ds)
    last = ds.sizes["snapshot"] - 1
    figures = {"soc_end": float(ds["snapshot_soc"].values[last]),
               "voltage_end": float(ds["snapshot_voltage"].values[last])}
    figures.update(snapshot_x_statistics(ds, last, material))
    pattern = xrd(ds, wavelength_A=WAVELENGTH_A, material=material)
    t, y = peak_003_window(pattern, material)
    peak_figures, dec = peak_003_figures(t, y[last], counts=counts)
    figures.update(peak_figures)
    if onset:
        onset_figures = split_onset(ds, t, y, counts, last_count=dec.n_components)
        figures.update({k: v for k, v in onset_figures.items() if k != "split_onset_snapshot"})
    else:
        figures.update(split_onset_V=math.nan, split_onset_soc=math.nan)
    figures.update(sxdm_spreads(ds, last, sxdm_beam_nm, sxdm_step_nm) if sxdm else
                   {"sxdm_d_rel_std_pct": math.nan, "sxdm_tilt_y_std_deg": math.nan, "sxdm_tilt_z_std_deg": math.nan})
    figures["xanes_white_line_std_eV"] = xanes_spread(ds, last, xanes_voxel_nm) if xanes else math.nan
    peak = {"two_theta": t, "intensity": y[last],
            "components": [dec.component(i) for i in range(dec.n_components)],
            "background": dec.background_curve()}
    return figures, peak
