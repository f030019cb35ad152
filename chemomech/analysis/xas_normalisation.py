"""Pre-edge subtraction and normalisation of X-ray absorption spectra, as Athena and Larch
do it, and the white-line energy of the normalised spectrum.

The algorithm and its default ranges are those of Larch's `pre_edge` (xraylarch, commit
a272abc, larch/xafs/pre_edge.py: find_e0, _finde0, find_energy_step, preedge, pre_edge;
larch/math/utils.py: smooth, index_of, index_nearest; M. Newville, J. Phys.: Conf. Ser. 430,
012007 (2013)), which Athena (B. Ravel and M. Newville, J. Synchrotron Rad. 12, 537 (2005))
shares. Where Larch's docstrings and its code differ (they state pre2 ~ pre1 / 3 and
norm1 ~ min(150, norm2 / 3)), the code is followed. Written here from that description;
energies in eV, mu in any unit.

1. E0, the edge energy: the energy of the largest derivative d mu / dE, in two passes
   (Larch's find_e0).
   - Pass 1, on the raw derivative (numpy.gradient of mu over numpy.gradient of E). The
     derivative is scaled to 0..1 by its minimum and range over the points nmin..n-nmin
     (nmin = max(3, int(0.02 n))); the candidates are the points above 0.6 (0.3 when
     n <= 20; if fewer than 3 pass, the threshold halves, at most twice, until more than 3
     pass); E0 is the
     candidate with the largest derivative whose two neighbours are candidates too, at
     least nmin points from either end (a lone spike of one point is a glitch, not an edge).
   - Pass 2, on the same rule applied to the derivative smoothed by a Lorentzian of
     half-width (HWHM) estep, in a window of +-75 points around the pass-1 point
     (from point 3 to n-3). estep = (s1 + s2) / 2 with s1 the scan's typical finest step
     (the steps sorted, the smallest 1 % skipped, the next 10 averaged) and s2 = E0 / 25000
     (0.33 eV at the Ni K edge), each clipped to 0.01-1 eV. When the pass-1 point lies in
     the first 5 % of the scan (a glitch), s2 uses the mean energy and the window runs from
     20 points before it to n-3.
   The smoothing (Larch's smooth): the derivative interpolated linearly onto a uniform grid
   of step estep (padded by 5 steps), mirrored at both ends, convolved with
   L(k) = 1 / (1 + k^2) (k in grid steps: the Lorentzian of HWHM estep), interpolated back.
   E0 is a point of the energy grid (no sub-grid interpolation, as in Larch).
   Larch details kept so that E0 agrees with Larch: each pass leaves out the last point of
   the energies it is given (Larch's test for ordered points drops it), and for scans of
   fewer than 100 points Larch's step estimate is undefined (an empty slice), so s1 = 1 eV.
2. A pre-edge line, least squares over the points from the last one at or below E0 + pre1
   up to (not including) the one nearest E0 + pre2 (Larch's index_of, index_nearest and
   slice), defaults
       pre1 = 5 round((E[1] - E0) / 5)   (2 round(.../2) when E0 is within the first 21
              points), E[1] the second energy (the first is often bad), at least E[0] - E0,
       pre2 = pre1 / 2.
   With fewer than 3 points between them, a constant (the mean) instead of a line.
3. A post-edge polynomial of degree nnorm fitted to mu - pre-edge over the points from the
   last one at or below E0 + norm1 up to (not including) the one nearest E0 + norm2, defaults
       norm2 = 5 round((E_max - E0) / 5) (at most E_max - E0),
       norm1 = min(25, 5 round(norm2 / 15)) (at most norm2 - 2),
       nnorm = 2 if norm2 - norm1 >= 300 eV, 1 if >= 30 eV, else 0
   (0 when fewer than 2 points fall in the range, at most 1 when fewer than 5).
4. Edge step = post-edge - pre-edge at the grid point nearest E0 (absolute value);
       norm(E) = (mu(E) - pre(E)) / step,
       flat(E) = norm(E) - (post(E) - pre(E)) / step + (post(E0) - pre(E0)) / step above E0,
                 norm(E) below it.
   Larch's defaults nvict = 0 (no E^nvict weighting of the pre-edge) and npre = 1 (a line).
5. The white-line energy: chemomech.observables.txm_xanes.fit_white_line on norm(E) (a
   biweight-weighted quadratic around the maximum, its vertex), the maximum looked for in
   E0 <= E <= E0 + WHITE_LINE_SEARCH_EV.

Differences from Larch: non-finite points are dropped and the scan sorted as Larch does, but
repeated energies are averaged (Larch nudges them apart by 0.0005 eV); a given e0 outside
the scan is an error (Larch silently finds its own); Larch's flat_alt (an lmfit quadratic
fit to norm) is not computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemomech.errors import ConfigError

MIN_POINTS = 10  # energies a spectrum needs (pre-edge, edge and post-edge points)
MAX_NNORM = 5  # Larch's MAX_NNORM
E0_WINDOW_POINTS = 75  # pass-2 window half-width [points] (Larch)
WHITE_LINE_SEARCH_EV = 30.0  # the white-line maximum is looked for within E0..E0 + this [eV]


@dataclass
class Normalised:
    """A normalised spectrum (module docstring). energy [eV] increasing (non-finite points
    dropped, repeats averaged), mu as given, pre_edge and post_edge curves (units of mu),
    norm and flat [-]; e0 [eV], edge_step (units of mu), white_line_eV [eV] (NaN when the
    fit fails, white_line_note says why); the ranges used, relative to e0 [eV], the degrees
    and whether e0 was found (True) or given."""

    energy: np.ndarray
    mu: np.ndarray
    norm: np.ndarray
    flat: np.ndarray
    pre_edge: np.ndarray
    post_edge: np.ndarray
    e0: float
    edge_step: float
    white_line_eV: float
    pre1: float
    pre2: float
    norm1: float
    norm2: float
    nnorm: int
    npre: int
    e0_found: bool
    white_line_note: str = ""


def clean_spectrum(energy, mu) -> tuple[np.ndarray, np.ndarray]:
    """Finite points only, sorted by energy, repeated energies replaced by one point with
    the mean mu. Returns (energy [eV], mu)."""
    energy = np.asarray(energy, dtype=float).reshape(-1)
    mu = np.asarray(mu, dtype=float).reshape(-1)
    if energy.shape != mu.shape:
        raise ConfigError(f"energy has {energy.size} values, mu {mu.size}; they must match")
    finite = np.isfinite(energy) & np.isfinite(mu)
    energy, mu = energy[finite], mu[finite]
    unique, inverse, counts = np.unique(energy, return_inverse=True, return_counts=True)
    if unique.size < energy.size:
        mu = np.bincount(inverse, weights=mu) / counts
    else:
        mu = mu[np.argsort(energy, kind="stable")]
    return unique, mu


def _index_of(values: np.ndarray, value: float) -> int:
    """Larch's index_of: the last index with values <= value (0 below the first)."""
    if value < values.min():
        return 0
    return int(np.flatnonzero(values <= value).max())


def _index_nearest(values: np.ndarray, value: float) -> int:
    """Larch's index_nearest: the (first) index of the value nearest `value`."""
    return int(np.abs(values - value).argmin())


def _finest_step(energy: np.ndarray) -> float:
    """Larch's find_energy_step: the steps sorted, the smallest 1 % skipped, the next 10
    averaged (over energy[:-1] with 1 % of the points cut from each end). NaN for fewer
    than 100 points, where Larch's slice is empty."""
    skip = int(0.01 * energy.size)
    if skip == 0:
        return np.nan
    steps = np.sort(np.diff(energy[:-1][skip:-skip]))
    return float(steps[skip:skip + 10].mean())


def _clip_step(value: float) -> float:
    """max(0.01, min(1.0, value)) as Larch writes it (a NaN gives 1.0)."""
    return 1.0 if not np.isfinite(value) else float(min(max(value, 0.01), 1.0))


def lorentzian_smooth(x: np.ndarray, y: np.ndarray, step: float) -> np.ndarray:
    """y(x) convolved with a Lorentzian of HWHM `step` (Larch's smooth with
    xstep = sigma = step, form 'lorentzian', 5 padding steps): y interpolated onto a uniform
    grid of about `step` spacing, mirrored at both ends, convolved with
    L(k) = 1 / (1 + k^2) / sum (k in grid points), interpolated back onto x."""
    low = step * int((x.min() - 5 * step) / step)
    high = step * int((x.max() + 5 * step) / step)
    count = min(1 + int(abs(high - low + 0.1 * step) / step), 50 * x.size)
    grid = np.linspace(low, high, count)
    values = np.interp(grid, x, y)
    k = np.arange(2 * count) - count
    window = 1.0 / (1.0 + k.astype(float) ** 2)
    padded = np.concatenate((values[count - 1:0:-1], values, values[::-1]))
    smoothed = np.convolve(window / window.sum(), padded, mode="valid")[:count]
    return np.interp(x, grid, smoothed)


def _steepest_point(energy: np.ndarray, mu: np.ndarray, smooth_step: float | None) -> int:
    """One pass of Larch's _finde0 (module docstring, step 1) on energy[:-1], mu[:-1]:
    the index of the largest (smoothed when smooth_step is given) derivative among the
    points above the threshold whose neighbours are above it too; 0 when none is."""
    energy, mu = energy[:-1], mu[:-1]
    n = energy.size
    derivative = np.gradient(mu) / np.gradient(energy)
    if smooth_step is not None:
        derivative = lorentzian_smooth(energy, derivative, smooth_step)
    derivative[~np.isfinite(derivative)] = -1.0
    nmin = max(3, int(0.02 * n))
    inner = derivative[nmin:n - nmin]
    if inner.size == 0:
        return 0
    scaled = (derivative - inner.min()) / max(1e-10, float(np.ptp(inner)))
    threshold = 0.6 if n > 20 else 0.3
    high = np.flatnonzero(scaled > threshold)
    if high.size < 3:  # lower the threshold (Larch: at most twice, stopping once more than 3 pass)
        for _ in range(2):
            if high.size > 3:
                break
            threshold *= 0.5
            high = np.flatnonzero(scaled > threshold)
    if high.size < 3:
        high = np.arange(n)
    ok = np.isin(high + 1, high) & np.isin(high - 1, high) & (high >= nmin) & (high <= n - nmin) & (scaled[high] > 0)
    if not ok.any():
        return 0
    candidates = high[ok]
    return int(candidates[np.argmax(scaled[candidates])])


def find_e0(energy, mu) -> float:
    """E0 [eV]: the energy of the steepest rise of mu, by Larch's find_e0 (module
    docstring, step 1). energy [eV] increasing without repeats (clean_spectrum)."""
    energy = np.asarray(energy, dtype=float)
    mu = np.asarray(mu, dtype=float)
    n = energy.size
    if n < MIN_POINTS:
        raise ConfigError(f"a spectrum needs at least {MIN_POINTS} energies to find E0; got {n}")
    rough = _steepest_point(energy, mu, None)
    e_rough = energy[rough]
    start, stop = max(3, rough - E0_WINDOW_POINTS), min(rough + E0_WINDOW_POINTS, n - 3)
    if rough < 0.05 * n:  # in the first 5 % of the scan: a glitch
        e_rough = energy.mean()
        start, stop = max(3, rough - 20), n - 3
    step = 0.5 * (_clip_step(_finest_step(energy[:-1])) + _clip_step(e_rough / 25000.0))
    fine = _steepest_point(energy[start:stop], mu[start:stop], step)
    return float(energy[start + 2] if fine < 1 else energy[start + fine])


def normalise(energy, mu, e0=None, pre1=None, pre2=None, norm1=None, norm2=None, nnorm=None) -> Normalised:
    """Pre-edge subtraction and normalisation of mu(E) (energy [eV]) as Larch's pre_edge
    with its defaults (module docstring): E0 (found unless given, [eV]), pre-edge line over
    [E0 + pre1, E0 + pre2), post-edge polynomial of degree nnorm over [E0 + norm1,
    E0 + norm2) (ranges relative to E0 [eV]; None = Larch's default), edge step, norm, flat,
    and the white-line energy of norm (txm_xanes.fit_white_line)."""
    from chemomech.observables.txm_xanes import FIT_HALF_WIDTH_EV, fit_white_line

    energy, mu = clean_spectrum(energy, mu)
    n = energy.size
    if n < MIN_POINTS:
        raise ConfigError(f"a spectrum needs at least {MIN_POINTS} finite, distinct energies; got {n}")
    e0_found = e0 is None
    if e0 is None:
        e0 = find_e0(energy, mu)
    elif not energy[1] <= e0 <= energy[-2]:
        raise ConfigError(f"e0 = {e0:g} eV: must lie between the second and the second-to-last energy of the scan "
                          f"({energy[1]:.1f}-{energy[-2]:.1f} eV)")
    e0 = float(e0)
    ie0 = _index_nearest(energy, e0)

    # pre-edge range and line (Larch's preedge)
    if pre1 is None:
        pre1 = 5.0 * round((energy[1] - e0) / 5.0) if ie0 > 20 else 2.0 * round((energy[1] - e0) / 2.0)
    pre1 = max(pre1, energy.min() - e0)
    if pre2 is None:
        pre2 = 0.5 * pre1
    pre1, pre2 = min(pre1, pre2), max(pre1, pre2)
    npre = 1
    if _index_of(energy - e0, pre2) - _index_of(energy - e0, pre1) < 3:
        npre = 0
    p1, p2 = _index_of(energy, pre1 + e0), _index_nearest(energy, pre2 + e0)
    if npre == 0:
        p2 = p1 + 1 if p2 == p1 else p2
        pre_edge = np.full(n, mu[p1:p2].mean())
    else:
        p2 = min(n, p1 + 2) if p2 - p1 < 2 else p2
        line = np.polynomial.Polynomial.fit(energy[p1:p2], mu[p1:p2], 1)
        pre_edge = line(energy)

    # post-edge range and polynomial
    if norm2 is None:
        norm2 = 5.0 * round((energy.max() - e0) / 5.0)
    if norm2 < 0:
        norm2 = energy.max() - e0 - norm2
    norm2 = min(norm2, energy.max() - e0)
    if norm1 is None:
        norm1 = min(25.0, 5.0 * round(norm2 / 15.0))
    norm1, norm2 = min(norm1, norm2), max(norm1, norm2)
    norm1 = min(norm1, norm2 - 2.0)
    if nnorm is None:
        nnorm = 2 if norm2 - norm1 >= 300 else (1 if norm2 - norm1 >= 30 else 0)
    nnorm = int(max(min(nnorm, MAX_NNORM), 0))
    p1, p2 = _index_of(energy, norm1 + e0), _index_nearest(energy, norm2 + e0)
    p1 = min(p1, n - 3)
    if p2 - p1 < 2:
        p1, nnorm = p1 - 2, 0
    elif p2 - p1 < 5:
        nnorm = min(1, nnorm)
    curve = np.polynomial.Polynomial.fit(energy[p1:p2], (mu - pre_edge)[p1:p2], nnorm)
    post_edge = pre_edge + curve(energy)

    step = max(1e-12, abs(float(post_edge[ie0] - pre_edge[ie0])))
    norm = (mu - pre_edge) / step
    residue = (post_edge - pre_edge) / step
    flat = norm - residue + residue[ie0]
    flat[:ie0] = norm[:ie0]

    search = (e0, e0 + WHITE_LINE_SEARCH_EV)
    white_line, note = np.nan, ""
    finest = float(np.min(np.diff(energy)))
    if not FIT_HALF_WIDTH_EV > finest:
        note = (f"no white-line fit: the finest energy step ({finest:.3g} eV) is not below the fit's "
                f"half-width {FIT_HALF_WIDTH_EV} eV")
    elif not np.any((energy >= search[0]) & (energy <= search[1])):
        note = f"no white-line fit: no energies within E0..E0 + {WHITE_LINE_SEARCH_EV:g} eV"
    else:
        white_line = float(fit_white_line(energy, norm, search_eV=search, dtype=np.float64))
        if not np.isfinite(white_line):
            note = "no white-line fit: no maximum with negative curvature inside the fit window"
    return Normalised(energy=energy, mu=mu, norm=norm, flat=flat, pre_edge=pre_edge, post_edge=post_edge,
                      e0=e0, edge_step=step, white_line_eV=white_line, pre1=float(pre1), pre2=float(pre2),
                      norm1=float(norm1), norm2=float(norm2), nnorm=nnorm, npre=npre, e0_found=e0_found,
                      white_line_note=note)
