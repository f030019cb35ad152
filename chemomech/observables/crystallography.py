"""Crystallography of the layered R-3m LiMO2 cathode: d-spacings, reflection families,
multiplicities and the structure factor.

Setting: space group R-3m (No. 166), hexagonal axes, obverse setting (International Tables
for Crystallography Vol. A). The R-centring translations are (0,0,0), (2/3,1/3,1/3),
(1/3,2/3,2/3), so a reflection hkl is allowed only if -h + k + l = 3n. The alpha-NaFeO2
structure of LiNiO2-type oxides is placed with

    transition metal (TM) on 3a (0, 0, 0)
    Li layer             on 3b (0, 0, 1/2)
    O                    on 6c (0, 0, +-z_O), z_O = 0.2585

(the "Li 3b / Ni 3a" description used in most Rietveld refinements of Ni-rich oxides;
z_O = 0.258-0.259 is the typical refined value for LiNiO2 and Ni-rich LiNi(Co,Mn)O2, e.g.
Hirano et al., Solid State Ionics 78 (1995) 123 for LiNiO2). Three Li, three TM and six O atoms per
hexagonal cell (12 atoms) are generated from the three sites by the centring translations.

Cation mixing ("Li/Ni antisite") model, delta = material.li_ni_disorder (fraction of Li-layer
sites holding Ni), Li content x of Li_x MO2:

    Li layer (3b): Ni delta,  Li x (1 - delta)
    TM layer (3a): Ni (n_Ni - delta), other TM as in the formula, Li x delta

i.e. delta Ni and delta Li exchange places in the pristine material and Li leaves both
layers in proportion on delithiation, so the cell holds x Li and the formula's TM in total.
F is linear in x, so |F(x)|^2 = A + B x + C x^2 exactly (`structure_factor_coefficients`).

Atomic scattering factors f = f0(s) + f'(E) + i f''(E), s = sin(theta)/lambda [1/Angstrom]:
f0 from xraydb.f0 (Waasmaier & Kirfel, Acta Cryst. A51 (1995) 416; xraydb documents
q = sin(theta)/lambda), f', f'' from xraydb.f1_chantler / f2_chantler at the beam energy
(Chantler, J. Phys. Chem. Ref. Data 29 (2000) 597). Neutral atoms are used.
Isotropic Debye-Waller factors exp(-B s^2), with B typical of Rietveld refinements of
layered oxides (e.g. Li 1.0, TM 0.4, O 0.6 Angstrom^2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: R-3m obverse centring translations (fractional, hexagonal axes)
R_CENTRING = np.array([[0.0, 0.0, 0.0], [2.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0], [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]])

#: Oxygen 6c z parameter (LiNiO2-type refinements, module docstring)
OXYGEN_Z = 0.2585

#: Isotropic Debye-Waller B [Angstrom^2] (typical refined values, module docstring)
DEBYE_WALLER_B = {"Li": 1.0, "TM": 0.4, "O": 0.6}

#: The reflection families the issue asks for, each by an allowed (-h + k + l = 3n)
#: representative: the issue's (102), (105), (108) families (same d-spacing) are indexed by
#: their allowed members (012), (015), (018), as in the layered-oxide literature.
REFLECTIONS = ((0, 0, 3), (1, 0, 1), (0, 0, 6), (0, 1, 2), (1, 0, 4), (0, 1, 5), (0, 1, 8), (1, 1, 0), (1, 1, 3))

#: Planck constant times c [keV Angstrom], for E = hc / lambda
HC_KEV_ANGSTROM = 12.398419843320026


def reflection_label(hkl) -> str:
    """'003', '104', ... for (h, k, l)."""
    return "".join(str(int(i)) for i in hkl)


def inverse_d_squared(hkl, a, c):
    """Hexagonal 1/d^2 = 4/3 (h^2 + h k + k^2)/a^2 + l^2/c^2 [1/Angstrom^2]; a, c in Angstrom
    (numpy-broadcast)."""
    h, k, l = hkl
    return 4.0 / 3.0 * (h * h + h * k + k * k) / np.asarray(a) ** 2 + l * l / np.asarray(c) ** 2


def d_spacing(hkl, a, c):
    """Hexagonal d_hkl [Angstrom] from a, c [Angstrom]."""
    return 1.0 / np.sqrt(inverse_d_squared(hkl, a, c))


def two_theta_deg(hkl, a, c, wavelength_A):
    """Bragg angle 2 theta = 2 asin(lambda / (2 d)) [deg]."""
    return np.degrees(2.0 * np.arcsin(wavelength_A / (2.0 * d_spacing(hkl, a, c))))


def r3m_allowed(h: int, k: int, l: int) -> bool:
    """Obverse R-centring condition -h + k + l = 3n."""
    return (-h + k + l) % 3 == 0


def multiplicity(hkl, hkl_max: int = 12) -> int:
    """Powder multiplicity of the family of `hkl` in R-3m: the number of integer triples
    (h, k, l), |h|, |k|, |l| <= hkl_max, that obey the centring condition -h + k + l = 3n and
    have the same d-spacing as `hkl` for every hexagonal cell, i.e. the same h^2 + h k + k^2
    and the same |l| (counted by enumeration, not typed in)."""
    h0, k0, l0 = hkl
    g0 = h0 * h0 + h0 * k0 + k0 * k0
    count = 0
    rng = range(-hkl_max, hkl_max + 1)
    for h in rng:
        for k in rng:
            if h * h + h * k + k * k != g0:
                continue
            for l in {l0, -l0}:
                if r3m_allowed(h, k, l):
                    count += 1
    return count


def tm_composition(formula: str) -> dict[str, float]:
    """Transition metals per formula unit from a formula 'LiNi0.9Co0.1O2' ->
    {'Ni': 0.9, 'Co': 0.1}: every element but Li and O, a missing count meaning 1."""
    parts = re.findall(r"([A-Z][a-z]?)(\d*\.?\d*)", formula)
    tm = {}
    for element, count in parts:
        if element in ("Li", "O"):
            continue
        tm[element] = tm.get(element, 0.0) + (float(count) if count else 1.0)
    total = sum(tm.values())
    if not tm or abs(total - 1.0) > 0.02:
        raise ValueError(f"formula {formula!r}: transition metals must add up to 1 per LiMO2")
    return tm


def scattering_factor(element: str, s, energy_kev: float):
    """f = f0(s) + f'(E) + i f''(E) [electrons], s = sin(theta)/lambda [1/Angstrom]
    (xraydb: Waasmaier-Kirfel f0, Chantler f', f'')."""
    import xraydb

    energy_ev = energy_kev * 1e3
    f0 = np.asarray(xraydb.f0(element, np.asarray(s, dtype=float)), dtype=float)
    return f0 + float(xraydb.f1_chantler(element, energy_ev)) + 1j * float(xraydb.f2_chantler(element, energy_ev))


@dataclass
class Atom:
    """One atom of the hexagonal cell: fractional position, site label ('Li', 'TM', 'O')
    and the site's occupancy split into an x-independent and an x-proportional part per
    element: occupancy(element) = fixed[element] + per_x[element] * x."""

    position: np.ndarray
    site: str
    fixed: dict
    per_x: dict


def limo2_cell(formula: str, li_ni_disorder: float, oxygen_z: float = OXYGEN_Z) -> list[Atom]:
    """The 12 atoms of the hexagonal R-3m LiMO2 cell (3 Li-layer, 3 TM-layer, 6 O sites),
    generated from 3b (0,0,1/2), 3a (0,0,0), 6c (0,0,+-z) by the R-centring translations,
    with the occupancy model of the module docstring."""
    delta = float(li_ni_disorder)
    tm = tm_composition(formula)
    if "Ni" not in tm and delta > 0:
        raise ValueError("Li/Ni disorder needs Ni in the formula")
    li_layer_fixed = {"Ni": delta} if delta > 0 else {}
    li_layer_x = {"Li": 1.0 - delta}
    tm_fixed = dict(tm)
    if delta > 0:
        tm_fixed["Ni"] = tm["Ni"] - delta
    tm_x = {"Li": delta}
    sites = [
        ("Li", np.array([0.0, 0.0, 0.5]), li_layer_fixed, li_layer_x),
        ("TM", np.array([0.0, 0.0, 0.0]), tm_fixed, tm_x),
        ("O", np.array([0.0, 0.0, oxygen_z]), {"O": 1.0}, {}),
        ("O", np.array([0.0, 0.0, -oxygen_z]), {"O": 1.0}, {}),
    ]
    atoms = []
    for site, position, fixed, per_x in sites:
        for t in R_CENTRING:
            atoms.append(Atom(np.mod(position + t, 1.0), site, fixed, per_x))
    return atoms


def structure_factor_parts(hkl, a, c, wavelength_A, formula, li_ni_disorder,
                           debye_waller_b=None, oxygen_z=OXYGEN_Z):
    """F(hkl; x) = F0 + F1 x [electrons] for the cell a, c [Angstrom] (scalars or arrays):
    F = sum_atoms occ_j f_j(s) exp(-B_j s^2) exp(2 pi i (h x_j + k y_j + l z_j)),
    s = sin(theta)/lambda = 1/(2 d). Returns (F0, F1), complex arrays shaped like a, c."""
    b = dict(DEBYE_WALLER_B if debye_waller_b is None else debye_waller_b)
    s = 0.5 / d_spacing(hkl, a, c)
    energy_kev = HC_KEV_ANGSTROM / wavelength_A
    h, k, l = hkl
    cache = {}

    def f(element):
        if element not in cache:
            cache[element] = scattering_factor(element, s, energy_kev)
        return cache[element]

    f_fixed = np.zeros(np.shape(s), dtype=complex)
    f_x = np.zeros(np.shape(s), dtype=complex)
    for atom in limo2_cell(formula, li_ni_disorder, oxygen_z):
        phase = np.exp(2j * np.pi * (h * atom.position[0] + k * atom.position[1] + l * atom.position[2]))
        debye = np.exp(-b[atom.site] * s * s)
        for element, occupancy in atom.fixed.items():
            f_fixed = f_fixed + occupancy * f(element) * debye * phase
        for element, occupancy in atom.per_x.items():
            f_x = f_x + occupancy * f(element) * debye * phase
    return f_fixed, f_x


def structure_factor_coefficients(hkl, a, c, wavelength_A, formula, li_ni_disorder,
                                  debye_waller_b=None, oxygen_z=OXYGEN_Z):
    """Coefficients of |F(x)|^2 = A + B x + C x^2 [electrons^2] (exact for the occupancy
    model): A = |F0|^2, B = 2 Re(F0 conj(F1)), C = |F1|^2 (arrays shaped like a, c)."""
    f0, f1 = structure_factor_parts(hkl, a, c, wavelength_A, formula, li_ni_disorder, debye_waller_b, oxygen_z)
    return np.abs(f0) ** 2, 2.0 * (f0 * np.conj(f1)).real, np.abs(f1) ** 2


def lorentz_polarisation(two_theta_deg_):
    """Lorentz-polarisation factor for transmission Debye-Scherrer geometry with full
    azimuthal integration of an area detector [-]:
        LP = (1 + cos^2 2theta) / (2 sin^2 theta cos theta).
    The Lorentz part 1/(sin^2 theta cos theta) = 1/(sin theta sin 2 theta) x 2 is that of a
    powder ring read per unit length along 2 theta (Warren, X-ray Diffraction, 1969, ch. 4);
    for a synchrotron beam linearly polarised in the horizontal plane, the polarisation
    factor 1 - sin^2(2theta) cos^2(phi) averaged over the full ring azimuth phi gives
    (1 + cos^2 2theta)/2, the same as an unpolarised beam (and ~1 below 10 deg)."""
    theta = np.radians(np.asarray(two_theta_deg_, dtype=float)) / 2.0
    return (1.0 + np.cos(2.0 * theta) ** 2) / (2.0 * np.sin(theta) ** 2 * np.cos(theta))
