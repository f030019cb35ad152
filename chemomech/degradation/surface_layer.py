"""The surface rock-salt layer: growth at high potential, its resistance, the lattice it
takes.

Ni-rich layered oxides lose lattice oxygen at their surface when they are deeply
delithiated; the surface reconstructs into a NiO-like rock-salt layer (Lin et al., Nat.
Commun. 5, 3529 (2014); Jung et al., Adv. Energy Mater. 4, 1300787 (2014)). The layer
grows while the electrode potential V is above the onset V_rs of oxygen release, limited
by transport through the layer it has already formed, i.e. parabolically (the
shrinking-core passivation of Ghosh et al., J. Electrochem. Soc. 168, 020509 (2021)):

    d(L^2)/dt = k_rs H(V - V_rs)          L [m], k_rs [m2/s], H the step function,

so over a cycle L^2 grows by k_rs t_on, t_on [s] the time spent above V_rs. The layer is
the same on NC91 and NM91 (the study: independent of Co/Mn). It acts twice:

    - a resistance in series with the surface reaction, R_rs = L / kappa_rs [Ohm m2]
      (kappa_rs [S/m] the Li-ion conductivity of the rock-salt phase);
    - the lattice it converted stores no Li: the outer shell of thickness L of the
      particle (or of each surface voxel face) is inactive.
"""

from __future__ import annotations

import numpy as np


def time_above(time: np.ndarray, voltage: np.ndarray, onset: float) -> float:
    """Time [s] a piecewise-linear V(t) spends above `onset` [V]: each interval's share is
    the part of it above the onset under linear interpolation."""
    time = np.asarray(time, dtype=float)
    voltage = np.asarray(voltage, dtype=float)
    dt = np.diff(time)
    v0, v1 = voltage[:-1] - onset, voltage[1:] - onset
    both = (v0 > 0) & (v1 > 0)
    crossing = (v0 > 0) != (v1 > 0)
    share = np.zeros_like(dt)
    share[both] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        above_end = np.where(v0 > 0, v0, v1)
        share[crossing] = (above_end / np.abs(v1 - v0))[crossing]
    return float(np.sum(share * dt))


def layer_growth(k_rs: float, t_on: float) -> float:
    """Growth of L^2 [m2] over t_on [s] above the onset: k_rs t_on."""
    return k_rs * t_on


def layer_resistance(thickness: float, conductivity: float) -> float:
    """R_rs = L / kappa_rs [Ohm m2] of a layer of thickness L [m]."""
    return thickness / conductivity


def sphere_shell_fractions(edges: np.ndarray, thickness: float) -> np.ndarray:
    """Fraction of each radial cell's volume [-] within `thickness` [m] of the surface,
    cells between the radii `edges` (N+1,) [m]: the volume of r > R - L in each shell."""
    edges = np.asarray(edges, dtype=float)
    inner = np.clip(edges[-1] - thickness, 0.0, None)
    r0, r1 = edges[:-1], edges[1:]
    converted = r1**3 - np.clip(np.maximum(r0, inner), None, r1) ** 3
    return np.clip(converted / (r1**3 - r0**3), 0.0, 1.0)
