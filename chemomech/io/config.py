"""Run configuration (TOML): read, override, validate, fill defaults.

The contract (README "Configuration"):

    material = "nc91"               # a name under models/, or a path to a TOML file, or a blend:
    # material = { blend = { nc91 = 0.5, nm91 = 0.5 } }   (materials/blend.py)
    [material_overrides]            # optional: any material key, dotted
    "diffusivity.out_of_plane_ratio" = 1.0
    [particle]
    geometry = "sphere-1d"
    radius_um = 2.0
    cells = 100
    [protocol]
    kind = "cc-charge"
    c_rate = 1.0
    v_max = 4.5
    cv_hold = false                 # cc-charge only (also cv_end_c_rate, cv_max_h)
    # kind = "gitt": c_rate (pulse current), pulse_s = 600.0, rest_s = 3600.0, v_max;
    # kind = "experiment": blocks = [{repeat = 3, steps = ["Charge at C/10 until 4.5 V",
    #   "Discharge at C/10 until 2.8 V"]}, ...], stops = [...], reference_cycle = 0 (auto);
    # a key of another kind may only keep its default (it has no effect)
    [output]
    snapshots = 20
    snapshot_cycles = []            # cycles whose step ends (+ snapshots evenly) are kept
    [solver]
    tolerance = 2e-4

Keys carry their unit in the name. Unknown keys, wrong types and out-of-range values raise
ConfigError with one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from pathlib import Path

from chemomech.errors import ConfigError, MaterialError


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default (None = required), allowed range or
    choices, and a description with units."""

    kind: type
    default: object
    description: str
    low: float | None = None  # exclusive lower bound
    high: float | None = None  # inclusive upper bound
    at_least: float | None = None  # inclusive lower bound
    choices: tuple | None = None
    kinds: tuple | None = None  # protocol keys: the protocol kinds the key applies to
    structured: bool = False  # a list checked by its own parser (protocol blocks, stops, cycles)
    optional: bool = False  # left out of the resolved config while at its default (OPTIONAL_SCHEMA)


SCHEMA: dict[str, dict[str, Key]] = {
    "particle": {
        "geometry": Key(str, "sphere-1d", "particle geometry",
                        choices=("sphere-1d", "single-crystal", "polycrystal")),
        "radius_um": Key(float, 2.0, "particle radius [um] (platelet: hexagon circumradius; polycrystal: secondary particle)", low=0.0, high=100.0),
        "cells": Key(int, 100, "radial finite-volume cells (sphere-1d)", at_least=3, high=100000),
        "voxel_nm": Key(float, 50.0, "voxel edge [nm] (single-crystal, polycrystal)", low=0.0, high=10000.0),
        "shape": Key(str, "sphere", "single-crystal shape", choices=("sphere", "platelet")),
        "aspect": Key(float, 2.0, "platelet width across corners / thickness [-]", low=0.0, high=100.0),
        "c_axis": Key(list, [0.0, 0.0, 1.0], "single-crystal c-axis direction in the lab (x, y, z) [-]"),
        "euler_deg": Key(list, [], "single-crystal Bunge Euler angles (phi1, Phi, phi2) [deg]; replaces c_axis when given"),
        "grain_size_um": Key(float, 0.4, "polycrystal grain size, equivalent-sphere diameter [um]", low=0.0, high=100.0),
        "seed": Key(int, 0, "polycrystal random seed (grain seeds and orientations)", at_least=0, high=2**63 - 1),
    },
    "protocol": {
        "kind": Key(str, "cc-charge", "electrochemical protocol", choices=("cc-charge", "gitt", "experiment")),
        "c_rate": Key(float, 1.0, "charge rate [1/h], 1C = 270 mAh/g in one hour (gitt: the pulse current)", low=0.0, high=100.0,
                      kinds=("cc-charge", "gitt")),
        "v_max": Key(float, 4.5, "upper cutoff voltage vs Li/Li+ [V] (gitt: the titration stops when a pulse reaches it)", low=0.0, high=6.0,
                     kinds=("cc-charge", "gitt")),
        "cv_hold": Key(bool, False, "hold v_max after the CC part", kinds=("cc-charge",)),
        "cv_end_c_rate": Key(float, 0.05, "CV hold ends when the current falls below this C-rate [1/h]", low=0.0, high=100.0, kinds=("cc-charge",)),
        "cv_max_h": Key(float, 10.0, "longest CV hold [h]", low=0.0, high=1000.0, kinds=("cc-charge",)),
        # GITT defaults: C/10 pulses of 10 min and 1 h open-circuit rests, the common
        # practice for layered oxides (method: Weppner & Huggins, J. Electrochem. Soc. 124,
        # 1569 (1977); practice and pitfalls: Kang & Chueh, J. Electrochem. Soc. 168,
        # 120504 (2021)); c_rate is the pulse current
        "pulse_s": Key(float, 600.0, "duration of each constant-current GITT pulse [s]", low=0.0, high=1e6, kinds=("gitt",)),
        "rest_s": Key(float, 3600.0, "open-circuit rest after each GITT pulse [s]", low=0.0, high=1e7, kinds=("gitt",)),
    },
    "output": {
        "snapshots": Key(int, 20, "field snapshots kept, evenly in charge (the first is the initial state); with snapshot_cycles: per chosen cycle", at_least=2, high=10000),
        "mechanics": Key(bool, True, "solve the elastic field on every snapshot (voxel particles)"),
    },
    "solver": {
        "tolerance": Key(float, None, "local error per time step in the Li fraction x, root mean square over the cells [-] (default 2e-4 for sphere-1d, 1e-3 for voxel particles)", low=0.0, high=0.1),
        "max_step_fraction": Key(float, None, "largest time step as a fraction of the nominal charge time 1/c_rate [-] (default 0.005 for sphere-1d, 0.05 for voxel particles)", low=0.0, high=1.0),
    },
}
# Keys written to the resolved config only when given (they have no effect at their
# default): the steps of kind = "experiment" and the cycles whose states are kept.
OPTIONAL_SCHEMA: dict[str, dict[str, Key]] = {
    "particle": {
        "surface_cell_nm": Key(float, 0.0, "sphere-1d: width of the outermost radial cell [nm]; the cells grow "
                                           "geometrically inwards (a mesh graded towards the surface; 0: uniform R/cells)",
                               at_least=0.0, high=1e5, optional=True),
    },
    "protocol": {
        # experiment: blocks of steps (chemomech.protocol; README "Protocols")
        "blocks": Key(list, [], "blocks of protocol steps, each {repeat, steps}", kinds=("experiment",),
                      structured=True, optional=True),
        "stops": Key(list, [], "whole-run stops, e.g. \"discharge capacity < 80 % of cycle 4\"", kinds=("experiment",),
                     structured=True, optional=True),
        "reference_cycle": Key(int, 0, "cycle of reference for capacity_retention (0: the first cycle of the second block, or cycle 1)",
                               at_least=0, high=10**7, kinds=("experiment",), optional=True),
    },
    # coupling physics (transport/coupling.py), each off by default
    "physics": {
        "stress_assisted_diffusion": Key(bool, False, "Li chemical potential carries -Omega_ij sigma_ij (stress-assisted diffusion)", optional=True),
        "slab_spacing_diffusivity": Key(bool, False, "D_ab depends on the elastic strain of the Li slab", optional=True),
        "phase_separation": Key(bool, False, "H2-H3 miscibility gap with a gradient energy (Cahn-Hilliard)", optional=True),
        "stress_update_x": Key(float, 0.01, "voxel particles: solve the stress again once x has moved by this much in any voxel [-] (SoC at cutoff within ~7e-4 of the converged value; first order)",
                               low=0.0, high=1.0, optional=True),
    },
    "output": {
        "snapshot_cycles": Key(list, [], "cycles whose states are kept: the end of each of their steps plus `snapshots` evenly in charge ([]: the whole run)",
                               structured=True, optional=True),
    },
    # cycle life (chemomech/degradation/): damage mechanisms, off unless listed
    "degradation": {
        "mechanisms": Key(list, [], "damage mechanisms of a cycle-life run: surface_layer, lattice_inactivation, "
                                    "boundary_fatigue (polycrystal), or [\"all\"]: every one the geometry has "
                                    "([]: no damage)", structured=True, optional=True),
        "cycle_jumping": Key(bool, True, "extrapolate the damage between simulated cycles (false: every cycle in full)", optional=True),
        "jump_tolerance": Key(float, 2e-3, "largest difference of one jump and two half jumps in the damage [-] "
                                           "(active fraction; layer thickness per 100 nm; crack length per face)",
                              low=0.0, high=0.5, optional=True),
        "max_jump_cycles": Key(int, 25, "longest jump [cycles]", at_least=2, high=10**6, optional=True),
        "min_jump_cycles": Key(int, 1, "shortest jump [cycles]; a jump that must fall below it is an error", at_least=1,
                               high=10**6, optional=True),
    },
}
MECHANISMS_BY_GEOMETRY = {  # which damage mechanisms each geometry has (degradation/)
    "sphere-1d": ("surface_layer", "lattice_inactivation"),
    "single-crystal": ("surface_layer", "lattice_inactivation"),
    "polycrystal": ("surface_layer", "lattice_inactivation", "boundary_fatigue"),
}
# Solver keys whose default depends on the geometry: a voxel step costs ~1e4x a 1-D step,
# and at these values the voxel SoC at cutoff moves by < 1e-3 (README "3-D particles").
SOLVER_DEFAULTS = {
    "sphere-1d": {"tolerance": 2e-4, "max_step_fraction": 0.005},
    "single-crystal": {"tolerance": 1e-3, "max_step_fraction": 0.05},
    "polycrystal": {"tolerance": 1e-3, "max_step_fraction": 0.05},
}
TOP_LEVEL = ("material", "material_overrides", *SCHEMA, *(k for k in OPTIONAL_SCHEMA if k not in SCHEMA))


def read_config(source: str | Path | dict) -> tuple[dict, Path | None]:
    """A config from a dict or a TOML file path; returns (raw dict, file path or None)."""
    if isinstance(source, dict):
        return copy.deepcopy(source), None
    path = Path(source)
    if path.is_dir():
        raise ConfigError(f"config file {str(path)!r} is a directory; give a TOML file")
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle), path
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: malformed TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not a UTF-8 text file") from None


def parse_assignment(text: str) -> tuple[str, object]:
    """Parse a command-line override "key=value". The value is read as a TOML value
    (numbers, true/false, quoted strings, lists); anything else is taken as a string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. protocol.c_rate=0.1")
    key, value = (part.strip() for part in text.split("=", 1))
    if not key:
        raise ConfigError(f"--set {text!r}: the key is empty")
    try:
        parsed = tomllib.loads(f"value = {value}")["value"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key, parsed


def apply_assignments(raw: dict, assignments: list[str]) -> dict:
    """Apply "section.key=value" overrides. material_overrides takes the rest of the
    dotted key as a material key: material_overrides.diffusivity.out_of_plane_ratio=1;
    material.blend.<member>=f sets one fraction of a blend (the others fill 1 - f)."""
    result = copy.deepcopy(raw)
    for text in assignments:
        key, value = parse_assignment(text)
        section, _, rest = key.partition(".")
        if key.startswith("material.blend."):  # one fraction of a blend (materials/blend.py)
            from chemomech.materials.blend import with_fraction

            try:
                result["material"] = with_fraction(result.get("material"), key[len("material.blend."):], value,
                                                   f"--set {key}")
            except MaterialError as exc:
                raise ConfigError(str(exc)) from None
        elif not rest:
            result[section] = value
        else:
            table = result.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"--set {key}: {section!r} is not a table")
            if section == "material_overrides":
                table[rest] = value
            else:
                if "." in rest:
                    raise ConfigError(f"--set {key}: unknown key; keys are section.key, e.g. particle.radius_um")
                table[rest] = value
    return result


def _check_value(dotted: str, spec: Key, value):
    if spec.structured:
        if not isinstance(value, list):
            raise ConfigError(f"{dotted} = {value!r}: must be a list ({spec.description})")
        return value
    if spec.kind is list:
        numbers = isinstance(value, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if not numbers or len(value) not in ((0, 3) if spec.default == [] else (3,)):
            allowed = "a list of three numbers" + (" or []" if spec.default == [] else "")
            raise ConfigError(f"{dotted} = {value!r}: must be {allowed} ({spec.description})")
        return [float(v) for v in value]
    is_bool = isinstance(value, bool)  # bool is a subclass of int in Python
    if spec.kind is float and isinstance(value, int) and not is_bool:
        value = float(value)
    if spec.kind is bool:
        type_ok = is_bool
    else:
        type_ok = isinstance(value, spec.kind) and not is_bool
    if not type_ok:
        names = {float: "a number", int: "an integer", str: "a string", bool: "true or false"}
        raise ConfigError(f"{dotted} = {value!r}: must be {names[spec.kind]} ({spec.description})")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(
            f"{dotted} = {value!r}: not allowed; allowed: {', '.join(map(repr, spec.choices))}"
        )
    if spec.kind in (int, float):
        if spec.low is not None and not value > spec.low:
            raise ConfigError(f"{dotted} = {value!r}: must be > {spec.low:g} ({spec.description})")
        if spec.at_least is not None and value < spec.at_least:
            raise ConfigError(f"{dotted} = {value!r}: must be >= {spec.at_least:g} ({spec.description})")
        if spec.high is not None and value > spec.high:
            raise ConfigError(f"{dotted} = {value!r}: must be <= {spec.high:g} ({spec.description})")
    return value


def resolve_config(source: str | Path | dict, assignments: list[str] | None = None) -> dict:
    """Read, override and validate a configuration; return it complete (defaults filled,
    material loaded and checked, a material path made absolute). Checks that need the
    material (v_max above the starting OCV) are done here, before anything runs."""
    from chemomech.materials.blend import BLEND, blend_raw, check_blend, resolve_members
    from chemomech.materials.material import (
        apply_overrides,
        build_material,
        load_material,
        material_path,
        models_directory,
    )

    raw, path = read_config(source)
    if assignments:
        raw = apply_assignments(raw, assignments)

    unknown = [k for k in raw if k not in TOP_LEVEL]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; allowed top-level keys: {', '.join(TOP_LEVEL)}")
    if "material" not in raw:
        raise ConfigError("missing key 'material'; give a name under models/ (e.g. \"nc91\") or a path to a TOML file")
    material = raw["material"]
    if not isinstance(material, (str, dict)):
        raise ConfigError(f"material = {material!r}: must be a string (a name under models/ or a path) or a "
                          "blend of end members, e.g. material = { blend = { nc91 = 0.5, nm91 = 0.5 } }")
    overrides = raw.get("material_overrides", {})
    if not isinstance(overrides, dict):
        raise ConfigError("material_overrides must be a table of dotted material keys")
    overrides = flatten_keys(overrides)

    resolved: dict = {}
    try:
        if isinstance(material, dict):  # a blend (materials/blend.py)
            fractions = resolve_members(check_blend(material), path.parent if path is not None else None)
            blended = blend_raw(fractions)
            if overrides:
                blended = apply_overrides(blended, overrides, "the blended material")
            mat = build_material(blended, "the blended material")
            resolved["material"] = {BLEND: fractions}
        else:
            material_file = material_path(_relative_to(material, path))
            mat = load_material(material_file, overrides)
            shipped = material_file.resolve().parent == models_directory().resolve()
            resolved["material"] = material_file.stem if shipped else str(material_file.resolve())
    except MaterialError as exc:
        raise ConfigError(str(exc)) from None
    if overrides:
        resolved["material_overrides"] = dict(overrides)

    for section in (*SCHEMA, *(k for k in OPTIONAL_SCHEMA if k not in SCHEMA)):
        keys = {**SCHEMA.get(section, {}), **OPTIONAL_SCHEMA.get(section, {})}
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{section} must be a table ([{section}])")
        extra = [k for k in given if k not in keys]
        if extra:
            raise ConfigError(
                f"unknown key '{section}.{extra[0]}'; allowed in [{section}]: {', '.join(keys)}"
            )
        defaults = SOLVER_DEFAULTS[resolved["particle"]["geometry"]] if section == "solver" else {}
        if section == "protocol":
            kind = _check_value("protocol.kind", keys["kind"], given.get("kind", keys["kind"].default))
            _check_protocol_kind(kind, given)
        resolved[section] = {
            name: _check_value(f"{section}.{name}", spec, given.get(name, defaults.get(name, spec.default)))
            for name, spec in keys.items()
            if not (spec.optional and given.get(name, spec.default) == spec.default)
        }
        if section not in SCHEMA and not resolved[section]:
            del resolved[section]  # an all-optional table at its defaults is left out
    particle = resolved["particle"]
    if particle["euler_deg"] and particle["c_axis"] != SCHEMA["particle"]["c_axis"].default:
        raise ConfigError(
            f"particle.c_axis = {particle['c_axis']!r} and particle.euler_deg = {particle['euler_deg']!r} "
            "both given; give one orientation (c_axis keeps its default [0, 0, 1] when euler_deg is used)")
    if not any(particle["c_axis"]):
        raise ConfigError(f"particle.c_axis = {particle['c_axis']!r}: must be a nonzero direction")
    if particle.get("surface_cell_nm", 0.0):
        if particle["geometry"] != "sphere-1d":
            raise ConfigError(
                f"particle.surface_cell_nm = {particle['surface_cell_nm']!r} grades the radial mesh of the 1-D "
                f"sphere, not a {particle['geometry']} particle; allowed: geometry = \"sphere-1d\", or leave it out")
        from chemomech.geometry.sphere import geometric_widths

        geometric_widths(particle["radius_um"] * 1e-6, particle["cells"], particle["surface_cell_nm"] * 1e-9)
    if particle["geometry"] != "sphere-1d":
        across = 2e3 * particle["radius_um"] / particle["voxel_nm"]
        if across < 4:
            raise ConfigError(
                f"particle.voxel_nm = {particle['voxel_nm']!r}: only {across:.1f} voxels across "
                f"the particle (radius_um = {particle['radius_um']!r}); allowed: at least 4")
        if across > 1024:
            raise ConfigError(
                f"particle.voxel_nm = {particle['voxel_nm']!r}: {across:.0f} voxels across the "
                f"particle (radius_um = {particle['radius_um']!r}); allowed: at most 1024")
    if particle["geometry"] == "polycrystal":
        _check_grain_size(particle["grain_size_um"], particle["radius_um"])

    _check_physics_parameters(resolved.get("physics", {}), mat)

    protocol = resolved["protocol"]
    _check_degradation(resolved, mat)
    if protocol["kind"] == "experiment":
        _resolve_experiment(resolved, mat)
        return resolved
    if protocol["kind"] == "gitt":
        pulse_soc = protocol["c_rate"] * protocol["pulse_s"] / 3600.0
        if pulse_soc < 1e-4:
            raise ConfigError(
                f"protocol.pulse_s = {protocol['pulse_s']!r}: at c_rate = {protocol['c_rate']!r} a pulse "
                f"removes only {100 * pulse_soc:.2g} % SoC; allowed: c_rate * pulse_s >= 0.36 (at most 10000 pulses)")

    v_start = float(mat.ocv(mat.x_initial))
    v_max = resolved["protocol"]["v_max"]
    if v_max <= v_start:
        raise ConfigError(
            f"protocol.v_max = {v_max!r}: below the starting open-circuit voltage of "
            f"{mat.name} ({v_start:.3f} V at x = {mat.x_initial}); allowed: v_max > {v_start:.3f}"
        )
    v_top = float(mat.ocv(0.0))
    if v_max >= v_top:
        raise ConfigError(
            f"protocol.v_max = {v_max!r}: at or above the open-circuit voltage of the fully "
            f"delithiated {mat.name} ({v_top:.3f} V); allowed: v_max < {v_top:.3f}"
        )
    from chemomech.protocol.from_config import experiment_of

    _check_snapshot_cycles(resolved["output"].get("snapshot_cycles", []), experiment_of(protocol).n_cycles)
    return resolved


def _check_physics_parameters(physics: dict, mat) -> None:
    """An option switched on needs its parameter table in the material file."""
    from chemomech.transport.coupling import check_material_parameters, physics_options

    check_material_parameters(mat, physics_options(physics))


def _check_degradation(resolved: dict, mat) -> None:
    """A [degradation] table: known mechanisms that the geometry has, listed once; an
    experiment protocol of at least two cycles; the material's [degradation] table in
    range; the jump limits in order. Any other key at a non-default value needs
    mechanisms."""
    table = resolved.get("degradation")
    if not table:
        return
    mechanisms = table.get("mechanisms", [])
    if not mechanisms:
        key = next(iter(table))
        raise ConfigError(f"degradation.{key} = {table[key]!r} has no effect: degradation.mechanisms is empty; "
                          f"allowed: list mechanisms, e.g. mechanisms = [\"surface_layer\", \"lattice_inactivation\"]")
    geometry = resolved["particle"]["geometry"]
    allowed = MECHANISMS_BY_GEOMETRY[geometry]
    if mechanisms == ["all"]:  # every mechanism the geometry has (sweeps across architectures)
        mechanisms = table["mechanisms"] = list(allowed)
    for name in mechanisms:
        if name not in allowed:
            everything = MECHANISMS_BY_GEOMETRY["polycrystal"]
            why = f"a {geometry} particle has no grain boundaries" if name in everything else "unknown mechanism"
            raise ConfigError(f"degradation.mechanisms: {name!r}: {why}; allowed for geometry = \"{geometry}\": "
                              f"{', '.join(allowed)}, or [\"all\"]")
    if len(set(mechanisms)) != len(mechanisms):
        raise ConfigError(f"degradation.mechanisms = {mechanisms!r}: a mechanism is listed twice; list each once")
    protocol = resolved["protocol"]
    cycles = 1
    if protocol["kind"] == "experiment" and protocol.get("blocks"):
        cycles = sum(block.get("repeat", 1) if isinstance(block, dict) else 1 for block in protocol["blocks"])
    if protocol["kind"] != "experiment" or cycles < 2:
        raise ConfigError(f"degradation.mechanisms = {mechanisms!r} needs a cycle-life protocol, but protocol.kind = "
                          f"{protocol['kind']!r} has {cycles} cycle; allowed: kind = \"experiment\" with at least two "
                          f"cycles (e.g. runs/cycle_life_sc.toml), or leave [degradation] out")
    if protocol.get("stops"):
        raise ConfigError(f"protocol.stops = {protocol['stops']!r} with degradation.mechanisms: a cycle-life run does "
                          f"not take whole-run stops (the cycles jumped over have no measured capacity); allowed: "
                          f"leave protocol.stops out and read capacity_retention")
    if table.get("min_jump_cycles", 1) > table.get("max_jump_cycles", 25):
        raise ConfigError(f"degradation.min_jump_cycles = {table['min_jump_cycles']} is above max_jump_cycles = "
                          f"{table.get('max_jump_cycles', 25)}; allowed: min_jump_cycles <= max_jump_cycles")
    from chemomech.degradation.parameters import degradation_parameters

    try:
        degradation_parameters(mat)
    except MaterialError as exc:
        raise ConfigError(str(exc)) from None


def _resolve_experiment(resolved: dict, mat) -> None:
    """Check an experiment protocol (steps, blocks, stops; its start on the pristine
    material) and write it back in canonical form (every step as its sentence)."""
    from chemomech.protocol import check_start
    from chemomech.protocol.from_config import experiment_of

    protocol = resolved["protocol"]
    if not protocol.get("blocks"):
        raise ConfigError("protocol.blocks: empty; kind = \"experiment\" needs at least one "
                          "[[protocol.blocks]] table with repeat and steps")
    experiment = experiment_of(protocol)
    check_start(experiment, float(mat.ocv(mat.x_initial)))
    canonical = experiment.to_table()
    for name, spec in SCHEMA["protocol"].items():  # keys of the other kinds: no effect here
        if spec.kinds is not None and "experiment" not in spec.kinds:
            del protocol[name]
    protocol["blocks"] = canonical["blocks"]
    if canonical.get("stops"):
        protocol["stops"] = canonical["stops"]
    _check_snapshot_cycles(resolved["output"].get("snapshot_cycles", []), experiment.n_cycles)


def _check_grain_size(grain_size_um: float, radius_um: float) -> None:
    """A polycrystal needs at least two grains: a grain size at or above the particle
    diameter (or close below it, where the seed count rounds to one) gives a single grain."""
    from chemomech.geometry.voxel import polycrystal_seed_count

    if polycrystal_seed_count(radius_um, grain_size_um) >= 2:
        return
    largest = float(f"{_grain_size_limit(radius_um) * 0.999:.4g}")  # just below the limit, 4 digits
    raise ConfigError(
        f"particle.grain_size_um = {grain_size_um!r} with particle.radius_um = {radius_um!r} makes the "
        f"polycrystal a single grain (grain count round(8 (radius_um / grain_size_um)^3) = 1); "
        f"allowed: grain_size_um <= {largest:g} (two grains or more), or geometry = \"single-crystal\" for one grain")


def _grain_size_limit(radius_um: float) -> float:
    """The grain size at which the polycrystal seed count round(8 (R/d)^3) reaches 2
    (8 (R/d)^3 = 1.5): d = R (16/3)^(1/3), about 1.747 R [same unit as R]."""
    return radius_um * (16.0 / 3.0) ** (1.0 / 3.0)


def _check_snapshot_cycles(cycles: list, n_cycles: int) -> None:
    if not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= n_cycles for c in cycles):
        raise ConfigError(f"output.snapshot_cycles = {cycles!r}: must be cycle numbers 1..{n_cycles} of the protocol")


def _check_protocol_kind(kind: str, given: dict) -> None:
    """A [protocol] key of another kind given with a value other than its default is an
    error, since it would have no effect (e.g. cv_hold = true with gitt). Every resolved
    config still holds all [protocol] keys, so a resolved config re-resolves unchanged."""
    for name, value in given.items():
        spec = {**SCHEMA["protocol"], **OPTIONAL_SCHEMA["protocol"]}.get(name)
        if spec is not None and spec.kinds is not None and kind not in spec.kinds and value != spec.default:
            raise ConfigError(
                f"protocol.{name} = {value!r}: applies to kind = {' or '.join(map(repr, spec.kinds))} "
                f"only, not to kind = {kind!r}; remove it (or leave its default {spec.default!r})")


def flatten_keys(table: dict, prefix: str = "") -> dict:
    """{"diffusivity": {"out_of_plane_ratio": 1}} -> {"diffusivity.out_of_plane_ratio": 1}:
    TOML reads an unquoted dotted key as nested tables; both spellings mean the same."""
    flat = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_keys(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def material_in_folder(material: str, folder: Path) -> Path | None:
    """folder / material when `material` is a relative path (ends in .toml or has a
    folder) to a file that exists there; None for names ("nc91"), absolute paths and
    files not there. The rule for material paths in config and sweep files."""
    candidate = Path(material)
    is_path = candidate.suffix == ".toml" or candidate.parent != Path(".")
    if is_path and not candidate.is_absolute() and (folder / candidate).is_file():
        return folder / candidate
    return None


def _relative_to(material: str, config_path: Path | None) -> str:
    """A relative material path in a config file is taken relative to that file when the
    file exists there; names and other paths are returned unchanged."""
    beside = material_in_folder(material, config_path.parent) if config_path is not None else None
    return material if beside is None else str(beside)
