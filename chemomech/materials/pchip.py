"""Monotone piecewise cubic Hermite interpolation (PCHIP) of a material table.

The interpolant through the points (x_k, y_k), k = 0 .. n-1, x strictly rising, is on each
interval [x_k, x_k+1] of width h_k the cubic Hermite polynomial

    p(x) = y_k H00(t) + h_k d_k H10(t) + y_k+1 H01(t) + h_k d_k+1 H11(t),  t = (x - x_k) / h_k,
    H00 = (1 + 2t)(1 - t)^2,  H10 = t (1 - t)^2,  H01 = t^2 (3 - 2t),  H11 = t^2 (t - 1),

with the slopes d_k chosen so that p is monotone wherever the data are (Fritsch & Carlson,
SIAM J. Numer. Anal. 17, 238 (1980); the weighted harmonic mean of Fritsch & Butland,
SIAM J. Sci. Stat. Comput. 5, 300 (1984)):

    interior:  d_k = 0 where the secant slopes m_k-1 = dy_k-1/h_k-1 and m_k change sign or
               either is zero, otherwise (w1 + w2) / d_k = w1 / m_k-1 + w2 / m_k with
               w1 = 2 h_k + h_k-1, w2 = h_k + 2 h_k-1;
    ends:      the one-sided three-point formula d_0 = ((2 h_0 + h_1) m_0 - h_0 m_1) / (h_0 + h_1),
               set to 0 if its sign differs from m_0, and to 3 m_0 if m_0 and m_1 differ in
               sign and |d_0| > 3 |m_0| (likewise at the other end).

These are the rules of SciPy's `PchipInterpolator` (and MATLAB's `pchip`), written out
here so that loading a material does not import scipy.interpolate (a quarter of a second
at every start of the command line); tests/test_pchip.py checks the two agree.
"""

from __future__ import annotations

import numpy as np


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The slopes d_k [units of y per unit of x] at the table points (module docstring)."""
    h = np.diff(x)
    m = np.diff(y) / h
    n = len(x)
    if n == 2:  # one interval: the straight line
        return np.array([m[0], m[0]])
    d = np.zeros(n)
    w1 = 2.0 * h[1:] + h[:-1]
    w2 = h[1:] + 2.0 * h[:-1]
    same_sign = (np.sign(m[:-1]) * np.sign(m[1:])) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / m[:-1] + w2 / m[1:])
    d[1:-1] = np.where(same_sign, harmonic, 0.0)
    d[0] = _end_slope(h[0], h[1], m[0], m[1])
    d[-1] = _end_slope(h[-1], h[-2], m[-1], m[-2])
    return d


def _end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    """The shape-preserving one-sided three-point slope at an end point."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3.0 * m0):
        return 3.0 * m0
    return d


class Pchip:
    """p(x) of the module docstring; outside [x_0, x_n-1] the end values are held."""

    def __init__(self, x, y):
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        if self.x.ndim != 1 or self.x.shape != self.y.shape or len(self.x) < 2:
            raise ValueError("Pchip needs two 1-D arrays of equal length >= 2")
        if np.any(np.diff(self.x) <= 0.0):
            raise ValueError("Pchip needs strictly rising x")
        self.d = pchip_slopes(self.x, self.y)

    def __call__(self, x_new):
        x_new = np.clip(np.asarray(x_new, dtype=float), self.x[0], self.x[-1])
        k = np.clip(np.searchsorted(self.x, x_new, side="right") - 1, 0, len(self.x) - 2)
        h = self.x[k + 1] - self.x[k]
        t = (x_new - self.x[k]) / h
        one_t = 1.0 - t
        return (self.y[k] * (1.0 + 2.0 * t) * one_t**2 + h * self.d[k] * t * one_t**2
                + self.y[k + 1] * t**2 * (3.0 - 2.0 * t) + h * self.d[k + 1] * t**2 * (t - 1.0))
