"""Pattern analysis (chemomech.observables.xrd_analysis) on synthetic patterns with planted
answers: peaks built from the hexagonal metric (typed here) and the pseudo-Voigt (checked
here against its definition), with Poisson counting noise from a seeded generator.
Tolerances are a few times the counting-statistics precision of a peak position,
sigma_pos ~ FWHM / sqrt(counts in the peak) ~ 0.02 deg / sqrt(1e6) = 2e-5 deg."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chemomech.errors import ConfigError
from chemomech.observables.xrd_analysis import (
    deconvolve_003,
    peak_positions_widths,
    pseudo_voigt,
    refine_lattice_series,
    rwp_after_scale,
)

WAVELENGTH = 0.1173
REFLECTIONS = [((0, 0, 3), 1.0), ((1, 0, 1), 0.45), ((0, 0, 6), 0.07), ((0, 1, 2), 0.19), ((1, 0, 4), 0.87),
               ((0, 1, 5), 0.17), ((0, 1, 8), 0.26), ((1, 1, 0), 0.26), ((1, 1, 3), 0.19)]


def two_theta_of(hkl, a, c):
    """Bragg's law with the hexagonal 1/d^2 = 4/3 (h^2 + hk + k^2)/a^2 + l^2/c^2 [deg]."""
    h, k, l = hkl
    d = 1 / math.sqrt(4 / 3 * (h * h + h * k + k * k) / a**2 + l * l / c**2)
    return 2 * math.degrees(math.asin(WAVELENGTH / (2 * d)))


def synthetic_pattern(tt, phases, fwhm=0.02, eta=0.4, counts=1e5, seed=0, background=0.01):
    """Sum over phases (a, c, weight) of pseudo-Voigt peaks with the relative intensities of
    REFLECTIONS, a flat background, scaled to `counts` at the maximum, Poisson noise."""
    y = np.full_like(tt, background)
    for a, c, weight in phases:
        for hkl, rel in REFLECTIONS:
            y += weight * rel * 0.02 * pseudo_voigt(tt, two_theta_of(hkl, a, c), fwhm, eta)
    y *= counts / y.max()
    return np.random.default_rng(seed).poisson(y).astype(float)


def test_pseudo_voigt_is_area_normalised_with_given_fwhm():
    """Definition: integral 1 (numerical quadrature over +-2000 FWHM; the Lorentzian tail
    beyond leaves 2 eta/(pi 4000) ~ 1.6e-4 x eta), value at +-FWHM/2 half the peak."""
    t = np.linspace(-40.0, 40.0, 800001)
    for eta in (0.0, 0.3, 1.0):
        y = pseudo_voigt(t, 0.0, 0.02, eta)
        assert np.trapezoid(y, t) == pytest.approx(1.0, abs=2e-4)
        assert pseudo_voigt(0.01, 0.0, 0.02, eta) == pytest.approx(0.5 * pseudo_voigt(0.0, 0.0, 0.02, eta), rel=1e-12)


def test_deconvolution_picks_one_component_on_a_single_peak():
    """Planted: one pseudo-Voigt at 1.42 deg, FWHM 0.02 deg, eta 0.5 (~1.6e4 counts at the
    top over a background of 50, Poisson noise): BIC picks 1 of the 3 component counts; the
    position within 2e-4 deg (a fifth of the 0.001 deg step), the FWHM within 2 %."""
    tt = np.arange(1.35, 1.50, 0.001)
    y = np.random.default_rng(1).poisson(2e4 * 0.02 * pseudo_voigt(tt, 1.42, 0.02, 0.5) + 50).astype(float)
    result = deconvolve_003(tt, y)
    assert result.n_components == 1
    assert result.position[0] == pytest.approx(1.42, abs=2e-4)
    assert result.fwhm[0] == pytest.approx(0.02, rel=0.02)
    assert result.bic.shape == (3,) and np.argmin(result.bic) == 0


def test_deconvolution_finds_two_planted_phases():
    """Two phases 0.03 deg apart (H2 and H3-like (003)), areas 0.6 : 0.4: BIC picks 2 and
    the positions come back within 1e-3 deg, the area fractions within 0.02."""
    tt = np.arange(1.35, 1.50, 0.001)
    model = 2e4 * 0.02 * (0.6 * pseudo_voigt(tt, 1.40, 0.02, 0.5) + 0.4 * pseudo_voigt(tt, 1.43, 0.02, 0.5)) + 50
    y = np.random.default_rng(2).poisson(model).astype(float)
    result = deconvolve_003(tt, y, sigma=np.sqrt(np.maximum(y, 1)))
    assert result.n_components == 2
    assert result.position == pytest.approx([1.40, 1.43], abs=1e-3)
    assert result.area[0] / result.area.sum() == pytest.approx(0.6, abs=0.02)
    with pytest.raises(ConfigError):
        deconvolve_003(tt, y, max_components=4)


def test_refinement_recovers_one_phase_from_a_far_start():
    """Planted a = 2.840, c = 14.350 A; start a0 = 2.872, c0 = 14.19 (1.1 % off): the
    +-2 % search and the Pawley fit recover them within 2e-4 A (the counting precision at
    1e5 counts is ~1e-5 A)."""
    tt = np.arange(1.2, 5.1, 0.001)
    y = synthetic_pattern(tt, [(2.840, 14.350, 1.0)])
    lattice = refine_lattice_series(tt, y, WAVELENGTH, 2.872, 14.19, phases=1)
    assert float(lattice.a[0, 0]) == pytest.approx(2.840, abs=2e-4)
    assert float(lattice.c[0, 0]) == pytest.approx(14.350, abs=2e-4)
    assert float(lattice.rwp[0]) < 0.02  # Poisson noise of ~1e4-count points: Rwp ~ 1 %
    assert int(lattice.n_phases[0]) == 1 and np.isnan(lattice.a[0, 1])


@pytest.mark.slow
def test_refinement_recovers_two_phases_with_phase_count_from_bic():
    """Two phases, H2-like (2.834, 14.42) and H3-like (2.817, 14.00), weights 0.6/0.4:
    the (003) BIC finds 2, and a, c of each come back within 5e-4 A; phase weights (share of
    intensity, equal relative intensities here) within 0.03."""
    tt = np.arange(1.2, 5.1, 0.001)
    y = synthetic_pattern(tt, [(2.834, 14.42, 0.6), (2.817, 14.00, 0.4)], counts=1e5, seed=3)
    sigma = np.sqrt(np.maximum(y, 1.0))
    lattice = refine_lattice_series(tt, y, WAVELENGTH, 2.872, 14.19, deconvolution_sigma=sigma)
    assert int(lattice.n_phases[0]) == 2
    assert lattice.a.values[0, :2] == pytest.approx([2.834, 2.817], abs=5e-4)
    assert lattice.c.values[0, :2] == pytest.approx([14.42, 14.00], abs=5e-4)
    assert lattice.phase_weight.values[0, :2] == pytest.approx([0.6, 0.4], abs=0.03)


@pytest.mark.slow
def test_sequential_refinement_follows_a_series():
    """A short series (c +0.4 % and a -0.3 % per pattern, as in early charge): each pattern
    starts from the previous answer and recovers its planted cell within 2e-4 A."""
    tt = np.arange(1.2, 5.1, 0.001)
    cells = [(2.872 * (1 - 0.003 * i), 14.19 * (1 + 0.004 * i)) for i in range(4)]
    y = np.array([synthetic_pattern(tt, [(a, c, 1.0)], seed=10 + i) for i, (a, c) in enumerate(cells)])
    lattice = refine_lattice_series(tt, y, WAVELENGTH, 2.872, 14.19, phases=1)
    assert lattice.a.values[:, 0] == pytest.approx([a for a, _ in cells], abs=2e-4)
    assert lattice.c.values[:, 0] == pytest.approx([c for _, c in cells], abs=2e-4)
    assert lattice.a.attrs["units"] == "angstrom"  # one spelling for every result (CF/UDUNITS: "angstrom", "1" for dimensionless)


def test_peak_positions_widths_and_rwp():
    """One pseudo-Voigt per window recovers planted positions/FWHM of two patterns;
    rwp_after_scale: an exact multiple has scale 3 and Rwp 0; y_o = y_c + e with e
    orthogonal to y_c gives scale 1 and Rwp = |e| / |y_o| (the formula by hand)."""
    tt = np.arange(3.2, 3.4, 0.001)
    y = np.array([1e4 * 0.02 * pseudo_voigt(tt, p, 0.025, 0.3) + 5 for p in (3.28, 3.31)])
    fit = peak_positions_widths(tt, y, [(3.22, 3.36)])
    assert fit.position.values[:, 0] == pytest.approx([3.28, 3.31], abs=1e-6)
    assert fit.fwhm.values[:, 0] == pytest.approx([0.025, 0.025], rel=1e-4)
    calc = np.array([1.0, 2.0, 3.0, 4.0])
    rwp, scale = rwp_after_scale(3 * calc, calc)
    assert scale == pytest.approx(3.0) and rwp == pytest.approx(0.0, abs=1e-14)
    e = np.array([1.0, -1.0, 1.0, -0.5])  # e . calc = 1 - 2 + 3 - 2 = 0
    rwp, scale = rwp_after_scale(calc + e, calc)
    assert scale == pytest.approx(1.0)
    assert rwp == pytest.approx(np.linalg.norm(e) / np.linalg.norm(calc + e))
    # with a constant background: y_o = 2 y_c + 7 exactly -> scale 2, background 7, Rwp 0
    rwp, scale, background = rwp_after_scale(2 * calc + 7, calc, background=True)
    assert (scale, background) == pytest.approx((2.0, 7.0)) and rwp == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ConfigError):
        rwp_after_scale(calc, calc[:3])
