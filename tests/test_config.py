"""Run configuration: bad input gives one-line ConfigErrors naming key, value and what is
allowed; defaults are filled; `--set key=value` overrides are parsed as documented."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from chemomech.errors import ChemomechError, ConfigError
from chemomech.io.config import (
    SCHEMA,
    SOLVER_DEFAULTS,
    apply_assignments,
    parse_assignment,
    read_config,
    resolve_config,
)
from chemomech.materials.material import load_material

REPO = Path(__file__).resolve().parents[1]


def with_(**sections) -> dict:
    """A minimal valid config (material nc91) with some sections/keys replaced."""
    raw = {"material": "nc91"}
    raw.update(sections)
    return raw


# (raw config, fragments the one-line message must contain: the key, the value, what is allowed)
BAD_INPUTS = {
    "unknown material": (
        {"material": "nc99"},
        ["material", "'nc99'", "allowed", "nc91", "nm91"],
    ),
    "unknown top-level key": (
        with_(colour="red"),
        ["'colour'", "allowed", "particle", "protocol"],
    ),
    "unknown key in a section": (
        with_(particle={"radius": 2.0}),
        ["particle.radius", "allowed", "radius_um", "cells"],
    ),
    "unknown section key in protocol": (
        with_(protocol={"c-rate": 1.0}),
        ["protocol.c-rate", "allowed", "c_rate"],
    ),
    "radius zero": (
        with_(particle={"radius_um": 0.0}),
        ["particle.radius_um", "0.0", "> 0"],
    ),
    "radius negative": (
        with_(particle={"radius_um": -1.5}),
        ["particle.radius_um", "-1.5", "> 0"],
    ),
    "c_rate zero": (
        with_(protocol={"c_rate": 0.0}),
        ["protocol.c_rate", "0.0", "> 0"],
    ),
    "c_rate negative": (
        with_(protocol={"c_rate": -1}),
        ["protocol.c_rate", "-1", "> 0"],
    ),
    "v_max below starting OCV": (
        with_(protocol={"v_max": 3.0}),
        ["protocol.v_max", "3.0", "allowed: v_max >"],
    ),
    "v_max above fully delithiated OCV": (
        with_(protocol={"v_max": 4.95}),
        ["protocol.v_max", "4.95", "allowed: v_max <"],
    ),
    "cells below 3": (
        with_(particle={"cells": 2}),
        ["particle.cells", "2", ">= 3"],
    ),
    "cells float": (
        with_(particle={"cells": 20.5}),
        ["particle.cells", "20.5", "an integer"],
    ),
    "radius as string": (
        with_(particle={"radius_um": "big"}),
        ["particle.radius_um", "'big'", "a number"],
    ),
    "radius as bool": (
        with_(particle={"radius_um": True}),
        ["particle.radius_um", "True", "a number"],
    ),
    "cv_hold as string": (
        with_(protocol={"cv_hold": "yes"}),
        ["protocol.cv_hold", "'yes'", "true or false"],
    ),
    "unknown geometry": (
        with_(particle={"geometry": "cube"}),
        ["particle.geometry", "'cube'", "allowed", "'sphere-1d'"],
    ),
    "snapshots below 2": (
        with_(output={"snapshots": 1}),
        ["output.snapshots", "1", ">= 2"],
    ),
    "unknown material override": (
        with_(material_overrides={"diffusivity.bogus": 1.0}),
        ["'diffusivity.bogus'", "allowed", "diffusivity.out_of_plane_ratio"],
    ),
    "material override of wrong type": (
        with_(material_overrides={"diffusivity.out_of_plane_ratio": "x"}),
        ["diffusivity.out_of_plane_ratio", "'x'", "a number"],
    ),
    "missing material": (
        {"particle": {"radius_um": 2.0}},
        ["'material'"],
    ),
}


def assert_one_line_naming(message: str, fragments: list[str]):
    assert "\n" not in message, f"not one line: {message!r}"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from {message!r}"


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_config_error(case):
    raw, fragments = BAD_INPUTS[case]
    with pytest.raises(ConfigError) as info:
        resolve_config(raw)
    assert isinstance(info.value, ChemomechError)  # the CLI turns these into exit 2
    assert_one_line_naming(str(info.value), fragments)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_from_a_file_raises_config_error(case, tmp_path):
    raw, fragments = BAD_INPUTS[case]
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(raw))
    with pytest.raises(ConfigError) as info:
        resolve_config(path)
    assert_one_line_naming(str(info.value), fragments)


def test_malformed_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('material = "nc91"\n[particle\nradius_um = 2.0\n')
    with pytest.raises(ConfigError) as info:
        resolve_config(path)
    assert_one_line_naming(str(info.value), [str(path), "malformed TOML", "line 2"])


def test_not_utf8(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"material = \"nc\xff91\"\n")
    with pytest.raises(ConfigError) as info:
        resolve_config(path)
    assert_one_line_naming(str(info.value), [str(path)])


def test_missing_file(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert_one_line_naming(str(info.value), [str(path), "does not exist"])


def test_section_that_is_not_a_table():
    with pytest.raises(ConfigError, match=r"particle must be a table"):
        resolve_config(with_(particle=3))


# ---- defaults ---------------------------------------------------------------------------
def test_defaults_filled():
    resolved = resolve_config({"material": "nc91"})
    assert resolved["material"] == "nc91"
    assert "material_overrides" not in resolved
    assert set(resolved) == {"material", *SCHEMA}
    for section, keys in SCHEMA.items():
        assert set(resolved[section]) == set(keys)
        for name, spec in keys.items():
            value = resolved[section][name]
            default = SOLVER_DEFAULTS["sphere-1d"][name] if section == "solver" else spec.default
            assert value == default and type(value) is spec.kind, f"{section}.{name}"


def test_documented_defaults():
    resolved = resolve_config({"material": "nm91"})
    # the values of the module docstring / README "Configuration", exact
    assert resolved["particle"] == {
        "geometry": "sphere-1d", "radius_um": 2.0, "cells": 100, "voxel_nm": 50.0,
        "shape": "sphere", "aspect": 2.0, "c_axis": [0.0, 0.0, 1.0], "euler_deg": [],
        "grain_size_um": 0.4, "seed": 0,
    }
    assert resolved["protocol"]["c_rate"] == 1.0 and resolved["protocol"]["v_max"] == 4.5
    assert resolved["protocol"]["cv_hold"] is False
    assert resolved["output"] == {"snapshots": 20, "mechanics": True}
    assert resolved["solver"] == {"tolerance": 2e-4, "max_step_fraction": 0.005}


def test_given_values_kept_and_ints_become_floats():
    resolved = resolve_config(with_(particle={"radius_um": 5, "cells": 7}, protocol={"c_rate": 2}))
    assert resolved["particle"]["radius_um"] == 5.0 and type(resolved["particle"]["radius_um"]) is float
    assert resolved["particle"]["cells"] == 7 and type(resolved["particle"]["cells"]) is int
    assert type(resolved["protocol"]["c_rate"]) is float


def test_shipped_run_config_resolves():
    resolved = resolve_config(REPO / "runs" / "sphere_1d.toml")
    assert resolved["material"] == "nc91"
    assert resolved["particle"]["cells"] == 100


def test_resolution_is_idempotent_through_toml():
    """The resolved config written as TOML (DIR/config.toml) resolves to itself."""
    resolved = resolve_config(with_(material_overrides={"diffusivity.out_of_plane_ratio": 1.0},
                                    protocol={"c_rate": 0.5}))
    again = resolve_config(tomllib.loads(tomli_w.dumps(resolved)))
    assert again == resolved


def test_material_path_relative_to_config_file(tmp_path, monkeypatch):
    from chemomech.materials.material import models_directory

    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "custom.toml").write_bytes((models_directory() / "nm91.toml").read_bytes())
    (folder / "run.toml").write_text('material = "custom.toml"\n')
    monkeypatch.chdir(tmp_path)  # the material file is not in the working directory
    resolved = resolve_config(folder / "run.toml")
    assert Path(resolved["material"]).is_absolute()
    assert Path(resolved["material"]) == (folder / "custom.toml").resolve()


def test_config_dict_is_not_mutated():
    raw = with_(particle={"cells": 10})
    before = tomli_w.dumps(raw)
    resolve_config(raw, ["particle.cells=12"])
    assert tomli_w.dumps(raw) == before


# ---- --set ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, key, value",
    [
        ("protocol.c_rate=0.5", "protocol.c_rate", 0.5),
        ("protocol.c_rate=2", "protocol.c_rate", 2),
        ("protocol.c_rate=1e-1", "protocol.c_rate", 0.1),
        ("particle.cells=20", "particle.cells", 20),
        ("particle.geometry=sphere-1d", "particle.geometry", "sphere-1d"),  # unquoted string
        ("material=nm91", "material", "nm91"),
        ('material="nm91"', "material", "nm91"),  # quoted string
        ("protocol.cv_hold=true", "protocol.cv_hold", True),
        ("protocol.cv_hold=false", "protocol.cv_hold", False),
        (" protocol.v_max = 4.3 ", "protocol.v_max", 4.3),  # spaces around key and value
        ("material=a=b", "material", "a=b"),  # split at the first '='
        (
            "material_overrides.diffusivity.out_of_plane_ratio=1.0",
            "material_overrides.diffusivity.out_of_plane_ratio",
            1.0,
        ),
    ],
)
def test_parse_assignment(text, key, value):
    parsed_key, parsed_value = parse_assignment(text)
    assert parsed_key == key
    assert parsed_value == value and type(parsed_value) is type(value)


@pytest.mark.parametrize("text", ["protocol.c_rate", "=2", " = 2"])
def test_bad_assignment(text):
    with pytest.raises(ConfigError) as info:
        parse_assignment(text)
    assert_one_line_naming(str(info.value), ["--set", repr(text)])


def test_apply_assignments():
    raw = {"material": "nc91", "particle": {"radius_um": 3.0}}
    result = apply_assignments(
        raw,
        [
            "particle.cells=20",
            "protocol.c_rate=2",
            "protocol.cv_hold=true",
            "material=nm91",
            "material_overrides.diffusivity.out_of_plane_ratio=1.0",
        ],
    )
    assert result == {
        "material": "nm91",
        "particle": {"radius_um": 3.0, "cells": 20},
        "protocol": {"c_rate": 2, "cv_hold": True},
        "material_overrides": {"diffusivity.out_of_plane_ratio": 1.0},
    }
    assert raw == {"material": "nc91", "particle": {"radius_um": 3.0}}  # input untouched


def test_later_assignment_wins():
    result = apply_assignments({"material": "nc91"}, ["protocol.c_rate=2", "protocol.c_rate=3"])
    assert result["protocol"]["c_rate"] == 3


def test_set_material_override_reaches_the_material():
    resolved = resolve_config({"material": "nc91"},
                              ["material_overrides.diffusivity.out_of_plane_ratio=1.0"])
    assert resolved["material_overrides"] == {"diffusivity.out_of_plane_ratio": 1.0}
    assert load_material(resolved["material"], resolved["material_overrides"]).out_of_plane_ratio == 1.0


def test_set_overrides_a_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('material = "nc91"\n[particle]\ncells = 50\n')
    resolved = resolve_config(path, ["particle.cells=20", "protocol.c_rate=2", "output.snapshots=5"])
    assert resolved["particle"]["cells"] == 20
    assert resolved["protocol"]["c_rate"] == 2.0
    assert resolved["output"]["snapshots"] == 5


@pytest.mark.parametrize(
    "assignment, fragments",
    [
        ("particle.radius_um=big", ["particle.radius_um", "'big'", "a number"]),
        ("particle.radius_um=0", ["particle.radius_um", "0", "> 0"]),
        ("particle.cells=2", ["particle.cells", "2", ">= 3"]),
        ("particle.cells=20.0", ["particle.cells", "20.0", "an integer"]),
        ("protocol.c_rate=-1", ["protocol.c_rate", "-1", "> 0"]),
        ("protocol.v_max=3.0", ["protocol.v_max", "3.0", "allowed"]),
        ("protocol.cv_hold=yes", ["protocol.cv_hold", "'yes'", "true or false"]),
        ("particle.radius_um=nan", ["particle.radius_um", "nan"]),
        ("particle.radius_um=inf", ["particle.radius_um", "inf", "<= 100"]),
        ("particle.nope=1", ["particle.nope", "allowed"]),
        ("nope=1", ["'nope'", "allowed"]),
        ("particle.radius.um=1", ["particle.radius.um", "unknown key"]),
        ("material=nc99", ["'nc99'", "nc91", "nm91"]),
        ("material_overrides.diffusivity.nope=1", ["'diffusivity.nope'", "allowed"]),
    ],
)
def test_bad_set_values(assignment, fragments):
    with pytest.raises(ConfigError) as info:
        resolve_config({"material": "nc91"}, [assignment])
    assert_one_line_naming(str(info.value), fragments)


def test_set_into_a_non_table():
    with pytest.raises(ConfigError, match="not a table"):
        apply_assignments({"material": "nc91"}, ["material.x=1"])


def test_material_overrides_as_nested_toml_table(tmp_path):
    """TOML reads an unquoted dotted key as nested tables; it must mean the same key."""
    path = tmp_path / "run.toml"
    path.write_text('material = "nc91"\n[material_overrides]\ndiffusivity.out_of_plane_ratio = 1.0\n')
    resolved = resolve_config(path)
    assert resolved["material_overrides"] == {"diffusivity.out_of_plane_ratio": 1.0}
