"""Intragranular inactivation of lattice (single crystals and polycrystals).

The study finds, after cycling, electrochemically inactive and still-oxidised regions in
the bulk of single crystals, with rock salt and lower lattice-oxygen signal next to
intragranular cracks, and ties them to regions driven to deep delithiation by
heterogeneous reaction and to lattice mismatch between coexisting regions. Both drivers
act on the active fraction phi of the lattice of each cell or voxel, at one rate:

    d phi / dt = -phi k_in [ max(0, 1 - x / x_O)  +  (sigma_h+ / sigma_c)^m ]         [1/s]

    - oxygen loss at deep delithiation: below the Li fraction x_O the lattice releases
      oxygen (Ni-rich layered oxides, x below ~0.2; physics brief); the driver rises
      linearly from 0 at x_O to 1 at x = 0;
    - lattice mismatch: the stress-driven loss of active material of Reniers et al.,
      J. Electrochem. Soc. 166, A3189 (2019), with sigma_h+ = max(sigma_h, 0) the tensile
      hydrostatic stress [Pa] and its critical stress sigma_c and exponent m from the
      OKane2022 set of PyBaMM (375 MPa, 2).

k_in [1/s] is the one constant of this family, fitted to a cycle-life row (SC-NC91;
validation/cycle_life.py); each driver is 1 at its literature threshold (x = 0 for oxygen
loss, sigma_h = sigma_c for the stress), which sets their relative weight. OKane2022's
own rate, beta = 2.78e-7 1/s, was fitted to the particle-averaged stress of a
single-particle model; applied to the voxel-resolved stresses of a crystal whose c axis
collapses by 5 % (tensile sigma_h of GPa near the surface) it alone takes a single
crystal to ~70 % retention after the study's 100 cycles, well below the 89.2 % measured,
so it is not used as a value here, only as the start of the fit.

With the x and sigma_h histories of a cycle the equation integrates exactly at fixed
drivers: phi_end = phi exp(-I), I = int (rate) dt, so the damage variable s = -ln phi
grows by I per cycle (additive, which cycle jumping extrapolates). Inactive lattice stores
no Li, conducts Li with D_inactive = r D (r = inactive_diffusivity_ratio), and keeps the
Li fraction it had at the top of the charge in which it was lost (still oxidised).
"""

from __future__ import annotations

import numpy as np


def oxygen_driver(x: np.ndarray, params) -> np.ndarray:
    """max(0, 1 - x/x_O) [-], elementwise."""
    return np.clip(1.0 - np.asarray(x, dtype=float) / params.oxygen_loss_x, 0.0, None)


def stress_driver(sigma_h: np.ndarray, params) -> np.ndarray:
    """(max(sigma_h, 0)/sigma_c)^m [-], elementwise (sigma_h [Pa], tension positive)."""
    tension = np.clip(np.asarray(sigma_h, dtype=float), 0.0, None) / params.stress_critical_pa
    return tension ** params.stress_exponent


def inactivation_rate(x: np.ndarray, sigma_h: np.ndarray, params) -> np.ndarray:
    """rate = k_in [max(0, 1 - x/x_O) + (max(sigma_h, 0)/sigma_c)^m] [1/s], elementwise
    (x [-], sigma_h [Pa]); params: degradation.parameters.DegradationParameters."""
    return params.inactivation_rate_per_s * (oxygen_driver(x, params) + stress_driver(sigma_h, params))


def integrated_rate(time: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """I = int rate dt over a cycle [-] by the trapezoidal rule: time (T,) [s], rates
    (T, N) [1/s] -> (N,)."""
    rates = np.asarray(rates, dtype=float)
    dt = np.diff(np.asarray(time, dtype=float))
    return 0.5 * (dt[:, None] * (rates[1:] + rates[:-1])).sum(axis=0)


def face_transmissibility(phi_a, phi_b, ratio: float):
    """Scale of the diffusive conductance of a face between two cells [-]: each cell
    conducts as tau = phi + (1 - phi) r (active and inactive lattice in parallel), and the
    face takes the harmonic mean 2 tau_a tau_b / (tau_a + tau_b) (the two half cells in
    series, the usual finite-volume face rule)."""
    tau_a = np.asarray(phi_a) + (1.0 - np.asarray(phi_a)) * ratio
    tau_b = np.asarray(phi_b) + (1.0 - np.asarray(phi_b)) * ratio
    return 2.0 * tau_a * tau_b / (tau_a + tau_b)
