"""Optional coupling physics of Li transport (the `[physics]` table of a run config), and
the material quantities they share between the 1-D sphere and the voxel particles.

Transport in chemical-potential form. The Li flux in units of the site fraction x
(c = c_max x) is

    J = -M c grad(mu),   mu = mu_ocv(x) + mu_extra                                [J/mol]

with mu_ocv(x) = -F U(x) the chemical potential of Li in the host relative to Li metal
(U the open-circuit potential, falling with x, so dmu_ocv/dx > 0) and mu_extra the terms
the options add. The mobility is fixed by the measured (tabulated) chemical diffusivity:
M c dmu_ocv/dx = D(x) (c_max M c dmu_ocv/dc = D, Fick's law as the limit of no extra
terms), so

    J = -D(x) grad x  -  D(x) / (dmu_ocv/dx) grad(mu_extra)            [m/s, in units of x]

The first term is today's Fickian flux, computed exactly as before; the second, the drift
in the extra potential, is added only by the options. With every option off the
equations, and the numbers, are the Fickian model's.

Options (each off by default; sources in models/README.md, "Coupling physics"):

- stress_assisted_diffusion: mu_extra = -Omega_ij sigma_ij, the partial molar strain
  tensor Omega_ij = d eps*_ij / dc [m3/mol] (from the lattice tables: diag(da/dx / a_ref,
  da/dx / a_ref, dc/dx / c_ref) / c_max in the crystal frame, rotated per grain) against
  the stress [Pa] (Larche & Cahn; Zhang, Shyy & Sastry, J. Electrochem. Soc. 154, A910
  (2007); Christensen & Newman, J. Electrochem. Soc. 153, A1019 (2006)).
- slab_spacing_diffusivity: D_ab(x) -> D_ab(x) exp(s h_slab eps_cc^el / (k_B T)), the
  migration barrier falling by s [eV/Angstrom] per Angstrom of Li-slab opening, the slab
  of height h_slab [Angstrom] taking the elastic strain eps_cc^el across the layers
  (Kang & Ceder, Phys. Rev. B 74, 094105 (2006); Van der Ven & Ceder, Electrochem.
  Solid-State Lett. 3, 301 (2000)). The stress-free change of the slab with x is already
  in the measured D(x); only the elastic part is added.
- phase_separation: a miscibility gap over the H2-H3 window in the homogeneous free energy
  and a gradient energy (Cahn-Hilliard with the Butler-Volmer surface reaction; Bazant,
  Acc. Chem. Res. 46, 1144 (2013)).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from chemomech.constants import FARADAY, GAS_CONSTANT
from chemomech.errors import ConfigError

BOLTZMANN_EV = 8.617333262e-5  # eV/K


@dataclass(frozen=True)
class PhysicsOptions:
    """The `[physics]` table: which couplings a run includes (all off: the Fickian model).

    stress_update_x: the staggered 3-D coupling solves the elasticity again once the Li
    fraction of any voxel has moved by more than this since the last solve [-]."""

    stress_assisted_diffusion: bool = False
    slab_spacing_diffusivity: bool = False
    phase_separation: bool = False
    stress_update_x: float = 0.01

    @property
    def needs_stress(self) -> bool:
        """Whether transport needs the stress (or elastic strain) of the particle."""
        return self.stress_assisted_diffusion or self.slab_spacing_diffusivity

    @property
    def fickian(self) -> bool:
        """True when no coupling is switched on."""
        return not (self.needs_stress or self.phase_separation)

    def switched_on(self) -> list[str]:
        """The names of the options switched on, in table order."""
        return [f.name for f in fields(self) if f.type == "bool" and getattr(self, f.name)]


def physics_options(table: dict | None) -> PhysicsOptions:
    """PhysicsOptions from a resolved `[physics]` table (missing keys: defaults)."""
    table = table or {}
    known = {f.name for f in fields(PhysicsOptions)}
    unknown = [k for k in table if k not in known]
    if unknown:
        raise ConfigError(f"unknown key 'physics.{unknown[0]}'; allowed in [physics]: {', '.join(sorted(known))}")
    return PhysicsOptions(**table)


# the options that read a table of their own in the material file, and the attribute it fills
OPTION_TABLES = {"slab_spacing_diffusivity": ("slab_spacing", "li_slab_height_angstrom"),
                 "phase_separation": ("phase_separation", "gradient_energy_j_m2_mol")}


def check_material_parameters(material, physics: PhysicsOptions) -> None:
    """ConfigError when an option switched on needs a material table the material lacks."""
    for option, (table, attribute) in OPTION_TABLES.items():
        if getattr(physics, option) and getattr(material, attribute) is None:
            raise ConfigError(
                f"physics.{option} = true needs a [{table}] table in {material.source_file}; allowed: add the "
                f"table (see models/README.md, 'Coupling physics') or switch the option off")


def chemical_potential_slope(material, x) -> np.ndarray:
    """dmu_ocv/dx = -F dU/dx [J/mol] (positive: U falls with x), from the OCV interpolant
    by central differences of step 1e-6 (one-sided at the ends of [0, 1])."""
    x = np.asarray(x, dtype=float)
    h = 1e-6
    lo = np.clip(x - h, 0.0, 1.0)
    hi = np.clip(x + h, 0.0, 1.0)
    return -FARADAY * (material.ocv(hi) - material.ocv(lo)) / (hi - lo)


def partial_molar_strain(material, x) -> tuple[np.ndarray, np.ndarray]:
    """Crystal-frame partial molar strain (Omega_a, Omega_c) = (d eps_a/dc, d eps_c/dc)
    [m3/mol], eps_a = (a - a_ref)/a_ref, eps_c = (c - c_ref)/c_ref, c = c_max x: the tensor
    is diag(Omega_a, Omega_a, Omega_c). Central differences of step 1e-6 on the lattice
    interpolants."""
    x = np.asarray(x, dtype=float)
    h = 1e-6
    lo = np.clip(x - h, 0.0, 1.0)
    hi = np.clip(x + h, 0.0, 1.0)
    da = (material.lattice_a(hi) - material.lattice_a(lo)) / (hi - lo) / material.a_ref
    dc = (material.lattice_c(hi) - material.lattice_c(lo)) / (hi - lo) / material.c_ref
    return da / material.c_max, dc / material.c_max


def slab_diffusivity_factor(material, elastic_strain_cc, temperature: float) -> np.ndarray:
    """D_ab multiplier exp(s h_slab eps_cc^el / (k_B T)) [-] of slab_spacing_diffusivity:
    s = material.barrier_slope_ev_per_angstrom [eV/Angstrom], h_slab =
    material.li_slab_height_angstrom [Angstrom], eps_cc^el the elastic strain across the
    layers (crystal c axis) [-]; 1 at zero strain, below 1 in compression."""
    opening = material.li_slab_height_angstrom * np.asarray(elastic_strain_cc, dtype=float)  # Angstrom
    return np.exp(material.barrier_slope_ev_per_angstrom * opening / (BOLTZMANN_EV * temperature))


def thermal_energy(temperature: float) -> float:
    """RT [J/mol]."""
    return GAS_CONSTANT * temperature
