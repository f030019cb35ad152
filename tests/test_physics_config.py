"""The [physics] table of a run config and the optional coupling tables of material files
(transport/coupling.py): defaults, errors that name the key, what a RunSpec carries."""

import re
from pathlib import Path

import numpy as np
import pytest

from chemomech.errors import ConfigError, MaterialError
from chemomech.io.config import resolve_config
from chemomech.materials.material import load_material, models_directory
from chemomech.simulation.spec import run_spec
from chemomech.transport.coupling import (
    PhysicsOptions,
    chemical_potential_slope,
    partial_molar_strain,
    physics_options,
    slab_diffusivity_factor,
)


def test_physics_left_out_of_the_resolved_config_at_its_defaults():
    assert "physics" not in resolve_config({"material": "nc91"})
    resolved = resolve_config({"material": "nc91", "physics": {"stress_assisted_diffusion": True}})
    assert resolved["physics"] == {"stress_assisted_diffusion": True}


def test_run_spec_carries_the_options():
    assert run_spec({"material": "nc91"}).physics == PhysicsOptions()
    spec = run_spec({"material": "nc91"}, ["physics.slab_spacing_diffusivity=true", "physics.stress_update_x=0.02"])
    assert spec.physics == PhysicsOptions(slab_spacing_diffusivity=True, stress_update_x=0.02)
    assert spec.physics.needs_stress and not spec.physics.fickian
    assert spec.physics.switched_on() == ["slab_spacing_diffusivity"]


@pytest.mark.parametrize("physics, message", [
    ({"stress": True}, "unknown key 'physics.stress'; allowed in [physics]: stress_assisted_diffusion"),
    ({"phase_separation": "yes"}, "physics.phase_separation"),
    ({"stress_update_x": 0.0}, "physics.stress_update_x"),
])
def test_bad_physics_keys_name_the_key(physics, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config({"material": "nc91", "physics": physics})


def _material_without(table: str, folder: Path) -> Path:
    """nc91.toml with the table [table] removed (it is the file's last tables)."""
    text = (models_directory() / "nc91.toml").read_text()
    kept, skipping = [], False
    for line in text.splitlines():
        if line.startswith("["):
            skipping = line.strip() == f"[{table}]"
        if not skipping:
            kept.append(line)
    path = folder / "plain.toml"
    path.write_text("\n".join(kept) + "\n")
    return path


def test_an_option_needs_its_material_table(tmp_path):
    path = _material_without("slab_spacing", tmp_path)
    assert load_material(path).li_slab_height_angstrom is None
    with pytest.raises(ConfigError, match=r"physics.slab_spacing_diffusivity = true needs a \[slab_spacing\] table in material file plain.toml"):
        resolve_config({"material": str(path), "physics": {"slab_spacing_diffusivity": True}})
    resolve_config({"material": str(path), "physics": {"stress_assisted_diffusion": True}})  # needs no table


@pytest.mark.parametrize("overrides, message", [
    ({"slab_spacing.li_slab_height_angstrom": -1.0}, "slab_spacing.li_slab_height_angstrom = -1 is out of range"),
    ({"slab_spacing.barrier_slope_eV_per_angstrom": float("nan")}, "must be a finite number"),
])
def test_bad_slab_values(overrides, message):
    with pytest.raises(MaterialError, match=re.escape(message)):
        load_material("nc91", overrides)


def test_physics_options_reject_unknown_keys():
    with pytest.raises(ConfigError, match="physics.bogus"):
        physics_options({"bogus": True})


def test_slab_factor_is_one_without_strain_and_falls_in_compression():
    """exp(s h eps / kT): 1 at eps = 0 (the tabulated D), exp(-+s h 0.001/kT) at -+0.1 %."""
    material = load_material("nc91")
    kt = 8.617333262e-5 * 298.15
    factor = slab_diffusivity_factor(material, [-1e-3, 0.0, 1e-3], 298.15)
    expected = np.exp(np.array([-1, 0, 1]) * 1.5 * 2.6 * 1e-3 / kt)
    np.testing.assert_allclose(factor, expected, rtol=1e-14)
    assert factor[1] == 1.0


def test_partial_molar_strain_and_potential_slope_of_linear_tables():
    """Linear planted tables: Omega_a = (da/dx)/(a_ref c_max) and dmu/dx = -F dU/dx exactly
    (central differences are exact for linear functions)."""
    xl = np.linspace(0.0, 1.0, 16)  # the override keeps each table's length (16 lattice, 20 OCV points)
    xo = np.linspace(0.0, 1.0, 20)
    overrides = {"lattice.x": list(xl), "lattice.a_angstrom": list(2.80 + 0.10 * xl), "lattice.c_angstrom": list(14.5 - 0.5 * xl),
                 "ocv.x": list(xo), "ocv.volts": list(4.6 - 1.0 * xo)}
    material = load_material("nc91", overrides)
    x = np.array([0.2, 0.5, 0.8])
    omega_a, omega_c = partial_molar_strain(material, x)
    np.testing.assert_allclose(omega_a, 0.10 / material.a_ref / material.c_max, rtol=1e-8)
    np.testing.assert_allclose(omega_c, -0.5 / material.c_ref / material.c_max, rtol=1e-8)
    np.testing.assert_allclose(chemical_potential_slope(material, x), 96485.33212 * 1.0, rtol=1e-8)
