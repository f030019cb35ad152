"""Simulated vs measured: the figures of merit `chemomech compare` writes.

- Distributions (SXDM map values, XANES white-line energies): mean, standard deviation and
  percentiles of each; between the two, the first Wasserstein (earth mover's) distance
  W1 = integral |F_sim(v) - F_meas(v)| dv (same units as the values) and the two-sample
  Kolmogorov-Smirnov statistic D = max_v |F_sim(v) - F_meas(v)| with its p-value
  (scipy.stats.wasserstein_distance, scipy.stats.ks_2samp).
- Powder patterns: peak positions and widths of chosen reflections in each measured and
  simulated pattern, and the weighted-profile R factor after the best scale factor and
  constant background (xrd_analysis.rwp_after_scale; the synthetic pattern has no
  background, a measured one always has some).

A measured pattern series is matched to the simulation by state of charge: pattern i of n
is taken at SoC_i (given, e.g. from the user's electrochemistry log) or, by default, the
series is taken as spanning the simulated charge evenly (first pattern at the start, last
at the end); the simulated pattern is that of the snapshot nearest in SoC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.stats

from chemomech.errors import ChemomechError
from chemomech.io.results import snapshot_index

PERCENTILES = (5, 25, 50, 75, 95)


def distribution_statistics(values: np.ndarray) -> dict:
    """Count, mean, standard deviation and percentiles (5, 25, 50, 75, 95) of the finite
    entries of `values` (same units as values)."""
    finite = np.asarray(values, dtype=float).ravel()
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        raise ChemomechError("no finite values to compare (all NaN)")
    stats = {"count": int(finite.size), "mean": float(finite.mean()), "std": float(finite.std())}
    for q, value in zip(PERCENTILES, np.percentile(finite, PERCENTILES)):
        stats[f"p{q}"] = float(value)
    return stats


def compare_distributions(simulated: np.ndarray, measured: np.ndarray) -> dict:
    """Statistics of both distributions, their differences, W1 and the KS statistic."""
    sim = distribution_statistics(simulated)
    meas = distribution_statistics(measured)
    a = np.asarray(simulated, dtype=float).ravel()
    b = np.asarray(measured, dtype=float).ravel()
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    ks = scipy.stats.ks_2samp(a, b)
    return {
        "simulated": sim,
        "measured": meas,
        "mean_difference": sim["mean"] - meas["mean"],
        "std_ratio": sim["std"] / meas["std"] if meas["std"] > 0 else None,
        "wasserstein_distance": float(scipy.stats.wasserstein_distance(a, b)),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
    }


def snapshots_for_series(snapshot_soc: np.ndarray, count: int, soc: np.ndarray | None = None) -> np.ndarray:
    """Snapshot index for each of `count` measured patterns: the snapshot nearest in SoC
    to soc[i] if given, else to an even spread over the simulated SoC range."""
    snapshot_soc = np.asarray(snapshot_soc, dtype=float)
    if soc is None:
        soc = np.linspace(snapshot_soc[0], snapshot_soc[-1], count)
    else:
        soc = np.asarray(soc, dtype=float)
        if soc.shape != (count,):
            raise ChemomechError(f"--xrd-soc gives {soc.size} values for {count} patterns; give one per pattern")
    return np.abs(snapshot_soc[None, :] - soc[:, None]).argmin(axis=1)


# ---- powder XRD ------------------------------------------------------------------------

XRD_PEAKS = ((0, 0, 3), (1, 0, 4))  # the isolated reflections of the study's contour maps
PEAK_WINDOW_MARGIN_DEG = 0.08  # each side of the simulated range of a reflection's mean angle


def compare_xrd(ds, patterns: list, wavelength_A: float | None = None, soc=None) -> tuple[dict, dict]:
    """Measured powder patterns (readers.PowderPattern, in time order) against the run's
    synthetic patterns at the same wavelength.

    The wavelength is wavelength_A, else the files' (they must agree), else the study's
    0.1173 A (metrics say which). Each measured pattern is paired with the snapshot nearest
    in SoC (snapshots_for_series); the synthetic pattern is computed on an even grid over
    the measured 2-theta range and interpolated onto the measured points. Per pattern:
    Rwp after the best scale factor and constant background over the measured points
    (xrd_analysis.rwp_after_scale),
    and position and FWHM of (003) and (104) from one pseudo-Voigt plus linear
    background in a window around each reflection, fitted alike to both.
    Returns (metrics for JSON, arrays for the figure)."""
    from chemomech.io.readers import two_theta_deg
    from chemomech.observables import crystallography as cr
    from chemomech.observables.powder_xrd import DEFAULT_WAVELENGTH_A, xrd
    from chemomech.observables.xrd_analysis import peak_positions_widths, rwp_after_scale

    if not patterns:
        raise ChemomechError("no measured XRD patterns given")
    stated = {p.wavelength_A for p in patterns if p.wavelength_A is not None}
    if wavelength_A is None and len(stated) > 1:
        raise ChemomechError(f"the XRD files state different wavelengths {sorted(stated)} A; give --wavelength")
    source = "given" if wavelength_A is not None else ("from the files" if stated else "assumed (the study's 0.1173 A)")
    wavelength = float(wavelength_A if wavelength_A is not None else (stated.pop() if stated else DEFAULT_WAVELENGTH_A))
    measured_axes = [two_theta_deg(p, wavelength) for p in patterns]
    low = min(float(axis.min()) for axis in measured_axes)
    high = max(float(axis.max()) for axis in measured_axes)
    step = min(0.001, min(float(np.median(np.diff(axis))) for axis in measured_axes))
    grid = np.arange(low, high + 0.5 * step, step)
    snapshot_soc = ds["snapshot_soc"].values
    chosen = snapshots_for_series(snapshot_soc, len(patterns), soc)
    simulated = xrd(ds, wavelength_A=wavelength, two_theta_deg=grid, snapshots=np.unique(chosen))
    by_snapshot = {int(k): simulated["intensity"].sel(snapshot=k).values for k in np.unique(chosen)}

    windows, labels = [], []
    for hkl in XRD_PEAKS:
        label = cr.reflection_label(hkl)
        if label not in simulated["reflection"].values:
            continue
        mean = simulated["reflection_two_theta_mean"].sel(reflection=label).values
        window = (float(np.nanmin(mean)) - PEAK_WINDOW_MARGIN_DEG, float(np.nanmax(mean)) + PEAK_WINDOW_MARGIN_DEG)
        if window[0] >= low and window[1] <= high:
            windows.append(window)
            labels.append(label)

    per_pattern, figure = [], {"two_theta": [], "measured": [], "simulated": [], "label": []}
    for i, (pattern, axis, k) in enumerate(zip(patterns, measured_axes, chosen)):
        calculated = np.interp(axis, grid, by_snapshot[int(k)])
        rwp, scale, background = rwp_after_scale(pattern.intensity, calculated, pattern.sigma, background=True)
        entry = {"file": pattern.path, "snapshot": int(k), "snapshot_soc": float(snapshot_soc[k]),
                 "rwp": rwp, "scale": scale, "background": background, "peaks": {}}
        if windows:
            fits_measured = peak_positions_widths(axis, pattern.intensity, windows)
            fits_simulated = peak_positions_widths(axis, calculated, windows)
            for w, label in enumerate(labels):
                m = {name: float(fits_measured[name][0, w]) for name in ("position", "fwhm")}
                s = {name: float(fits_simulated[name][0, w]) for name in ("position", "fwhm")}
                entry["peaks"][label] = {
                    "measured_position_deg": m["position"], "simulated_position_deg": s["position"],
                    "position_difference_deg": s["position"] - m["position"],
                    "measured_fwhm_deg": m["fwhm"], "simulated_fwhm_deg": s["fwhm"],
                    "fwhm_ratio": s["fwhm"] / m["fwhm"] if m["fwhm"] > 0 else None,
                }
        per_pattern.append(entry)
        figure["two_theta"].append(axis)
        figure["measured"].append(np.asarray(pattern.intensity, dtype=float))
        figure["simulated"].append(scale * calculated + background)
        figure["label"].append(f"{Path(pattern.path).name} / SoC {100 * snapshot_soc[k]:.0f} %")
    rwps = np.array([entry["rwp"] for entry in per_pattern])
    metrics = {
        "wavelength_A": wavelength, "wavelength_source": source,
        "pairing": "by SoC" if soc is not None else "measured series spread evenly over the simulated charge",
        "patterns": per_pattern,
        "rwp_mean": float(rwps.mean()), "rwp_max": float(rwps.max()),
        "compared_reflections": labels,
    }
    figure["windows"] = dict(zip(labels, windows))
    return metrics, figure


# ---- SXDM ------------------------------------------------------------------------------

SXDM_MAPS = (("d_rel", "1"), ("tilt_y", "deg"), ("tilt_z", "deg"))  # map, units


def compare_sxdm(ds, frames, geometry: dict, snapshot: int = -1, beam_nm: float = 30.0) -> tuple[dict, object, object]:
    """Measured SXDM frames (sxdm_scan.read_sxdm_frames) reduced by sxdm_scan.reduce_frames, against
    the synthetic measurement of the run's snapshot simulated with the measured energy,
    rocking range and raster step (beam FWHM beam_nm). Map statistics of d_rel and the two
    tilts for both, W1 and KS between them. Returns (metrics, simulated maps, measured maps)."""
    from chemomech.observables.sxdm_scan import reduce_frames, sxdm

    measured = reduce_frames(frames, **geometry)
    angles = np.asarray(geometry["angles_deg"], dtype=float)
    options = {"n_angles": int(angles.size), "energy_keV": float(geometry["energy_keV"])}
    step_nm = float(geometry["step_nm"]) if "step_nm" in geometry else 50.0
    reflection = str(geometry.get("reflection", "003"))
    simulated = sxdm(ds, snapshot=snapshot, reflection=reflection, beam_nm=beam_nm, step_nm=step_nm,
                     rocking_deg=float(np.ptp(angles)), **options)
    metrics = {"snapshot": snapshot_index(ds, snapshot), "reflection": reflection, "step_nm": step_nm,
               "beam_nm": beam_nm, "maps": {}}
    for name, units in SXDM_MAPS:
        comparison = compare_distributions(simulated[name].values, measured[name].values)
        comparison["units"] = units
        metrics["maps"][name] = comparison
    return metrics, simulated, measured


# ---- TXM-XANES -------------------------------------------------------------------------

def compare_xanes(ds, measured_white_line: np.ndarray, snapshot: int = -1, voxel_nm: float = 40.0,
                  noise: float = 0.0) -> tuple[dict, object]:
    """Measured white-line energies [eV] (txm_xanes.measured_white_line) against the run's
    synthetic TXM-XANES (txm_xanes.xanes: spectra per voxel_nm voxel, fitted alike, Gaussian
    noise `noise` relative to the edge step). Histogram statistics, W1 [eV] and KS.
    Returns (metrics, simulated Dataset)."""
    from chemomech.observables.txm_xanes import xanes

    simulated = xanes(ds, snapshot=snapshot, voxel_nm=voxel_nm, spectra=True, noise=noise)
    metrics = compare_distributions(simulated["white_line_energy"].values, measured_white_line)
    metrics.update({"units": "eV", "snapshot": snapshot_index(ds, snapshot), "voxel_nm": voxel_nm,
                    "noise": noise})
    return metrics, simulated
