"""Analysis of powder patterns, simulated or measured (plain numpy arrays in, results out):
pseudo-Voigt peaks, (003) deconvolution into 1-3 components, sequential Pawley-type
refinement of a and c per phase, single-peak fits in windows, and Rwp after scaling.

- Pseudo-Voigt (area-normalised): pV = eta L + (1 - eta) G with the same FWHM w,
  L = (2 / (pi w)) / (1 + 4 u^2), G = (2 sqrt(ln 2 / pi) / w) exp(-4 ln 2 u^2), u = (t - t0)/w
  (Thompson, Cox & Hastings, J. Appl. Cryst. 20 (1987) 79 use the same form).
- Model choice by the Bayesian information criterion (Schwarz, Ann. Stat. 6 (1978) 461):
  BIC = chi^2 + p ln n with known point errors sigma, or BIC = n ln(RSS / n) + p ln n with
  unknown, equal errors (Gaussian likelihood with the variance maximised out); p = number
  of fitted parameters, n = number of points. The count with the lowest BIC wins.
- Pawley refinement (Pawley, J. Appl. Cryst. 14 (1981) 357): peak positions from the cell
  (hexagonal 1/d^2), free intensity per reflection and phase, width and background, fitted
  to the whole pattern by least squares. Here the linear unknowns (intensities >= 0,
  background) are solved exactly for every trial of the nonlinear ones (a, c, widths, eta)
  by non-negative least squares ("variable projection", Golub & Pereyra 1973), and the
  nonlinear ones by scipy.optimize.least_squares (trust-region reflective).
- Rwp = sqrt( sum w (y_obs - y_calc)^2 / sum w y_obs^2 ), w = 1/sigma^2 (1 if unknown)
  (Young, The Rietveld Method, 1993, ch. 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy.optimize import least_squares, nnls

from chemomech.errors import ConfigError
from chemomech.observables import crystallography as cr

LN2 = np.log(2.0)


def pseudo_voigt(two_theta, center, fwhm, eta):
    """Area-normalised pseudo-Voigt [1/deg]: eta L + (1 - eta) G, both of FWHM `fwhm` [deg]
    centred at `center` [deg] (module docstring); numpy-broadcast."""
    u = (np.asarray(two_theta) - center) / fwhm
    lorentz = 2.0 / (np.pi * fwhm) / (1.0 + 4.0 * u * u)
    gauss = 2.0 * np.sqrt(LN2 / np.pi) / fwhm * np.exp(-4.0 * LN2 * u * u)
    return eta * lorentz + (1.0 - eta) * gauss


def bic(residual, n_parameters: int, sigma=None) -> float:
    """BIC = chi^2 + p ln n (sigma known) or n ln(RSS/n) + p ln n (sigma None)."""
    residual = np.asarray(residual, dtype=float)
    n = residual.size
    if sigma is None:
        rss = max(float(residual @ residual), 1e-300)
        return n * np.log(rss / n) + n_parameters * np.log(n)
    chi2 = float(np.sum((residual / sigma) ** 2))
    return chi2 + n_parameters * np.log(n)


def _as_sigma(sigma, n):
    if sigma is None:
        return None
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (n,))
    if np.any(~(sigma > 0)):
        raise ConfigError("sigma must be positive everywhere")
    return sigma


def _check_pattern(two_theta, intensity):
    two_theta = np.asarray(two_theta, dtype=float)
    intensity = np.asarray(intensity, dtype=float)
    if two_theta.ndim != 1 or two_theta.size < 8:
        raise ConfigError("two_theta must be a 1-D array of at least 8 angles [deg]")
    if intensity.shape[-1] != two_theta.size:
        raise ConfigError(
            f"intensity has {intensity.shape[-1]} points along 2 theta, two_theta has {two_theta.size}"
        )
    for name, values in (("two_theta", two_theta), ("intensity", intensity)):
        bad = ~np.isfinite(values)
        if bad.any():  # least_squares would stop at "Initial guess is outside of provided bounds"
            first = ", ".join(str(int(i)) for i in np.argwhere(bad)[0])
            raise ConfigError(f"{name} holds {int(bad.sum())} NaN/inf values (first at index [{first}]); "
                              "drop those points first (readers.read_powder_pattern drops such rows of a file)")
    if np.any(np.diff(two_theta) <= 0):
        raise ConfigError("two_theta must increase")
    return two_theta, intensity


# ---------------------------------------------------------------------------------------
# (003) deconvolution
# ---------------------------------------------------------------------------------------
@dataclass
class Deconvolution:
    """Result of `deconvolve_003`: components ordered by position (increasing 2 theta).

    position, fwhm [deg], area [intensity x deg] per component; eta (shared); background
    b0 + b1 (2theta - centre); bic[k - 1] = BIC of the best k-component fit."""

    n_components: int
    position: np.ndarray
    fwhm: np.ndarray
    area: np.ndarray
    eta: float
    background: tuple
    background_centre: float
    bic: np.ndarray
    criterion: str = "BIC"
    two_theta: np.ndarray = field(default=None, repr=False)

    def component(self, i, two_theta=None):
        """Intensity of component i on `two_theta` (default: the fitted grid)."""
        t = self.two_theta if two_theta is None else np.asarray(two_theta)
        return self.area[i] * pseudo_voigt(t, self.position[i], self.fwhm[i], self.eta)

    def background_curve(self, two_theta=None):
        t = self.two_theta if two_theta is None else np.asarray(two_theta)
        return self.background[0] + self.background[1] * (t - self.background_centre)

    def total(self, two_theta=None):
        t = self.two_theta if two_theta is None else np.asarray(two_theta)
        return self.background_curve(t) + sum(self.component(i, t) for i in range(self.n_components))


def _multi_pv(params, t, k, centre):
    """Model of k pseudo-Voigts (shared eta) + linear background.
    params = [pos_1..k, fwhm_1..k, area_1..k, eta, b0, b1]."""
    pos, fw, area = params[:k], params[k:2 * k], params[2 * k:3 * k]
    eta, b0, b1 = params[3 * k:3 * k + 3]
    y = b0 + b1 * (t - centre)
    for i in range(k):
        y = y + area[i] * pseudo_voigt(t, pos[i], fw[i], eta)
    return y


def _initial_positions(t, y, k):
    """Starting positions for k components: the k highest local maxima of the (slightly
    smoothed) pattern, completed by quantiles of the cumulative intensity."""
    from scipy.signal import find_peaks

    smooth = np.convolve(y, np.ones(5) / 5.0, mode="same")
    peaks, props = find_peaks(smooth, prominence=0.02 * (smooth.max() - smooth.min()))
    order = np.argsort(props["prominences"])[::-1]
    chosen = list(t[peaks[order[:k]]])
    positive = np.clip(y - np.percentile(y, 10), 0, None)
    cumulative = np.cumsum(positive)
    cumulative /= cumulative[-1] if cumulative[-1] > 0 else 1.0
    quantiles = [float(np.interp((i + 0.5) / k, cumulative, t)) for i in range(k)]
    starts = [sorted(quantiles)]
    if chosen:
        extra = [q for q in quantiles if all(abs(q - c) > 1e-9 for c in chosen)]
        starts.insert(0, sorted(chosen + extra[: k - len(chosen)]))
    return starts


def _fit_components(t, y, k, sigma):
    centre = 0.5 * (t[0] + t[-1])
    span = t[-1] - t[0]
    step = float(np.min(np.diff(t)))
    base = float(np.percentile(y, 5))
    # width of the whole feature: FWHM of the pattern above background
    above = t[y - base > 0.5 * (y.max() - base)]
    total_width = max(float(above[-1] - above[0]) if above.size else span / 10, 3 * step)
    area_total = max(float(np.trapezoid(np.clip(y - base, 0, None), t)), 1e-30)
    height = max(float(np.max(np.abs(y))), 1e-30)
    best = None
    for positions in _initial_positions(t, y, k):
        p0 = np.concatenate([
            positions, np.full(k, max(total_width / k, 2 * step)), np.full(k, area_total / k), [0.5, base, 0.0]
        ])
        lower = np.concatenate([np.full(k, t[0]), np.full(k, step), np.zeros(k), [0.0, -np.inf, -np.inf]])
        upper = np.concatenate([np.full(k, t[-1]), np.full(k, span), np.full(k, np.inf), [1.0, np.inf, np.inf]])
        p0 = np.clip(p0, lower, upper)
        scale = np.concatenate([np.full(k, step), np.full(k, step), np.full(k, area_total / k), [0.1, height * 1e-2, height * 1e-2 / span]])
        weight = 1.0 if sigma is None else 1.0 / sigma

        def residual(p):
            return (_multi_pv(p, t, k, centre) - y) * weight

        fit = least_squares(residual, p0, bounds=(lower, upper), x_scale=scale, method="trf", max_nfev=400 * (k + 1))
        if best is None or fit.cost < best.cost:
            best = fit
    raw = best.fun if sigma is None else best.fun * sigma
    return best.x, bic(raw, 3 * k + 3, sigma), centre


def deconvolve_003(two_theta, intensity, max_components: int = 3, sigma=None) -> Deconvolution:
    """Fit the (003) region (`two_theta` [deg], `intensity`, 1-D; pass only the window) with
    1..max_components pseudo-Voigt components (own position, FWHM and area; shared eta) plus a
    linear background by least squares, and keep the count with the lowest BIC (module
    docstring; sigma: point errors, scalar or array, or None for unknown equal errors).
    Components are ordered by position."""
    t, y = _check_pattern(two_theta, intensity)
    if y.ndim != 1:
        raise ConfigError("deconvolve_003 takes one pattern (1-D intensity)")
    if not 1 <= int(max_components) <= 3:
        raise ConfigError(f"max_components = {max_components} is out of range; allowed 1, 2, 3")
    sigma = _as_sigma(sigma, t.size)
    fits, bics = [], []
    for k in range(1, int(max_components) + 1):
        params, value, centre = _fit_components(t, y, k, sigma)
        fits.append(params)
        bics.append(value)
    k = int(np.argmin(bics)) + 1
    p = fits[k - 1]
    order = np.argsort(p[:k])
    return Deconvolution(
        n_components=k,
        position=p[:k][order],
        fwhm=p[k:2 * k][order],
        area=p[2 * k:3 * k][order],
        eta=float(p[3 * k]),
        background=(float(p[3 * k + 1]), float(p[3 * k + 2])),
        background_centre=centre,
        bic=np.array(bics),
        two_theta=t,
    )


# ---------------------------------------------------------------------------------------
# single peaks in windows, Rwp
# ---------------------------------------------------------------------------------------
def peak_positions_widths(two_theta, intensity, windows_deg) -> xr.Dataset:
    """One pseudo-Voigt + linear background per window (lo, hi) [deg] per pattern.
    intensity: (n_two_theta,) or (n_patterns, n_two_theta). Returns position, fwhm [deg],
    area, eta over (pattern, window)."""
    t, y = _check_pattern(two_theta, intensity)
    y2 = np.atleast_2d(y)
    windows = np.asarray(windows_deg, dtype=float).reshape(-1, 2)
    out = {name: np.full((y2.shape[0], windows.shape[0]), np.nan) for name in ("position", "fwhm", "area", "eta")}
    for w, (lo, hi) in enumerate(windows):
        inside = (t >= lo) & (t <= hi)
        if inside.sum() < 8:
            raise ConfigError(f"window {lo:g}-{hi:g} deg holds {inside.sum()} points; needs at least 8")
        for i in range(y2.shape[0]):
            p, _, _ = _fit_components(t[inside], y2[i, inside], 1, None)
            out["position"][i, w], out["fwhm"][i, w], out["area"][i, w], out["eta"][i, w] = p[0], p[1], p[2], p[3]
    units = {"position": "deg", "fwhm": "deg", "area": "intensity x deg", "eta": "-"}
    return xr.Dataset(
        {k: (("pattern", "window"), v, {"units": units[k]}) for k, v in out.items()},
        coords={"window_low": ("window", windows[:, 0], {"units": "deg"}),
                "window_high": ("window", windows[:, 1], {"units": "deg"})},
    )


def rwp_after_scale(observed, calculated, sigma=None, background: bool = False):
    """Best scale s (and, with background=True, a constant background b) by weighted linear
    least squares of y_o ~ s y_c (+ b), then
    Rwp = sqrt( sum w (y_o - s y_c - b)^2 / sum w y_o^2 ), w = 1/sigma^2 (1 when sigma is None).
    Returns (rwp, scale), or (rwp, scale, background) with background=True."""
    yo = np.asarray(observed, dtype=float)
    yc = np.asarray(calculated, dtype=float)
    if yo.shape != yc.shape:
        raise ConfigError(f"observed {yo.shape} and calculated {yc.shape} patterns differ in shape")
    w = np.ones_like(yo) if sigma is None else 1.0 / np.broadcast_to(np.asarray(sigma, dtype=float), yo.shape) ** 2
    if background:
        root = np.sqrt(w)
        design = np.stack([yc * root, root], axis=1)
        (scale, offset), *_ = np.linalg.lstsq(design, yo * root, rcond=None)
        scale, offset = float(scale), float(offset)
    else:
        denominator = float(np.sum(w * yc * yc))
        scale, offset = (float(np.sum(w * yo * yc)) / denominator if denominator > 0 else 0.0), 0.0
    rwp = float(np.sqrt(np.sum(w * (yo - scale * yc - offset) ** 2) / np.sum(w * yo * yo)))
    return (rwp, scale, offset) if background else (rwp, scale)


# ---------------------------------------------------------------------------------------
# sequential Pawley-type refinement
# ---------------------------------------------------------------------------------------
def _pawley_design(t, wavelength_A, reflections, a, c, w0, u0, eta):
    """Columns: one area-normalised pseudo-Voigt per (phase, reflection) at the cell's
    2 theta, FWHM_p = sqrt(w0_p^2 + u0_p^2 tan^2 theta)."""
    columns = []
    for p in range(len(a)):
        for hkl in reflections:
            s = wavelength_A / (2.0 * cr.d_spacing(hkl, a[p], c[p]))
            if not s < 1.0:
                columns.append(np.zeros_like(t))
                continue
            tt = np.degrees(2.0 * np.arcsin(s))
            tan = np.tan(np.radians(tt) / 2.0)
            fwhm = np.sqrt(w0[p] ** 2 + (u0[p] * tan) ** 2)
            columns.append(pseudo_voigt(t, tt, fwhm, eta))
    return np.array(columns).T


def _background_columns(t):
    z = (t - t.mean()) / (0.5 * np.ptp(t))
    basis = [np.ones_like(t), z, z * z]
    # +- pairs so that non-negative least squares allows either sign
    return np.array([sign * b for b in basis for sign in (1.0, -1.0)]).T


def pawley_fit(two_theta, intensity, wavelength_A, a_start, c_start, fwhm_start_deg=0.02,
               eta_start=0.5, reflections=cr.REFLECTIONS, sigma=None, scan: bool = False,
               a_bounds=(0.0, np.inf), c_bounds=(0.0, np.inf), intensity_ratios=None):
    """Pawley fit of one pattern with len(a_start) phases (module docstring).

    Nonlinear unknowns per phase: a, c [Angstrom], FWHM terms w0, u0 [deg]
    (FWHM^2 = w0^2 + u0^2 tan^2 theta); shared eta. Linear unknowns (solved exactly at every
    step): intensity >= 0 per (phase, reflection), quadratic background.
    scan=True first searches each phase's c, then a, over +-2 % of the start on a 0.05 %
    grid (the variable-projection cost at fixed widths), for starts far from the answer.
    a and c stay within +-3 % (+-5 % without scan) of the start and within a_bounds,
    c_bounds [Angstrom]. intensity_ratios (one per reflection): if given, every phase's
    reflection intensities are a free scale times these ratios (a Rietveld-like constraint
    that ties each phase's a-sensitive reflections to its (003)), instead of free.
    Returns a dict: a, c, w0, u0, eta, intensities (phase, reflection), calculated, rwp."""
    t, y = _check_pattern(two_theta, intensity)
    n_phase = len(a_start)
    sigma = _as_sigma(sigma, t.size)
    weight = np.ones_like(t) if sigma is None else 1.0 / sigma
    background = _background_columns(t)
    n_refl = len(reflections)

    def unpack(p):
        a = p[0:n_phase]
        c = p[n_phase:2 * n_phase]
        w0 = p[2 * n_phase:3 * n_phase]
        u0 = p[3 * n_phase:4 * n_phase]
        return a, c, w0, u0, p[4 * n_phase]

    ratios = None if intensity_ratios is None else np.asarray(intensity_ratios, dtype=float)

    def peak_columns(a, c, w0, u0, eta):
        columns = _pawley_design(t, wavelength_A, reflections, a, c, w0, u0, eta)
        if ratios is None:
            return columns
        return np.array([columns[:, p * n_refl:(p + 1) * n_refl] @ ratios for p in range(n_phase)]).T

    def solve_linear(p):
        a, c, w0, u0, eta = unpack(p)
        design = np.hstack([peak_columns(a, c, w0, u0, eta), background])
        scale = np.sqrt((design**2).sum(axis=0)) + 1e-300
        coef, _ = nnls(design / scale * weight[:, None], y * weight, maxiter=50 * design.shape[1])
        coef = coef / scale
        return design, coef

    def residual(p):
        design, coef = solve_linear(p)
        return (design @ coef - y) * weight

    step = float(np.min(np.diff(t)))
    p0 = np.concatenate([a_start, c_start, np.full(n_phase, fwhm_start_deg), np.full(n_phase, 1e-3), [eta_start]])
    lower = np.concatenate([np.asarray(a_start) * 0.95, np.asarray(c_start) * 0.95, np.full(n_phase, step),
                            np.zeros(n_phase), [0.0]])
    upper = np.concatenate([np.asarray(a_start) * 1.05, np.asarray(c_start) * 1.05, np.full(n_phase, 1.0),
                            np.full(n_phase, 1.0), [1.0]])
    def limit():
        for block, (lo_, hi_) in enumerate((a_bounds, c_bounds)):
            j = slice(block * n_phase, (block + 1) * n_phase)
            lower[j] = np.clip(lower[j], lo_, hi_)
            upper[j] = np.clip(upper[j], lo_, hi_)
        np.copyto(p0, np.clip(p0, lower, upper))

    limit()
    if scan:
        factors = 1.0 + np.linspace(-0.02, 0.02, 81)
        for block in (1, 0):  # c, then a
            for phase in range(n_phase):
                j = block * n_phase + phase
                costs = []
                for factor in factors:
                    trial = p0.copy()
                    trial[j] = np.clip(p0[j] * factor, lower[j], upper[j])
                    r = residual(trial)
                    costs.append(r @ r)
                p0[j] = np.clip(p0[j] * factors[int(np.argmin(costs))], lower[j], upper[j])
        lower[:2 * n_phase] = p0[:2 * n_phase] * 0.97
        upper[:2 * n_phase] = p0[:2 * n_phase] * 1.03
        limit()
    x_scale = np.concatenate([np.full(2 * n_phase, 1e-4), np.full(2 * n_phase, 1e-3), [0.05]])
    fit = least_squares(residual, p0, bounds=(lower, upper), x_scale=x_scale, method="trf",
                        diff_step=1e-7, max_nfev=200)
    design, coef = solve_linear(fit.x)
    a, c, w0, u0, eta = unpack(fit.x)
    calculated = design @ coef
    if ratios is None:
        intensities = coef[: n_phase * n_refl].reshape(n_phase, n_refl)
    else:
        intensities = coef[:n_phase, None] * ratios[None, :]
    rwp = float(np.sqrt(np.sum((weight * (y - calculated)) ** 2) / np.sum((weight * y) ** 2)))
    return {
        "a": a.copy(), "c": c.copy(), "w0": w0.copy(), "u0": u0.copy(), "eta": float(eta),
        "intensities": intensities,
        "calculated": calculated, "rwp": rwp,
    }


#: plausible ranges of a/a0 and c/c0 for layered LiMO2 over a full charge (a falls ~2-2.5 %,
#: c rises ~2 % then collapses by up to ~7 %; physics brief), bounding the refinement so
#: that a phase whose a-sensitive reflections carry no intensity cannot wander off
A_RANGE = (0.965, 1.01)
C_RANGE = (0.92, 1.05)


def window_003(wavelength_A, c0, low=C_RANGE[0], high=C_RANGE[1]):
    """2 theta window [deg] holding (003) for c between low c0 and high c0 (default
    0.92-1.05 c0, wider than the H1-H2-H3 range of Ni-rich oxides)."""
    return (float(cr.two_theta_deg((0, 0, 3), 1.0, high * c0, wavelength_A)),
            float(cr.two_theta_deg((0, 0, 3), 1.0, low * c0, wavelength_A)))


def refine_lattice_series(two_theta, intensity, wavelength_A, a0, c0, phases=None,
                          reflections=cr.REFLECTIONS, sigma=None, max_phases: int = 3,
                          deconvolution_sigma=None, progress=None) -> xr.Dataset:
    """Sequential Pawley-type refinement of a pattern series (n_patterns, n_two_theta).

    Per pattern, a and c of each phase (with free reflection intensities, widths, eta and a
    quadratic background) are fitted to the whole pattern (`pawley_fit`); each pattern
    starts from the previous pattern's answer (the first from a0, c0 [Angstrom], and any pattern whose phase count changed, after a
    +-2 % search of c and a, see `pawley_fit`). The number
    of phases per pattern is `phases` (an int or one per pattern) or, if None, the number of
    (003) components chosen by `deconvolve_003` (BIC) in the (003) window; new phases start
    at c = 3 lambda / (2 sin theta) of their (003) component and at the a of the previous
    pattern's phase with the nearest c. Phases are ordered by decreasing c (increasing (003)
    2 theta). a and c stay within A_RANGE x a0 and C_RANGE x c0. Single-phase patterns
    have free reflection intensities; multi-phase patterns after a single-phase one share
    its relative intensities (a scale per phase), which keeps each phase's a tied to its own
    (003) when the phases overlap; multi-phase patterns with no single-phase pattern
    before them keep free intensities. phase_weight = the phase's share of the fitted integrated intensity (equal to
    its volume fraction when the phases' structure factors are equal).
    Returns a Dataset: a, c, volume (pattern, phase), phase_weight, fwhm_003, rwp(pattern),
    n_phases(pattern) and the deconvolution (dec_position, dec_fwhm, dec_area (pattern,
    component), dec_bic (pattern, components), n_components).
    progress: optional callable(done, total), called after each refined pattern."""
    t, y = _check_pattern(two_theta, intensity)
    y = np.atleast_2d(y)
    wavelength_A = float(wavelength_A)
    if not wavelength_A > 0:
        raise ConfigError(f"wavelength_A = {wavelength_A:g} must be positive (Angstrom)")
    n_pat = y.shape[0]
    if phases is None:
        counts = None
    else:
        counts = np.broadcast_to(np.asarray(phases, dtype=int), (n_pat,)).copy()
        if np.any(counts < 1) or np.any(counts > max_phases):
            raise ConfigError(f"phases must lie in 1..{max_phases}")
    lo, hi = window_003(wavelength_A, c0)
    a_bounds = (A_RANGE[0] * a0, A_RANGE[1] * a0)
    c_bounds = (C_RANGE[0] * c0, C_RANGE[1] * c0)
    inside = (t >= lo) & (t <= hi)
    if inside.sum() < 8:
        raise ConfigError(f"the pattern does not cover the (003) window {lo:.3f}-{hi:.3f} deg")
    shape = (n_pat, max_phases)
    res = {k: np.full(shape, np.nan) for k in ("a", "c", "phase_weight", "fwhm_003")}
    dec = {k: np.full(shape, np.nan) for k in ("dec_position", "dec_fwhm", "dec_area")}
    dec_bic = np.full(shape, np.nan)
    dec_eta = np.full(n_pat, np.nan)
    dec_background = np.full((n_pat, 3), np.nan)
    n_components = np.zeros(n_pat, dtype=int)
    n_phases = np.zeros(n_pat, dtype=int)
    rwp = np.full(n_pat, np.nan)
    prev_a, prev_c = np.array([a0], dtype=float), np.array([c0], dtype=float)
    prev_w0, prev_eta = np.array([0.02]), 0.5
    reference_ratios = None
    for i in range(n_pat):
        d_sigma = None if deconvolution_sigma is None else np.asarray(deconvolution_sigma)[..., inside]
        if d_sigma is not None and d_sigma.ndim == 2:
            d_sigma = d_sigma[i]
        decon = deconvolve_003(t[inside], y[i, inside], max_components=max_phases, sigma=d_sigma)
        k = decon.n_components
        n_components[i] = k
        dec["dec_position"][i, :k], dec["dec_fwhm"][i, :k], dec["dec_area"][i, :k] = decon.position, decon.fwhm, decon.area
        dec_bic[i, : decon.bic.size] = decon.bic
        dec_eta[i] = decon.eta
        dec_background[i] = (decon.background[0], decon.background[1], decon.background_centre)
        n = k if counts is None else int(counts[i])
        # starting cell per phase
        if n == prev_c.size:
            a_start, c_start, w_start = prev_a.copy(), prev_c.copy(), prev_w0.copy()
        else:
            if n == k:
                c_start = 3.0 * wavelength_A / (2.0 * np.sin(np.radians(decon.position) / 2.0))
            else:
                c_start = np.linspace(prev_c.max(), prev_c.min(), n) if prev_c.size > 1 else prev_c[0] * (1 + 0.004 * (np.arange(n) - (n - 1) / 2))
            a_start = np.array([prev_a[np.argmin(np.abs(prev_c - cc))] for cc in c_start])
            w_start = np.full(n, float(np.median(prev_w0)))
        order = np.argsort(c_start)[::-1]
        a_start, c_start, w_start = a_start[order], c_start[order], w_start[order]
        fit = pawley_fit(t, y[i], wavelength_A, a_start, c_start, float(np.median(w_start)), prev_eta,
                         reflections, None if sigma is None else (np.asarray(sigma)[i] if np.ndim(sigma) == 2 else sigma),
                         scan=(i == 0 or n != prev_c.size), a_bounds=a_bounds, c_bounds=c_bounds,
                         intensity_ratios=None if n == 1 else reference_ratios)
        if n == 1:
            reference_ratios = fit["intensities"][0] / max(float(fit["intensities"][0].sum()), 1e-300)
        order = np.argsort(fit["c"])[::-1]
        a, c = fit["a"][order], fit["c"][order]
        res["a"][i, :n], res["c"][i, :n] = a, c
        totals = fit["intensities"][order].sum(axis=1)
        res["phase_weight"][i, :n] = totals / totals.sum() if totals.sum() > 0 else np.nan
        tan003 = np.array([np.tan(np.radians(cr.two_theta_deg((0, 0, 3), a[p], c[p], wavelength_A)) / 2) for p in range(n)])
        res["fwhm_003"][i, :n] = np.sqrt(fit["w0"][order] ** 2 + (fit["u0"][order] * tan003) ** 2)
        rwp[i] = fit["rwp"]
        n_phases[i] = n
        prev_a, prev_c, prev_w0, prev_eta = a, c, fit["w0"][order], fit["eta"]
        if progress is not None:
            progress(i + 1, n_pat)
    volume = np.sqrt(3.0) / 2.0 * res["a"] ** 2 * res["c"]
    data = {
        "a": (("pattern", "phase"), res["a"], {"units": "angstrom", "long_name": "refined a"}),
        "c": (("pattern", "phase"), res["c"], {"units": "angstrom", "long_name": "refined c"}),
        "volume": (("pattern", "phase"), volume, {"units": "angstrom^3", "long_name": "hexagonal cell volume"}),
        "phase_weight": (("pattern", "phase"), res["phase_weight"], {"units": "1", "long_name": "share of integrated intensity"}),
        "fwhm_003": (("pattern", "phase"), res["fwhm_003"], {"units": "deg"}),
        "rwp": (("pattern",), rwp, {"units": "1", "long_name": "weighted-profile R factor"}),
        "n_phases": (("pattern",), n_phases, {"units": "1"}),
        "n_components": (("pattern",), n_components, {"units": "1", "long_name": "(003) components chosen by BIC"}),
        "dec_position": (("pattern", "component"), dec["dec_position"], {"units": "deg"}),
        "dec_fwhm": (("pattern", "component"), dec["dec_fwhm"], {"units": "deg"}),
        "dec_area": (("pattern", "component"), dec["dec_area"], {"units": "intensity x deg"}),
        "dec_bic": (("pattern", "components"), dec_bic, {"units": "1", "long_name": "BIC of the k-component (003) fit"}),
        "dec_eta": (("pattern",), dec_eta, {"units": "1", "long_name": "pseudo-Voigt eta of the (003) components"}),
        "dec_background": (("pattern", "background_term"), dec_background,
                           {"units": "intensity, intensity/deg, deg", "long_name": "b0 + b1 (2theta - centre): b0, b1, centre"}),
    }
    coords = {"pattern": np.arange(n_pat), "phase": np.arange(max_phases), "component": np.arange(max_phases),
              "components": np.arange(1, max_phases + 1),
              "background_term": ["b0", "b1", "centre"]}
    attrs = {"wavelength_A": wavelength_A, "a0_A": float(a0), "c0_A": float(c0),
             "reflections": " ".join(cr.reflection_label(h) for h in reflections),
             "method": "sequential Pawley-type refinement (variable projection, NNLS intensities); phases by (003) BIC",
             "window_003_deg": f"{lo:.4f} {hi:.4f}"}
    return xr.Dataset(data, coords=coords, attrs=attrs)
