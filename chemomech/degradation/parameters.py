"""The material file's [degradation] table: the parameters of every damage mechanism.

Units are in the key names; each key has a `<key>_source` in the shipped files
(models/README.md, "Degradation", says which are literature values and which two were
fitted). Every value is checked against a physical range when a cycle-life run reads it,
and a value outside it is a one-line MaterialError naming the key and the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chemomech.errors import MaterialError

TABLE = "degradation"

# key: (attribute, low, high, description); low exclusive unless listed in AT_LEAST
KEYS = {
    # surface rock-salt layer (surface_layer.py)
    "rock_salt_onset_V": ("rock_salt_onset_v", 3.0, 6.0, "electrode potential above which the surface layer grows [V]"),
    "rock_salt_growth_m2_s": ("rock_salt_growth_m2_s", 0.0, 1e-15, "parabolic growth constant k_rs, d(L^2)/dt above the onset [m2/s]"),
    "rock_salt_initial_nm": ("rock_salt_initial_m", 0.0, 100.0, "layer thickness of the pristine particle [nm]"),
    "rock_salt_conductivity_S_m": ("rock_salt_conductivity_s_m", 0.0, 1e3, "Li-ion conductivity of the layer [S/m]"),
    # intragranular inactivation (lattice_inactivation.py)
    "oxygen_loss_x": ("oxygen_loss_x", 0.0, 1.0, "Li fraction below which lattice oxygen is lost [-]"),
    "inactivation_rate_per_s": ("inactivation_rate_per_s", 0.0, 1.0, "rate k_in of intragranular inactivation at x = 0 or at sigma_h = sigma_c [1/s]"),
    "stress_inactivation_exponent": ("stress_exponent", 0.0, 10.0, "exponent m of (sigma_h+ / sigma_c)^m [-]"),
    "stress_inactivation_critical_MPa": ("stress_critical_pa", 0.0, 1e5, "critical stress sigma_c [MPa]"),
    "inactive_diffusivity_ratio": ("inactive_diffusivity_ratio", 0.0, 1.0, "D of inactive lattice / D of active lattice [-]"),
    # grain-boundary fatigue (boundary_fatigue.py)
    "paris_prefactor": ("paris_prefactor", 0.0, 1e-5, "Paris-law constant k_cr, dl/dN = k_cr (dK)^m [m / (Pa m^0.5)^m]"),
    "paris_exponent": ("paris_exponent", 0.0, 10.0, "Paris-law exponent m [-]"),
    "paris_geometry_factor": ("paris_geometry_factor", 0.0, 10.0, "b of dK = b dsigma sqrt(pi l) [-]"),
    "initial_flaw_nm": ("initial_flaw_m", 0.0, 1e4, "initial crack length on every grain-boundary face [nm]"),
    "fracture_toughness_MPa_m05": ("fracture_toughness_pa_m05", 0.0, 100.0, "K_IC: a face breaks at once when K_max reaches it [MPa m^0.5]"),
}
AT_LEAST = {"rock_salt_growth_m2_s", "rock_salt_initial_nm", "inactivation_rate_per_s", "inactive_diffusivity_ratio",
            "paris_prefactor"}
SCALE = {"rock_salt_initial_nm": 1e-9, "stress_inactivation_critical_MPa": 1e6, "initial_flaw_nm": 1e-9,
         "fracture_toughness_MPa_m05": 1e6}


@dataclass(frozen=True)
class DegradationParameters:
    """The [degradation] table in SI units (see KEYS for each one's meaning)."""

    rock_salt_onset_v: float
    rock_salt_growth_m2_s: float
    rock_salt_initial_m: float
    rock_salt_conductivity_s_m: float
    oxygen_loss_x: float
    inactivation_rate_per_s: float
    stress_exponent: float
    stress_critical_pa: float
    inactive_diffusivity_ratio: float
    paris_prefactor: float
    paris_exponent: float
    paris_geometry_factor: float
    initial_flaw_m: float
    fracture_toughness_pa_m05: float


def degradation_parameters(material) -> DegradationParameters:
    """The checked [degradation] table of `material` (MaterialError when it is missing, has
    a key missing, or a value out of its physical range)."""
    table = material.raw.get(TABLE)
    if not isinstance(table, dict):
        raise MaterialError(f"{material.source_file} has no [{TABLE}] table, which a cycle-life run needs; allowed: "
                            f"add one (models/README.md, 'Degradation'), as in models/nc91.toml")
    return parse_degradation(table, material.source_file)


def parse_degradation(table: dict, origin: str) -> DegradationParameters:
    """DegradationParameters from a [degradation] table; `origin` names the file in errors.
    Building a material runs it on any [degradation] table it has."""
    values = {}
    for key, (attribute, low, high, description) in KEYS.items():
        if key not in table:
            raise MaterialError(f"{origin}: missing key '[{TABLE}] {key}' ({description})")
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise MaterialError(f"{origin}: [{TABLE}] {key} = {value!r}: must be a finite number ({description})")
        inclusive = key in AT_LEAST
        if (value < low if inclusive else value <= low) or value > high:
            raise MaterialError(f"{origin}: [{TABLE}] {key} = {value:g} is out of range; allowed "
                                f"{'[' if inclusive else '('}{low:g}, {high:g}] ({description})")
        values[attribute] = float(value) * SCALE.get(key, 1.0)
    return DegradationParameters(**values)
