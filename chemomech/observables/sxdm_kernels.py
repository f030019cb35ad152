"""Numba kernel of the SXDM forward model: every diffracting voxel deposits its intensity
into the frames of the few raster points its beam footprint reaches (see sxdm.py for the
geometry and the equations)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

BEAM_CUTOFF_SIGMA = 4.0  # beam profile and rocking resolution cut at 4 standard deviations
WEIGHT_FLOOR = 1e-7  # beam fractions below this are not deposited


@njit(cache=True)
def _box_beam_fraction(centre, half_width, point, sigma):
    """Fraction of a 1-D Gaussian beam profile (standard deviation sigma, centred on
    `point`) falling on the interval centre +- half_width:
        0.5 [erf((centre + h - point)/(sqrt2 sigma)) - erf((centre - h - point)/(sqrt2 sigma))]."""
    scale = 1.0 / (math.sqrt(2.0) * sigma)
    return 0.5 * (math.erf((centre + half_width - point) * scale) - math.erf((centre - half_width - point) * scale))


@njit(cache=True)
def deposit_frames(frames, raster_x, raster_y, path_length, rocking_index, row_index, col_index,
                   x0, dx, y0, dy, half_voxel, sigma_beam, sigma_rock_bins):
    """Add every voxel's diffracted intensity to frames[angle, y, x, row, col] (in place).

    Voxel v (lateral position raster_x[v], raster_y[v] [m] in the plane normal to the beam,
    a square of half width half_voxel) at raster point (j, k) contributes
        I = f_x(j) f_y(k) path_length[v]
    with f the fraction of the Gaussian beam profile (sigma_beam [m]) falling on the voxel
    along each raster axis. The intensity is spread over the rocking angles as a Gaussian of
    sigma_rock_bins [angle steps] centred on the fractional angle index rocking_index[v],
    normalised over the unclipped Gaussian (intensity rocked out of the scan is lost), and
    bilinearly over the detector pixels around the fractional pixel (row_index[v],
    col_index[v]) (the bilinear weights keep the centroid exactly; intensity off the
    detector ROI is lost).
    """
    n_angles, ny, nx, n_rows, n_cols = frames.shape
    reach = half_voxel + BEAM_CUTOFF_SIGMA * sigma_beam
    rock_reach = BEAM_CUTOFF_SIGMA * sigma_rock_bins
    n_rock_max = int(2.0 * rock_reach) + 3
    rock_weights = np.empty(n_rock_max)
    for v in range(raster_x.shape[0]):
        row = row_index[v]
        col = col_index[v]
        if not (row > -1.0 and row < n_rows and col > -1.0 and col < n_cols):
            continue
        a_centre = rocking_index[v]
        a_first = int(math.ceil(a_centre - rock_reach))
        a_last = int(math.floor(a_centre + rock_reach))
        if a_last < 0 or a_first > n_angles - 1:
            continue
        # Gaussian rocking weights over the unclipped range, normalised to sum 1
        total = 0.0
        for a in range(a_first, a_last + 1):
            g = math.exp(-0.5 * ((a - a_centre) / sigma_rock_bins) ** 2)
            rock_weights[a - a_first] = g
            total += g
        r0 = int(math.floor(row))
        c0 = int(math.floor(col))
        fr = row - r0
        fc = col - c0
        xv = raster_x[v]
        yv = raster_y[v]
        j_first = max(0, int(math.ceil((xv - reach - x0) / dx)))
        j_last = min(nx - 1, int(math.floor((xv + reach - x0) / dx)))
        k_first = max(0, int(math.ceil((yv - reach - y0) / dy)))
        k_last = min(ny - 1, int(math.floor((yv + reach - y0) / dy)))
        for k in range(k_first, k_last + 1):
            fy = _box_beam_fraction(yv, half_voxel, y0 + k * dy, sigma_beam)
            if fy < WEIGHT_FLOOR:
                continue
            for j in range(j_first, j_last + 1):
                fx = _box_beam_fraction(xv, half_voxel, x0 + j * dx, sigma_beam)
                weight = fx * fy * path_length[v] / total
                if weight < WEIGHT_FLOOR * path_length[v]:
                    continue
                for a in range(max(a_first, 0), min(a_last, n_angles - 1) + 1):
                    w = weight * rock_weights[a - a_first]
                    for dr in range(2):
                        r = r0 + dr
                        if r < 0 or r >= n_rows:
                            continue
                        wr = w * (fr if dr == 1 else 1.0 - fr)
                        for dc in range(2):
                            c = c0 + dc
                            if c < 0 or c >= n_cols:
                                continue
                            frames[a, k, j, r, c] += wr * (fc if dc == 1 else 1.0 - fc)
