"""Synthetic TXM-XANES: Ni K-edge white-line energy per voxel, and the same fit for
measured energy stacks.

Method (what a full-field TXM-XANES tomography at e.g. NSLS-II 18-ID FXI delivers):

1. Ni valence per voxel from the Li site fraction by charge balance with Co3+ / Mn4+
   fixed (physics brief): NC91 v_Ni = (3.7 - x) / 0.9, NM91 v_Ni = (3.6 - x) / 0.9
   (Material.ni_valence), and the white-line energy from the material's calibration
   E_wl = E_wl(Ni3+) + shift * (v_Ni - 3) [eV] (Material.white_line_energy).
2. A normalised Ni K-edge spectrum per voxel (pre-edge 0, post-edge 1): an arctangent edge
   step plus a pseudo-Voigt white-line peak, the whole shape shifting rigidly with E_wl:

       mu(E) = 1/2 + arctan((E - E_c + EDGE_OFFSET_EV) / (EDGE_WIDTH_EV / 2)) / pi
               + PEAK_HEIGHT * pV(E - E_c; PEAK_FWHM_EV, PEAK_LORENTZ_FRACTION)

   with E_c = E_wl - white_line_offset_eV() (see the definition of E_wl below). The
   line-shape constants are representative of published Ni K-edge XANES of LiNiO2-type
   layered oxides, read off published spectra by eye (edge inflection ~6 eV below a white
   line of normalised height ~1.5 and ~5 eV width; e.g. W.-S. Yoon et al., J. Am. Chem. Soc. 127, 17479 (2005); the Ni K core-hole
   width 1.44 eV, M. O. Krause and J. H. Oliver, J. Phys. Chem. Ref. Data 8, 329 (1979),
   broadened by the Si(111) monochromator, ~1.1 eV at 8.3 keV). They are representative
   values, not a fit to the study's spectra; only the white-line energy matters downstream.
3. Optional Gaussian noise, sigma relative to the edge step (= 1 in normalised units).
4. The white-line energy per voxel by a local quadratic fit around the spectral maximum -
   the method TXM-XANES users apply (TXM-Wizard: Y. Liu et al., J. Synchrotron Rad. 19, 281
   (2012): a low-order polynomial fitted around the white-line peak of each pixel's
   spectrum, its maximum taken as the white-line energy; the FXI beamline tools offer the
   same kind of local peak fit - not checked line by line here). Here the quadratic is
   fitted by weighted least squares with a biweight kernel w = (1 - u^2)^2,
   u = (E - E_0) / half_width_eV, centred on the maximum energy E_0 and then re-centred on
   the first vertex (2 passes). The smooth kernel makes the result a smooth function of the
   peak position relative to the energy grid; a hard window (plain TXM-Wizard) jumps by up
   to several hundredths of an eV as the window slides across grid points, which would put
   a comb into the synthetic histograms (measured on the default grid: 0.05-0.17 eV
   spread for hard windows of half-width 1.5-3 eV, 0.004 eV with the kernel).

Definition of E_wl (explicit, consistent between simulation and fit): E_wl is the vertex of
this fit (default half-width) on the noise-free spectrum. The white-line peak is asymmetric
(the edge step still rises under it), so the fitted vertex lies a fixed
white_line_offset_eV() (+0.124 eV by default) above the peak centre E_c; that offset is
computed once from the model spectrum and the spectra are placed accordingly, so a noise-free
fit returns the planted E_wl up to the energy-grid discretisation (+-0.002 eV on the
0.5 eV fine grid, tests/test_xanes.py).

Noise: per-voxel spectra of a 3-D TXM-XANES reconstruction carry a few per cent of the edge
step of noise (our estimate 2-5 %; 2-D XANES maps averaged over frames ~0.5-1 %). The fit's
per-voxel standard error is ~3 eV x sigma for the default grid (0.03 eV at 1 %, 0.15 eV at
5 %). The "~0.02 eV" precision quoted for TXM-XANES holds per voxel only at <= 0.5 % noise;
at 3-D noise levels it holds for the histogram mean (error sigma_voxel / sqrt(N), bias
< 0.005 eV; tests/test_xanes.py checks both).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numba
import numpy as np
import xarray as xr

from chemomech.errors import ConfigError, ReadError

# ---- line shape of the normalised Ni K-edge (representative, see module docstring) ----
EDGE_OFFSET_EV = 6.0  # arctan inflection below the white-line peak centre [eV]
EDGE_WIDTH_EV = 3.0  # full width of the arctan step [eV] (core hole + monochromator + band)
PEAK_HEIGHT = 0.55  # white-line peak above the step: normalised maximum ~1.47
PEAK_FWHM_EV = 5.0  # full width at half maximum of the white-line peak [eV]
PEAK_LORENTZ_FRACTION = 0.5  # pseudo-Voigt mixing (0 Gaussian, 1 Lorentzian)

# ---- white-line fit defaults --------------------------------------------------------
FIT_HALF_WIDTH_EV = 2.5  # biweight kernel half-width around the maximum [eV]
FIT_PASSES = 2  # fit, re-centre on the vertex, fit again
HISTOGRAM_BIN_EV = 0.02  # white-line histogram bin [eV] (the quoted TXM precision)


def default_energies_eV() -> np.ndarray:
    """60 energies [eV] like a TXM-XANES scan across the Ni K edge: coarse pre-edge
    8300-8335 eV (5 eV steps, 8 points), edge 8337-8343 eV (2 eV, 4), fine 0.5 eV steps
    8344-8357.5 eV around the white line (28), coarse post-edge 8360-8455 eV (5 eV, 20)."""
    return np.concatenate([
        np.arange(8300.0, 8336.0, 5.0),
        np.arange(8337.0, 8344.0, 2.0),
        np.arange(8344.0, 8358.0, 0.5),
        np.arange(8360.0, 8456.0, 5.0),
    ])


@lru_cache(maxsize=8)
def white_line_offset_eV(half_width_eV: float = FIT_HALF_WIDTH_EV, spacing_eV: float = 0.5) -> float:
    """E_wl - E_c [eV]: where the white-line fit puts the vertex of the noise-free model
    spectrum relative to the peak centre, averaged over 101 positions of the peak within
    one cell of a uniform `spacing_eV` grid (the spread over positions is the
    discretisation error, +-0.002 eV at 0.5 eV)."""
    grid = np.arange(-30.0, 30.0 + spacing_eV / 2, spacing_eV)
    shifts = np.linspace(0.0, spacing_eV, 101)
    spectra = np.empty((shifts.size, grid.size))
    _line_shape_kernel(grid, shifts, spectra, EDGE_OFFSET_EV, EDGE_WIDTH_EV, PEAK_HEIGHT, PEAK_FWHM_EV,
                       PEAK_LORENTZ_FRACTION)
    vertex = fit_white_line(grid, spectra, half_width_eV=half_width_eV, dtype=np.float64)
    return float(np.mean(vertex - shifts))


def ni_k_edge_spectra(white_line_eV, energies_eV=None, half_width_eV: float = FIT_HALF_WIDTH_EV,
                      dtype=np.float32) -> np.ndarray:
    """Normalised Ni K-edge spectra mu(E) [-] per voxel, shape white_line_eV.shape +
    (energy,): the model line shape centred at E_c = E_wl - white_line_offset_eV()
    (so that the fit returns E_wl). NaN white-line energies give NaN spectra."""
    energies = default_energies_eV() if energies_eV is None else np.asarray(energies_eV, dtype=float)
    white_line = np.asarray(white_line_eV, dtype=float)
    centre = white_line - white_line_offset_eV(half_width_eV)
    # work relative to the mean centre so float32 keeps 1e-4 eV resolution
    reference = float(np.nanmean(centre)) if np.isfinite(centre).any() else 0.0
    shifts = (centre - reference).reshape(-1)
    out = np.empty((shifts.size, energies.size), dtype=np.float32)
    _line_shape_kernel(energies - reference, shifts, out, EDGE_OFFSET_EV, EDGE_WIDTH_EV, PEAK_HEIGHT,
                       PEAK_FWHM_EV, PEAK_LORENTZ_FRACTION)
    return out.reshape(white_line.shape + (energies.size,)).astype(dtype, copy=False)


@numba.njit(cache=True)
def _line_shape_kernel(energies, shifts, out, edge_offset, edge_width, height, fwhm, lorentz_fraction):
    """out[i, k] = mu(energies[k] - shifts[i]), the normalised spectrum of the module
    docstring (equation in 2.) at t = E - E_c [eV] (serial; NaN shifts give NaN):
        mu(t) = 1/2 + atan((t + edge_offset) / (edge_width / 2)) / pi
                + height [f 1/(1 + s) + (1 - f) exp(-ln2 s)],  s = (2 t / fwhm)^2, f = lorentz_fraction."""
    log2 = math.log(2.0)
    for i in range(shifts.size):
        for k in range(energies.size):
            t = energies[k] - shifts[i]
            step = 0.5 + math.atan((t + edge_offset) / (0.5 * edge_width)) / math.pi
            s = (2.0 * t / fwhm) ** 2
            peak = lorentz_fraction / (1.0 + s) + (1.0 - lorentz_fraction) * math.exp(-log2 * s)
            out[i, k] = step + height * peak


def fit_white_line(energies_eV, spectra, half_width_eV: float = FIT_HALF_WIDTH_EV,
                   search_eV: tuple[float, float] | None = None, passes: int = FIT_PASSES,
                   dtype=np.float32) -> np.ndarray:
    """White-line energy [eV] per spectrum: the vertex E_0 - c1 / (2 c2) of the quadratic
    c0 + c1 u + c2 u^2 (u = E - E_0) fitted by weighted least squares, weights
    (1 - (u / half_width_eV)^2)^2 inside the half-width, around the maximum E_0 (first
    pass) and then around the previous vertex. Vectorised: the windows are gathered with
    np.take_along_axis and the 3x3 normal equations solved in closed form for all voxels.

    energies_eV (n,) increasing; spectra (..., n). NaN where a spectrum has a non-finite
    value, the fitted curvature is not negative, or the vertex leaves the window.
    search_eV restricts where the maximum is looked for (default: the whole scan)."""
    energies = np.asarray(energies_eV, dtype=float)
    spectra = np.asarray(spectra)
    if energies.ndim != 1 or spectra.shape[-1] != energies.size:
        raise ConfigError(f"spectra have {spectra.shape[-1]} energies, energies_eV has {energies.size}; they must match")
    if energies.size < 3 or np.any(np.diff(energies) <= 0):
        raise ConfigError("energies_eV must be at least 3 strictly increasing values")
    shape = spectra.shape[:-1]
    y = spectra.reshape(-1, energies.size).astype(dtype, copy=False)
    valid = np.all(np.isfinite(y), axis=1)
    y = np.where(valid[:, None], y, 0).astype(dtype, copy=False)
    searchable = np.ones(energies.size, bool)
    if search_eV is not None:
        searchable = (energies >= search_eV[0]) & (energies <= search_eV[1])
        if not searchable.any():
            raise ConfigError(f"search_eV {tuple(search_eV)} holds none of the energies {energies[0]:.1f}-{energies[-1]:.1f} eV")
    masked = np.where(searchable, y, -np.inf)
    k_max = np.argmax(masked, axis=1)
    reference = float(energies.mean())
    e_rel = (energies - reference).astype(dtype)  # float32 keeps ~1e-4 eV around the scan
    centre = e_rel[k_max]
    # window of index offsets wide enough for the half-width at the finest spacing
    spacing = float(np.min(np.diff(energies)))
    if not half_width_eV > spacing:
        raise ConfigError(f"half_width_eV = {half_width_eV} must exceed the finest energy step ({spacing:.3g} eV) "
                          "so that the quadratic sees at least 3 energies")
    reach = int(np.ceil(half_width_eV / spacing)) + 2
    offsets = np.arange(-reach, reach + 1)
    inside = np.ones(y.shape[0], bool)
    for _ in range(max(1, passes)):
        k0 = np.clip(np.searchsorted(e_rel, centre), 0, energies.size - 1)
        index = np.clip(k0[:, None] + offsets[None, :], 0, energies.size - 1)
        duplicate = np.concatenate([np.zeros((index.shape[0], 1), bool), index[:, 1:] == index[:, :-1]], axis=1)
        u = e_rel[index] - centre[:, None]
        weight = np.clip(1 - (u / half_width_eV) ** 2, 0, None) ** 2
        weight[duplicate] = 0  # clipped indices at the scan ends count once
        values = np.take_along_axis(y, index, axis=1)
        wu = weight * u
        wu2 = wu * u
        s0, s1, s2 = weight.sum(1), wu.sum(1), wu2.sum(1)
        s3, s4 = (wu2 * u).sum(1), (wu2 * u * u).sum(1)
        t0, t1, t2 = (weight * values).sum(1), (wu * values).sum(1), (wu2 * values).sum(1)
        # Cramer's rule for [[s0 s1 s2][s1 s2 s3][s2 s3 s4]] c = [t0 t1 t2]
        det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2)
        c1 = (s0 * (t1 * s4 - s3 * t2) - t0 * (s1 * s4 - s3 * s2) + s2 * (s1 * t2 - t1 * s2))
        c2 = (s0 * (s2 * t2 - t1 * s3) - s1 * (s1 * t2 - t1 * s2) + t0 * (s1 * s3 - s2 * s2))
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = -c1 / (2 * c2)  # det cancels in the ratio
            inside = (c2 / det < 0) & (np.abs(shift) <= half_width_eV) & (det > 0)
        centre = np.where(inside, centre + shift, centre)
    result = np.where(valid & inside, centre.astype(np.float64) + reference, np.nan)
    return result.reshape(shape)


# ---- run fields on a TXM voxel grid --------------------------------------------------

def _overlap_matrix(old_edges: np.ndarray, new_edges: np.ndarray) -> np.ndarray:
    """W[i, j] = |new cell i intersect old cell j| / |new cell i| (1-D, both edge arrays
    increasing): the volume-fraction weights of conservative remapping."""
    low = np.maximum(new_edges[:-1, None], old_edges[None, :-1])
    high = np.minimum(new_edges[1:, None], old_edges[None, 1:])
    return np.clip(high - low, 0, None) / np.diff(new_edges)[:, None]


def _edges(centres: np.ndarray) -> np.ndarray:
    step = centres[1] - centres[0] if centres.size > 1 else 1.0
    return np.concatenate([centres - step / 2, [centres[-1] + step / 2]])


def resample_to_voxels(field: np.ndarray, coords_m: tuple, voxel_m: float):
    """Conservative, NaN-aware remapping of a (z, y, x) field on a uniform grid (voxel
    centres coords_m = (z, y, x) [m]; NaN = outside the particle) onto cubic voxels of
    edge voxel_m [m] covering the same box, centred on it.

    Returns (mean, fraction, new_coords): fraction = particle volume fraction of each new
    voxel, mean = sum_j W_ij x_j / sum_j W_ij over particle voxels j (W = overlap volume
    fraction). Conservation: sum(mean * fraction) * voxel_m^3 = sum(x_j) * V_old."""
    values = np.asarray(field, dtype=float)
    particle = np.isfinite(values)
    numerator = np.where(particle, values, 0.0)
    denominator = particle.astype(float)
    new_coords = []
    for axis, centres in enumerate(coords_m):
        centres = np.asarray(centres, dtype=float)
        old = _edges(centres)
        count = max(1, int(np.ceil((old[-1] - old[0]) / voxel_m - 1e-9)))
        middle = 0.5 * (old[0] + old[-1])
        new = middle + voxel_m * (np.arange(count + 1) - count / 2)
        weights = _overlap_matrix(old, new)
        numerator = np.moveaxis(np.tensordot(weights, numerator, axes=(1, axis)), 0, axis)
        denominator = np.moveaxis(np.tensordot(weights, denominator, axes=(1, axis)), 0, axis)
        new_coords.append(0.5 * (new[:-1] + new[1:]))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(denominator > 1e-12, numerator / denominator, np.nan)
    return mean, denominator, tuple(new_coords)


def sphere_to_voxels(x_of_r: np.ndarray, r_m: np.ndarray, voxel_m: float):
    """The 3-D sphere of a sphere-1d run on cubic voxels of edge voxel_m [m]:
    x(voxel) = x(rho) interpolated linearly in the cell centres r_m (constant beyond the
    first/last centre), rho = distance of the voxel centre from the sphere centre; voxels
    with rho > R (R = the outer face, geometry.sphere.faces_from_centres) are outside (NaN, fraction 0).
    Returns (x, fraction, (z, y, x) centres [m])."""
    from chemomech.geometry.sphere import faces_from_centres

    r = np.asarray(r_m, dtype=float)
    radius = float(faces_from_centres(r)[-1])  # uniform or graded radial mesh
    count = max(1, int(np.ceil(2 * radius / voxel_m - 1e-9)))
    centres = voxel_m * (np.arange(count) - (count - 1) / 2)
    zz, yy, xx = np.meshgrid(centres, centres, centres, indexing="ij")
    rho = np.sqrt(zz**2 + yy**2 + xx**2)
    inside = rho <= radius
    x = np.where(inside, np.interp(rho, r, np.asarray(x_of_r, dtype=float)), np.nan)
    return x, inside.astype(float), (centres, centres, centres)


def white_line_histogram(values, bin_eV: float = HISTOGRAM_BIN_EV):
    """Counts of the finite values in bins of width bin_eV aligned to multiples of bin_eV,
    spanning the data with one empty bin either side. Returns (counts, bin centres [eV],
    bin edges [eV])."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.zeros(0, int), np.zeros(0), np.zeros(1)
    low = np.floor(finite.min() / bin_eV) - 1
    high = np.ceil(finite.max() / bin_eV) + 1
    count = int(min(high - low, 5000))
    edges = (low + np.arange(count + 1)) * bin_eV if count == high - low else np.linspace(low * bin_eV, high * bin_eV, count + 1)
    counts, edges = np.histogram(finite, bins=edges)
    return counts, 0.5 * (edges[:-1] + edges[1:]), edges


def xanes(ds: xr.Dataset, snapshot: int = -1, voxel_nm: float = 40.0, spectra: bool = True,
          noise: float = 0.0, energies_eV=None, seed: int = 0,
          half_width_eV: float = FIT_HALF_WIDTH_EV, min_fraction: float = 0.5,
          bin_eV: float = HISTOGRAM_BIN_EV, chunk_voxels: int = 250_000) -> xr.Dataset:
    """Synthetic TXM-XANES of one snapshot of a run (module docstring): x_Li on voxel_nm
    cubic voxels (voxel runs: conservative NaN-aware remapping; sphere-1d: the 3-D sphere
    built from x(r)), Ni valence, planted white-line energy, and - with spectra=True -
    the white line fitted from simulated spectra (energies_eV, default 60-point scan) with
    Gaussian noise of sigma `noise` x edge step (seeded). Voxels less than min_fraction
    inside the particle are NaN. Histogram (bin_eV), mean and standard deviation of the
    reported white-line energy (fitted if spectra else planted)."""
    from chemomech.io.results import is_voxel_run, run_material, snapshot_index

    if not voxel_nm > 0:
        raise ConfigError(f"voxel_nm = {voxel_nm}: must be > 0")
    if not noise >= 0:
        raise ConfigError(f"noise = {noise}: must be >= 0 (a fraction of the edge step)")
    if "x_li" not in ds or "snapshot" not in ds["x_li"].dims:
        raise ConfigError("the Dataset has no x_li(snapshot, ...) field; pass a run's result (cm.simulate or open_run)")
    snapshot = snapshot_index(ds, snapshot)
    material = run_material(ds)
    voxel_m = voxel_nm * 1e-9
    field = ds["x_li"].isel(snapshot=snapshot)
    if is_voxel_run(ds):
        field = field.transpose("z", "y", "x")
        x_li, fraction, coords = resample_to_voxels(field.values, (ds["z"].values, ds["y"].values, ds["x"].values), voxel_m)
    else:
        x_li, fraction, coords = sphere_to_voxels(field.values, ds["r"].values, voxel_m)
    x_li = np.where(fraction >= min_fraction, x_li, np.nan)
    valence, planted = material.ni_valence(x_li), material.white_line_energy(x_li)  # module docstring, step 1
    energies = default_energies_eV() if energies_eV is None else np.sort(np.asarray(energies_eV, dtype=float))

    dims = ("z", "y", "x")
    out = xr.Dataset(coords={
        "z": ("z", coords[0], {"units": "m"}),
        "y": ("y", coords[1], {"units": "m"}),
        "x": ("x", coords[2], {"units": "m"}),
        "energy": ("energy", energies, {"units": "eV", "long_name": "X-ray energy of the scan"}),
    })
    out["x_li"] = (dims, x_li.astype(np.float32), {"units": "1", "long_name": "Li site fraction on the TXM voxels"})
    out["particle_fraction"] = (dims, fraction.astype(np.float32), {"units": "1", "long_name": "particle volume fraction of the voxel"})
    out["ni_valence"] = (dims, valence.astype(np.float32), {"units": "1", "long_name": "Ni valence (charge balance)"})
    out["white_line_energy_planted"] = (dims, planted, {"units": "eV", "long_name": "white-line energy from the valence (no fit)"})
    reported = planted
    if spectra:
        fitted, mean_spectrum = _simulate_and_fit(planted, energies, noise, seed, half_width_eV, chunk_voxels)
        reported = fitted
        out["mean_spectrum"] = ("energy", mean_spectrum, {"units": "1", "long_name": "particle-mean normalised absorption"})
    out["white_line_energy"] = (dims, reported, {
        "units": "eV", "long_name": "Ni K-edge white-line energy" + (" (fitted)" if spectra else " (planted)")})
    counts, centres, edges = white_line_histogram(reported, bin_eV)
    out = out.assign_coords(energy_bin=("energy_bin", centres, {"units": "eV", "long_name": "white-line energy bin centre"}))
    out["histogram"] = ("energy_bin", counts, {"units": "voxels", "long_name": "white-line energy histogram"})
    out["white_line_mean"] = ((), float(np.nanmean(reported)) if np.isfinite(reported).any() else np.nan, {"units": "eV"})
    out["white_line_std"] = ((), float(np.nanstd(reported)) if np.isfinite(reported).any() else np.nan, {"units": "eV"})
    out["white_line_fit_failures"] = ((), int(np.sum(np.isfinite(planted) & ~np.isfinite(reported))), {"units": "voxels"})
    out.attrs.update({
        "material": str(ds.attrs.get("material", "")),
        "geometry": str(ds.attrs.get("geometry", "sphere-1d" if not is_voxel_run(ds) else "")),
        "snapshot": snapshot,
        "snapshot_time_s": float(ds["snapshot_time"].values[snapshot]) if "snapshot_time" in ds else np.nan,
        "voxel_nm": float(voxel_nm),
        "spectra": int(bool(spectra)),
        "noise_relative_to_edge_step": float(noise),
        "seed": int(seed),
        "fit": f"biweight-weighted quadratic around the maximum, half-width {half_width_eV} eV, {FIT_PASSES} passes",
        "white_line_definition": "vertex of the fit on the noise-free spectrum; "
                                 f"{white_line_offset_eV(half_width_eV):+.4f} eV from the white-line peak centre",
        "line_shape": (f"arctan step {EDGE_OFFSET_EV} eV below the peak, width {EDGE_WIDTH_EV} eV; pseudo-Voigt peak "
                       f"height {PEAK_HEIGHT}, FWHM {PEAK_FWHM_EV} eV, Lorentz fraction {PEAK_LORENTZ_FRACTION}"),
        "histogram_bin_eV": float(bin_eV),
        "min_particle_fraction": float(min_fraction),
        "white_line_ni3_eV": float(material.white_line_ni3_ev),
        "white_line_shift_eV_per_valence": float(material.white_line_shift_ev),
    })
    return out


def _simulate_and_fit(planted, energies, noise, seed, half_width_eV, chunk_voxels):
    """Spectra of the particle voxels (chunks of chunk_voxels), noise, fit; returns the
    fitted (z, y, x) white line and the particle-mean spectrum."""
    flat = planted.reshape(-1)
    where = np.flatnonzero(np.isfinite(flat))
    fitted = np.full(flat.shape, np.nan)
    total = np.zeros(energies.size)
    rng = np.random.default_rng(seed)
    for start in range(0, where.size, chunk_voxels):
        part = where[start:start + chunk_voxels]
        spectra = ni_k_edge_spectra(flat[part], energies, half_width_eV)
        if noise > 0:
            spectra += np.float32(noise) * rng.standard_normal(spectra.shape, dtype=np.float32)
        total += spectra.sum(axis=0, dtype=np.float64)
        fitted[part] = fit_white_line(energies, spectra, half_width_eV=half_width_eV)
    mean_spectrum = total / max(where.size, 1) if where.size else np.full(energies.size, np.nan)
    return fitted.reshape(planted.shape), mean_spectrum


# ---- measured stacks and white-line volumes ------------------------------------------

def white_line_from_stack(stack, energies_eV, half_width_eV: float = FIT_HALF_WIDTH_EV,
                          search_eV: tuple[float, float] | None = None,
                          min_edge_fraction: float = 0.1):
    """White-line energy [eV] per pixel/voxel of a measured stack laid out
    [energy, y, x] (2-D XANES) or [energy, z, y, x] (XANES tomography).

    Energies in keV (all < 100) are converted to eV; the stack is reordered to increasing
    energy. Each spectrum is fitted as is (the vertex does not depend on an affine
    normalisation). Mask: fit succeeded and edge step (mean of the last 3 minus the first
    3 energies) >= min_edge_fraction x the 99th percentile of the edge steps (air/void
    pixels have no edge). Returns (white_line with NaN outside the mask, mask)."""
    stack = np.asarray(stack)
    energies = np.asarray(energies_eV, dtype=float).reshape(-1)
    if stack.ndim not in (3, 4):
        raise ConfigError(f"a XANES stack must be [energy, y, x] or [energy, z, y, x]; got {stack.ndim} dimensions {stack.shape}")
    if stack.shape[0] != energies.size:
        raise ConfigError(f"the stack has {stack.shape[0]} energies along its first axis, the energy list {energies.size}")
    if energies.size and np.nanmax(energies) < 100:
        energies = energies * 1000.0  # keV -> eV
    order = np.argsort(energies)
    if np.any(np.diff(energies[order]) <= 0):
        raise ConfigError("the stack's energies repeat; each must be distinct")
    spectra = np.moveaxis(stack[order], 0, -1).astype(np.float32)
    white_line = fit_white_line(energies[order], spectra, half_width_eV=half_width_eV, search_eV=search_eV)
    edge = spectra[..., -3:].mean(-1) - spectra[..., :3].mean(-1)
    finite_edges = edge[np.isfinite(edge)]
    threshold = min_edge_fraction * np.percentile(finite_edges, 99) if finite_edges.size else np.inf
    mask = np.isfinite(white_line) & (edge >= threshold) & (edge > 0)
    return np.where(mask, white_line, np.nan), mask


def measured_white_line(path: str | Path, dataset: str | None = None, energies_eV=None,
                        energy_dataset: str | None = None, **fit_options):
    """White-line values [eV] and mask from a measured file:
    - an energy stack (TIFF, or HDF5 `dataset`) laid out [energy, (z,) y, x] when
      energies_eV or energy_dataset (an HDF5 path in the same file; keV or eV) is given,
      fitted by white_line_from_stack;
    - otherwise a ready white-line volume/map in eV; mask = finite and > 0 (0 and NaN are
      the usual background of exported maps).
    Returns (white_line (NaN outside the mask), mask)."""
    from chemomech.io.readers import read_hdf5_dataset, read_tiff_stack

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        array = read_tiff_stack(path)
        if energy_dataset is not None:
            raise ConfigError(f"{path}: energy_dataset only applies to HDF5 files; give energies_eV for a TIFF stack")
    elif suffix in (".h5", ".hdf5", ".hdf", ".nxs", ".nc"):
        if dataset is None:
            raise ConfigError(f"{path}: an HDF5 file needs the dataset path of the stack or white-line volume")
        array, _ = read_hdf5_dataset(path, dataset)
        if energy_dataset is not None:
            energies_eV, _ = read_hdf5_dataset(path, energy_dataset)
    else:
        raise ReadError(f"{path}: unknown file type {suffix or '(none)'}; allowed: .tif, .tiff, .h5, .hdf5, .hdf, .nxs, .nc")
    array = np.asarray(array)
    if array.dtype.kind not in "fiu":
        raise ReadError(f"{path}: the data are {array.dtype}, expected numbers")
    if energies_eV is not None:
        return white_line_from_stack(array, energies_eV, **fit_options)
    values = array.astype(float)
    if values.ndim not in (2, 3):
        raise ReadError(f"{path}: a white-line map must be 2-D or 3-D, got shape {values.shape}; "
                        "for an energy stack give the energies")
    mask = np.isfinite(values) & (values > 0)
    if mask.any() and np.nanmedian(values[mask]) < 100:
        values = values * 1000.0  # keV -> eV
    return np.where(mask, values, np.nan), mask
