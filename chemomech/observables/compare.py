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

import math
from pathlib import Path

import numpy as np
import scipy.stats

from chemomech.errors import ChemomechError, ConfigError
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
    to soc[i] if given (each within the run's SoC range), else to an even spread over the
    simulated SoC range."""
    snapshot_soc = np.asarray(snapshot_soc, dtype=float)
    if soc is None:
        soc = np.linspace(snapshot_soc[0], snapshot_soc[-1], count)
    else:
        soc = np.asarray(soc, dtype=float)
        if soc.shape != (count,):
            raise ChemomechError(f"--xrd-soc gives {soc.size} values for {count} patterns; give one per pattern")
        low, high = float(np.nanmin(snapshot_soc)), float(np.nanmax(snapshot_soc))
        outside = ~((soc >= low - SOC_TOLERANCE) & (soc <= high + SOC_TOLERANCE))  # NaN is outside
        if outside.any():
            raise ConfigError(f"--xrd-soc {soc[outside][0]:g}: must be within the run's SoC range "
                              f"[{low:.4g}, {high:.4g}] (SoC of its first and last snapshot)")
    return np.abs(snapshot_soc[None, :] - soc[:, None]).argmin(axis=1)


# ---- powder XRD ------------------------------------------------------------------------

XRD_PEAKS = ((0, 0, 3), (1, 0, 4))  # the isolated reflections of the study's contour maps
PEAK_WINDOW_MARGIN_DEG = 0.08  # each side of the simulated range of a reflection's mean angle
SOC_TOLERANCE = 1e-6  # --xrd-soc beyond the run's SoC range by at most this is accepted (rounding)
# Memory bounds of compare_xrd (the 2-theta grid of the synthetic patterns: its step is at
# least range / XRD_GRID_POINTS, i.e. 1.5e-4 deg over 30 deg, below 1/100 of the narrowest
# instrument FWHM, 0.019 deg at W = 3.6e-4 deg^2; measured points kept in memory between
# the passes over the files; points per compared window kept for the figure).
XRD_GRID_POINTS = 200_000
XRD_CACHED_POINTS = 5_000_000
FIGURE_POINTS = 4000


def compare_xrd(ds, patterns: list, wavelength_A: float | None = None, soc=None,
                given_as: str = "the wavelength_A argument") -> tuple[dict, dict]:
    """Measured powder patterns (readers.PowderPattern or paths of pattern files, in time
    order) against the run's synthetic patterns at the same wavelength.

    The wavelength is wavelength_A (given_as says how it was given), else the files' (they
    must agree), else the study's 0.1173 A; metrics["wavelength_origin"] says which (for
    the files: the file and header line). Each measured pattern is paired with the
    snapshot nearest in SoC (snapshots_for_series); the synthetic pattern is computed on
    an even grid over the measured 2-theta range (step min(0.001 deg, measured step), at
    most XRD_GRID_POINTS points) and interpolated onto the measured points. Per pattern:
    Rwp after the best scale factor and constant background over the measured points
    (xrd_analysis.rwp_after_scale),
    and position and FWHM of (003) and (104) from one pseudo-Voigt plus linear
    background in a window around each reflection, fitted alike to both.
    Files are read one at a time (those given as paths: once more for the figures of
    merit when the series holds more than XRD_CACHED_POINTS points), and one snapshot is
    simulated at a time; the figure keeps at most FIGURE_POINTS points per window.
    Returns (metrics for JSON, arrays for the figure)."""
    import warnings

    from chemomech.io.readers import read_powder_pattern, two_theta_deg
    from chemomech.observables import crystallography as cr
    from chemomech.observables.powder_xrd import DEFAULT_WAVELENGTH_A, xrd
    from chemomech.observables.xrd_analysis import peak_positions_widths, rwp_after_scale

    if not patterns:
        raise ChemomechError("no measured XRD patterns given")
    snapshot_soc = ds["snapshot_soc"].values
    chosen = snapshots_for_series(snapshot_soc, len(patterns), soc)

    # pass 1: read every file (its warnings once), keep the small ones, note the wavelengths
    kept, stated, points = [], {}, 0
    for item in patterns:
        pattern = item if hasattr(item, "intensity") else read_powder_pattern(item)
        if pattern.wavelength_A is not None:
            stated.setdefault(pattern.wavelength_A, (pattern.path, pattern.wavelength_line, pattern.wavelength_header))
        points += pattern.intensity.size
        kept.append(pattern if points <= XRD_CACHED_POINTS or pattern is item else None)
        del pattern
    if wavelength_A is None and len(stated) > 1:
        files = ", ".join(f"{Path(path).name} line {line}: {w:g} A" for w, (path, line, _) in sorted(stated.items()))
        raise ChemomechError(f"the XRD files state different wavelengths ({files}); give --wavelength")
    if wavelength_A is not None:
        source, origin = "given", {"source": given_as}
    elif stated:
        path, line, text = next(iter(stated.values()))
        source = "from the files"
        origin = {"source": "file header", "file": path, "line": line, "text": text}
    else:
        source, origin = "assumed (the study's 0.1173 A)", {"source": "default (no file states a wavelength)"}
    wavelength = float(wavelength_A if wavelength_A is not None else (next(iter(stated)) if stated else DEFAULT_WAVELENGTH_A))

    def pattern_and_axis(i):
        pattern = kept[i]
        if pattern is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # said in pass 1
                pattern = read_powder_pattern(patterns[i])
        return pattern, two_theta_deg(pattern, wavelength)

    # pass 2: the measured 2-theta range and the finest step
    low, high, step = math.inf, -math.inf, 0.001
    for i in range(len(patterns)):
        _, axis = pattern_and_axis(i)
        low, high = min(low, float(axis.min())), max(high, float(axis.max()))
        step = min(step, float(np.median(np.diff(axis))))
        del axis
    step = max(step, (high - low) / XRD_GRID_POINTS)
    grid = np.arange(low, high + 0.5 * step, step)

    by_snapshot, means, labels_all = {}, [], None
    for k in np.unique(chosen):  # one snapshot at a time: xrd holds (reflections, grid) arrays
        simulated = xrd(ds, wavelength_A=wavelength, two_theta_deg=grid, snapshots=[int(k)])
        by_snapshot[int(k)] = simulated["intensity"].values[0]
        means.append(simulated["reflection_two_theta_mean"].values[0])
        labels_all = list(simulated["reflection"].values)
        del simulated
    means = np.array(means)

    windows, labels = [], []
    for hkl in XRD_PEAKS:
        label = cr.reflection_label(hkl)
        if label not in labels_all:
            continue
        mean = means[:, labels_all.index(label)]
        window = (float(np.nanmin(mean)) - PEAK_WINDOW_MARGIN_DEG, float(np.nanmax(mean)) + PEAK_WINDOW_MARGIN_DEG)
        if window[0] >= low and window[1] <= high:
            windows.append(window)
            labels.append(label)

    # pass 3: the figures of merit, one pattern at a time
    per_pattern, figure = [], {"two_theta": [], "measured": [], "simulated": [], "label": []}
    for i, k in enumerate(chosen):
        pattern, axis = pattern_and_axis(i)
        kept[i] = None
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
        shown = _figure_points(axis, windows)
        figure["two_theta"].append(axis[shown])
        figure["measured"].append(np.asarray(pattern.intensity, dtype=float)[shown])
        figure["simulated"].append(scale * calculated[shown] + background)
        figure["label"].append(f"{Path(pattern.path).name} / SoC {100 * snapshot_soc[k]:.0f} %")
        del pattern, axis, calculated
    rwps = np.array([entry["rwp"] for entry in per_pattern])
    metrics = {
        "wavelength_A": wavelength, "wavelength_source": source, "wavelength_origin": origin,
        "pairing": "by SoC" if soc is not None else "measured series spread evenly over the simulated charge",
        "patterns": per_pattern,
        "rwp_mean": float(rwps.mean()), "rwp_max": float(rwps.max()),
        "compared_reflections": labels,
    }
    figure["windows"] = dict(zip(labels, windows))
    return metrics, figure


def _figure_points(axis: np.ndarray, windows: list) -> np.ndarray:
    """Indices of the points a figure shows: those inside the compared windows (the whole
    pattern when there are none), thinned evenly to at most FIGURE_POINTS per window."""
    spans = windows or [(float(axis.min()), float(axis.max()))]
    shown = []
    for lo, hi in spans:
        inside = np.flatnonzero((axis >= lo) & (axis <= hi))
        if inside.size > FIGURE_POINTS:
            inside = inside[np.linspace(0, inside.size - 1, FIGURE_POINTS).round().astype(int)]
        shown.append(inside)
    return np.unique(np.concatenate(shown))


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
