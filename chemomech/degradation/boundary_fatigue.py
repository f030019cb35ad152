"""Fatigue of grain boundaries in polycrystals: a Paris-law crack on every boundary face.

Randomly oriented grains change their shape differently on cycling (the c-axis collapse
of H2-H3 against the near-constant a axis), so the boundaries between them are loaded in
tension and compression every cycle. Each voxel face between two grains carries a crack
of length l [m], starting at the initial flaw l_0; per cycle it grows by the Paris law
(Deshpande et al., J. Electrochem. Soc. 159, A1730 (2012); the cracking model of PyBaMM's
Ai2020 set):

    dl/dN = k_cr (dK)^m,   dK = b d(sigma_n) sqrt(pi l)                [m per cycle]

with d(sigma_n) [Pa] the range over the cycle of the tensile normal traction
max(sigma_n, 0) on the face (compression does not open a crack), k_cr [m/(Pa m^0.5)^m],
m and b from the material file. When the peak stress intensity b max(sigma_n+) sqrt(pi l)
reaches the fracture toughness K_IC the face breaks at once. A face whose crack reaches
the voxel edge h is broken through; what a broken face does to the particle is in
voxels.py (grains cut off from the electronic network).

Why a fatigue law rather than a cohesive law: the boundaries are loaded far below their
strength most of the time (tractions of tens to hundreds of MPa against K_IC / sqrt(pi
l_0) ~ 3 GPa for l_0 = 20 nm), and the study sees cracks that open over tens of cycles,
which is fatigue; a cohesive law would need a traction-separation curve of Ni-rich grain
boundaries, which is not known.
"""

from __future__ import annotations

import numpy as np


def crack_growth(length: np.ndarray, cracked: np.ndarray, normal: np.ndarray | None, face_size: float,
                 params) -> np.ndarray:
    """Growth of each face's crack over one cycle [m] (module docstring): length (F,) [m],
    cracked (F,) [bool], normal (S, F) [Pa] the normal traction at the cycle's sampled states
    (tension positive); a face that breaks this cycle grows to face_size [m]."""
    if normal is None or normal.size == 0:
        return np.zeros(np.shape(length))
    tensile = np.clip(normal, 0.0, None)
    stress_range = tensile.max(axis=0) - tensile.min(axis=0)
    peak = tensile.max(axis=0)
    l = np.minimum(length, face_size)
    root = np.sqrt(np.pi * l)
    b = params.paris_geometry_factor
    growth = params.paris_prefactor * (b * stress_range * root) ** params.paris_exponent
    breaks = b * peak * root >= params.fracture_toughness_pa_m05
    growth = np.where(breaks, np.maximum(face_size - l, growth), growth)
    return np.where(cracked, 0.0, growth)
