"""Blends of end members (chemomech/materials/blend.py): material = { blend = {...} }.

Reference values: a blend with one fraction 1 is that end member (the blend takes members
with fraction 0 out, so nothing is mixed); the mixing rules are checked on planted end
members whose tables differ by known amounts, against the rule written out by hand
(linear, geometric, molar volume); the Ni-valence constant of NC91/NM91 blends against
charge balance of Li_x Ni0.9 Co_y Mn_(0.1-y) O2 (x + 0.9 v + 3 y + 4 (0.1 - y) = 4, so
v = (3.6 + y - x) / 0.9); the written material file against the blend it came from (round
trip through load_material).
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
import tomli_w

import chemomech as cm
from chemomech.errors import ConfigError
from chemomech.io.config import resolve_config
from chemomech.materials.blend import blend_raw, blend_text, check_blend, material_source, resolve_members
from chemomech.materials.material import build_material, load_material, material_path, read_material_file
from chemomech.simulation.spec import run_spec

X = np.linspace(0.0, 1.0, 41)
TINY = {"particle": {"geometry": "sphere-1d", "radius_um": 1.0, "cells": 20},
        "protocol": {"kind": "cc-charge", "c_rate": 1.0, "v_max": 4.5}, "output": {"snapshots": 3}}


def blended(fractions: dict):
    return build_material(tomllib.loads(blend_text(resolve_members(check_blend({"blend": fractions})))), "blend")


def planted(tmp_path, name: str, change) -> str:
    """A copy of nc91.toml with `change(raw)` applied, written as tmp_path/name.toml."""
    raw, _ = read_material_file("nc91")
    raw["name"] = name.upper()
    change(raw)
    path = tmp_path / f"{name}.toml"
    path.write_text(tomli_w.dumps(raw))
    return str(path)


def test_fraction_one_is_the_end_member_exactly():
    for name, other in (("nc91", "nm91"), ("nm91", "nc91")):
        text, _ = material_source({"blend": {name: 1.0, other: 0.0}})
        assert text == material_path(name).read_text(encoding="utf-8")
        member, blend = load_material(name), blended({name: 1.0, other: 0.0})
        for function in ("ocv", "diffusivity", "lattice_a", "lattice_c", "exchange_current", "ni_valence"):
            np.testing.assert_array_equal(getattr(blend, function)(X), getattr(member, function)(X))
        assert (blend.density, blend.molar_mass, blend.stiffness_gpa) == (member.density, member.molar_mass,
                                                                          member.stiffness_gpa)
    # and a run of the blend is the run of the end member, bit for bit
    ds_blend = cm.simulate({**TINY, "material": {"blend": {"nm91": 1.0, "nc91": 0.0}}})
    ds_member = cm.simulate({**TINY, "material": "nm91"})
    np.testing.assert_array_equal(ds_blend["voltage"].values, ds_member["voltage"].values)


def test_mixing_rules_on_planted_end_members(tmp_path):
    """Two members that differ in every mixed property; the blend at f = 0.3 against the
    rules of models/README.md, "Blends", written out here."""
    def second(raw):
        raw["lattice"]["a_angstrom"] = [v + 0.01 for v in raw["lattice"]["a_angstrom"]]
        raw["lattice"]["c_angstrom"] = [v - 0.05 for v in raw["lattice"]["c_angstrom"]]
        raw["diffusivity"]["log10_m2_s"] = [v - 1.0 for v in raw["diffusivity"]["log10_m2_s"]]
        raw["ocv"]["volts"] = [v + 0.02 for v in raw["ocv"]["volts"]]
        raw["density"]["crystallographic_kg_m3"] = 4500.0
        raw["composition"]["molar_mass_g_mol"] = 96.0
        raw["conductivity"]["electronic_S_m"] = 0.01
        raw["exchange_current"]["reference_A_m2"] = 8.0
        raw["stiffness"]["C33_GPa"] = 180.0
        raw["phase_separation"].pop("x_low")  # an incomplete optional table ...
        del raw["phase_separation"]           # ... or none: the blend has none either
    one = planted(tmp_path, "one", lambda raw: None)
    two = planted(tmp_path, "two", second)
    f = 0.3
    m1, m2 = load_material(one), load_material(two)
    fractions = resolve_members(check_blend({"blend": {one: f, two: 1 - f}}))
    raw = blend_raw(fractions)
    m = build_material(raw, "blend")
    nodes = np.asarray(raw["lattice"]["x"])
    np.testing.assert_allclose(m.lattice_a(nodes), f * m1.lattice_a(nodes) + (1 - f) * m2.lattice_a(nodes), rtol=1e-14)
    np.testing.assert_allclose(m.lattice_c(nodes), f * m1.lattice_c(nodes) + (1 - f) * m2.lattice_c(nodes), rtol=1e-14)
    np.testing.assert_allclose(np.log10(m.diffusivity(nodes)), f * np.log10(m1.diffusivity(nodes))
                               + (1 - f) * np.log10(m2.diffusivity(nodes)), rtol=1e-12)
    np.testing.assert_allclose(m.ocv(nodes), f * m1.ocv(nodes) + (1 - f) * m2.ocv(nodes), rtol=1e-14)
    assert m.molar_mass == pytest.approx(f * m1.molar_mass + (1 - f) * m2.molar_mass, rel=1e-14)
    molar_volume = f * m1.molar_mass / m1.density + (1 - f) * m2.molar_mass / m2.density
    assert m.density == pytest.approx(m.molar_mass / molar_volume, rel=1e-12)
    assert m.electronic_conductivity == pytest.approx(0.285**f * 0.01 ** (1 - f), rel=1e-12)
    assert m.exchange_current_reference == pytest.approx(2.0**f * 8.0 ** (1 - f), rel=1e-12)
    assert m.stiffness_gpa["C33"] == pytest.approx(f * 220.0 + (1 - f) * 180.0, rel=1e-14)
    assert m.gap_x_low is None and "phase_separation" not in raw  # kept only where every member has it
    assert m.li_slab_height_angstrom == pytest.approx(2.6)
    # the members' own x nodes: a member with other nodes is evaluated by its PCHIP there
    def other_nodes(raw):
        raw["lattice"]["x"] = [0.0, 0.5, 1.0]
        raw["lattice"]["a_angstrom"] = [2.82, 2.83, 2.87]
        raw["lattice"]["c_angstrom"] = [13.5, 14.4, 14.2]
    three = planted(tmp_path, "three", other_nodes)
    raw3 = blend_raw(resolve_members(check_blend({"blend": {one: 0.5, three: 0.5}})))
    union = sorted(set(read_material_file(one)[0]["lattice"]["x"]) | {0.0, 0.5, 1.0})
    assert raw3["lattice"]["x"] == union
    m3 = load_material(three)
    np.testing.assert_allclose(raw3["lattice"]["c_angstrom"], 0.5 * m1.lattice_c(np.array(union))
                               + 0.5 * m3.lattice_c(np.array(union)), rtol=1e-14)


def test_nc91_nm91_blend_follows_charge_balance_and_the_formula():
    for y in (0.0, 0.025, 0.05, 0.1):
        m = blended({"nc91": y / 0.1, "nm91": 1 - y / 0.1})
        assert m.ni_valence_constant == pytest.approx(3.6 + y, abs=1e-14)
    half = blended({"nc91": 0.5, "nm91": 0.5})
    assert half.formula == "LiNi0.9Co0.05Mn0.05O2"
    assert half.name == "NC91 0.5 + NM91 0.5"


def test_blended_file_round_trips_through_load_material(tmp_path):
    text = blend_text(resolve_members(check_blend({"blend": {"nc91": 0.4, "nm91": 0.6}})))
    path = tmp_path / "nc91_40.toml"
    path.write_text(text)
    reread = load_material(path)
    blend = build_material(tomllib.loads(text), "blend")
    for function in ("ocv", "diffusivity", "lattice_a", "lattice_c", "exchange_current", "white_line_energy"):
        np.testing.assert_array_equal(getattr(reread, function)(X), getattr(blend, function)(X))
    assert "stress_assisted_diffusion" in tomllib.loads(text)["recalibrated"]  # both members have it: mixed
    assert "blend of NC91 (0.4), NM91 (0.6)" in text  # every table says where it came from
    # the run stores the blended text, and everything rebuilds the material from it
    spec = run_spec({**TINY, "material": {"blend": {"nc91": 0.4, "nm91": 0.6}}})
    assert spec.material_text == text
    assert spec.config["material"] == {"blend": {"nc91": 0.4, "nm91": 0.6}}


def test_run_directory_of_a_blend_holds_its_material_file(tmp_path):
    from chemomech.cli.main import main

    config = tmp_path / "blend.toml"
    config.write_text(tomli_w.dumps({**TINY, "material": {"blend": {"nc91": 0.25, "nm91": 0.75}}}))
    assert main(["run", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    written = load_material(tmp_path / "run" / "material.toml")
    assert written.formula == "LiNi0.9Co0.025Mn0.075O2"
    assert (tmp_path / "run" / "material.toml").read_text() == blend_text({"nc91": 0.25, "nm91": 0.75})
    # and the run re-runs from its own config
    assert main(["run", str(tmp_path / "run" / "config.toml"), "--out", str(tmp_path / "again"), "--quiet"]) == 0


@pytest.mark.parametrize("material, expected", [
    ({"blend": {"nc91": 0.5, "nm91": 0.6}}, "material.blend: the fractions sum to 0.5 + 0.6 = 1.1"),
    ({"blend": {"nc91": 1.2, "nm91": -0.2}}, "material.blend.nc91 = 1.2: fractions must lie in [0, 1]"),
    ({"blend": {"nc91": -0.1, "nm91": 1.1}}, "material.blend.nc91 = -0.1: fractions must lie in [0, 1]"),
    ({"blend": {"nc91": 0.5, "lnmo": 0.5}}, "material.blend.lnmo: unknown end member"),
    ({"blend": {"nc91": "half", "nm91": 0.5}}, "material.blend.nc91 = 'half': must be a finite number"),
    ({"blend": {}}, "material.blend = {}: must be a table of end members"),
    ({"mix": {"nc91": 1.0}}, "a material table must hold exactly one key, 'blend'"),
])
def test_bad_blends_are_one_line_errors(material, expected):
    with pytest.raises(ConfigError) as error:
        resolve_config({**TINY, "material": material})
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_end_members_of_other_ni_content_or_missing_tables_are_refused(tmp_path):
    def less_ni(raw):
        raw["composition"]["ni_fraction"] = 0.8
    def no_lattice(raw):
        del raw["lattice"]
    for change, expected in ((less_ni, "must have the same Ni content ([composition] ni_fraction), but they have"),
                             (no_lattice, "table [lattice] needs lists 'x' and 'a_angstrom'")):
        other = planted(tmp_path, change.__name__, change)
        with pytest.raises(ConfigError) as error:
            resolve_config({**TINY, "material": {"blend": {"nc91": 0.5, other: 0.5}}})
        assert expected in str(error.value) and "\n" not in str(error.value)
        assert "material.blend" in str(error.value)


def test_sweep_axis_over_a_fraction_fills_the_rest():
    from chemomech.sweep import load_sweep

    sweep = load_sweep({"base": {**TINY, "material": {"blend": {"nc91": 0.5, "nm91": 0.5}}},
                        "axes": {"material.blend.nc91": {"start": 0, "stop": 1, "num": 3}}})
    fractions = [point.config["material"]["blend"] for point in sweep.points]
    assert fractions == [{"nc91": 0.0, "nm91": 1.0}, {"nc91": 0.5, "nm91": 0.5}, {"nc91": 1.0, "nm91": 0.0}]
    assert [point.name for point in sweep.points] == ["nc91=0", "nc91=0.5", "nc91=1"]
    with pytest.raises(ConfigError, match="not an end member of the blend; allowed: material.blend.nc91"):
        load_sweep({"base": {**TINY, "material": {"blend": {"nc91": 0.5, "nm91": 0.5}}},
                    "axes": {"material.blend.nmc811": [0.1]}})
    with pytest.raises(ConfigError, match="the material must be a blend to set one fraction"):
        load_sweep({"base": {**TINY, "material": "nc91"}, "axes": {"material.blend.nc91": [0.1]}})


def test_set_one_fraction_on_the_command_line():
    """--set material.blend.nc91=0.3 on a blend config: NM91 fills 0.7; on a config
    naming one material file, a one-line error saying to give the whole blend."""
    blend = resolve_config({**TINY, "material": {"blend": {"nc91": 0.5, "nm91": 0.5}}},
                           ["material.blend.nc91=0.3"])
    assert blend["material"] == {"blend": {"nc91": 0.3, "nm91": 0.7}}
    whole = resolve_config({**TINY, "material": "nc91"}, ["material={blend={nc91=0.25,nm91=0.75}}"])
    assert whole["material"] == {"blend": {"nc91": 0.25, "nm91": 0.75}}
    with pytest.raises(ConfigError, match="--set material.blend.nc91: the material must be a blend"):
        resolve_config({**TINY, "material": "nc91"}, ["material.blend.nc91=0.3"])


@pytest.mark.slow
def test_sweep_over_the_fraction_writes_summary_with_that_axis(tmp_path):
    import xarray as xr

    from chemomech.sweep import run_sweep

    sweep = {"base": {**TINY, "material": {"blend": {"nc91": 0.5, "nm91": 0.5}}},
             "axes": {"material.blend.nc91": [0.0, 0.5, 1.0]}}
    ds = run_sweep(sweep, tmp_path / "sweep", workers=1, progress=False)
    assert ds.attrs["points_failed"] == 0
    on_disk = xr.open_dataset(tmp_path / "sweep" / "summary.nc", engine="h5netcdf").load()
    assert on_disk["soc_end"].dims == ("nc91",)
    assert list(on_disk["nc91"].values) == [0.0, 0.5, 1.0]
    # the end points are the end members' own runs
    for fraction, member in ((0.0, "nm91"), (1.0, "nc91")):
        direct = cm.simulate({**TINY, "material": member})
        assert float(on_disk["soc_end"].sel(nc91=fraction)) == direct.attrs["soc_end"]
