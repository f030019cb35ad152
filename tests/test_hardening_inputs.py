"""Bad inputs that used to end in a traceback or a misleading message: non-finite numbers
and unknown keys in material files, a non-monotone OCV, a config path that is a folder and
a polycrystal whose grain size leaves it a single grain. Each is one line naming the file,
table, key and value and what is allowed (MaterialError / ConfigError; the CLI exits 2).

Expected values come from the shipped files (models/nc91.toml, the line numbers and list
entries named below) and from the seed count of chemomech.geometry.voxel.polycrystal,
N = max(1, round(8 (R/d)^3)).
"""

from __future__ import annotations

import copy
import re
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

import chemomech as cm
from chemomech.cli.main import main
from chemomech.errors import ConfigError, MaterialError
from chemomech.geometry.voxel import polycrystal, polycrystal_seed_count
from chemomech.io.config import read_config, resolve_config
from chemomech.materials.material import (
    MATERIAL_KEYS,
    build_material,
    load_material,
    models_directory,
)

SHIPPED = ["nc91", "nm91"]
ORIGIN = "material file nc91.toml"


def shipped_text(name: str = "nc91") -> str:
    return (models_directory() / f"{name}.toml").read_text()


def shipped_raw(name: str = "nc91") -> dict:
    return tomllib.loads(shipped_text(name))


def edited_copy(folder: Path, section: str, key: str, value: str, index: int | None = None) -> Path:
    """nc91.toml copied to folder/nc91.toml with `key` of [section] set to the TOML literal
    `value` (or, with index, list entry `index` of it); everything else unchanged."""
    lines = shipped_text().splitlines()
    current, done = "", False
    for number, line in enumerate(lines):
        header = re.match(r"^\[(\w+)\]$", line)
        if header:
            current = header.group(1)
        elif current == section and line.startswith(f"{key} = "):
            if index is None:
                lines[number] = f"{key} = {value}"
            else:
                entries = line.split("=", 1)[1].strip()[1:-1].split(",")
                entries[index] = f" {value}"
                lines[number] = f"{key} = [" + ",".join(entries).strip() + "]"
            done = True
    assert done, f"no {key} in [{section}] of nc91.toml"
    path = folder / "nc91.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def appended_copy(folder: Path, section: str, text: str) -> Path:
    """nc91.toml copied with `text` added as a line right after the [section] header."""
    source = shipped_text()
    assert f"\n[{section}]\n" in source
    path = folder / "nc91.toml"
    path.write_text(source.replace(f"\n[{section}]\n", f"\n[{section}]\n{text}\n", 1))
    return path


# ---- non-finite numbers -----------------------------------------------------------------
TABLE_COLUMNS = [("ocv", "volts"), ("ocv", "x"), ("diffusivity", "log10_m2_s"), ("diffusivity", "x"),
                 ("lattice", "a_angstrom"), ("lattice", "c_angstrom"), ("lattice", "x")]


@pytest.mark.parametrize("section, column", TABLE_COLUMNS)
@pytest.mark.parametrize("literal", ["nan", "inf", "-inf"])
def test_non_finite_table_entry_names_file_table_and_index(tmp_path, section, column, literal):
    path = edited_copy(tmp_path, section, column, literal, index=3)
    expected = f"{ORIGIN}: [{section}] {column}[3] = {literal}: must be a finite number"
    with pytest.raises(MaterialError) as caught:
        load_material(path)
    assert str(caught.value) == expected


def test_the_issue_example_word_for_word(tmp_path):
    path = edited_copy(tmp_path, "ocv", "volts", "nan", index=3)
    with pytest.raises(MaterialError, match=re.escape("material file nc91.toml: [ocv] volts[3] = nan: must be a finite number")):
        load_material(path)


@pytest.mark.parametrize(
    "section, key, literal",
    [("density", "crystallographic_kg_m3", "nan"), ("stiffness", "C11_GPa", "inf"),
     ("diffusivity", "out_of_plane_ratio", "-inf"), ("capacity", "x_initial", "nan"),
     ("exchange_current", "reference_A_m2", "inf")],
)
def test_non_finite_scalar_is_rejected(tmp_path, section, key, literal):
    path = edited_copy(tmp_path, section, key, literal)
    with pytest.raises(MaterialError) as caught:
        load_material(path)
    assert str(caught.value) == f"{ORIGIN}: [{section}] {key} = {literal}: must be a finite number"


def test_non_number_table_entry_is_rejected(tmp_path):
    path = edited_copy(tmp_path, "lattice", "c_angstrom", '"14.2"', index=0)
    with pytest.raises(MaterialError, match=re.escape("[lattice] c_angstrom[0] = '14.2': must be a finite number")):
        load_material(path)


def test_override_putting_nan_in_a_table_gives_the_same_message():
    volts = shipped_raw()["ocv"]["volts"]
    volts[3] = float("nan")
    with pytest.raises(MaterialError) as caught:
        load_material("nc91", {"ocv.volts": volts})
    assert str(caught.value) == f"{ORIGIN}: [ocv] volts[3] = nan: must be a finite number"
    with pytest.raises(ConfigError) as through_config:
        resolve_config({"material": "nc91", "material_overrides": {"ocv.volts": volts}})
    assert str(through_config.value) == str(caught.value)


def test_override_putting_inf_in_a_scalar_is_rejected():
    with pytest.raises(MaterialError, match=re.escape("[diffusivity] out_of_plane_ratio = inf: must be a finite number")):
        load_material("nc91", {"diffusivity.out_of_plane_ratio": float("inf")})


def test_cli_set_nan_override_exits_2_and_writes_nothing(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('material = "nc91"\n[particle]\ncells = 20\n')
    log10_d = shipped_raw()["diffusivity"]["log10_m2_s"]
    listed = ", ".join(["nan"] + [repr(v) for v in log10_d[1:]])
    out = tmp_path / "out"
    code = main(["run", str(config), "--out", str(out), "--quiet",
                 "--set", f"material_overrides.diffusivity.log10_m2_s=[{listed}]"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"chemomech: error: {ORIGIN}: [diffusivity] log10_m2_s[0] = nan: must be a finite number\n"
    assert not out.exists()


# ---- the OCV must fall with x -----------------------------------------------------------
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_ocv_tables_fall_strictly_with_x(name):
    table = shipped_raw(name)["ocv"]
    x, volts = np.array(table["x"]), np.array(table["volts"])
    order = np.argsort(x)
    assert np.all(np.diff(volts[order]) < 0)


def test_non_monotone_ocv_names_the_first_offending_pair(tmp_path):
    # nc91.toml: x[7] = 0.50 at 3.95 V, x[8] = 0.45 at 4.00 V; 3.90 V at x = 0.45 makes the
    # OCV rise from x = 0.45 to 0.5 (and nowhere else)
    path = edited_copy(tmp_path, "ocv", "volts", "3.90", index=8)
    with pytest.raises(MaterialError) as caught:
        load_material(path)
    message = str(caught.value)
    assert message.startswith(f"{ORIGIN}: [ocv] volts must fall strictly as x increases")
    assert "volts[8] = 3.9 V at x = 0.45 and volts[7] = 3.95 V at x = 0.5" in message
    assert "allow_non_monotone = true" in message and "\n" not in message


def test_a_flat_ocv_step_is_not_strictly_falling(tmp_path):
    path = edited_copy(tmp_path, "ocv", "volts", "3.95", index=8)  # equal to volts[7]
    with pytest.raises(MaterialError, match=re.escape("volts[8] = 3.95 V at x = 0.45 and volts[7] = 3.95 V at x = 0.5")):
        load_material(path)


def test_the_first_pair_in_x_is_named(tmp_path):
    # two rises: x = 0.02 -> 0.05 (volts[18] 4.75 -> volts[17], set to 4.80) and
    # x = 0.45 -> 0.5 (volts[8], set to 3.90); the one at lower x is named
    raw = shipped_raw()
    raw["ocv"]["volts"][17] = 4.80
    raw["ocv"]["volts"][8] = 3.90
    with pytest.raises(MaterialError, match=re.escape("volts[18] = 4.75 V at x = 0.02 and volts[17] = 4.8 V at x = 0.05")):
        build_material(raw, ORIGIN)


def test_opt_in_plateau_loads_with_one_warning(tmp_path):
    raw = shipped_raw()
    raw["ocv"]["volts"][8] = 3.95  # a flat step between x = 0.45 and 0.5
    raw["ocv"]["allow_non_monotone"] = True
    raw["ocv"]["non_monotone_source"] = "two-phase plateau (test)"
    with pytest.warns(UserWarning) as record:
        material = build_material(raw, ORIGIN)
    assert len(record) == 1
    text = str(record[0].message)
    assert "\n" not in text and "[ocv]" in text and "two-phase plateau (test)" in text
    # PCHIP passes through the table points
    assert material.ocv(np.array([0.45, 0.5])) == pytest.approx([3.95, 3.95])


def test_opt_in_in_a_file_loads(tmp_path):
    path = edited_copy(tmp_path, "ocv", "volts", "3.95", index=8)
    text = path.read_text().replace(
        "\n[ocv]\n", '\n[ocv]\nallow_non_monotone = true\nnon_monotone_source = "H2-H3 plateau (test)"\n', 1)
    path.write_text(text)
    with pytest.warns(UserWarning, match="allow_non_monotone"):
        load_material(path)


def test_opt_in_on_a_monotone_table_is_silent():
    raw = shipped_raw()
    raw["ocv"]["allow_non_monotone"] = True
    raw["ocv"]["non_monotone_source"] = "not needed (test)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_material(raw, ORIGIN)


@pytest.mark.parametrize("reason", [None, "", 3])
def test_opt_in_needs_a_source_string(reason):
    raw = shipped_raw()
    raw["ocv"]["allow_non_monotone"] = True
    if reason is not None:
        raw["ocv"]["non_monotone_source"] = reason
    with pytest.raises(MaterialError, match="non_monotone_source"):
        build_material(raw, ORIGIN)


def test_opt_in_must_be_true_or_false():
    raw = shipped_raw()
    raw["ocv"]["allow_non_monotone"] = "yes"
    with pytest.raises(MaterialError, match=re.escape("[ocv] allow_non_monotone = 'yes': must be true or false")):
        build_material(raw, ORIGIN)


# ---- unknown keys -----------------------------------------------------------------------
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_load_unchanged_under_the_key_schema(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        material = load_material(name)
    assert material.raw == shipped_raw(name)


def test_misspelt_table_key(tmp_path):
    path = tmp_path / "nc91.toml"
    path.write_text(shipped_text().replace("\nvolts = [", "\nvols = [", 1))
    with pytest.raises(MaterialError) as caught:
        load_material(path)
    message = str(caught.value)
    assert message.startswith(f"{ORIGIN}: unknown key '[ocv] vols'; allowed in [ocv]: x, volts, allow_non_monotone")
    assert "source" in message and "\n" not in message


@pytest.mark.parametrize(
    "section, line, shown",
    [("density", "crystallographic_kg_m33 = 4790.0", "[density] crystallographic_kg_m33"),
     ("stiffness", "C66_GPa = 115.0", "[stiffness] C66_GPa"),
     ("lattice", 'sorce = "typo"', "[lattice] sorce")],
)
def test_unknown_key_inside_a_table(tmp_path, section, line, shown):
    with pytest.raises(MaterialError, match=re.escape(f"{ORIGIN}: unknown key '{shown}'; allowed in [{section}]:")):
        load_material(appended_copy(tmp_path, section, line))


def test_unknown_top_level_table_and_key(tmp_path):
    path = tmp_path / "nc91.toml"
    path.write_text(shipped_text() + '\n[thermal]\nsource = "x"\n')
    with pytest.raises(MaterialError, match=re.escape(f"{ORIGIN}: unknown table '[thermal]'; allowed top-level keys: name, formula")):
        load_material(path)
    path.write_text('comment = "hello"\n' + shipped_text())
    with pytest.raises(MaterialError, match=re.escape(f"{ORIGIN}: unknown key 'comment'; allowed top-level keys")):
        load_material(path)


def test_key_source_strings_are_allowed_and_must_be_strings(tmp_path):
    load_material(appended_copy(tmp_path, "lattice", 'a_angstrom_source = "a per key"'))
    with pytest.raises(MaterialError, match=re.escape("[lattice] a_angstrom_source = 3: must be a string")):
        load_material(appended_copy(tmp_path, "lattice", "a_angstrom_source = 3"))


def test_every_schema_value_is_read():
    # deleting any value key of the schema (other than the optional opt-in) is an error
    # that names it: the schema holds nothing build_material does not read
    for section, keys in MATERIAL_KEYS.items():
        for key in keys:
            if key == "allow_non_monotone":
                continue
            raw = copy.deepcopy(shipped_raw())
            del raw[section][key]
            with pytest.raises(MaterialError, match=re.escape(key)):
                build_material(raw, ORIGIN)


def test_stored_run_material_is_checked_the_same_way():
    from chemomech.io.results import material_from_text

    text = shipped_text().replace("\nvolts = [", "\nvols = [", 1)
    with pytest.raises(MaterialError, match=re.escape("unknown key '[ocv] vols'")):
        material_from_text(text, None, "material stored in the run (nc91)")


# ---- paths that are folders -------------------------------------------------------------
def test_config_path_that_is_a_folder(tmp_path):
    with pytest.raises(ConfigError) as caught:
        read_config(tmp_path)
    assert str(caught.value) == f"config file {str(tmp_path)!r} is a directory; give a TOML file"


def test_cli_config_folder_exits_2(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tmp_path), "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"chemomech: error: config file {str(tmp_path)!r} is a directory; give a TOML file\n")
    assert not out.exists()


def test_material_path_that_is_a_folder(tmp_path):
    folder = tmp_path / "mine.toml"
    folder.mkdir()
    with pytest.raises(MaterialError, match=re.escape(f"material file {str(folder)!r} is a directory; give a TOML file")):
        load_material(folder)


# ---- polycrystal grain size -------------------------------------------------------------
def poly(grain_size_um: float, radius_um: float = 2.0) -> dict:
    return {"material": "nc91", "particle": {"geometry": "polycrystal", "radius_um": radius_um,
                                            "grain_size_um": grain_size_um}}


@pytest.mark.parametrize("grain_size_um", [4.0, 5.0, 3.6])
def test_polycrystal_of_one_grain_is_an_error_naming_both_keys(grain_size_um):
    # radius 2 um: diameter 4 um; 3.6 um still gives round(8 (2/3.6)^3) = round(1.37) = 1 seed
    with pytest.raises(ConfigError) as caught:
        resolve_config(poly(grain_size_um))
    message = str(caught.value)
    assert message.startswith(f"particle.grain_size_um = {grain_size_um!r} with particle.radius_um = 2.0")
    assert "single grain" in message and '"single-crystal"' in message and "\n" not in message


def test_the_largest_allowed_grain_size_in_the_message_gives_two_grains():
    with pytest.raises(ConfigError) as caught:
        resolve_config(poly(4.0))
    largest = float(re.search(r"grain_size_um <= ([0-9.]+)", str(caught.value)).group(1))
    # the limit is 8 (R/d)^3 = 1.5, d = 2 (16/3)^(1/3) = 3.494 um
    assert 3.48 < largest < 2.0 * (16.0 / 3.0) ** (1.0 / 3.0)
    assert polycrystal_seed_count(2.0, largest) == 2
    assert resolve_config(poly(largest))["particle"]["grain_size_um"] == largest


def test_grain_size_only_matters_for_polycrystals():
    # the default grain_size_um = 0.4 is kept in every resolved config
    for geometry in ("sphere-1d", "single-crystal"):
        particle = {"geometry": geometry, "radius_um": 0.1, "voxel_nm": 20.0, "grain_size_um": 5.0}
        assert resolve_config({"material": "nc91", "particle": particle})["particle"]["geometry"] == geometry


def test_why_it_is_an_error_the_geometry_makes_one_grain():
    # radius 0.2 um, grain 0.4 um (= the diameter), 40 nm voxels: one grain, silently
    particle = polycrystal(0.2e-6, 40e-9, 0.4e-6, seed=0)
    assert particle.n_grains == 1
    assert polycrystal_seed_count(0.2e-6, 0.4e-6) == 1


def test_seed_count_formula():
    # N = max(1, round(8 (R/d)^3)): R = 2, d = 0.5 -> 512 (as in test_voxel_geometry)
    assert polycrystal_seed_count(2.0, 0.5) == 512
    assert polycrystal_seed_count(1.0, 3.0) == 1


def test_public_api_unchanged_for_the_shipped_materials():
    # nc91.toml: volts[0] = 3.45 at x = 1.0 (the table's first point)
    assert float(cm.load_material("nc91").ocv(1.0)) == pytest.approx(3.45)
